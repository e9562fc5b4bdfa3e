/**
 * Test harness: a real central server on a real database. PGlite in memory by
 * default; with TEST_DATABASE_URL set (as in CI), a fresh database on that
 * PostgreSQL server per call, dropped afterwards. Either starts with central's schema
 * (see testDatabase).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { createCentral, type Central } from '../../src/server/app.js';
import { ServerConfig, type ServerConfigInput } from '../../src/server/config.js';
import { openPglite, openPostgres, type Database } from '../../src/server/db/database.js';
import { ADMIN_TOKEN, ApiClient, type ProvisionedTerminal } from './api-client.js';
import { onServer, pgliteSchemaDump } from './schema-template.js';

export { ADMIN_TOKEN, ApiClient, type HttpResult, type ProvisionedTerminal } from './api-client.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** On PostgreSQL: the database test/global-setup.ts migrated for this run, to copy. */
    pgSchemaTemplate?: string;
  }
}

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;
export const onPostgres = TEST_DATABASE_URL !== undefined && TEST_DATABASE_URL !== '';

export interface TestDatabase {
  readonly db: Database;
  /** Connection string when on PostgreSQL (for second connections in concurrency tests). */
  readonly url: string | undefined;
  close(): Promise<void>;
}

/** The PostgreSQL database with central's schema that test/global-setup.ts made for this run. */
function postgresSchemaTemplate(): string | undefined {
  return inject('pgSchemaTemplate');
}

export interface TestDatabaseOptions {
  /**
   * An empty database, as central meets on its first start (for tests of the migrations
   * themselves). Default: one that already holds central's schema (this build's
   * migrations applied, nothing else), copied from one made once per run (per worker
   * on PGlite; test/helpers/schema-template.ts).
   */
  readonly blank?: boolean;
}

export async function testDatabase(opts: TestDatabaseOptions = {}): Promise<TestDatabase> {
  if (!onPostgres) {
    const db = await openPglite(undefined, opts.blank ? undefined : await pgliteSchemaDump());
    return { db, url: undefined, close: () => db.close() };
  }
  const name = `tillsync_t_${randomBytes(6).toString('hex')}`;
  const template = opts.blank ? undefined : postgresSchemaTemplate();
  const adminUrl = TEST_DATABASE_URL as string;
  await onServer(adminUrl, (c) => c.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = openPostgres({ connectionString: url.toString() });
  return {
    db,
    url: url.toString(),
    async close() {
      await db.close();
      await onServer(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
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
