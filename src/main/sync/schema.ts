/**
 * The terminal's schema, from the catalog. On a new file the POS tables are created;
 * on an existing POS database only what sync needs is added (the engine's tables,
 * missing catalog and local-only columns, a unique index on server_id, the capture
 * triggers) and no business data is touched. Installing is idempotent; upgrading
 * replaces the triggers.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CATALOG,
  LOCAL_KEY,
  LOCAL_SERVER_ID,
  pushable,
  type CatalogEntry,
  type ColumnType,
  type PrioritySpec,
} from '../../shared/catalog/index.js';

/**
 * The terminal's drizzle migrations, next to the sources. A bundle (the Electron main
 * process) passes its own location (`migrationsDir`), since this path is computed
 * from where the code runs.
 */
export const TERMINAL_MIGRATIONS = fileURLToPath(new URL('../../../drizzle/terminal/migrations', import.meta.url));

/** An outbox entry's transaction group: its order's (items, payments), or its own row. */
export const GROUP_KEY = `coalesce(tx_group, table_name || ':' || server_id)`;

const SQLITE_TYPE: Record<ColumnType, string> = {
  text: 'TEXT',
  integer: 'INTEGER',
  numeric: 'REAL',
  boolean: 'INTEGER',
  timestamp: 'TEXT',
  json: 'TEXT',
};

export const q = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const lit = (v: string): string => `'${v.replace(/'/g, "''")}'`;

/** The column type a catalog column has on the terminal (foreign keys hold local integer ids). */
export function localType(def: { type: ColumnType; references?: string }): string {
  return def.references ? 'INTEGER' : SQLITE_TYPE[def.type];
}

/**
 * Local-only columns a POS table gets (made, or added to it) besides its keys. The seed's `sync_status`,
 * `sync_operation` and `last_sync_at` are not among them: TillSync never wrote them
 * (a row's sync state is the outbox's: tillsync_outbox by table_name and local_id),
 * and keeping a second copy in every POS row would add a write to each sale and to
 * each answer from central. A POS whose own tables have them keeps them; they never
 * cross the wire (the catalog's LOCAL_ONLY_COLUMNS).
 */
export const CREATED_LOCAL_COLUMNS = ['terminal_id'] as const;

export function createTableSql(e: CatalogEntry): string {
  const cols = [
    `${q(LOCAL_KEY)} INTEGER PRIMARY KEY AUTOINCREMENT`,
    `${q(LOCAL_SERVER_ID)} TEXT UNIQUE`,
    ...e.wireColumns.map((c) => `${q(c.local)} ${localType(c.def)}`),
    ...CREATED_LOCAL_COLUMNS.map((c) => `${q(c)} TEXT`),
  ];
  return `CREATE TABLE IF NOT EXISTS ${q(e.table)} (\n  ${cols.join(',\n  ')}\n)`;
}

/** Column names of a table as SQLite has them; empty when the table is missing. */
export function tableColumns(db: BetterSqlite3.Database, table: string): Map<string, string> {
  const rows = db.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(table) as { name: string; type: string }[];
  return new Map(rows.map((r) => [r.name, r.type]));
}

function priorityExpr(spec: PrioritySpec, row: 'NEW' | 'OLD'): string {
  if (typeof spec === 'number') return String(spec);
  const whens = Object.entries(spec.when)
    .map(([v, p]) => `WHEN ${lit(v)} THEN ${p}`)
    .join(' ');
  return `CASE ${row}.${q(spec.column)} ${whens} ELSE ${spec.otherwise} END`;
}

function imageExpr(row: 'NEW' | 'OLD', columns: readonly string[]): string {
  return `json_object(${[LOCAL_KEY, ...columns].map((c) => `${lit(c)}, ${row}.${q(c)}`).join(', ')})`;
}

/**
 * Capture triggers of one table: each POS write appends one row to the capture log in
 * the POS's own transaction, with old and new images; nothing while the engine applies
 * pulls (the control row, read on whatever connection the write comes from). The log
 * has no index but its key and the trigger looks nothing up but the control row: the
 * central id, the change id and the transaction group are given when the engine moves
 * the row into the outbox (store/capture.ts, promote), off the sale's path.
 */
export function triggerSql(e: CatalogEntry, columns: readonly string[]): string[] {
  const t = q(e.table);
  const name = (op: string) => q(`tillsync_${e.table}_${op}`);
  const insert = 'INSERT INTO tillsync_capture (table_name, local_id, server_id, operation, new_image, old_image, priority, mode)';
  const control = 'FROM tillsync_control WHERE id = 1 AND applying = 0';
  const key = q(LOCAL_KEY);
  const sid = q(LOCAL_SERVER_ID);
  return [
    `CREATE TRIGGER ${name('ai')} AFTER INSERT ON ${t}
BEGIN
  ${insert}
  SELECT ${lit(e.table)}, NEW.${key}, NEW.${sid}, 'CREATE', ${imageExpr('NEW', columns)}, NULL, ${priorityExpr(e.priority, 'NEW')}, mode ${control};
END`,
    `CREATE TRIGGER ${name('au')} AFTER UPDATE ON ${t}
BEGIN
  ${insert}
  SELECT ${lit(e.table)}, NEW.${key}, OLD.${sid}, 'UPDATE', ${imageExpr('NEW', columns)}, ${imageExpr('OLD', columns)}, ${priorityExpr(e.priority, 'NEW')}, mode ${control};
END`,
    `CREATE TRIGGER ${name('ad')} AFTER DELETE ON ${t}
BEGIN
  ${insert}
  SELECT ${lit(e.table)}, OLD.${key}, OLD.${sid}, 'DELETE', NULL, ${imageExpr('OLD', columns)}, ${priorityExpr(e.priority, 'OLD')}, mode ${control};
END`,
  ];
}

export interface InstallReport {
  readonly createdTables: string[];
  readonly addedColumns: string[];
  readonly skippedTables: string[];
  triggers: number;
}

export interface Warn {
  (obj: object, msg: string): void;
}

/** The catalog tables present in this database (after install). */
export function presentTables(db: BetterSqlite3.Database): CatalogEntry[] {
  return CATALOG.filter((e) => tableColumns(db, e.table).size > 0);
}

/**
 * Installs what sync needs. `createMissing`: create catalog tables absent from the
 * file (a new terminal); otherwise a missing table is skipped with a warning.
 */
export function installSchema(db: BetterSqlite3.Database, opts: { createMissing: boolean; warn: Warn; migrationsDir?: string | undefined }): InstallReport {
  const migrationsFolder = opts.migrationsDir ?? TERMINAL_MIGRATIONS;
  if (!existsSync(join(migrationsFolder, 'meta', '_journal.json'))) {
    throw new Error(`the terminal's database migrations are missing (no ${join(migrationsFolder, 'meta', '_journal.json')}); the installation is incomplete`);
  }
  migrate(drizzle(db), { migrationsFolder });
  // Pending entries by transaction group: a batch is chosen group by group (store/batches.ts, nextBatch).
  db.exec(`CREATE INDEX IF NOT EXISTS tillsync_outbox_pending_group_idx ON tillsync_outbox (${GROUP_KEY}) WHERE status = 'pending'`);
  const report: InstallReport = { createdTables: [], addedColumns: [], skippedTables: [], triggers: 0 };
  db.transaction(() => {
    db.prepare(`INSERT OR IGNORE INTO tillsync_control (id, applying, mode) VALUES (1, 0, 'ONLINE')`).run();
    db.prepare('UPDATE tillsync_control SET applying = 0 WHERE id = 1').run();
    for (const e of CATALOG) {
      let cols = tableColumns(db, e.table);
      if (cols.size === 0) {
        if (!opts.createMissing) {
          report.skippedTables.push(e.table);
          opts.warn({ table: e.table }, `table ${e.table} is missing in this POS database; it is not synced`);
          continue;
        }
        db.exec(createTableSql(e));
        report.createdTables.push(e.table);
        cols = tableColumns(db, e.table);
      }
      if (!cols.has(LOCAL_KEY)) {
        report.skippedTables.push(e.table);
        opts.warn({ table: e.table }, `table ${e.table} has no integer "${LOCAL_KEY}" key; it is not synced`);
        continue;
      }
      // Adding a nullable column changes no existing row.
      const wanted: [string, string][] = [
        [LOCAL_SERVER_ID, 'TEXT'],
        ...e.wireColumns.map((c): [string, string] => [c.local, localType(c.def)]),
        ...CREATED_LOCAL_COLUMNS.map((c): [string, string] => [c, 'TEXT']),
      ];
      for (const [name, type] of wanted) {
        if (cols.has(name)) continue;
        db.exec(`ALTER TABLE ${q(e.table)} ADD COLUMN ${q(name)} ${type}`);
        report.addedColumns.push(`${e.table}.${name}`);
      }
      db.exec(`CREATE UNIQUE INDEX IF NOT EXISTS ${q(`tillsync_${e.table}_server_id`)} ON ${q(e.table)} (${q(LOCAL_SERVER_ID)})`);
      for (const op of ['ai', 'au', 'ad']) db.exec(`DROP TRIGGER IF EXISTS ${q(`tillsync_${e.table}_${op}`)}`);
      if (pushable(e)) {
        for (const sql of triggerSql(
          e,
          e.wireColumns.map((c) => c.local),
        )) {
          db.exec(sql);
          report.triggers++;
        }
      }
    }
  })();
  return report;
}
