/**
 * The benchmarks' shared parts: what a benchmark returns, statistics, progress
 * logging, memory sampling, a central server on PGlite or PostgreSQL, and terminal
 * databases. Benchmarks print numbers; nothing here asserts a timing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { createEngine } from '../src/main/sync/engine.js';
import type { LocalStore } from '../src/main/sync/store/index.js';
import type { SyncService } from '../src/main/sync/sync-service.js';
import { DEFAULT_SYNC_CONFIG, type SyncConfig } from '../src/main/sync/sync-config.js';
import { createCentral, type Central } from '../src/server/app.js';
import { ServerConfig, type ServerConfigInput } from '../src/server/config.js';
import { openPglite, openPostgres, type Database, type Queryable } from '../src/server/db/database.js';
import { CENTRAL_SYNC_COLUMNS } from '../src/shared/catalog/index.js';

/** One line of the results table. */
export interface Row {
  /** The issue's item number and a short key, e.g. "2 push pglite". */
  readonly id: string;
  readonly what: string;
  /** The median (or the percentile named in `what`). */
  readonly value: number;
  readonly unit: string;
  /** The budget as DESIGN.md states it, if any. */
  readonly budget?: string;
  /** Whether the value meets the budget; undefined when there is none. */
  readonly ok?: boolean;
  /** Every run's value, when the figure is a median of several. */
  readonly runs?: readonly number[];
  readonly note?: string;
}

export type DbKind = 'pglite' | 'postgres';

export interface BenchContext {
  readonly quick: boolean;
  /** Runs per figure (the median is reported). */
  readonly runs: number;
  /** PostgreSQL server to measure against, when reachable. */
  readonly pgUrl: string | undefined;
  /** A scratch directory, removed at the end. */
  tmp(prefix: string): string;
  /** Progress for long work (stderr, structured). */
  progress(msg: string, data?: Record<string, unknown>): void;
}

export interface Benchmark {
  readonly id: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<Row[]>;
}

export const median = (xs: readonly number[]): number => percentile(xs, 50);

/** Nearest-rank percentile. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))] as number;
}

export const round = (v: number, digits = 1): number => Math.round(v * 10 ** digits) / 10 ** digits;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const silentLog = pino({ level: 'silent' });

/** A memory figure of a process from /proc (Linux), MB; this process's RSS where /proc is missing. */
function procMemoryMb(pid: number | 'self', field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux, or the process is gone
  }
  return pid === 'self' ? process.memoryUsage().rss / 1024 / 1024 : NaN;
}

/** Peak resident memory of a process (Linux VmHWM), MB; this process by default. */
export const peakRssMb = (pid: number | 'self' = 'self'): number => procMemoryMb(pid, 'VmHWM');

/** Current resident memory of a process, MB. */
export const rssMb = (pid: number | 'self' = 'self'): number => procMemoryMb(pid, 'VmRSS');

/** Samples a process's RSS every `everyMs` until stopped; returns the peak seen, MB. */
export function sampleRss(pid: number, everyMs = 100): { stop(): number } {
  let peak = 0;
  const t = setInterval(() => {
    const v = rssMb(pid);
    if (Number.isFinite(v)) peak = Math.max(peak, v);
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      const v = rssMb(pid);
      if (Number.isFinite(v)) peak = Math.max(peak, v);
      return peak;
    },
  };
}

export const ADMIN_TOKEN = `bench-admin-${randomBytes(8).toString('hex')}`;

export interface BenchCentral {
  readonly kind: DbKind;
  readonly central: Central;
  readonly url: string;
  readonly db: Database;
  /** The PostgreSQL database's URL (another central instance may serve it too); none on PGlite. */
  readonly databaseUrl: string | undefined;
  /** Creates the store if needed and provisions a terminal in it. */
  provision(storeId: string, terminalId: string): Promise<{ terminalId: string; storeId: string; apiKey: string }>;
  close(): Promise<void>;
}

/** A scratch database: in-process PGlite in a temp dir, or a new database on the PostgreSQL server. */
export async function scratchDatabase(kind: DbKind, ctx: BenchContext): Promise<{ db: Database; url?: string; close(): Promise<void> }> {
  if (kind === 'pglite') {
    const dir = ctx.tmp('pglite-');
    const db = await openPglite(dir);
    return { db, close: () => db.close() };
  }
  if (!ctx.pgUrl) throw new Error('no PostgreSQL server');
  const scratch = await scratchPostgres(ctx.pgUrl);
  const db = openPostgres({ connectionString: scratch.url });
  return {
    db,
    url: scratch.url,
    async close() {
      await db.close();
      await scratch.drop();
    },
  };
}

/** A new, empty database on the PostgreSQL server at `serverUrl`; `drop()` removes it. */
export async function scratchPostgres(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tillsync_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Central on a scratch database, listening on an ephemeral port of 127.0.0.1. */
export async function startBenchCentral(kind: DbKind, ctx: BenchContext, config: Partial<ServerConfigInput> = {}): Promise<BenchCentral> {
  const scratch = await scratchDatabase(kind, ctx);
  const central = await createCentral({
    config: ServerConfig.parse({ port: 0, host: '127.0.0.1', adminToken: ADMIN_TOKEN, logLevel: 'silent', autoSyncOnStart: false, ...config }),
    db: scratch.db,
  });
  const url = await central.listen();
  const stores = new Set<string>();
  const admin = async (path: string, body: unknown) => {
    const r = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  return {
    kind,
    central,
    url,
    db: scratch.db,
    databaseUrl: scratch.url,
    async provision(storeId, terminalId) {
      if (!stores.has(storeId)) {
        const s = await admin('/api/stores', { id: storeId, name: `Store ${storeId}`, code: storeId.slice(0, 10) });
        if (s.status !== 201 && s.status !== 409) throw new Error(`creating store failed: ${JSON.stringify(s.body)}`);
        stores.add(storeId);
      }
      const t = await admin('/api/terminals', { storeId, terminalId });
      if (t.status !== 201) throw new Error(`provisioning failed: ${JSON.stringify(t.body)}`);
      return { terminalId, storeId, apiKey: t.body.apiKey as string };
    },
    async close() {
      await central.close();
      await scratch.close();
    },
  };
}

/** A terminal: its POS database (created with the catalog's tables) and an engine that schedules nothing unless asked. */
export async function startTerminal(
  c: BenchCentral,
  dir: string,
  t: { terminalId: string; apiKey: string },
  config: Partial<SyncConfig> = {},
  opts: { schedule?: boolean } = {},
): Promise<{ store: LocalStore; service: SyncService; path: string; close(): Promise<void> }> {
  const path = join(dir, `${t.terminalId}.db`);
  const engine = createEngine(
    { databasePath: path, terminalId: t.terminalId, create: true, sync: { ...DEFAULT_SYNC_CONFIG, realtime: false, centralUrl: c.url, apiKey: t.apiKey, ...config } },
    silentLog,
  );
  const { store, service } = engine;
  await service.initialize(t.terminalId, { schedule: opts.schedule ?? false });
  return { store, service, path, close: () => engine.close() };
}

/** Temp directories for a run, removed by `cleanup()`. */
export function tempDirs(): { tmp(prefix: string): string; cleanup(): void } {
  const dirs: string[] = [];
  return {
    tmp(prefix) {
      const d = mkdtempSync(join(tmpdir(), `tillsync-bench-${prefix}`));
      dirs.push(d);
      return d;
    },
    cleanup() {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** Rows as an aligned text table. */
function fmt(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function table(rows: readonly Row[]): string {
  const head = ['#', 'what', 'value', 'unit', 'budget', 'verdict'];
  const body = rows.map((r) => [r.id, r.what, fmt(r.value), r.unit, r.budget ?? '', r.ok === undefined ? '' : r.ok ? 'ok' : 'MISSED']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/**
 * Wraps the query function of every transaction run on `db` from now on (central in
 * this process uses this very object): `wrap` is called once per transaction with that
 * transaction's query. Returns the function that puts the original back.
 */
export function wrapTransactionQueries(db: Database, wrap: (query: Queryable['query']) => Queryable['query']): () => void {
  const target = db as { transaction: Database['transaction'] };
  const original = target.transaction;
  target.transaction = (<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> =>
    original.call<Database, [(tx: Queryable) => Promise<T>], Promise<T>>(db, (tx) => fn({ ...tx, query: wrap(tx.query.bind(tx)) }))) as Database['transaction'];
  return () => {
    target.transaction = original;
  };
}

/**
 * The push's answer kept on a catalog row (`sync_change_id`, `sync_change_hash`, issue
 * 17): TillSync's bookkeeping, which a raw upsert measured as a ceiling does not write.
 */
export const ANSWER_COLUMNS: ReadonlySet<string> = new Set([CENTRAL_SYNC_COLUMNS.changeId, CENTRAL_SYNC_COLUMNS.changeHash]);

/**
 * A raw upsert into `table` by `id` over `cols`, as the ceilings measure it: the
 * statement of one multi-row `INSERT ... ON CONFLICT (id) DO UPDATE` for the given rows,
 * with its parameters (the column list and the update list are built once).
 */
export function rawUpserter(table: string, cols: readonly string[]): (rows: readonly Record<string, unknown>[]) => { sql: string; params: unknown[] } {
  const colList = cols.map((c) => `"${c}"`).join(', ');
  const updates = cols
    .filter((c) => c !== 'id')
    .map((c) => `"${c}" = EXCLUDED."${c}"`)
    .join(', ');
  return (rows) => {
    const params: unknown[] = [];
    const tuples = rows.map((r) => `(${cols.map((c) => (params.push(r[c]), `$${params.length}`)).join(', ')})`);
    return { sql: `INSERT INTO ${table} (${colList}) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO UPDATE SET ${updates}`, params };
  };
}
