/**
 * Runs central's drizzle migrations (drizzle/central/migrations) over our Database
 * interface, recording them in drizzle's own table so drizzle-kit sees the same
 * history. Instances starting together serialize on an advisory lock.
 */
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { fileURLToPath } from 'node:url';
import { CATALOG } from '../../shared/catalog/index.js';
import type { Database, Queryable } from './database.js';
import { ident, literal } from './sql.js';

/** Channel of terminal access changes (payload: the terminal id; empty: every terminal). */
export const AUTH_NOTIFY_CHANNEL = 'tillsync_auth';

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
    await installAuthNotify(tx);
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

/**
 * Announces every change to a terminal's access (disabled or enabled, deleted,
 * re-keyed, moved to another store), however it is made (the admin API or anyone's
 * SQL), on AUTH_NOTIFY_CHANNEL in the changing transaction, so every instance drops
 * the terminal's cached key when it commits. Heartbeats change none of those columns
 * and announce nothing.
 */
export async function installAuthNotify(tx: Queryable): Promise<void> {
  const channel = literal(AUTH_NOTIFY_CHANNEL);
  await tx.query(
    `CREATE OR REPLACE FUNCTION tillsync_auth_notify() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF TG_LEVEL = 'STATEMENT' THEN
         PERFORM pg_notify(${channel}, '');
       ELSE
         PERFORM pg_notify(${channel}, OLD.id);
         IF TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id THEN PERFORM pg_notify(${channel}, NEW.id); END IF;
       END IF;
       RETURN NULL;
     END
     $$`,
  );
  await tx.query(
    `CREATE OR REPLACE TRIGGER tillsync_auth_change AFTER UPDATE ON sync_terminals FOR EACH ROW
     WHEN (OLD.key_hash IS DISTINCT FROM NEW.key_hash OR OLD.disabled_at IS DISTINCT FROM NEW.disabled_at
           OR OLD.store_id IS DISTINCT FROM NEW.store_id OR OLD.id IS DISTINCT FROM NEW.id)
     EXECUTE FUNCTION tillsync_auth_notify()`,
  );
  await tx.query(
    'CREATE OR REPLACE TRIGGER tillsync_auth_delete AFTER DELETE ON sync_terminals FOR EACH ROW EXECUTE FUNCTION tillsync_auth_notify()',
  );
  await tx.query(
    'CREATE OR REPLACE TRIGGER tillsync_auth_truncate AFTER TRUNCATE ON sync_terminals FOR EACH STATEMENT EXECUTE FUNCTION tillsync_auth_notify()',
  );
}
