/**
 * 2. Push throughput: outbox rows to committed-and-acknowledged at central, beside
 * the raw upsert rate of the same rows on the same database, measured right after.
 *
 * Per run: a fresh central (PGlite, and the PostgreSQL server when reachable), a
 * terminal whose POS writes N customers (captured by the triggers into the capture
 * log), the engine moves them into the outbox (timed apart: a running engine does it
 * as the POS commits, and the capture benchmark reports its rate too), then
 * `pushPending()` until every change is acknowledged.
 *
 * Each push run is paired with one raw upsert run, measured one way for every share:
 * once the push is acknowledged, the terminal and every central serving the
 * database (the in-process one, and the child process of an "apart" run) are
 * stopped; then, in the benchmark's own process, the very rows central stored are
 * upserted into a plain copy of its table (no triggers, no change log), 500 per
 * multi-row INSERT ... ON CONFLICT DO UPDATE, on the same database: what the database
 * itself can take. A share is taken per pair (push i / raw i) and the median of the
 * per-pair shares is reported. (Before issue 17 the apart runs measured their raw
 * upsert while the child central still ran.)
 */
import Database from 'better-sqlite3';
import { startChildCentral, type CentralChild } from './fleet.js';
import { ANSWER_COLUMNS, median, rawUpserter, round, startBenchCentral, startTerminal, wrapTransactionQueries, type Benchmark, type BenchContext, type DbKind, type Row } from './lib.js';
import type { Database as CentralDb, Queryable, QueryOptions } from '../src/server/db/database.js';

const BATCH = 500;

function writeCustomers(path: string, n: number, tag: string): void {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  const ins = db.prepare(`INSERT INTO customers (name, email, phone, loyalty_points, total_spent, visit_count, notes) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  // A few POS transactions of 1,000 rows (an import), captured row by row by the triggers.
  for (let start = 0; start < n; start += 1000) {
    db.transaction(() => {
      for (let i = start; i < Math.min(n, start + 1000); i++) ins.run(`Customer ${tag}-${i}`, `c${i}@${tag}.example`, `+3361234${String(i).padStart(5, '0')}`, i % 500, (i % 977) * 1.5, i % 13, i % 7 === 0 ? 'regular' : null);
    })();
  }
  db.close();
}

/** Upserts central's stored customers into a trigger-free copy, in batches; rows per second. */
async function rawUpsertRate(db: CentralDb): Promise<{ rate: number; rows: number }> {
  await db.query(`DROP TABLE IF EXISTS bench_raw_customers`);
  await db.query(`CREATE TABLE bench_raw_customers (LIKE customers INCLUDING DEFAULTS)`);
  await db.query(`ALTER TABLE bench_raw_customers ADD PRIMARY KEY (id)`);
  // The row's data and sync metadata, without the push's answer kept on it: TillSync's
  // bookkeeping, which the ceiling does not pay.
  for (const c of ANSWER_COLUMNS) await db.query(`ALTER TABLE bench_raw_customers DROP COLUMN IF EXISTS ${c}`);
  const cols = (await db.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = 'customers' AND table_schema = current_schema() ORDER BY ordinal_position`)).rows
    .map((r) => r.column_name)
    .filter((c) => !ANSWER_COLUMNS.has(c));
  const rows = (await db.query<Record<string, unknown>>(`SELECT ${cols.map((c) => `"${c}"`).join(', ')} FROM customers`)).rows;
  const upsert = rawUpserter('bench_raw_customers', cols);
  const t0 = process.hrtime.bigint();
  for (let start = 0; start < rows.length; start += BATCH) {
    const { sql, params } = upsert(rows.slice(start, start + BATCH));
    await db.transaction(async (tx) => {
      await tx.query(sql, params);
    });
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { rate: rows.length / seconds, rows: rows.length };
}

/** One transaction central ran: its statements and their parameters, in order. */
type RecordedTx = { sql: string; params: readonly unknown[] | undefined; opts: QueryOptions | undefined }[];

/**
 * Records every transaction central runs on `db` until `stop()`, so the push's SQL can
 * be replayed without central.
 */
function recordTransactions(db: CentralDb): { stop(): RecordedTx[] } {
  const recorded: RecordedTx[] = [];
  const restore = wrapTransactionQueries(db, (query) => {
    const statements: RecordedTx = [];
    recorded.push(statements);
    return ((sql: string, params?: readonly unknown[], opts?: QueryOptions) => {
      statements.push({ sql, params, opts });
      return query(sql, params, opts);
    }) as Queryable['query'];
  });
  return {
    stop() {
      restore();
      return recorded;
    },
  };
}

/**
 * The push's own SQL alone: the transactions central ran, replayed back to back on
 * the emptied tables (the state they first ran against), with no HTTP, no JSON and
 * no engine around them. What central's database work alone allows; rows per second.
 */
async function replayRate(db: CentralDb, txs: readonly RecordedTx[], n: number): Promise<number> {
  await db.query('TRUNCATE customers, sync_applied, sync_changes, sync_conflicts');
  const t0 = process.hrtime.bigint();
  for (const statements of txs) {
    await db.transaction(async (tx) => {
      for (const s of statements) await tx.query(s.sql, s.params, s.opts);
    });
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const replayed = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM customers')).rows[0]?.n;
  if (replayed !== n) throw new Error(`the replayed push SQL left ${replayed} customers, expected ${n}`);
  return n / seconds;
}

/**
 * One pair: a fresh central, N customers captured and moved into the outbox, pushed
 * until acknowledged; then, with the terminal and every central stopped, the raw
 * upsert of the same rows from this process (and, in-process, the replay of the
 * push's SQL). `apart`: the terminal pushes to a second central instance in its own
 * process on the same database (as deployed: terminal and central do not share a
 * thread); the in-process one only provisions and counts.
 */
async function pushRun(kind: DbKind, ctx: BenchContext, n: number, run: number, apart = false): Promise<{ tillsync: number; raw: number; promote: number; sqlOnly: number | undefined }> {
  const c = await startBenchCentral(kind, ctx);
  let child: CentralChild | undefined;
  let term: Awaited<ReturnType<typeof startTerminal>> | undefined;
  try {
    child = apart ? await startChildCentral(ctx, kind, { databaseUrl: c.databaseUrl }) : undefined;
    const t = await c.provision('bench-store', `bench-push-${run}`);
    const dir = ctx.tmp('push-');
    term = await startTerminal(c, dir, t, { batchSize: BATCH, ...(child ? { centralUrl: child.url } : {}) });
    writeCustomers(term.path, n, `r${run}`);
    const p0 = process.hrtime.bigint();
    const moved = term.store.capture.promote();
    const promote = moved / (Number(process.hrtime.bigint() - p0) / 1e9);
    if (moved !== n) throw new Error(`moved ${moved} captured rows into the outbox, expected ${n}`);
    // In-process only: the transactions an instance in another process runs are not seen here.
    const recorder = child ? undefined : recordTransactions(c.db);
    const t0 = process.hrtime.bigint();
    const r = await term.service.pushPending('bench');
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const recorded = recorder?.stop();
    if (r.errors.length > 0 || r.pushed !== n) throw new Error(`push incomplete: pushed ${r.pushed} of ${n}: ${r.errors.join('; ')}`);
    const atCentral = (await c.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM customers`)).rows[0]?.n;
    if (atCentral !== n) throw new Error(`central has ${atCentral} customers, expected ${n}`);

    // The paired raw run, measured the same way for every share: nothing else runs.
    // The terminal, the child central (whose process would keep its connections and
    // timers) and the in-process central (the database handle stays open) stop first.
    await term.close();
    term = undefined;
    await child?.stop();
    child = undefined;
    await c.central.close();
    const raw = await rawUpsertRate(c.db);
    if (raw.rows !== n) throw new Error(`the raw upsert read ${raw.rows} customers, expected ${n}`);
    const sqlOnly = recorded ? await replayRate(c.db, recorded, n) : undefined;
    return { tillsync: n / seconds, raw: raw.rate, promote, sqlOnly };
  } finally {
    await term?.close();
    await child?.stop();
    await c.close();
  }
}

/** What every share divides by, said in the table. */
const RAW_AFTER = 'the raw upsert measured right after it, in the benchmark\'s process with no central running';

export const pushBench: Benchmark = {
  id: 'push',
  title: 'push throughput: outbox -> committed at central, beside raw upserts of the same rows',
  async run(ctx: BenchContext): Promise<Row[]> {
    const n = ctx.quick ? 5_000 : 100_000;
    const runs = Math.min(ctx.runs, 3);
    const kinds: DbKind[] = ctx.pgUrl ? ['pglite', 'postgres'] : ['pglite'];
    const pairNote = `${runs} pairs (push run i, then its raw run i); shares taken per pair, median of them`;
    const rows: Row[] = [];
    for (const kind of kinds) {
      const tillsync: number[] = [];
      const raw: number[] = [];
      const promote: number[] = [];
      const sqlOnly: number[] = [];
      const sqlRaw: number[] = [];
      for (let r = 0; r < runs; r++) {
        const res = await pushRun(kind, ctx, n, r);
        tillsync.push(res.tillsync);
        raw.push(res.raw);
        promote.push(res.promote);
        if (res.sqlOnly !== undefined) {
          sqlOnly.push(res.sqlOnly);
          sqlRaw.push(res.raw);
        }
        ctx.progress('push run', {
          kind,
          run: r + 1,
          rows: n,
          tillsyncRowsPerSecond: round(res.tillsync),
          rawUpsertRowsPerSecond: round(res.raw),
          pushSqlOnlyRowsPerSecond: res.sqlOnly === undefined ? null : round(res.sqlOnly),
        });
      }
      const ratios = tillsync.map((v, i) => (100 * v) / (raw[i] as number));
      const ratio = median(ratios);
      const sqlRatios = sqlOnly.map((v, i) => (100 * v) / (sqlRaw[i] as number));
      rows.push(
        { id: `2 push ${kind}`, what: `TillSync push, ${n.toLocaleString('en-US')} outbox rows -> acknowledged`, value: median(tillsync), unit: 'rows/s', runs: tillsync },
        {
          id: `2 push ${kind}`,
          what: "raw upsert of the same rows (batches of 500, no triggers), after each push, benchmark's process, no central running",
          value: median(raw),
          unit: 'rows/s',
          runs: raw,
        },
        { id: `2 push ${kind}`, what: `TillSync push as a share of ${RAW_AFTER}`, value: ratio, unit: '%', budget: '>= 50%', ok: ratio >= 50, runs: ratios, note: pairNote },
        { id: `2 push ${kind}`, what: 'before it: the engine moving the captured rows into the outbox', value: median(promote), unit: 'rows/s', runs: promote },
        { id: `2 push ${kind}`, what: "the push's SQL alone, replayed back to back (no HTTP, no JavaScript)", value: median(sqlOnly), unit: 'rows/s', runs: sqlOnly },
        { id: `2 push ${kind}`, what: 'that as a share of the same raw upsert: the ceiling of the push as written', value: median(sqlRatios), unit: '%', runs: sqlRatios, note: pairNote },
      );
      if (kind !== 'postgres') continue;
      // As deployed: central in its own process, so the engine builds its next batch while central writes this one.
      const apart: number[] = [];
      const apartRaw: number[] = [];
      const apartRatios: number[] = [];
      for (let r = 0; r < runs; r++) {
        const res = await pushRun(kind, ctx, n, 100 + r, true);
        apart.push(res.tillsync);
        apartRaw.push(res.raw);
        apartRatios.push((100 * res.tillsync) / res.raw);
        ctx.progress('push run, central in its own process', { kind, run: r + 1, rows: n, tillsyncRowsPerSecond: round(res.tillsync), rawUpsertRowsPerSecond: round(res.raw) });
      }
      const apartRatio = median(apartRatios);
      rows.push(
        { id: `2 push ${kind} apart`, what: 'TillSync push, central in its own process (as deployed)', value: median(apart), unit: 'rows/s', runs: apart },
        {
          id: `2 push ${kind} apart`,
          what: "raw upsert paired with each of those pushes, measured as above (child central stopped first)",
          value: median(apartRaw),
          unit: 'rows/s',
          runs: apartRaw,
        },
        { id: `2 push ${kind} apart`, what: `that push as a share of ${RAW_AFTER}`, value: apartRatio, unit: '%', budget: '>= 50%', ok: apartRatio >= 50, runs: apartRatios, note: pairNote },
      );
    }
    return rows;
  },
};
