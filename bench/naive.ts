/**
 * 7. The naive baseline: one HTTP request per row, as a simple implementation of
 * the seed's sync service would push (a loop over the pending outbox rows, POSTing
 * each to /api/sync/push as a batch of one and marking it synced), against TillSync
 * pushing the same kind of rows with `SyncService.pushPending()`.
 *
 * One central on PGlite (in this process, on loopback) and two terminals of one
 * store, each with its own SQLite file. In every run the POS writes fresh customer
 * rows (captured by the triggers) into each file; then TillSync pushes its file's
 * rows, and the naive loop pushes the other file's rows until they run out or its
 * time is up. Which side goes first alternates. Both build the same changes from
 * the same outbox columns (the row image mapped to wire form by `localToWire`).
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { localToWire, type LocalRow } from '../src/main/sync/mapping.js';
import type { LocalStore } from '../src/main/sync/store/index.js';
import { entryForTable } from '../src/shared/catalog/index.js';
import { median, round, sleep, startBenchCentral, startTerminal, type BenchCentral, type Benchmark, type BenchContext, type Row } from './lib.js';

const FIRST = ['Ana', 'Ben', 'Chloé', 'David', 'Emma', 'Farid', 'Greta', 'Hugo', 'Inès', 'Jonas', 'Keiko', 'Lucas'];
const LAST = ['Silva', 'Martin', 'Dubois', 'Müller', 'Rossi', 'Kowalski', 'Nguyen', 'García', 'Smith', 'Jensen'];

/** The POS writes `n` new customers into the terminal's file (its own connection; the triggers capture them). */
function posWriteCustomers(path: string, n: number): void {
  if (n <= 0) return;
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 5000');
    const tag = randomBytes(4).toString('hex');
    const ins = db.prepare(
      `INSERT INTO customers (name, email, phone, loyalty_points, total_spent, visit_count, notes, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const now = new Date().toISOString();
    // One transaction for the lot: this is setup, not measured; every row is still captured on its own.
    db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const first = FIRST[i % FIRST.length] as string;
        const last = LAST[(i * 7) % LAST.length] as string;
        ins.run(`${first} ${last}`, `c-${tag}-${i}@example.com`, `+1555${String(i % 10_000_000).padStart(7, '0')}`, i % 500, round((i % 997) * 1.37, 2), i % 20, 'signed up at the till', now, now);
      }
    })();
  } finally {
    db.close();
  }
}

/** Before a timed part: overdue timers fire, and one request leaves a connection open. */
async function idle(url: string): Promise<void> {
  await sleep(50);
  await fetch(url).then((r) => r.arrayBuffer());
}

function pendingCount(store: LocalStore): number {
  store.capture.promote();
  return (store.base.db.prepare(`SELECT count(*) AS n FROM tillsync_outbox WHERE status = 'pending'`).get() as { n: number }).n;
}

interface PendingEntry {
  id: number;
  change_id: string;
  table_name: string;
  server_id: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  new_image: string | null;
  priority: number;
  created_in_mode: 'ONLINE' | 'OFFLINE';
}

interface OneResult {
  readonly results?: readonly { readonly status?: string; readonly error?: { readonly message?: string } }[];
  readonly message?: string;
}

/**
 * The seed-style loop: read the pending outbox rows, and for each one POST it alone
 * to /api/sync/push, wait for the answer, mark it synced. Stops at `deadline`
 * (performance.now() ms) or when the rows run out.
 */
async function naivePush(store: LocalStore, centralUrl: string, apiKey: string, terminalId: string, deadline: number): Promise<{ rows: number; seconds: number }> {
  store.capture.promote(); // from the outbox, as a running engine keeps it (not timed, for either loop)
  const started = performance.now();
  const pending = store.base.db
    .prepare(`SELECT id, change_id, table_name, server_id, operation, new_image, priority, created_in_mode FROM tillsync_outbox WHERE status = 'pending' ORDER BY id`)
    .all() as PendingEntry[];
  const markSynced = store.base.db.prepare(`UPDATE tillsync_outbox SET status = 'synced', synced_at = ?, attempts = attempts + 1 WHERE id = ?`);
  let rows = 0;
  for (const e of pending) {
    if (performance.now() >= deadline) break;
    const entry = entryForTable(e.table_name);
    if (!entry) throw new Error(`outbox entry ${e.id}: unknown table ${e.table_name}`);
    const data = e.new_image ? localToWire(entry, e.server_id, JSON.parse(e.new_image) as LocalRow, store.base.fk).row : undefined;
    const change = {
      changeId: e.change_id,
      entityType: entry.entityType,
      entityId: e.server_id,
      operation: e.operation,
      ...(data && e.operation !== 'DELETE' ? { data } : {}),
      syncVersion: 0,
      priority: Math.min(10, e.priority),
      createdInMode: e.created_in_mode,
    };
    const res = await fetch(`${centralUrl}/api/sync/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ terminalId, changes: [change] }),
    });
    const body = (await res.json()) as OneResult;
    const status = body.results?.[0]?.status;
    if (!res.ok || (status !== 'applied' && status !== 'duplicate')) {
      throw new Error(`naive push of ${entry.entityType} ${e.server_id}: HTTP ${res.status} ${status ?? ''} ${body.results?.[0]?.error?.message ?? body.message ?? ''}`);
    }
    markSynced.run(new Date().toISOString(), e.id);
    rows++;
  }
  return { rows, seconds: (performance.now() - started) / 1000 };
}

export const naiveBench: Benchmark = {
  id: 'naive',
  title: 'naive baseline: one HTTP request per row vs TillSync pushPending() (customers, PGlite)',
  async run(ctx: BenchContext): Promise<Row[]> {
    const rowsTillSync = ctx.quick ? 2000 : 20_000;
    // The naive loop gets a pool of rows and a time limit; it pushes as many as fit.
    const naivePool = ctx.quick ? 2000 : 20_000;
    const naiveSeconds = ctx.quick ? 4 : 20;
    const warmRows = ctx.quick ? 200 : 500;

    let central: BenchCentral | undefined;
    const closers: (() => Promise<void>)[] = [];
    try {
      central = await startBenchCentral('pglite', ctx);
      const storeId = `bench-naive-${randomBytes(3).toString('hex')}`;
      const dir = ctx.tmp('naive-');
      const tsKey = await central.provision(storeId, 'bench-naive-tillsync');
      const nvKey = await central.provision(storeId, 'bench-naive-oneperrow');
      const ts = await startTerminal(central, dir, tsKey);
      closers.push(() => ts.close());
      const nv = await startTerminal(central, dir, nvKey);
      closers.push(() => nv.close());
      const c = central;

      const tillsyncRun = async (n: number): Promise<number> => {
        posWriteCustomers(ts.path, n);
        ts.store.capture.promote();
        await idle(`${c.url}/healthz`);
        const t0 = performance.now();
        const r = await ts.service.pushPending('bench');
        const seconds = (performance.now() - t0) / 1000;
        if (r.pushed !== n || r.failed !== 0 || pendingCount(ts.store) !== 0) {
          throw new Error(`TillSync pushed ${r.pushed} of ${n} rows (failed ${r.failed}): ${r.errors.join('; ')}`);
        }
        return n / seconds;
      };
      const naiveRun = async (pool: number, seconds: number): Promise<{ rate: number; rows: number }> => {
        // Top the pool up with fresh rows (rows left over from the last run were never pushed).
        posWriteCustomers(nv.path, pool - pendingCount(nv.store));
        await idle(`${c.url}/healthz`);
        const r = await naivePush(nv.store, c.url, nvKey.apiKey, nvKey.terminalId, performance.now() + seconds * 1000);
        if (r.rows === 0) throw new Error('the naive loop pushed nothing');
        return { rate: r.rows / r.seconds, rows: r.rows };
      };

      // Warm-up: JIT, statement caches, central's tables and indexes, keep-alive sockets.
      await tillsyncRun(warmRows);
      await naiveRun(warmRows, 60);
      ctx.progress('naive: warmed up', { rows: warmRows });

      const tsRates: number[] = [];
      const nvRates: number[] = [];
      const nvRows: number[] = [];
      for (let run = 0; run < ctx.runs; run++) {
        const order = run % 2 === 0 ? (['naive', 'tillsync'] as const) : (['tillsync', 'naive'] as const);
        for (const side of order) {
          if (side === 'tillsync') tsRates.push(await tillsyncRun(rowsTillSync));
          else {
            const r = await naiveRun(naivePool, naiveSeconds);
            nvRates.push(r.rate);
            nvRows.push(r.rows);
          }
        }
        ctx.progress('naive run', { run: run + 1, of: ctx.runs, naiveRowsPerSecond: round(nvRates.at(-1) ?? 0), naiveRows: nvRows.at(-1), tillsyncRowsPerSecond: round(tsRates.at(-1) ?? 0) });
      }
      const ratios = tsRates.map((t, i) => t / (nvRates[i] as number));
      const where = 'central on PGlite, loopback, same process';
      return [
        {
          id: '7 naive',
          what: 'one HTTP request per row (seed-style loop), customers',
          value: median(nvRates),
          unit: 'rows/s',
          runs: nvRates.map((v) => round(v)),
          note: `up to ${naivePool} rows or ${naiveSeconds} s per run (pushed ${nvRows.join(', ')}); ${where}`,
        },
        {
          id: '7 tillsync',
          what: `SyncService.pushPending(), customers (${rowsTillSync} rows)`,
          value: median(tsRates),
          unit: 'rows/s',
          runs: tsRates.map((v) => round(v)),
          note: `batches of ${ts.service.config.batchSize}; ${where}`,
        },
        {
          id: '7 ratio',
          what: 'TillSync / naive',
          value: median(ratios),
          unit: 'x',
          runs: ratios.map((v) => round(v, 2)),
          note: 'median of the per-run ratios',
        },
      ];
    } finally {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      await central?.close().catch(() => undefined);
    }
  },
};
