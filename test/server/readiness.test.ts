/**
 * Readiness (`GET /readyz`) apart from liveness (`GET /healthz`): each check that can
 * fail (database down, database not answering in time, schema older than the build,
 * draining: test/server/drain.test.ts) turns /readyz to 503 naming it, while /healthz
 * stays 200, since an orchestrator restarting every instance would not bring a
 * database back.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openPostgres } from '../../src/server/db/database.js';
import { expectedMigrations, readiness, ReadyResponse } from '../../src/server/readiness.js';
import { ApiClient, onPostgres, startCentral, testDatabase, type TestCentral, type TestDatabase } from '../helpers/central.js';

describe('readiness() decides from what the probe found', () => {
  const expected = [1_700_000_000_000, 1_700_000_000_002, 1_700_000_000_001];
  it('is ready when accepting, the database answers and every migration of the build is recorded (newer ones too)', () => {
    for (const applied of [expected, [...expected, 1_800_000_000_000]]) {
      expect(readiness({ draining: false, database: { ok: true, appliedMigrations: applied }, expectedMigrations: expected })).toEqual({
        status: 'ready',
        checks: { accepting: 'ok', database: 'ok', migrations: 'ok' },
        reasons: [],
      });
    }
  });
  it('names each check that fails', () => {
    const down = readiness({ draining: false, database: { ok: false, error: 'connection refused' }, expectedMigrations: expected });
    expect(down).toMatchObject({ status: 'not_ready', checks: { accepting: 'ok', database: 'failed', migrations: 'failed' } });
    expect(down.reasons).toEqual(['database: connection refused']);
    // One missing, though a later one is recorded (a migration released with an earlier journal time).
    const old = readiness({ draining: false, database: { ok: true, appliedMigrations: [expected[0] as number, expected[1] as number] }, expectedMigrations: expected });
    expect(old).toMatchObject({ status: 'not_ready', checks: { accepting: 'ok', database: 'ok', migrations: 'failed' } });
    expect(old.reasons[0]).toMatch(/^migrations: 1 of this build's migrations not applied \(the first made at 1700000000001\)/);
    const draining = readiness({ draining: true, database: undefined, expectedMigrations: expected });
    expect(draining).toMatchObject({ status: 'not_ready', checks: { accepting: 'failed', database: 'skipped', migrations: 'skipped' } });
    expect(draining.reasons[0]).toMatch(/^draining/);
  });
});

describe('GET /readyz and GET /healthz over HTTP', () => {
  let td: TestDatabase | undefined;
  let c: TestCentral | undefined;
  afterEach(async () => {
    // After 'the database is gone' closing central fails where it writes what it kept (pull positions): expected there.
    await c?.close().catch(() => undefined);
    await td?.close().catch(() => undefined);
    c = undefined;
    td = undefined;
  });
  const anonymous = () => new ApiClient((c as TestCentral).url, undefined);

  it('200 ready without credentials; documented under ops with its 503', async () => {
    td = await testDatabase();
    c = await startCentral({ db: td.db });
    const r = await anonymous().get('/readyz');
    expect(r.status, r.text).toBe(200);
    expect(ReadyResponse.parse(r.body)).toEqual({ status: 'ready', checks: { accepting: 'ok', database: 'ok', migrations: 'ok' }, reasons: [] });
    const doc = (await anonymous().get('/api-docs/json')).body as {
      paths: Record<string, Record<string, { tags?: string[]; security?: unknown; responses: Record<string, unknown> }>>;
    };
    const op = doc.paths['/readyz']?.get;
    expect(op?.tags).toEqual(['ops']);
    expect(op?.security).toBeUndefined();
    expect(Object.keys(op?.responses ?? {}).sort()).toEqual(['200', '503']);
  });

  it('503 migrations when the database holds an older schema than this build (a restored backup); ready again once migrated', async () => {
    td = await testDatabase();
    c = await startCentral({ db: td.db });
    const newest = Math.max(...expectedMigrations());
    const hash = (await td.db.query<{ hash: string }>('SELECT hash FROM drizzle.__drizzle_migrations WHERE created_at = $1', [newest])).rows[0]?.hash;
    await td.db.query('DELETE FROM drizzle.__drizzle_migrations WHERE created_at = $1', [newest]);
    const r = await anonymous().get('/readyz');
    expect(r.status, r.text).toBe(503);
    expect(ReadyResponse.parse(r.body)).toMatchObject({ status: 'not_ready', checks: { accepting: 'ok', database: 'ok', migrations: 'failed' } });
    expect((await anonymous().get('/healthz')).status).toBe(200);
    await td.db.query('INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ($1, $2)', [hash, newest]);
    expect((await anonymous().get('/readyz')).status).toBe(200);
  });

  it('503 database when the database does not answer in time; /healthz (liveness) still 200', async () => {
    td = await testDatabase();
    c = await startCentral({ db: td.db });
    // The readiness query waits: behind a lock another session holds (PostgreSQL), or behind
    // a transaction held open on PGlite's one connection.
    let release: () => Promise<void>;
    if (onPostgres) {
      const client = new pg.Client({ connectionString: td.url });
      await client.connect();
      await client.query('BEGIN');
      await client.query('LOCK TABLE drizzle.__drizzle_migrations IN ACCESS EXCLUSIVE MODE');
      release = async () => {
        await client.query('COMMIT');
        await client.end();
      };
    } else {
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      let held!: () => void;
      const holding = new Promise<void>((r) => (held = r));
      const tx = td.db.transaction(async (t) => {
        await t.query('SELECT 1');
        held();
        await gate;
      });
      await holding;
      release = async () => {
        open();
        await tx;
      };
    }
    try {
      const health = await anonymous().get('/healthz');
      expect(health.status, health.text).toBe(200);
      const r = await anonymous().get('/readyz');
      expect(r.status, r.text).toBe(503);
      const body = ReadyResponse.parse(r.body);
      expect(body.checks).toEqual({ accepting: 'ok', database: 'failed', migrations: 'failed' });
      expect(body.reasons[0]).toMatch(/no answer within \d+ ms/);
    } finally {
      await release();
    }
    expect((await anonymous().get('/readyz')).status).toBe(200);
  });

  it('503 database when the database is gone; /healthz (liveness) still 200', async () => {
    td = await testDatabase();
    // Central's own pool on PostgreSQL (the test database's is closed and dropped afterwards); PGlite closes once.
    const db = onPostgres ? openPostgres({ connectionString: td.url as string }) : td.db;
    c = await startCentral({ db });
    await db.close(); // the connection pool (PostgreSQL) or PGlite itself, closed under central
    const health = await anonymous().get('/healthz');
    expect(health.status, health.text).toBe(200);
    const r = await anonymous().get('/readyz');
    expect(r.status, r.text).toBe(503);
    expect(ReadyResponse.parse(r.body)).toMatchObject({ checks: { accepting: 'ok', database: 'failed' } });
  });
});
