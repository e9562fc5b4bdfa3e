/**
 * Central's database for one fault campaign: a scratch PostgreSQL database (created
 * next to the one the caller names, dropped at the end), or an embedded PGlite data
 * directory. HQ writes and the audit reach it by plain SQL, as a back office would.
 *
 * PGlite is one process's database: while central runs on the directory nobody else
 * may open it, so on PGlite `withDb` is only called while central is stopped (the
 * campaign writes HQ's changes during central's downtimes and audits after stopping
 * it). On PostgreSQL it is open all along.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPglite, openPostgres, type Database, type Queryable } from '../../src/server/db/database.js';

export interface CentralDb {
  readonly kind: 'postgres' | 'pglite';
  /** Whether `withDb` may run while central runs. */
  readonly liveAccess: boolean;
  /** Central's environment for this database. */
  readonly env: Record<string, string>;
  /** Where it is, for the report (no credentials). */
  readonly where: string;
  withDb<T>(fn: (db: Queryable & { transaction: Database['transaction'] }) => Promise<T>): Promise<T>;
  /** Closes connections and removes the database. */
  dispose(): Promise<void>;
}

/** A scratch database on the PostgreSQL server of `adminUrl` (a database it may create others next to). */
export async function scratchPostgres(adminUrl: string): Promise<CentralDb> {
  const name = `tillsync_chaos_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let db: Database | undefined;
  return {
    kind: 'postgres',
    liveAccess: true,
    env: { POSTGRES_URL_REMOTE: url.toString() },
    where: `PostgreSQL ${url.host}/${name}`,
    async withDb(fn) {
      db ??= openPostgres({ connectionString: url.toString(), max: 3 });
      return fn(db);
    },
    async dispose() {
      await db?.close().catch(() => undefined);
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** An embedded PGlite data directory in a temporary folder. */
export function scratchPglite(): CentralDb {
  const dir = mkdtempSync(join(tmpdir(), 'tillsync-chaos-central-'));
  return {
    kind: 'pglite',
    liveAccess: false,
    env: { TILLSYNC_DATA_DIR: dir },
    where: `PGlite ${dir}`,
    async withDb(fn) {
      const db = await openPglite(dir);
      try {
        return await fn(db);
      } finally {
        await db.close();
      }
    },
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const CHAOS_STORE = 'chaos-store';
export const CHAOS_TERMINAL = 'chaos-till-1';
export const PRODUCTS = 12;
export const productId = (i: number) => `chaos-p-${String(i + 1).padStart(2, '0')}`;

/** HQ's catalogue for the store: taxes, a dozen products, stock for each (as the demo stack seeds it). */
export async function seedCatalogue(db: Queryable & { transaction: Database['transaction'] }): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`INSERT INTO taxes (id, name, rate, inclusive) VALUES ('chaos-tax-std', 'Standard', 0.2, true), ('chaos-tax-red', 'Reduced', 0.05, true)`);
    for (let i = 0; i < PRODUCTS; i++) {
      const id = productId(i);
      const price = 1 + ((i * 37) % 90) / 10;
      await tx.query(
        `INSERT INTO products (id, sku, name, description, tax_id, price, cost, unit, active, created_at, updated_at)
         VALUES ($1, $2, $3, 'seeded', $4, $5, $6, 'each', true, now(), now())`,
        [id, `CHAOS-${1000 + i}`, `Chaos product ${i + 1}`, i % 3 === 0 ? 'chaos-tax-red' : 'chaos-tax-std', price, Math.round(price * 55) / 100],
      );
      await tx.query(
        `INSERT INTO inventory_items (id, store_id, product_id, master_stock_quantity, reorder_level, created_at, updated_at)
         VALUES ($1, $2, $3, 100000, 10, now(), now())`,
        [`chaos-inv-${id}`, CHAOS_STORE, id],
      );
    }
  });
}

/** One HQ price change, by plain SQL: the new price and a marker in the description. */
export async function writePrice(db: Queryable, id: string, priceCents: number, marker: string): Promise<void> {
  await db.query('UPDATE products SET price = $1, description = $2, updated_at = now() WHERE id = $3', [priceCents / 100, marker, id]);
}
