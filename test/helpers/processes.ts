/**
 * Process-level test helpers: the central server and the `tillsync` agent as child
 * processes, terminal databases written through separate SQLite connections (as the
 * POS does), polling with a deadline, and cleanup.
 *
 * Every child started here is remembered until killAll(), which a test file calls in
 * afterEach (and which also runs when the worker exits), so a failing test never
 * leaves a process behind.
 */
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { ADMIN_TOKEN, ApiClient, type ProvisionedTerminal } from './api-client.js';
import { nodeEntry } from './test-build.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The folder test/global-setup.ts transpiled src/ into (test/helpers/test-build.ts). */
    testBuild?: string;
  }
}

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The folder the global setup transpiled src/ into, if it did. */
export function suiteBuild(): string | undefined {
  return inject('testBuild');
}

/**
 * The node arguments that run the TypeScript module `entry` (e.g. `src/server/main.ts`):
 * the suite's transpiled copy, or through tsx when there is none.
 */
export function nodeArgs(entry: string): string[] {
  return nodeEntry(ROOT, entry, suiteBuild());
}

// ------------------------------------------------------------------ polling

export interface WaitOptions {
  /** Give up after this many ms (default 20 s). */
  readonly timeout?: number;
  /** Poll every this many ms (default 25). */
  readonly interval?: number;
  /** Extra text for the timeout error (e.g. a child's output). */
  readonly diagnose?: () => string;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a truthy value, and returns that value; fails after
 * the timeout with `what`, the last value seen and the diagnosis.
 */
export async function waitUntil<T>(what: string, probe: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeout ?? 20_000);
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      last = v;
      lastError = undefined;
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const seen = lastError ? `last error: ${lastError instanceof Error ? lastError.message : String(lastError)}` : `last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${opts.timeout ?? 20_000} ms waiting for ${what} (${seen})${opts.diagnose ? `\n${opts.diagnose()}` : ''}`);
    }
    await sleep(opts.interval ?? 25);
  }
}

// ------------------------------------------------------------------ child processes

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  /** Undefined while running. */
  readonly exit: Exit | undefined;
  stdout(): string;
  stderr(): string;
  /** The last `n` characters of both streams, for failure messages. */
  tail(n?: number): string;
  /** Sends `signal` (SIGTERM by default) and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<Exit>;
  /** SIGKILL, and the exit. */
  kill(): Promise<Exit>;
}

const live = new Set<Proc>();

process.once('exit', () => {
  for (const p of live) p.child.kill('SIGKILL');
});

/** Kills every child still running (SIGKILL) and waits for them; for afterEach/afterAll. */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

export function spawnProc(name: string, args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let exit: Exit | undefined;
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<Exit>((res) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      live.delete(proc);
      res(exit);
    });
    child.once('error', () => {
      exit = { code: null, signal: null };
      live.delete(proc);
      res(exit);
    });
  });
  const proc: Proc = {
    name,
    child,
    exited,
    get exit() {
      return exit;
    },
    stdout: () => out,
    stderr: () => err,
    tail: (n = 3000) => `--- ${name} stdout ---\n${out.slice(-n)}\n--- ${name} stderr ---\n${err.slice(-n)}`,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000) {
      if (exit) return exit;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    async kill() {
      if (exit) return exit;
      child.kill('SIGKILL');
      return exited;
    },
  };
  live.add(proc);
  return proc;
}

/** Our environment without any TillSync, database or central settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (
      k.startsWith('TILLSYNC_') ||
      k.startsWith('CENTRAL_') ||
      ['DATABASE_URL', 'POSTGRES_URL_REMOTE', 'TEST_DATABASE_URL', 'TERMINAL_ID', 'PORT', 'HOST', 'LOG_LEVEL', 'VITEST', 'VITEST_POOL_ID', 'VITEST_WORKER_ID'].includes(k)
    ) {
      delete env[k];
    }
  }
  return { ...env, ...extra };
}

/**
 * A central URL nothing answers at, for "central unreachable": port 1 (tcpmux), which
 * no test binds. A port freePort found free can be taken by a server of another test
 * file before it is used (a test then met a central that refused its key).
 */
export const DEAD_CENTRAL_URL = 'http://127.0.0.1:1';

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

// ------------------------------------------------------------------ central as a process

export interface CentralProcess {
  readonly url: string;
  readonly port: number;
  readonly proc: Proc;
  readonly admin: ApiClient;
}

export interface CentralProcessOptions {
  /** Port to listen on (a free one when omitted). */
  readonly port?: number;
  /** PGlite data directory (when no databaseUrl). */
  readonly dataDir?: string;
  /** PostgreSQL connection string: central runs on it instead of PGlite. */
  readonly databaseUrl?: string;
  readonly env?: Record<string, string>;
}

/** The URL in central's "listening" log line (pino JSON), if it has printed it. */
export function listeningUrl(stdout: string): string | undefined {
  for (const line of stdout.split('\n')) {
    if (!line.includes('central sync server listening')) continue;
    const m = /"url":"(http:\/\/[^"]+)"/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * Starts central (`src/server/main.ts`, see nodeArgs) and waits until it listens. Without
 * a port it listens on one the system picks (PORT=0) and the helper reads which from its
 * log: a port found free beforehand could be taken by another test file's server, or a
 * client socket's, before central binds it.
 */
export async function startCentralProcess(opts: CentralProcessOptions): Promise<CentralProcess> {
  const env = cleanEnv({
    PORT: String(opts.port ?? 0),
    HOST: '127.0.0.1',
    TILLSYNC_ADMIN_TOKEN: ADMIN_TOKEN,
    LOG_LEVEL: 'info',
    ...(opts.databaseUrl ? { POSTGRES_URL_REMOTE: opts.databaseUrl } : { TILLSYNC_DATA_DIR: opts.dataDir ?? mkdtempSync(join(tmpdir(), 'tillsync-central-')) }),
    ...opts.env,
  });
  const proc = spawnProc(`central:${opts.port ?? 'any port'}`, nodeArgs('src/server/main.ts'), env);
  const url = await waitUntil(
    `central (port ${opts.port ?? 'any'}) to listen`,
    () => {
      if (proc.exit) throw new Error(`central exited early ${JSON.stringify(proc.exit)}\n${proc.tail()}`);
      return listeningUrl(proc.stdout());
    },
    { timeout: 45_000, interval: 50, diagnose: () => proc.tail() },
  );
  return { url, port: Number(new URL(url).port), proc, admin: new ApiClient(url, ADMIN_TOKEN) };
}

/** Creates the store (if new) and provisions a terminal in it, through the admin API. */
export async function provisionOn(url: string, storeId: string, terminalId: string): Promise<ProvisionedTerminal> {
  const admin = new ApiClient(url, ADMIN_TOKEN);
  const s = await admin.post('/api/stores', { id: storeId, name: `Store ${storeId}` });
  if (s.status !== 201 && s.status !== 409) throw new Error(`creating store failed: ${s.status} ${s.text}`);
  const t = await admin.post('/api/terminals', { storeId, terminalId });
  if (t.status !== 201) throw new Error(`provisioning failed: ${t.status} ${t.text}`);
  return { terminalId: t.body.terminalId, storeId, apiKey: t.body.apiKey, api: new ApiClient(url, t.body.apiKey) };
}

// ------------------------------------------------------------------ the tillsync CLI

export interface AgentSettings {
  readonly databasePath: string;
  readonly centralUrl: string;
  readonly apiKey: string;
  readonly terminalId: string;
}

/** The agent's environment: the seed's variables plus tuning (`TILLSYNC_*`, `LOG_LEVEL`). */
export function agentEnv(s: AgentSettings, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    DATABASE_URL: `file:${s.databasePath}`,
    CENTRAL_API_URL: s.centralUrl,
    CENTRAL_API_KEY: s.apiKey,
    TERMINAL_ID: s.terminalId,
    LOG_LEVEL: 'info',
    ...extra,
  });
}

/**
 * Spawns the `tillsync` command with `args`: src/agent/cli.ts as nodeArgs runs it, which is
 * what `node bin/tillsync.mjs` runs in a development install (test/engine/tillsync-bin.test.ts
 * covers that choice).
 */
export function tillsync(args: string[], env: NodeJS.ProcessEnv, name = `tillsync ${args[0] ?? ''}`): Proc {
  return spawnProc(name, [...nodeArgs('src/agent/cli.ts'), ...args], env);
}

/** Runs the `tillsync` command (see tillsync()) with `args` to the end; SIGKILL after `timeoutMs`. */
export async function runTillsync(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = tillsync(args, env);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  try {
    const exit = await p.exited;
    return { code: exit.code, stdout: p.stdout(), stderr: p.stderr() };
  } finally {
    clearTimeout(timer);
  }
}

/** Starts the agent (`tillsync agent`) with these settings and tuning. */
export function startAgent(s: AgentSettings, extra: Record<string, string> = {}): Proc {
  return tillsync(['agent'], agentEnv(s, extra), `agent ${s.terminalId}`);
}

// ------------------------------------------------------------------ terminal databases

export function tempDir(prefix = 'tillsync-proc-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A new terminal database at `path`, as `tillsync status --create` makes it (the POS
 * tables, the engine's tables and its capture triggers).
 */
export async function newTerminalDb(path: string): Promise<string> {
  const r = await runTillsync(['status', '--create', '--database', path], cleanEnv());
  if (r.code !== 0) throw new Error(`tillsync status --create --database ${path} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return path;
}

/** A connection of the POS's own: it writes sales; the engine's triggers capture them. */
export function openPos(path: string): Database.Database {
  const db = new Database(path, { fileMustExist: true });
  db.pragma('busy_timeout = 10000');
  return db;
}

/** A read-only connection to look at a terminal database while the agent works on it. */
export function openReader(path: string): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 10000');
  return db;
}

/**
 * The store row the POS has for its own store (stores sync down from central, so the
 * engine has no capture on it). Returns its local id.
 */
export function addLocalStore(pos: Database.Database, storeId: string): number {
  const r = pos.prepare(`INSERT INTO stores (server_id, name, currency) VALUES (?, ?, 'EUR')`).run(storeId, `Store ${storeId}`);
  return Number(r.lastInsertRowid);
}

export interface SaleOptions {
  readonly storeLocalId: number;
  readonly prefix: string;
  readonly count: number;
  /** 'completed' (CRITICAL; with a payment) or 'pending' (HIGH). */
  readonly status?: 'completed' | 'pending';
  /** Sales per transaction (default 1: each sale its own commit, as at a till). */
  readonly perTransaction?: number;
  readonly notes?: (i: number) => string | null;
}

/** Rings up sales: an order, one line and (when completed) a payment each. Returns the order numbers. */
export function ringUpSales(pos: Database.Database, o: SaleOptions): string[] {
  const status = o.status ?? 'completed';
  const order = pos.prepare(
    `INSERT INTO orders (store_id, order_number, status, subtotal, tax_total, total, currency, notes, ordered_at, completed_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, 'EUR', ?, ?, ?, ?, ?)`,
  );
  const item = pos.prepare(
    `INSERT INTO order_items (store_id, order_id, description, quantity, unit_price, line_total, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const payment = pos.prepare(
    `INSERT INTO payments (store_id, order_id, method, amount, currency, status, paid_at, created_at, updated_at)
     VALUES (?, ?, 'cash', ?, 'EUR', 'captured', ?, ?, ?)`,
  );
  const numbers: string[] = [];
  const one = (i: number) => {
    const now = new Date().toISOString();
    const n = `${o.prefix}-${String(i).padStart(6, '0')}`;
    const price = 1 + (i % 50);
    const r = order.run(o.storeLocalId, n, status, price, price * 0.2, price * 1.2, o.notes?.(i) ?? null, now, status === 'completed' ? now : null, now, now);
    const orderId = Number(r.lastInsertRowid);
    item.run(o.storeLocalId, orderId, `article ${i}`, 1, price, price, now, now);
    if (status === 'completed') payment.run(o.storeLocalId, orderId, price * 1.2, now, now, now);
    numbers.push(n);
  };
  const per = Math.max(1, o.perTransaction ?? 1);
  const tx = pos.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) one(i);
  });
  for (let i = 0; i < o.count; i += per) tx(i, Math.min(o.count, i + per));
  return numbers;
}

export interface OutboxSummary {
  readonly total: number;
  readonly pending: number;
  readonly failed: number;
  readonly synced: number;
  readonly conflict: number;
}

/** Outbox entries by status (optionally of one table). */
export function outboxSummary(db: Database.Database, table?: string): OutboxSummary {
  const rows = db
    .prepare(`SELECT status, count(*) AS n FROM tillsync_outbox ${table ? 'WHERE table_name = ?' : ''} GROUP BY status`)
    .all(...(table ? [table] : [])) as { status: string; n: number }[];
  const by = new Map(rows.map((r) => [r.status, r.n]));
  // Captured writes not yet moved into the outbox are pending entries too.
  const captured = (
    db.prepare(`SELECT count(*) AS n FROM tillsync_capture ${table ? 'WHERE table_name = ?' : ''}`).get(...(table ? [table] : [])) as { n: number }
  ).n;
  return {
    total: rows.reduce((s, r) => s + r.n, 0) + captured,
    pending: (by.get('pending') ?? 0) + captured,
    failed: by.get('failed') ?? 0,
    synced: by.get('synced') ?? 0,
    conflict: by.get('conflict') ?? 0,
  };
}

/** The engine's pass history in a terminal database, oldest first. */
export function historyOf(db: Database.Database): { id: number; kind: string; trigger: string; finished_at: string | null; pushed: number; pulled: number; errors: string | null }[] {
  return db.prepare('SELECT id, kind, trigger, finished_at, pushed, pulled, errors FROM tillsync_history ORDER BY id').all() as {
    id: number;
    kind: string;
    trigger: string;
    finished_at: string | null;
    pushed: number;
    pulled: number;
    errors: string | null;
  }[];
}

/** The connectivity mode the engine last recorded ('ONLINE' or 'OFFLINE'). */
export function modeOf(db: Database.Database): string {
  return (db.prepare('SELECT mode FROM tillsync_control WHERE id = 1').get() as { mode: string }).mode;
}
