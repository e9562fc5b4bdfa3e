/**
 * `npm run bench:profile [-- --rows 20000] [-- --postgres]`: where the time of a push
 * and of a pull goes. Times the terminal's outbox reads and writes (the store's rooms),
 * the HTTP calls as the engine sees them (CentralClient), central's service time,
 * and every SQL statement central runs, over one push of N customers and one first
 * pull of N products. Then what capture costs per row: single-row order inserts
 * with the triggers and without them, and the engine's later work per entry of
 * moving the capture log into the outbox (with the outbox's indexes and without).
 * The figures behind bench/README.md's explanations.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CentralClient } from '../src/main/sync/central-client.js';
import { Answers } from '../src/main/sync/store/answers.js';
import { Batches } from '../src/main/sync/store/batches.js';
import { Capture } from '../src/main/sync/store/capture.js';
import { LocalStore } from '../src/main/sync/store/index.js';
import { PullPages } from '../src/main/sync/store/pages.js';
import type { Database as CentralDb, Queryable, QueryOptions } from '../src/server/db/database.js';
import { PullService } from '../src/server/services/pull.js';
import { PushService } from '../src/server/services/push.js';
import { startBenchCentral, startTerminal, tempDirs, wrapTransactionQueries, type BenchContext } from './lib.js';

type Fn = (...args: unknown[]) => unknown;
const spent = new Map<string, number>();
const add = (k: string, ms: number) => spent.set(k, (spent.get(k) ?? 0) + ms);

/** Wraps a prototype method to add its time (sync or async) under `label`. */
function timeMethod(proto: object, name: string, label: string): void {
  const target = proto as Record<string, Fn>;
  const orig = target[name];
  if (typeof orig !== 'function') throw new Error(`no method ${name}`);
  target[name] = function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    const r = orig.apply(this, args);
    if (r instanceof Promise) return r.finally(() => add(label, performance.now() - t0));
    add(label, performance.now() - t0);
    return r;
  };
}

/** Times every statement central runs (by its first words) through db.query and transactions. */
function timeSql(db: CentralDb): void {
  const key = (sql: string) => `sql: ${sql.replace(/\s+/g, ' ').trim().slice(0, 70)}`;
  const wrapQ = (q: Queryable['query']): Queryable['query'] =>
    (async (sql: string, params?: unknown[], opts?: QueryOptions) => {
      const t0 = performance.now();
      try {
        return await q(sql, params, opts);
      } finally {
        add(key(sql), performance.now() - t0);
      }
    }) as Queryable['query'];
  const d = db as { query: Queryable['query'] };
  d.query = wrapQ(db.query.bind(db));
  wrapTransactionQueries(db, wrapQ);
}

function report(title: string, totalMs: number, rows: number): void {
  process.stdout.write(`\n${title}: ${rows} rows in ${Math.round(totalMs)} ms (${Math.round(rows / (totalMs / 1000))} rows/s)\n`);
  for (const [k, v] of [...spent].sort((a, b) => b[1] - a[1]).slice(0, 14)) {
    process.stdout.write(`${String(Math.round(v)).padStart(8)} ms  ${((100 * v) / totalMs).toFixed(0).padStart(3)}%  ${k}\n`);
  }
  spent.clear();
}

/** Microseconds per single-row order insert (one transaction each) on a POS file changed by `mod`. */
function insertCost(dir: string, name: string, mod: (db: Database.Database) => void): number {
  const path = join(dir, `${name}.db`);
  new LocalStore(path, 'profile-capture', { create: true }).close();
  const setup = new Database(path);
  mod(setup);
  setup.close();
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const db = new Database(path);
    const ins = db.prepare(`INSERT INTO orders (store_id, order_number, status, subtotal, tax_total, total) VALUES (1, ?, 'pending', 10, 2, 12)`);
    const t0 = performance.now();
    for (let i = 0; i < 5000; i++) ins.run(`P-${r}-${i}`);
    runs.push(((performance.now() - t0) * 1000) / 5000);
    db.close();
  }
  return runs.sort((a, b) => a - b)[1] as number;
}

/** Microseconds per entry for the engine to move a file's capture log into the outbox. */
function promoteCost(dir: string, name: string): number {
  const store = new LocalStore(join(dir, `${name}.db`), 'profile-capture');
  try {
    const t0 = performance.now();
    const n = store.capture.promote();
    return ((performance.now() - t0) * 1000) / n;
  } finally {
    store.close();
  }
}

function captureProfile(dir: string): void {
  const dropTriggers = (db: Database.Database) => {
    for (const { name } of db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tillsync%'`).all() as { name: string }[]) db.exec(`DROP TRIGGER "${name}"`);
  };
  const none = insertCost(dir, 'none', dropTriggers);
  const shipped = insertCost(dir, 'shipped', () => undefined);
  const bare = insertCost(dir, 'bare-outbox', (db) => {
    for (const i of ['tillsync_outbox_change_idx', 'tillsync_outbox_queue_idx', 'tillsync_outbox_row_idx', 'tillsync_outbox_pending_group_idx']) db.exec(`DROP INDEX ${i}`);
  });
  const line = (us: number, label: string, x = true) => `${us.toFixed(1).padStart(8)} us  ${x ? `${(us / none).toFixed(2)}x` : '     '}  ${label}\n`;
  process.stdout.write(
    `\ncapture: single-row order inserts, microseconds per row (median of 3 x 5,000)\n` +
      line(none, 'no capture triggers') +
      line(shipped, 'with capture (as shipped: one capture-log row, no index but its key)') +
      line(bare, 'the same, outbox without its four indexes (they are not on the POS path)') +
      `then the engine, off the POS path, per entry moved into the outbox (central id stamped, change id, group):\n` +
      line(promoteCost(dir, 'shipped'), 'as shipped', false) +
      line(promoteCost(dir, 'bare-outbox'), 'outbox without its four indexes', false),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rows: { type: 'string' }, postgres: { type: 'boolean' } } });
  const n = Number(values.rows ?? 20_000);
  const dirs = tempDirs();
  const ctx: BenchContext = { quick: true, runs: 1, pgUrl: process.env.TILLSYNC_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test', tmp: dirs.tmp, progress: () => undefined };
  timeMethod(Capture.prototype, 'promote', 'terminal: store.capture.promote (capture log -> outbox)');
  timeMethod(Batches.prototype, 'nextBatch', 'terminal: store.batches.nextBatch (read outbox, build batch)');
  timeMethod(Answers.prototype, 'recordPush', 'terminal: store.answers.recordPush (mark synced)');
  timeMethod(PullPages.prototype, 'applyPage', 'terminal: store.pages.applyPage (write pulled rows)');
  timeMethod(CentralClient.prototype, 'push', 'http: POST /api/sync/push as the engine waits for it');
  timeMethod(CentralClient.prototype, 'pull', 'http: GET /api/sync/pull as the engine waits for it');
  timeMethod(PushService.prototype, 'push', 'central: PushService.push');
  timeMethod(PullService.prototype, 'pull', 'central: PullService.pull');
  const c = await startBenchCentral(values.postgres ? 'postgres' : 'pglite', ctx);
  try {
    timeSql(c.db);
    const t = await c.provision('profile-store', 'profile-terminal');
    const term = await startTerminal(c, dirs.tmp('profile-'), t);
    try {
      const pos = new Database(term.path);
      const ins = pos.prepare(`INSERT INTO customers (name, email, loyalty_points) VALUES (?, ?, ?)`);
      pos.transaction(() => {
        for (let i = 0; i < n; i++) ins.run(`Customer ${i}`, `c${i}@profile.example`, i % 50);
      })();
      pos.close();
      spent.clear();
      let t0 = performance.now();
      await term.service.pushPending('profile');
      report(`push (${c.kind})`, performance.now() - t0, n);

      await c.db.query(
        `INSERT INTO products (id, sku, name, price, active, created_at, updated_at)
         SELECT 'p-' || lpad(i::text, 8, '0'), 'SKU-' || i, 'Product ' || i, 1.5, true, now(), now() FROM generate_series(1, $1::int) i`,
        [n],
      );
      spent.clear();
      t0 = performance.now();
      const r = await term.service.performFullSync('profile');
      report(`first pull of products (${c.kind}; a full pass, ${r.pulled} rows pulled in all)`, performance.now() - t0, r.pulled);
    } finally {
      await term.close();
    }
  } finally {
    await c.close();
  }
  try {
    captureProfile(dirs.tmp('profile-capture-'));
  } finally {
    dirs.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
