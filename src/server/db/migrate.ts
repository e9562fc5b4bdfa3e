/**
 * Runs central's drizzle migrations (drizzle/central/migrations) over our Database
 * interface, recording them in drizzle's own table so drizzle-kit sees the same
 * history. Instances starting together serialize on an advisory lock.
 */
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { fileURLToPath } from 'node:url';
import { CATALOG } from '../../shared/catalog/index.js';
import type { Database, Queryable } from './database.js';
import { ident } from './sql.js';

export const CENTRAL_MIGRATIONS = fileURLToPath(new URL('../../../drizzle/central/migrations', import.meta.url));
const LOCK_KEY = 7_402_118_001;

export async function migrate(db: Database, migrationsFolder = CENTRAL_MIGRATIONS): Promise<number> {
  const migrations = readMigrationFiles({ migrationsFolder });
  return db.transaction(async (tx) => {
    // Transaction-scoped: released at commit, so a crashed instance never holds it.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.query('CREATE SCHEMA IF NOT EXISTS drizzle');
    await tx.query(
      'CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)',
    );
    const last = await tx.query<{ created_at: number | null }>(
      'SELECT max(created_at)::bigint AS created_at FROM drizzle.__drizzle_migrations',
    );
    const applied = Number(last.rows[0]?.created_at ?? 0);
    let count = 0;
    for (const m of migrations) {
      if (m.folderMillis <= applied) continue;
      for (const statement of m.sql) if (statement.trim()) await tx.query(statement);
      await tx.query('INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ($1, $2)', [
        m.hash,
        m.folderMillis,
      ]);
      count++;
    }
    await installCaptureTriggers(tx);
    return count;
  });
}

/**
 * Attaches the capture and soft-delete triggers to every catalog table. Derived
 * from the catalog on every start, so the triggers always match it.
 */
export async function installCaptureTriggers(tx: Queryable): Promise<void> {
  for (const e of CATALOG) {
    const table = ident(e.centralName);
    const args = `'${e.entityType}', '${e.centralStoreColumn ?? ''}'`;
    await tx.query(
      `CREATE OR REPLACE TRIGGER tillsync_stamp BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION tillsync_stamp()`,
    );
    await tx.query(
      `CREATE OR REPLACE TRIGGER tillsync_log AFTER INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION tillsync_log(${args})`,
    );
    await tx.query(
      `CREATE OR REPLACE TRIGGER tillsync_soft_delete BEFORE DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION tillsync_soft_delete()`,
    );
  }
}
