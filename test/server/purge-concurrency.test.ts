/**
 * The purge under concurrency (issue 16): writers inserting, updating and deleting
 * products while a terminal pulls continuously and purges run again and again (no
 * cursor skips anything: the terminal ends with exactly central's live rows), and two
 * central instances on one database running the job at once (one runs at a time;
 * together they remove what one purge would, nothing twice).
 *
 * PGlite: statements of the writers, pulls and purges interleave on its one connection.
 * PostgreSQL (TEST_DATABASE_URL): they run at once, each on a connection of the pool,
 * and each instance has a pool of its own (the advisory lock on a dedicated connection).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/server/db/database.js';
import { PULL_PLAN_HINTS } from '../../src/server/services/pull.js';
import { PURGE_LOCK_KEY } from '../../src/server/services/purge.js';
import type { PurgeReport } from '../../src/shared/protocol.js';
import { mulberry32 } from '../../src/shared/prng.js';
import { onPostgres, startCentral, testDatabase, type TestCentral, type TestDatabase } from '../helpers/central.js';
import { sleep } from '../helpers/processes.js';
import {
  backdateDeletion,
  backdatePosition,
  bumpPrices,
  deleteProducts,
  freshCentral,
  insertProducts,
  liveProducts,
  logEntries,
  PAST_RETENTION,
  rowsThere,
  sorted,
  Till,
  type Fixture,
} from './purge-helpers.js';

const tag = () => randomBytes(4).toString('hex');
/** Short: tombstones become due while the run goes on. */
const RETENTION_SECONDS = 2;

describe('concurrent writers during purges', () => {
  let f: Fixture;
  beforeAll(async () => {
    // A short retention: tombstones become due while the run goes on.
    f = await freshCentral({ retentionSeconds: RETENTION_SECONDS });
  });
  afterAll(async () => {
    await f?.close();
  });

  it('a terminal pulling all along (and one pulling now and then) ends with exactly central live rows and versions', async () => {
    const seed = Number(process.env.TILLSYNC_PURGE_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`purge concurrency seed: ${seed} (TILLSYNC_PURGE_SEED=${seed} replays the choices)`);
    const rnd = mulberry32(seed);
    const prefix = `conc-${tag()}-`;
    const runMs = 5_000;
    const deadline = Date.now() + runMs;
    const ids: string[] = [];
    let n = 0;
    const pick = () => ids[Math.floor(rnd() * ids.length)] as string;
    const db = f.c.db;

    const steady = new Till(await f.c.provision('s1'), 'Product', 5);
    const now_and_then = new Till(await f.c.provision('s1'), 'Product', 20);
    await steady.begin();
    await now_and_then.begin();
    // Versions a terminal was served never go back for a row.
    const regress: string[] = [];
    const watch = (till: Till) => {
      const apply = till.apply.bind(till);
      till.apply = (changes) => {
        for (const c of changes) {
          const had = till.held.get(c.entityId);
          if (had && c.version < had.version) regress.push(`${c.entityId}: had v${had.version}, served v${c.version}`);
        }
        apply(changes);
      };
    };
    watch(steady);
    watch(now_and_then);

    let writes = 0;
    const writer = async (w: number) => {
      while (Date.now() < deadline) {
        const r = rnd();
        // Multi-row transactions lock rows in random order, so two writers (or a writer and
        // the purge) can deadlock: PostgreSQL rolls one back, and it runs again, as a
        // back-office writer would.
        const write = () => db.transaction(async (tx) => {
          const ops = r < 0.2 ? 2 + Math.floor(rnd() * 4) : 1;
          for (let i = 0; i < ops; i++) {
            const k = rnd();
            if (ids.length < 5 || k < 0.35) {
              const id = `${prefix}${w}-${++n}`;
              await tx.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $1, $1, 1)`, [id]);
              ids.push(id);
            } else if (k < 0.85) {
              await tx.query('UPDATE products SET price = price + 1 WHERE id = $1', [pick()]);
            } else if (k < 0.95) {
              await tx.query('DELETE FROM products WHERE id = $1', [pick()]);
            } else {
              // Undelete (a tombstone comes back), if it still exists.
              await tx.query('UPDATE products SET sync_deleted_at = NULL, price = price + 1 WHERE id = $1', [pick()]);
            }
          }
        });
        for (let attempt = 1; ; attempt++) {
          try {
            await write();
            break;
          } catch (err) {
            if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err;
          }
        }
        writes++;
        await sleep(Math.floor(rnd() * 8));
      }
    };
    const reports: PurgeReport[] = [];
    const purger = async () => {
      while (Date.now() < deadline) {
        const r = await f.c.central.purge.run();
        if (r) reports.push(r);
        await sleep(50 + Math.floor(rnd() * 150));
      }
    };
    // What central held when the steady terminal was told CURSOR_EXPIRED, for the log; and
    // the longest it may have gone without a pull served: from the start of one page to
    // the end of the next (each was served somewhere in between). A terminal that pulled
    // nothing for longer than the retention is silent, not active, and may be purged past:
    // on a loaded machine one page of this file has waited more than the 2 s retention.
    const expiredAt: string[] = [];
    let silentBeforeExpiry = 0;
    let previousStart: number | undefined;
    const puller = async () => {
      while (Date.now() < deadline) {
        const cursor = steady.cursor;
        const expiredBefore = steady.expired;
        const start = Date.now();
        const more = await steady.page();
        const span = Date.now() - (previousStart ?? start);
        previousStart = start;
        if (steady.expired > expiredBefore) {
          silentBeforeExpiry = Math.max(silentBeforeExpiry, span);
          const h = await db.query(`SELECT txid::text, seq, changed_at::text FROM sync_purge_horizons WHERE entity_type = 'Product'`);
          const p = await db.query(`SELECT terminal_id, txid::text, seq, seen_at::text FROM sync_pull_positions WHERE entity_type = 'Product'`);
          expiredAt.push(
            JSON.stringify({ at: new Date(start).toISOString(), cursor, silentMs: span, horizon: h.rows, positions: p.rows, purges: reports.map((r) => r.tables.Product?.heldBackAt ?? null).slice(-3) }),
          );
        }
        if (typeof more !== 'boolean') throw new Error(`steady pull failed: ${more.status} ${more.code}`);
        if (!more) await sleep(5);
      }
    };
    const occasional = async () => {
      while (Date.now() < deadline) {
        await sleep(400 + Math.floor(rnd() * 800));
        await now_and_then.drain();
      }
    };
    await Promise.all([writer(1), writer(2), writer(3), purger(), puller(), occasional()]);

    // Settle: one more purge after the writers stopped, then both follow their cursors to the end.
    await sleep(100);
    const last = await f.c.central.purge.run();
    if (last) reports.push(last);
    await steady.drain();
    await now_and_then.drain();
    const live = await liveProducts(db, prefix);
    const removed = reports.reduce(
      (s, r) => ({ compacted: s.compacted + r.removed.compacted, tombstones: s.tombstones + r.removed.tombstones }),
      { compacted: 0, tombstones: 0 },
    );
    console.log(
      `seed ${seed}: ${writes} write transactions, ${ids.length} rows (${live.size} live), ${reports.length} purges removed ${removed.compacted} superseded entries and ${removed.tombstones} tombstones; steady: ${steady.pulls} pulls, ${steady.expired} expired; now and then: ${now_and_then.pulls} pulls, ${now_and_then.expired} expired`,
    );
    expect(reports.length).toBeGreaterThan(3);
    expect(removed.compacted).toBeGreaterThan(0);
    expect(regress).toEqual([]);
    // The steady one is active all along: the purge never goes past it, so it is never told
    // to start over; unless a page of it waited longer than the retention (then it was not
    // active, and starting over is what it must do).
    if (silentBeforeExpiry < RETENTION_SECONDS * 1000) expect(steady.expired, expiredAt.join('\n')).toBe(0);
    else console.log(`the steady terminal went ${silentBeforeExpiry} ms without a pull served (retention ${RETENTION_SECONDS} s) and was purged past, as a silent one is: ${expiredAt.join('\n')}`);
    expect(sorted(steady.versions(prefix))).toEqual(sorted(live));
    expect(sorted(now_and_then.versions(prefix))).toEqual(sorted(live));
    // Compaction kept up: at most one entry per row and store.
    const entries = await logEntries(db, prefix);
    const rows = new Set(entries.map((e) => `${e.entity_id}|${e.store_id}`));
    expect(entries.length).toBe(rows.size);
  }, 60_000);
});

describe('two central instances running the purge at once', () => {
  let td: TestDatabase;
  let dbB: Database;
  let a: TestCentral;
  let b: TestCentral;

  beforeAll(async () => {
    td = await testDatabase();
    dbB = onPostgres ? openPostgres({ connectionString: td.url as string }) : td.db;
    a = await startCentral({ db: td.db, config: { purgeIntervalSeconds: 0 } });
    b = await startCentral({ db: dbB, config: { purgeIntervalSeconds: 0 } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    if (onPostgres) await dbB?.close();
    await td?.close();
  });

  /** 30 products updated 3 times, 5 of them deleted longer ago than the retention, a terminal past it all. */
  async function scene() {
    const prefix = `two-${tag()}-`;
    const ids = Array.from({ length: 30 }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
    const doomed = ids.slice(0, 5);
    // The earlier rounds' terminals are silent now (seen longer ago than the retention).
    for (const c of [a, b]) await c.central.flushPositions();
    await td.db.query(`UPDATE sync_pull_positions SET seen_at = now() - interval '${PAST_RETENTION}'`);
    const till = new Till(await a.provision('s1'));
    await till.begin();
    await insertProducts(td.db, ids);
    for (let i = 0; i < 3; i++) await bumpPrices(td.db, ids);
    await deleteProducts(td.db, doomed);
    await backdateDeletion(td.db, doomed);
    await insertProducts(td.db, [`${prefix}marker`]);
    await till.drainAndReport();
    await a.central.flushPositions();
    await b.central.flushPositions();
    return { prefix, ids, doomed, till, entries: (await logEntries(td.db, prefix)).length };
  }

  it('asked at once, one runs and the other is told so (or they run one after the other): together they remove what one purge would', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < 4; round++) {
      const s = await scene();
      expect(s.entries).toBe(30 + 3 * 30 + 5 + 1);
      const results = await Promise.all(round % 2 === 0 ? [a.central.purge.run(), b.central.purge.run()] : [b.central.purge.run(), a.central.purge.run()]);
      outcomes.push(results.map((r) => (r ? 'ran' : 'skipped')).join('+'));
      const ran = results.filter((r): r is PurgeReport => r !== undefined);
      expect(ran.length).toBeGreaterThanOrEqual(1);
      const sum = (k: 'compacted' | 'tombstones') => ran.reduce((t, r) => t + r.removed[k], 0);
      // One entry kept per row: 31 rows, 5 of them purged with their entry.
      expect(sum('compacted')).toBe(s.entries - 31);
      expect(sum('tombstones')).toBe(5);
      expect(await rowsThere(td.db, s.doomed)).toEqual([]);
      const live = await liveProducts(td.db, s.prefix);
      expect(live.size).toBe(26);
      expect((await logEntries(td.db, s.prefix)).map((e) => e.entity_id).sort()).toEqual([...live.keys()].sort());
      await s.till.drain();
      expect(s.till.expired).toBe(0);
      expect(sorted(s.till.versions(s.prefix))).toEqual(sorted(live));
      // Later runs on either instance find nothing more of it.
      const again = await b.central.purge.run();
      expect(again?.removed.compacted).toBe(0);
      expect(again?.removed.tombstones).toBe(0);
    }
    console.log(`two instances asked at once: ${outcomes.join(', ')}`);
  });

  it('while the lock is held elsewhere, run() answers undefined and POST /api/admin/purge 409 PURGE_RUNNING on both instances; once released, it runs', async () => {
    const release = await td.db.tryLock(PURGE_LOCK_KEY);
    expect(release).toBeDefined();
    try {
      expect(await b.central.purge.run()).toBeUndefined();
      expect(await a.central.purge.run()).toBeUndefined();
      for (const c of [a, b]) {
        const r = await c.admin.post('/api/admin/purge');
        expect(r.status, r.text).toBe(409);
        expect(r.body).toMatchObject({ code: 'PURGE_RUNNING' });
      }
      const m = await b.admin.get('/metrics');
      expect(m.text).toMatch(/^tillsync_purge_runs_total\{outcome="skipped"\} [1-9]/m);
    } finally {
      await release?.();
    }
    const r = await b.admin.post<PurgeReport>('/api/admin/purge');
    expect(r.status, r.text).toBe(200);
  });

  it.runIf(onPostgres)('PostgreSQL: a lock held by another session (another process) skips both; when that session ends, the lock goes with it', async () => {
    const other = new pg.Client({ connectionString: td.url as string });
    await other.connect();
    const got = await other.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [PURGE_LOCK_KEY]);
    expect(got.rows[0]?.ok).toBe(true);
    expect(await a.central.purge.run()).toBeUndefined();
    expect(await b.central.purge.run()).toBeUndefined();
    await other.end(); // as a crashed instance's connection would
    const report = await b.central.purge.run();
    expect(report).toBeDefined();
    // And the lock is free again after a run (released on its connection).
    const check = new pg.Client({ connectionString: td.url as string });
    await check.connect();
    try {
      const free = await check.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [PURGE_LOCK_KEY]);
      expect(free.rows[0]?.ok).toBe(true);
    } finally {
      await check.end();
    }
  });
});

/**
 * A pull reads the table's purge horizon and then its page of the log in one
 * transaction, but (READ COMMITTED) in two statements with two snapshots. A purge that
 * commits between them has removed deletions the page no longer shows, while the
 * horizon read before it said the cursor was fine. PostgreSQL only: PGlite runs one
 * transaction at a time, so nothing commits inside a pull's.
 */
describe.runIf(onPostgres)('a purge committing while a pull is under way (PostgreSQL)', () => {
  let td: TestDatabase;
  let c: TestCentral;
  /** Runs once, right after the next pull's statement that `at` picks. */
  let between: (() => Promise<void>) | undefined;
  let at: (text: string) => boolean = () => false;

  beforeAll(async () => {
    td = await testDatabase();
    const db = td.db;
    const paused: Database = {
      ...db,
      transaction: (fn) =>
        db.transaction((tx) =>
          fn({
            async query<T extends object>(text: string, params?: readonly unknown[]) {
              const r = await tx.query<T>(text, params);
              if (at(text) && between) {
                const run = between;
                between = undefined;
                await run();
              }
              return r;
            },
          }),
        ),
    };
    c = await startCentral({ db: paused, config: { purgeIntervalSeconds: 0 } });
  });
  afterAll(async () => {
    await c?.close();
    await td?.close();
  });

  it.each([
    ['after the pull plan is set, before the page and the horizon are read', (text: string) => text === PULL_PLAN_HINTS],
    ['after the page (and the horizon) are read, before the rows are', (text: string) => text.includes('sync_purge_horizons')],
  ])('a terminal away past the retention, pulling with its old cursor as the purge commits (%s), is told CURSOR_EXPIRED or served the deletions: never neither', async (_when, statement) => {
    at = statement;
    // The terminals of a case before this one are away by now (else they hold this case's purge back).
    await td.db.query(`UPDATE sync_pull_positions SET seen_at = now() - interval '30 days'`);
    const prefix = `race-${tag()}-`;
    const ids = Array.from({ length: 6 }, (_, i) => `${prefix}${i}`);
    const doomed = ids.slice(0, 3);
    const active = new Till(await c.provision('s1'));
    const away = new Till(await c.provision('s1'), 'Product', 1000, false);
    await active.begin();
    await away.begin();
    await insertProducts(td.db, ids);
    await away.drainAndReport();
    await deleteProducts(td.db, doomed);
    await backdateDeletion(td.db, doomed);
    await insertProducts(td.db, [`${prefix}marker`]);
    await active.drainAndReport();
    await c.central.flushPositions();
    await backdatePosition(td.db, away.t.terminalId, 'Product');

    let report: PurgeReport | undefined;
    between = async () => {
      report = await c.central.purge.run();
    };
    const r = await away.get({ cursor: away.cursor, limit: 1000 });
    expect(between).toBeUndefined(); // the purge ran inside the pull
    expect(report?.removed.tombstones, JSON.stringify(report)).toBe(3);
    if (r.status === 200) {
      const served = new Set(r.body.changes.filter((ch) => ch.deleted).map((ch) => ch.entityId));
      expect(
        doomed.filter((id) => !served.has(id)),
        'deletions neither served nor the cursor expired: the terminal keeps rows central has deleted',
      ).toEqual([]);
    } else {
      expect(r.status, r.text).toBe(409);
      expect((r.body as unknown as { code: string }).code).toBe('CURSOR_EXPIRED');
    }
  });
});
