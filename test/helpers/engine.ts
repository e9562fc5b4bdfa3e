/**
 * Terminal engines for tests: a real SQLite file in a temp directory, a LocalStore
 * over it, a SyncService bound to a provisioned terminal of a started central (see
 * central.ts), and helpers to write to the file as the POS app would (a second
 * connection of our own, or another process).
 *
 * Engines never schedule anything: `initialize(terminalId, { schedule: false })` and
 * `realtime: false`, so a test calls every pass itself (`engine.sync()` or the
 * service's own methods). Close every engine you start (`await engine.close()`, e.g.
 * in an afterAll/afterEach); `closeAll()` closes every engine still open.
 *
 * Usage:
 *   const c = useCentral();
 *   const e = await startEngine(c, { storeId: 'store-x' });
 *   e.pos().prepare('INSERT INTO customers (name) VALUES (?)').run('Ann');
 *   await e.sync();                         // settled(c) + performFullSync()
 *   expect(e.outbox({ status: 'pending' })).toHaveLength(0);
 */
import Database from 'better-sqlite3';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { createEngine } from '../../src/main/sync/engine.js';
import type { LocalStore, LocalStoreOptions, OutboxEntry } from '../../src/main/sync/store/index.js';
import { SyncService } from '../../src/main/sync/sync-service.js';
import type { SyncRunResult } from '../../src/shared/ipc.js';
import { DEFAULT_SYNC_CONFIG, type SyncConfig } from '../../src/main/sync/sync-config.js';
import type { ProvisionedTerminal, TestCentral } from './central.js';
import { settled } from './sync.js';

/** The repository root (for spawning fixtures with the project's node_modules). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

const dirs = new Set<string>();
const open = new Set<TerminalEngine>();

/** A fresh temp directory (fs.mkdtempSync), removed by `removeTempDirs()` / `closeAll()`. */
export function tempDir(prefix = 'tillsync-engine-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

/** A second connection to a terminal's file, as the POS app has (WAL, busy timeout). */
export function openPos(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

/** A SyncConfig for tests: no socket, central's URL and the terminal's key, `overrides` on top. */
export function engineConfig(centralUrl: string, apiKey: string, overrides: Partial<SyncConfig> = {}): SyncConfig {
  return { ...DEFAULT_SYNC_CONFIG, centralUrl, apiKey, realtime: false, ...overrides };
}

/** A quiet logger for engines (set TILLSYNC_TEST_LOG=debug to see what they do). */
export const testLogger = () => pino({ level: process.env.TILLSYNC_TEST_LOG ?? 'silent' });

/** What a started engine needs of a central. */
export type EngineCentral = Pick<TestCentral, 'url' | 'db' | 'provision'>;

export interface EngineOptions {
  /** Store to provision the terminal in (created if needed). Default: a fresh store per engine. */
  readonly storeId?: string;
  readonly terminalId?: string;
  /** An already provisioned terminal (instead of provisioning one). */
  readonly terminal?: ProvisionedTerminal;
  /** The SQLite file (e.g. a legacy POS database made by the test). Default: a new file in a temp dir. */
  readonly path?: string;
  readonly config?: Partial<SyncConfig>;
  readonly storeOptions?: LocalStoreOptions;
  /** Run a full sync right after initialize (pulls the store row, etc.). Default false. */
  readonly initialSync?: boolean;
}

export interface TerminalEngine {
  readonly central: EngineCentral;
  readonly terminal: ProvisionedTerminal;
  readonly path: string;
  readonly store: LocalStore;
  readonly service: SyncService;
  readonly config: SyncConfig;
  /** A second connection to the file standing in for the POS app (opened once, closed with the engine). */
  pos(): Database.Database;
  /** Waits until central's change log has settled (see settled()), then runs a full sync. */
  sync(): Promise<SyncRunResult>;
  /** Outbox entries, in capture order, optionally filtered. */
  outbox(filter?: { table?: string; status?: OutboxEntry['status']; serverId?: string }): OutboxEntry[];
  /** A local row by central id (null if absent). */
  row(table: string, serverId: string): Record<string, unknown> | null;
  /** The local row's central id. */
  serverIdOf(table: string, localId: number | bigint): string;
  /**
   * A new SyncService over the same file (e.g. after a restart, or against a central
   * at another URL); replaces `service`.
   */
  restart(overrides?: Partial<SyncConfig>): Promise<SyncService>;
  close(): Promise<void>;
}

let stores = 0;

/** Provisions a terminal (unless given one) and starts an engine for it over a SQLite file. */
export async function startEngine(c: EngineCentral, opts: EngineOptions = {}): Promise<TerminalEngine> {
  const terminal =
    opts.terminal ?? (await c.provision(opts.storeId ?? `eng-${process.pid}-${Date.now().toString(36)}-${++stores}`, opts.terminalId));
  const path = opts.path ?? join(tempDir(), 'pos.sqlite');
  let config = engineConfig(c.url, terminal.apiKey, opts.config);
  const { create = true, migrationsDir, createMissing, busyTimeoutMs } = opts.storeOptions ?? {};
  const { store, service: first } = createEngine(
    { databasePath: path, terminalId: terminal.terminalId, sync: config, create, migrationsDir, store: { createMissing, busyTimeoutMs } },
    testLogger(),
  );
  let service = first;
  await service.initialize(terminal.terminalId, { schedule: false });
  let posDb: Database.Database | undefined;

  const engine: TerminalEngine = {
    central: c,
    terminal,
    path,
    store,
    get service() {
      return service;
    },
    get config() {
      return config;
    },
    pos() {
      posDb ??= openPos(path);
      return posDb;
    },
    async sync() {
      await settled(c);
      return service.performFullSync('test');
    },
    outbox(filter = {}) {
      // The engine's view: what the triggers captured is moved into the outbox first.
      store.capture.promote();
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, v: unknown) => {
        where.push(sql);
        params.push(v);
      };
      if (filter.table) add('table_name = ?', filter.table);
      if (filter.status) add('status = ?', filter.status);
      if (filter.serverId) add('server_id = ?', filter.serverId);
      return store.base.db.prepare(`SELECT * FROM tillsync_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`).all(...params) as OutboxEntry[];
    },
    row(table, serverId) {
      return (store.base.db.prepare(`SELECT * FROM "${table}" WHERE server_id = ?`).get(serverId) as Record<string, unknown> | undefined) ?? null;
    },
    serverIdOf(table, localId) {
      store.capture.promote(); // a new row gets its central id when its capture is moved into the outbox
      const r = store.base.db.prepare(`SELECT server_id FROM "${table}" WHERE id = ?`).get(localId) as { server_id: string | null } | undefined;
      if (!r?.server_id) throw new Error(`${table} row ${String(localId)} has no central id`);
      return r.server_id;
    },
    async restart(overrides = {}) {
      await service.stop();
      config = { ...config, ...overrides };
      service = new SyncService(store, config, testLogger());
      await service.initialize(terminal.terminalId, { schedule: false });
      return service;
    },
    async close() {
      open.delete(engine);
      await service.stop();
      posDb?.close();
      store.close();
    },
  };
  open.add(engine);
  if (opts.initialSync) await engine.sync();
  return engine;
}

/** Closes every engine still open and removes the temp directories. */
export async function closeAll(): Promise<void> {
  for (const e of [...open]) await e.close();
  removeTempDirs();
}

/**
 * Runs a fixture script in its own node process (`node --import tsx <script> ...args`)
 * from the repository root; resolves to its stdout (rejects with its stderr on failure).
 */
export function runFixture(script: string, args: readonly string[]): Promise<string> {
  return new Promise((res, rej) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'test', 'fixtures', script), ...args],
      { cwd: REPO_ROOT, timeout: 60_000 },
      (err, stdout, stderr) => (err ? rej(new Error(`${script} failed: ${err.message}\n${stderr}`)) : res(stdout)),
    );
  });
}

/** A POS process writing customers steadily (test/fixtures/engine-pos-writer.ts). */
export interface PosWriter {
  /** Name prefix of its rows (`<prefix>-<n>` in customers). */
  readonly prefix: string;
  /** Lets it start writing (it waits until told). */
  go(): void;
  /**
   * Blocks this thread (synchronously, so it can run inside an engine event) until
   * the writer has committed its first row.
   */
  waitStartedSync(timeoutMs?: number): void;
  /** Tells it to stop; resolves to the number of rows it wrote. */
  stop(): Promise<number>;
}

export function startPosWriter(path: string, opts: { go?: boolean } = {}): PosWriter {
  const dir = tempDir('tillsync-writer-');
  const [goFile, startedFile, stopFile] = ['go', 'started', 'stop'].map((f) => join(dir, f)) as [string, string, string];
  const prefix = `writer-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/fixtures/engine-pos-writer.ts'), path, goFile, startedFile, stopFile, prefix], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const go = () => writeFileSync(goFile, '');
  if (opts.go) go();
  return {
    prefix,
    go,
    waitStartedSync(timeoutMs = 30_000) {
      const sleeper = new Int32Array(new SharedArrayBuffer(4));
      const deadline = Date.now() + timeoutMs;
      while (!existsSync(startedFile)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the POS writer did not start: ${stderr}`);
        Atomics.wait(sleeper, 0, 0, 5);
      }
    },
    async stop() {
      go();
      writeFileSync(stopFile, '');
      const code = await exited;
      if (code !== 0) throw new Error(`the POS writer exited with ${String(code)}: ${stderr}`);
      return Number(stdout.trim());
    },
  };
}

/** A request passing through a PassThroughProxy. */
export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

export interface PassThroughProxy {
  readonly url: string;
  /** Requests seen so far, in arrival order. */
  readonly requests: ProxiedRequest[];
  close(): Promise<void>;
}

/**
 * A proxy that fails the first `POST /api/sync/push` (502, the pass ends: retryable),
 * after `delayMs` (a batch built meanwhile goes beside it), and passes every other request
 * on after `laterDelayMs`.
 */
export function failFirstPush(target: string, opts: { delayMs?: number; laterDelayMs?: number } = {}): Promise<PassThroughProxy> {
  let first = true;
  return startProxy(target, async (r) => {
    if (r.path !== '/api/sync/push') return;
    if (first) {
      first = false;
      if (opts.delayMs) await new Promise((res) => setTimeout(res, opts.delayMs));
      throw new Error('the network drops this push');
    }
    if (opts.laterDelayMs) await new Promise((res) => setTimeout(res, opts.laterDelayMs));
  });
}

/**
 * An HTTP pass-through in front of central, for what happens while a request is on
 * its way: `beforeForward` runs (and is awaited) before each request is forwarded,
 * e.g. to let the POS write while the engine's push is in flight. Point an engine at
 * it with `config: { centralUrl: proxy.url }`. Nothing is changed on the way, unless
 * `answer` rewrites central's answers.
 */
export async function startProxy(
  target: string,
  beforeForward: (r: ProxiedRequest) => Promise<void> | void = () => undefined,
  /** Rewrites central's answer (its body as text) on the way back; unchanged by default. */
  answer: (r: ProxiedRequest, body: string) => string = (_r, body) => body,
): Promise<PassThroughProxy> {
  const requests: ProxiedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const seen: ProxiedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', body: Buffer.concat(chunks).toString('utf8') };
      requests.push(seen);
      void (async () => {
        try {
          await beforeForward(seen);
          const headers: Record<string, string> = {};
          for (const h of ['authorization', 'content-type']) if (typeof req.headers[h] === 'string') headers[h] = req.headers[h];
          const r = await fetch(target + seen.path, { method: seen.method, headers, body: seen.method === 'GET' ? undefined : seen.body });
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(answer(seen, await r.text()));
        } catch (err) {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ statusCode: 502, code: 'PROXY', message: String(err) }));
        }
      })();
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}
