/**
 * Test harness: a real central server on a real database. PGlite in memory by
 * default; with TEST_DATABASE_URL set (as in CI), a fresh database on that
 * PostgreSQL server per call, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createCentral, type Central } from '../../src/server/app.js';
import { ServerConfig, type ServerConfigInput } from '../../src/server/config.js';
import { openPglite, openPostgres, type Database } from '../../src/server/db/database.js';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
export const onPostgres = TEST_DATABASE_URL !== undefined && TEST_DATABASE_URL !== '';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestDatabase {
  readonly db: Database;
  /** Connection string when on PostgreSQL (for second connections in concurrency tests). */
  readonly url: string | undefined;
  close(): Promise<void>;
}

export async function testDatabase(): Promise<TestDatabase> {
  if (!onPostgres) {
    const db = await openPglite();
    return { db, url: undefined, close: () => db.close() };
  }
  const name = `tillsync_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL as string);
  url.pathname = `/${name}`;
  const db = openPostgres({ connectionString: url.toString() });
  return {
    db,
    url: url.toString(),
    async close() {
      await db.close();
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface HttpResult<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
  readonly headers: Headers;
}

/** A tiny HTTP client that never throws on a status code. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string | undefined,
  ) {}

  async request<T = any>(method: string, path: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...opts.headers };
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed as T, text, headers: res.headers };
  }

  get<T = any>(path: string, query?: Record<string, string | number | undefined>) {
    const qs = query
      ? '?' + new URLSearchParams(Object.entries(query).filter((e): e is [string, string | number] => e[1] !== undefined).map(([k, v]) => [k, String(v)])).toString()
      : '';
    return this.request<T>('GET', path + qs);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.request<T>('POST', path, { body: body ?? {} });
  }
  patch<T = any>(path: string, body?: unknown) {
    return this.request<T>('PATCH', path, { body: body ?? {} });
  }
}

export interface ProvisionedTerminal {
  readonly terminalId: string;
  readonly storeId: string;
  readonly apiKey: string;
  readonly api: ApiClient;
}

export interface TestCentral {
  readonly central: Central;
  readonly url: string;
  readonly db: Database;
  readonly admin: ApiClient;
  /** Creates the store if needed and provisions a terminal in it. */
  provision(storeId?: string, terminalId?: string): Promise<ProvisionedTerminal>;
  close(): Promise<void>;
}

/** Starts a central server on an ephemeral port (auto-sync on restart off unless asked for). */
export async function startCentral(opts: { db: Database; config?: Partial<ServerConfigInput> }): Promise<TestCentral> {
  const config = ServerConfig.parse({
    port: 0,
    adminToken: ADMIN_TOKEN,
    logLevel: 'silent',
    autoSyncOnStart: false,
    ...opts.config,
  });
  const central = await createCentral({ config, db: opts.db });
  const url = await central.listen();
  const admin = new ApiClient(url, ADMIN_TOKEN);
  const stores = new Set<string>();
  let n = 0;
  return {
    central,
    url,
    db: opts.db,
    admin,
    async provision(storeId = 'store-1', terminalId) {
      if (!stores.has(storeId)) {
        const s = await admin.post('/api/stores', { id: storeId, name: `Store ${storeId}` });
        if (s.status !== 201 && s.status !== 409) throw new Error(`creating store failed: ${s.text}`);
        stores.add(storeId);
      }
      const t = await admin.post('/api/terminals', { storeId, terminalId: terminalId ?? `${storeId}-t${++n}` });
      if (t.status !== 201) throw new Error(`provisioning failed: ${t.text}`);
      return { terminalId: t.body.terminalId, storeId, apiKey: t.body.apiKey, api: new ApiClient(url, t.body.apiKey) };
    },
    close: () => central.close(),
  };
}

/**
 * A central on a fresh test database for the enclosing suite (or file): registers a
 * beforeAll that starts both and an afterAll that stops them. Returns a handle that
 * forwards to the started central, so it can be captured once and used in later
 * hooks and tests (not before the beforeAll has run).
 */
export function useCentral(): TestCentral {
  let tdb: TestDatabase | undefined;
  let started: TestCentral | undefined;
  beforeAll(async () => {
    tdb = await testDatabase();
    started = await startCentral({ db: tdb.db });
  });
  afterAll(async () => {
    await started?.close();
    await tdb?.close();
  });
  const current = (): TestCentral => {
    if (!started) throw new Error('useCentral: the central is not started yet (use it in a hook or test after its beforeAll)');
    return started;
  };
  return {
    get central() {
      return current().central;
    },
    get url() {
      return current().url;
    },
    get db() {
      return current().db;
    },
    get admin() {
      return current().admin;
    },
    provision: (storeId, terminalId) => current().provision(storeId, terminalId),
    close: () => current().close(),
  };
}
