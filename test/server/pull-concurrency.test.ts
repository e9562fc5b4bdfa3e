/**
 * DESIGN.md invariant 4: the pull cursor has no gaps. A change committed late by a
 * transaction that started writing before others committed must still be served
 * to a terminal that follows cursors, never skipped.
 *
 * Writers are the back office writing central's PostgreSQL directly (any SQL is
 * captured by triggers); the reader is a terminal pulling over HTTP.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PulledChange, PullResponse } from '../../src/shared/protocol.js';
import { onPostgres, startCentral, testDatabase, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a terminal has seen: the highest version per product id, and every observation in order. */
class Observer {
  readonly maxVersion = new Map<string, number>();
  readonly observations: { id: string; version: number }[] = [];
  readonly last = new Map<string, PulledChange>();
  cursor: string | undefined;

  constructor(
    private readonly terminal: ProvisionedTerminal,
    private readonly prefix: string,
    private readonly limit: number,
  ) {}

  /** Pulls one page from the current cursor; returns whether the server says there is more. */
  async page(): Promise<boolean> {
    const r = await this.terminal.api.get<PullResponse>('/api/sync/pull', {
      terminalId: this.terminal.terminalId,
      entityType: 'Product',
      cursor: this.cursor,
      limit: this.limit,
    });
    if (r.status !== 200) throw new Error(`pull failed: ${r.status} ${r.text}`);
    expect(r.body.changes.length).toBeLessThanOrEqual(this.limit);
    for (const c of r.body.changes) this.see(c);
    this.cursor = r.body.cursor;
    return r.body.hasMore;
  }

  /** Skips to the end of the log (as a terminal that is up to date): one big page at a time. */
  async skipToEnd(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      const r = await this.terminal.api.get<PullResponse>('/api/sync/pull', {
        terminalId: this.terminal.terminalId,
        entityType: 'Product',
        cursor: this.cursor,
        limit: 5000,
      });
      if (r.status !== 200) throw new Error(`pull failed: ${r.status} ${r.text}`);
      this.cursor = r.body.cursor;
      if (!r.body.hasMore) return;
    }
    throw new Error('pull never reached the end');
  }

  async drain(): Promise<void> {
    for (let i = 0; i < 10_000; i++) if (!(await this.page())) return;
    throw new Error('pull never reached the end');
  }

  private see(c: PulledChange): void {
    if (!c.entityId.startsWith(this.prefix)) return;
    expect(c.data.id).toBe(c.entityId);
    this.observations.push({ id: c.entityId, version: c.version });
    this.last.set(c.entityId, c);
    this.maxVersion.set(c.entityId, Math.max(this.maxVersion.get(c.entityId) ?? 0, c.version));
  }
}

/** The set of (id, version) pairs a writer committed: the highest committed version per id. */
class Written {
  readonly versions = new Map<string, number>();
  record(id: string, version: number): void {
    this.versions.set(id, Math.max(this.versions.get(id) ?? 0, version));
  }
}

interface Queryish {
  query<T extends object>(text: string, params?: readonly unknown[]): Promise<{ rows: T[] }>;
}

async function centralVersions(db: Queryish, prefix: string): Promise<Map<string, number>> {
  const r = await db.query<{ id: string; sync_version: number | string }>('SELECT id, sync_version FROM products WHERE id LIKE $1', [
    `${prefix}%`,
  ]);
  return new Map(r.rows.map((x) => [x.id, Number(x.sync_version)]));
}

/** Invariant 4 as observed by the terminal: nothing written was skipped, nothing is stale. */
function expectGapless(obs: Observer, written: Written, central: Map<string, number>): void {
  // The written ids are exactly central's ids, and exactly what was pulled.
  expect([...central.keys()].sort()).toEqual([...written.versions.keys()].sort());
  expect([...obs.maxVersion.keys()].sort()).toEqual([...central.keys()].sort());
  const missed: string[] = [];
  for (const [id, v] of written.versions) {
    const seen = obs.maxVersion.get(id) ?? 0;
    if (seen < v) missed.push(`${id}: wrote v${v}, saw v${seen}`);
  }
  expect(missed).toEqual([]);
  expect(Object.fromEntries(obs.maxVersion)).toEqual(Object.fromEntries(central));
  // The cursor moves forward and rows are served as they are now: per row, versions never go back.
  const last = new Map<string, number>();
  for (const o of obs.observations) {
    expect(o.version, o.id).toBeGreaterThanOrEqual(last.get(o.id) ?? 0);
    last.set(o.id, o.version);
  }
}

async function currentXid(db: Queryish): Promise<bigint> {
  const r = await db.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x');
  return BigInt(r.rows[0]?.x as string);
}

/** Uses up `n` transaction ids: one subtransaction that writes per id, in a few statements. */
async function burnXids(db: Queryish, n: number): Promise<void> {
  for (let left = n; left > 0; left -= 50_000) {
    const chunk = Math.min(left, 50_000);
    await db.query(`DO $$ BEGIN
      CREATE TEMP TABLE IF NOT EXISTS tillsync_test_xid_burn (i int);
      FOR i IN 1..${chunk} LOOP
        BEGIN INSERT INTO tillsync_test_xid_burn VALUES (i); EXCEPTION WHEN OTHERS THEN NULL; END;
      END LOOP;
      TRUNCATE tillsync_test_xid_burn;
    END $$`);
  }
}

const INSERT = 'INSERT INTO products (id, sku, name, price) VALUES ($1, $1, $2, $3) RETURNING id, sync_version';
const UPDATE = 'UPDATE products SET price = price + 1 WHERE id = $1 RETURNING id, sync_version';
const DELETE = 'DELETE FROM products WHERE id = $1';

describe('pull cursor: sequential writes interleaved with pulls (every database)', () => {
  let td: TestDatabase;
  let c: TestCentral;
  let terminal: ProvisionedTerminal;

  beforeAll(async () => {
    td = await testDatabase();
    c = await startCentral({ db: td.db });
    terminal = await c.provision(uid('s'), uid('t'));
  });
  afterAll(async () => {
    await c?.close();
    await td?.close();
  });

  type Op = { kind: 'insert' } | { kind: 'update'; pick: number } | { kind: 'delete'; pick: number } | { kind: 'pull' } | { kind: 'multi'; picks: number[] };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.constant<Op>({ kind: 'insert' }) },
    { weight: 4, arbitrary: fc.nat().map<Op>((pick) => ({ kind: 'update', pick })) },
    { weight: 1, arbitrary: fc.nat().map<Op>((pick) => ({ kind: 'delete', pick })) },
    { weight: 3, arbitrary: fc.array(fc.nat(), { minLength: 2, maxLength: 5 }).map<Op>((picks) => ({ kind: 'multi', picks })) },
    { weight: 4, arbitrary: fc.constant<Op>({ kind: 'pull' }) },
  );

  it('every committed change is pulled: pulled ids equal written ids and final versions equal central', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 60 }), fc.integer({ min: 1, max: 7 }), async (ops, limit) => {
        const prefix = `${uid('seq')}-`;
        const obs = new Observer(terminal, prefix, limit);
        await obs.skipToEnd(); // earlier runs' changes are not this run's business
        const written = new Written();
        const ids: string[] = [];
        let n = 0;
        const pick = (i: number) => ids[i % ids.length] as string;
        for (const o of ops) {
          if (o.kind === 'pull') {
            await obs.page();
            continue;
          }
          if (o.kind !== 'insert' && ids.length === 0) continue;
          await c.db.transaction(async (tx) => {
            const rows: { id: string; sync_version: number | string }[] = [];
            if (o.kind === 'insert') {
              const id = `${prefix}${++n}`;
              rows.push(...(await tx.query<{ id: string; sync_version: number }>(INSERT, [id, `Product ${id}`, n])).rows);
              ids.push(id);
            } else if (o.kind === 'update') {
              rows.push(...(await tx.query<{ id: string; sync_version: number }>(UPDATE, [pick(o.pick)])).rows);
            } else if (o.kind === 'delete') {
              await tx.query(DELETE, [pick(o.pick)]);
              rows.push(
                ...(await tx.query<{ id: string; sync_version: number }>('SELECT id, sync_version FROM products WHERE id = $1', [pick(o.pick)]))
                  .rows,
              );
            } else {
              // Several rows in one transaction (new ones and existing ones), one of them twice.
              for (const p of [...o.picks, o.picks[0] as number]) {
                if (p % 3 === 0) {
                  const id = `${prefix}${++n}`;
                  rows.push(...(await tx.query<{ id: string; sync_version: number }>(INSERT, [id, `Product ${id}`, n])).rows);
                  ids.push(id);
                } else {
                  rows.push(...(await tx.query<{ id: string; sync_version: number }>(UPDATE, [pick(p)])).rows);
                }
              }
            }
            return rows;
          }).then((rows) => rows.forEach((r) => written.record(r.id, Number(r.sync_version)))); // after commit
        }
        await obs.drain();
        expectGapless(obs, written, await centralVersions(c.db, prefix));
      }),
      // Each run adds rows to one database and moves its transaction ids on, so a shrunk
      // replay is not the same case: report the first failure as it is.
      { numRuns: 20, endOnFailure: true, interruptAfterTimeLimit: 60_000 },
    );
  }, 120_000);

  it('pages spanning transaction ids of different lengths (e.g. 999 then 1000) skip nothing', async (ctx) => {
    const prefix = `${uid('xid')}-`;
    const obs = new Observer(terminal, prefix, 2);
    await obs.skipToEnd();
    const written = new Written();
    const below: string[] = [];
    const above: string[] = [];
    let boundary = 0n;
    for (let attempt = 0; attempt < 3 && below.length === 0; attempt++) {
      const x = await currentXid(c.db);
      boundary = 10n ** BigInt(String(x + 400n).length); // the next power of ten, with room before it
      // A long-lived PostgreSQL cluster may be far from the next power of ten; PGlite never is.
      if (boundary - x > 2_000_000n) ctx.skip(`transaction id ${x} is too far from ${boundary} to burn the difference`);
      await burnXids(c.db, Number(boundary - x - 300n));
      // One transaction per row until the ids cross the boundary; other sessions may use ids too.
      for (let i = 0; i < 2000 && above.length < 3; i++) {
        const id = `${prefix}${attempt}-${i}`;
        const r = await c.db.query<{ id: string; sync_version: number; txid: string }>(
          'INSERT INTO products (id, sku, name, price) VALUES ($1, $1, $1, 1) RETURNING id, sync_version, pg_current_xact_id()::text AS txid',
          [id],
        );
        const row = r.rows[0] as { id: string; sync_version: number; txid: string };
        written.record(row.id, Number(row.sync_version));
        (BigInt(row.txid) < boundary ? below : above).push(row.txid);
      }
    }
    expect(below.length).toBeGreaterThan(0);
    expect(above.length).toBeGreaterThan(1);
    await obs.drain();
    expectGapless(obs, written, await centralVersions(c.db, prefix));
  });

  it('a deleted row is served as a tombstone at its new version', async () => {
    const prefix = `${uid('del')}-`;
    const obs = new Observer(terminal, prefix, 3);
    await obs.skipToEnd();
    const id = `${prefix}1`;
    await c.db.query(INSERT, [id, 'Doomed', 1]);
    await c.db.query(DELETE, [id]);
    await obs.drain();
    expect(obs.maxVersion.get(id)).toBe(2);
    expect(obs.last.get(id)).toMatchObject({ operation: 'DELETE', deleted: true, version: 2, data: { id, name: 'Doomed' } });
  });
});

describe.runIf(onPostgres)('pull cursor under real concurrency (PostgreSQL)', () => {
  let td: TestDatabase;
  let c: TestCentral;
  let terminal: ProvisionedTerminal;
  const clients: pg.Client[] = [];

  async function client(): Promise<pg.Client> {
    const cl = new pg.Client({ connectionString: td.url as string });
    await cl.connect();
    clients.push(cl);
    return cl;
  }

  beforeAll(async () => {
    td = await testDatabase();
    c = await startCentral({ db: td.db });
    terminal = await c.provision(uid('s'), uid('t'));
  });
  afterAll(async () => {
    for (const cl of clients.splice(0)) await cl.end().catch(() => undefined);
    await c?.close();
    await td?.close();
  });

  it('a transaction that wrote first and commits last is not skipped by a pull taken while it was open', async () => {
    const prefix = `${uid('det')}-`;
    const x = `${prefix}x`;
    const y = `${prefix}y`;
    const w = `${prefix}w`;
    const z = `${prefix}z`;
    const a = await client();
    const b = await client();
    await b.query(INSERT, [x, 'X', 1]);
    await b.query(INSERT, [y, 'Y', 1]);

    const obs = new Observer(terminal, prefix, 5);
    await obs.drain();
    expect(Object.fromEntries(obs.maxVersion)).toEqual({ [x]: 1, [y]: 1 });

    // A writes first and holds its transaction open.
    await a.query('BEGIN');
    expect((await a.query(UPDATE, [x])).rows[0]).toMatchObject({ sync_version: '2' });
    await a.query(INSERT, [w, 'W', 1]);
    // B writes later and commits first.
    await b.query(UPDATE, [y]);
    await b.query(INSERT, [z, 'Z', 1]);

    // The terminal pulls while A is still open...
    await obs.drain();
    expect(obs.maxVersion.has(w)).toBe(false); // not committed, cannot be visible
    const cursorWhileOpen = obs.cursor;

    // ...then A commits. Pulling on from that cursor must bring A's changes.
    await a.query('COMMIT');
    const after = new Observer(terminal, prefix, 5);
    after.cursor = cursorWhileOpen;
    await after.drain();
    expect(after.maxVersion.get(x)).toBe(2);
    expect(after.maxVersion.get(w)).toBe(1);

    // Everything, over both pulls, at central's final versions.
    await obs.drain();
    expect(Object.fromEntries(obs.maxVersion)).toEqual({ [x]: 2, [y]: 2, [w]: 1, [z]: 1 });
    expect(Object.fromEntries(obs.maxVersion)).toEqual(Object.fromEntries(await centralVersions(c.db, prefix)));
  });

  it('randomized: concurrent writers with sleeps inside their transactions, a terminal pulling pages of 5 meanwhile', async () => {
    const prefix = `${uid('rnd')}-`;
    const WRITERS = 5;
    const TXNS = 30;
    const SEED = 12;
    const written = new Written();
    const seedClient = await client();
    const ids: string[] = [];
    for (let i = 0; i < SEED; i++) {
      const id = `${prefix}seed${i}`;
      const r = await seedClient.query<{ id: string; sync_version: string }>(INSERT, [id, `Seed ${i}`, i]);
      written.record(id, Number(r.rows[0]?.sync_version));
      ids.push(id);
    }

    const obs = new Observer(terminal, prefix, 5);
    let writersDone = false;
    const rand = (n: number) => Math.floor(Math.random() * n);

    async function writer(w: number): Promise<void> {
      const cl = await client();
      for (let t = 0; t < TXNS; t++) {
        const committed: { id: string; sync_version: string }[] = [];
        await cl.query('BEGIN');
        try {
          if (rand(3) === 0) await cl.query('SELECT pg_sleep($1)', [rand(10) / 1000]);
          if (rand(2) === 0) {
            const id = `${prefix}w${w}-${t}`;
            committed.push(...(await cl.query<{ id: string; sync_version: string }>(INSERT, [id, `W${w} ${t}`, t])).rows);
          } else {
            // One existing row per transaction: lock waits, never deadlocks.
            committed.push(...(await cl.query<{ id: string; sync_version: string }>(UPDATE, [ids[rand(ids.length)]])).rows);
          }
          // Hold the change uncommitted for a while: its log entry is ordered early, committed late.
          await cl.query('SELECT pg_sleep($1)', [rand(25) / 1000]);
          if (rand(4) === 0) {
            const id = `${prefix}w${w}-${t}b`;
            committed.push(...(await cl.query<{ id: string; sync_version: string }>(INSERT, [id, `W${w} ${t}b`, t])).rows);
          }
          await cl.query('COMMIT');
        } catch (err) {
          await cl.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        for (const r of committed) written.record(r.id, Number(r.sync_version));
      }
    }

    async function reader(): Promise<number> {
      let pages = 0;
      while (!writersDone) {
        const more = await obs.page();
        pages++;
        if (!more) await sleep(rand(8));
      }
      return pages;
    }

    const readerDone = reader();
    try {
      await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    } finally {
      writersDone = true;
    }
    const pagesWhileWriting = await readerDone;
    await obs.drain();

    expect(pagesWhileWriting).toBeGreaterThan(0);
    expect(written.versions.size).toBeGreaterThan(SEED);
    expectGapless(obs, written, await centralVersions(c.db, prefix));
  });
});
