/**
 * Runs central's drizzle migrations (drizzle/central/migrations) over our Database
 * interface, recording them in drizzle's own table so drizzle-kit sees the same
 * history. Instances starting together serialize on an advisory lock.
 */
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { fileURLToPath } from 'node:url';
import { CATALOG, pullable, type CatalogEntry } from '../../shared/catalog/index.js';
import type { Database, Queryable } from './database.js';
import { ident, literal } from './sql.js';

/** Channel of terminal access changes (payload: the terminal id; empty: every terminal). */
export const AUTH_NOTIFY_CHANNEL = 'tillsync_auth';

/**
 * Channel of committed changes to tables terminals pull: one notification per
 * statement and distinct (entity type, store, writer), as JSON `{ t, s, o, x }` (`s`
 * null: global rows; `x` the writing transaction's id). NOTIFY is delivered at commit, to every instance, and PostgreSQL folds
 * a transaction's identical notifications into one, so a bulk import is a handful.
 */
export const CHANGES_CHANNEL = 'tillsync_changes';

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
    // Every migration not recorded yet, in journal order. Not "later than the latest
    // recorded" (drizzle's rule): 0008 was released with a journal time after those of
    // 0009 and 0010, so a database migrated up to 0008 would never get them.
    const done = await tx.query<{ created_at: string }>('SELECT created_at::text AS created_at FROM drizzle.__drizzle_migrations');
    const applied = new Set(done.rows.map((r) => Number(r.created_at)));
    let count = 0;
    for (const m of migrations) {
      if (applied.has(m.folderMillis)) continue;
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
 *
 * The version bump is a BEFORE row trigger (it changes the row; given the entity
 * type, it also moves a push's answer kept on the row into sync_applied when the row
 * is written again: migration 0007). The change log is
 * written once per statement, from the statement's transition tables, by a function
 * generated per table (it knows the entity type and the store column): one INSERT
 * into sync_changes per statement instead of one per row. PostgreSQL allows a
 * transition table only on a trigger of one event, so INSERT and UPDATE have a
 * trigger each; an INSERT ... ON CONFLICT DO UPDATE fires both, each with the rows
 * it really inserted or updated. Tables no terminal pulls (up-only: orders, their
 * lines, payments, stock movements, receipts, audit) keep no change log at all: a
 * sale's rows are written without log entries.
 */
export async function installCaptureTriggers(tx: Queryable): Promise<void> {
  for (const e of CATALOG) {
    const table = ident(e.centralName);
    const log = ident(logFunctionName(e.centralName));
    await tx.query(
      `CREATE OR REPLACE TRIGGER tillsync_stamp BEFORE INSERT OR UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION tillsync_stamp(${literal(e.entityType)})`,
    );
    // The row-level log of before migration 0003 (which drops it too): never both.
    await tx.query(
      `DO $$ BEGIN
         IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = ${literal(table)}::regclass AND tgname = 'tillsync_log') THEN
           DROP TRIGGER tillsync_log ON ${table};
         END IF;
       END $$`,
    );
    if (pullable(e)) {
      await tx.query(logFunction(e));
      await tx.query(
        `CREATE OR REPLACE TRIGGER tillsync_log_insert AFTER INSERT ON ${table} REFERENCING NEW TABLE AS tillsync_new
         FOR EACH STATEMENT EXECUTE FUNCTION ${log}()`,
      );
      await tx.query(
        `CREATE OR REPLACE TRIGGER tillsync_log_update AFTER UPDATE ON ${table} REFERENCING OLD TABLE AS tillsync_old NEW TABLE AS tillsync_new
         FOR EACH STATEMENT EXECUTE FUNCTION ${log}()`,
      );
    } else {
      // Up-only tables (sales) are pulled by no terminal: nobody reads a log of them, so
      // their writes keep none (an earlier version's triggers and function go).
      await tx.query(`DROP TRIGGER IF EXISTS tillsync_log_insert ON ${table}`);
      await tx.query(`DROP TRIGGER IF EXISTS tillsync_log_update ON ${table}`);
      await tx.query(`DROP FUNCTION IF EXISTS ${log}()`);
    }
    await tx.query(
      `CREATE OR REPLACE TRIGGER tillsync_soft_delete BEFORE DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION tillsync_soft_delete(${literal(e.entityType)})`,
    );
  }
}

/** Name of a table's generated change-log function. */
export function logFunctionName(centralTable: string): string {
  return `tillsync_log_${centralTable}`;
}

/**
 * A table's statement-level change-log function: the rows of the statement's
 * transition tables, logged as the row-level trigger before it logged them, in the
 * order the statement wrote them.
 *
 * - INSERT: CREATE, or DELETE for a row inserted as a tombstone.
 * - UPDATE: nothing if the version did not move (a write that changed nothing);
 *   else DELETE if the row is now a tombstone, CREATE if it was one, UPDATE
 *   otherwise. A row that moved to another store first logs a DELETE for the old
 *   store (its terminals drop it), then the change for the new one.
 * - Every entry carries the row's new version and writer (sync_origin); txid and
 *   changed_at are the columns' defaults (this transaction, now()).
 *
 * An UPDATE's old and new images are paired by position, not by key: PostgreSQL
 * appends both images of each updated row to OLD TABLE and NEW TABLE together
 * (AfterTriggerSaveEvent), so the n-th rows are one row's, even when the statement
 * changed keys (a join on id would pair two rows whose keys were swapped).
 */
function logFunction(e: CatalogEntry): string {
  const storeCol = e.centralStoreColumn;
  const store = storeCol ? `${ident(storeCol)}::text` : 'NULL::text';
  const cols = 'entity_type, entity_id, store_id, op, version, origin';
  const entity = `${literal(e.entityType)}::text`;
  const updateOp = `CASE WHEN u.n_del IS NOT NULL THEN 'DELETE' WHEN u.o_del IS NOT NULL THEN 'CREATE' ELSE 'UPDATE' END`;
  // Each transition table folded into arrays (one scan each), zipped by unnest: a plan
  // with no join, so the plan PL/pgSQL caches (made for whatever size the first call
  // had) is as good for one row as for thousands.
  const pairs = `(SELECT array_agg(id) AS id, array_agg(sync_version) AS v, array_agg(sync_origin) AS org,
              array_agg(sync_deleted_at) AS del, array_agg(${store}) AS st FROM tillsync_new) n,
           (SELECT array_agg(sync_version) AS v, array_agg(sync_deleted_at) AS del, array_agg(${store}) AS st FROM tillsync_old) o,
           unnest(n.id, n.v, n.org, n.del, n.st, o.v, o.del, o.st) WITH ORDINALITY
             AS u(id, n_v, origin, n_del, n_st, o_v, o_del, o_st, i)`;
  const update = storeCol
    ? `INSERT INTO sync_changes (${cols})
        SELECT ${entity}, u.id, c.store, c.op, u.n_v, u.origin
        FROM ${pairs}
        CROSS JOIN LATERAL (VALUES (0, u.o_st, 'DELETE'), (1, u.n_st, ${updateOp})) c(k, store, op)
        WHERE u.n_v <> u.o_v AND (c.k = 1 OR (u.o_st IS NOT NULL AND u.o_st IS DISTINCT FROM u.n_st))
        ORDER BY u.i, c.k`
    : `INSERT INTO sync_changes (${cols})
        SELECT ${entity}, u.id, NULL::text, ${updateOp}, u.n_v, u.origin
        FROM ${pairs}
        WHERE u.n_v <> u.o_v
        ORDER BY u.i`;
  // Every logged change is announced (see CHANGES_CHANNEL): only tables terminals pull have a log.
  const announce = (from: string) =>
    `PERFORM pg_notify(${literal(CHANGES_CHANNEL)}, json_build_object('t', ${entity}, 's', x.s, 'o', x.o, 'x', pg_current_xact_id()::text)::text) FROM (${from}) x;`;
  const storeOf = (alias: string) => (storeCol ? `${alias}.${store}` : 'NULL::text');
  return `CREATE OR REPLACE FUNCTION ${ident(logFunctionName(e.centralName))}() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO sync_changes (${cols})
        SELECT ${entity}, n.id, ${storeCol ? `n.${store}` : 'NULL::text'}, CASE WHEN n.sync_deleted_at IS NULL THEN 'CREATE' ELSE 'DELETE' END, n.sync_version, n.sync_origin
        FROM tillsync_new n;
        ${announce(`SELECT DISTINCT ${storeOf('n')} AS s, n.sync_origin AS o FROM tillsync_new n`)}
      ELSE
        ${update};
        ${announce(
          // A row moved to another store is announced to its old store too (its terminals
          // drop it), with the row's own writer: one statement may carry several terminals'
          // rows (group commit), and a pairing no row has would hint a terminal of its own change.
          storeCol
            ? `SELECT DISTINCT ${storeOf('n')} AS s, n.sync_origin AS o FROM tillsync_new n
           UNION SELECT ${storeOf('p')}, n.sync_origin FROM tillsync_old p JOIN tillsync_new n ON n.id = p.id
             WHERE ${storeOf('p')} IS DISTINCT FROM ${storeOf('n')}`
            : `SELECT DISTINCT NULL::text AS s, n.sync_origin AS o FROM tillsync_new n`,
        )}
      END IF;
      RETURN NULL;
    END
    $fn$`;
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
