/**
 * Schema parity: compares each catalog table's columns in the terminal's SQLite with
 * the catalog and with central's PostgreSQL (GET /api/sync/schema), and reports
 * missing, extra, renamed and type-mismatched columns.
 *
 * The POS database is opened read-only with a plain connection: the engine's
 * LocalStore would install the missing columns first and so hide them.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import {
  CATALOG,
  CENTRAL_KEY,
  CENTRAL_SYNC_COLUMNS,
  LOCAL_KEY,
  LOCAL_ONLY,
  type CatalogEntry,
  type ColumnDef,
  type ColumnType,
} from '../../shared/catalog/index.js';
import type { SchemaResponse, SchemaTable } from '../../shared/protocol.js';
import { localType, tableColumns } from './schema.js';

/** Column name -> declared type, per table (terminal table names). */
export type LocalColumns = ReadonlyMap<string, ReadonlyMap<string, string>>;

export interface TypeMismatch {
  /** The column's name on that side. */
  readonly column: string;
  readonly side: 'local' | 'central';
  readonly expected: string;
  /** The declared SQLite type (`(none)` when it has none) or PostgreSQL's data_type. */
  readonly actual: string;
}

export interface TableParity {
  /** Terminal table name. */
  readonly table: string;
  readonly centralTable: string;
  readonly entityType: string;
  readonly presentLocally: boolean;
  readonly presentAtCentral: boolean;
  /** Central's catalog fingerprint of this table equals the terminal's (same catalog version). */
  readonly schemaHashMatches: boolean;
  /** Catalog columns (and the key) absent from the SQLite table. */
  readonly missingLocally: string[];
  /** Catalog columns (central names), the key and sync metadata absent from the PostgreSQL table. */
  readonly missingAtCentral: string[];
  /** SQLite columns that are neither catalog, key nor local-only columns. */
  readonly extraLocally: string[];
  /** PostgreSQL columns that are neither catalog, key nor sync_* columns. */
  readonly extraAtCentral: string[];
  /** The catalog's renames (informational). */
  readonly renamed: { readonly local: string; readonly central: string }[];
  readonly typeMismatches: TypeMismatch[];
  /** Nothing above differs (a table missing on the terminal is skipped by sync, not a difference). */
  readonly ok: boolean;
}

export interface ParitySummary {
  readonly ok: boolean;
  readonly tables: number;
  readonly tablesOk: number;
  /** Terminal names of the tables that differ. */
  readonly tablesWithDifferences: string[];
  /** Catalog tables absent from the POS database: sync skips them (not a difference). */
  readonly tablesMissingLocally: string[];
  readonly tablesMissingAtCentral: string[];
  /** Entity types central's catalog has and this terminal's does not (central runs another version). */
  readonly unknownEntityTypes: string[];
  readonly missingLocally: number;
  readonly missingAtCentral: number;
  readonly extraLocally: number;
  readonly extraAtCentral: number;
  readonly typeMismatches: number;
  readonly schemaHashMismatches: number;
}

export interface ParityReport {
  readonly tables: TableParity[];
  readonly summary: ParitySummary;
}

/** PostgreSQL's data_type for each catalog type at central. */
export const CENTRAL_DATA_TYPE: Record<ColumnType, string> = {
  text: 'text',
  integer: 'bigint',
  numeric: 'numeric',
  boolean: 'boolean',
  timestamp: 'timestamp with time zone',
  json: 'jsonb',
};

/** The data_type a catalog column has at central (foreign keys hold central text ids). */
export function centralDataType(def: Pick<ColumnDef, 'type' | 'references'>): string {
  return def.references ? 'text' : CENTRAL_DATA_TYPE[def.type];
}

/** Central's key and sync metadata columns with their data_type. */
const CENTRAL_META: ReadonlyMap<string, string> = new Map([
  [CENTRAL_KEY, 'text'],
  [CENTRAL_SYNC_COLUMNS.version, 'bigint'],
  [CENTRAL_SYNC_COLUMNS.hlc, 'text'],
  [CENTRAL_SYNC_COLUMNS.origin, 'text'],
  [CENTRAL_SYNC_COLUMNS.updatedAt, 'timestamp with time zone'],
  [CENTRAL_SYNC_COLUMNS.deletedAt, 'timestamp with time zone'],
]);

type Affinity = 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL' | 'NUMERIC';

/** SQLite's type affinity of a declared column type (the rules of section 3.1 of its datatype page). */
export function sqliteAffinity(declared: string): Affinity {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'INTEGER';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'TEXT';
  if (t.includes('BLOB') || t.trim() === '') return 'BLOB';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'REAL';
  return 'NUMERIC';
}

/**
 * Whether a declared SQLite type stores what the catalog expects there (localType()).
 * Compared by affinity, so VARCHAR(80) is TEXT and BIGINT is INTEGER. NUMERIC affinity
 * (DECIMAL, BOOLEAN, NUMERIC) keeps numbers as numbers, so it also serves an INTEGER or
 * REAL column; a timestamp may be declared DATE/DATETIME/TIMESTAMP and a json column
 * JSON, both NUMERIC affinity that keep ISO and JSON text as text.
 */
export function localTypeMatches(declared: string, def: Pick<ColumnDef, 'type' | 'references'>): boolean {
  const expected = sqliteAffinity(localType(def));
  const actual = sqliteAffinity(declared);
  if (actual === expected) return true;
  if (actual !== 'NUMERIC') return false;
  if (expected === 'INTEGER' || expected === 'REAL') return true;
  const t = declared.toUpperCase();
  if (def.type === 'timestamp' && !def.references) return t.includes('DATE') || t.includes('TIME');
  if (def.type === 'json' && !def.references) return t.includes('JSON');
  return false;
}

function compareTable(e: CatalogEntry, local: ReadonlyMap<string, string> | undefined, central: SchemaTable | undefined): TableParity {
  const presentLocally = local !== undefined && local.size > 0;
  const presentAtCentral = central !== undefined && central.exists;
  const missingLocally: string[] = [];
  const missingAtCentral: string[] = [];
  const extraLocally: string[] = [];
  const extraAtCentral: string[] = [];
  const typeMismatches: TypeMismatch[] = [];

  if (presentLocally) {
    const key = local.get(LOCAL_KEY);
    if (key === undefined) missingLocally.push(LOCAL_KEY);
    else if (sqliteAffinity(key) !== 'INTEGER') typeMismatches.push({ column: LOCAL_KEY, side: 'local', expected: 'INTEGER', actual: key || '(none)' });
    for (const c of e.wireColumns) {
      const declared = local.get(c.local);
      if (declared === undefined) missingLocally.push(c.local);
      else if (!localTypeMatches(declared, c.def)) {
        typeMismatches.push({ column: c.local, side: 'local', expected: localType(c.def), actual: declared || '(none)' });
      }
    }
    const known = new Set([LOCAL_KEY, ...e.wireColumns.map((c) => c.local)]);
    for (const name of local.keys()) if (!known.has(name) && !LOCAL_ONLY.has(name)) extraLocally.push(name);
  }

  if (presentAtCentral) {
    const cols = new Map(central.columns.map((c) => [c.name, c.dataType]));
    const expected: [string, string][] = [
      [CENTRAL_KEY, 'text'],
      ...e.wireColumns.map((c): [string, string] => [c.name, centralDataType(c.def)]),
      ...[...CENTRAL_META].filter(([name]) => name !== CENTRAL_KEY),
    ];
    for (const [name, type] of expected) {
      const actual = cols.get(name);
      if (actual === undefined) missingAtCentral.push(name);
      else if (actual !== type) typeMismatches.push({ column: name, side: 'central', expected: type, actual });
    }
    const known = new Set(expected.map(([name]) => name));
    for (const name of cols.keys()) if (!known.has(name) && !name.startsWith('sync_')) extraAtCentral.push(name);
  }

  const schemaHashMatches = central?.schemaHash === e.schemaHash;
  const ok =
    presentAtCentral &&
    schemaHashMatches &&
    missingLocally.length === 0 &&
    missingAtCentral.length === 0 &&
    extraLocally.length === 0 &&
    extraAtCentral.length === 0 &&
    typeMismatches.length === 0;
  return {
    table: e.table,
    centralTable: e.centralName,
    entityType: e.entityType,
    presentLocally,
    presentAtCentral,
    schemaHashMatches,
    missingLocally,
    missingAtCentral,
    extraLocally,
    extraAtCentral,
    renamed: e.wireColumns.filter((c) => c.local !== c.name).map((c) => ({ local: c.local, central: c.name })),
    typeMismatches,
    ok,
  };
}

/**
 * Compares the terminal's SQLite columns (per terminal table name; a table absent
 * from the map, or with no columns, is missing) with the catalog and with central's
 * columns. Pure: no I/O.
 */
export function compareSchemas(local: LocalColumns, central: SchemaResponse): ParityReport {
  const byEntity = new Map(central.tables.map((t) => [t.entityType, t]));
  const tables = CATALOG.map((e) => compareTable(e, local.get(e.table), byEntity.get(e.entityType)));
  const known = new Set(CATALOG.map((e) => e.entityType));
  const unknownEntityTypes = central.tables.map((t) => t.entityType).filter((t) => !known.has(t));
  const sum = (f: (t: TableParity) => number) => tables.reduce((n, t) => n + f(t), 0);
  return {
    tables,
    summary: {
      ok: unknownEntityTypes.length === 0 && tables.every((t) => t.ok),
      tables: tables.length,
      tablesOk: tables.filter((t) => t.ok).length,
      tablesWithDifferences: tables.filter((t) => !t.ok).map((t) => t.table),
      tablesMissingLocally: tables.filter((t) => !t.presentLocally).map((t) => t.table),
      tablesMissingAtCentral: tables.filter((t) => !t.presentAtCentral).map((t) => t.centralTable),
      unknownEntityTypes,
      missingLocally: sum((t) => t.missingLocally.length),
      missingAtCentral: sum((t) => t.missingAtCentral.length),
      extraLocally: sum((t) => t.extraLocally.length),
      extraAtCentral: sum((t) => t.extraAtCentral.length),
      typeMismatches: sum((t) => t.typeMismatches.length),
      schemaHashMismatches: tables.filter((t) => !t.schemaHashMatches).length,
    },
  };
}

/** The columns (name -> declared type) of every catalog table present in this database. */
export function readLocalColumns(db: Database.Database): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const e of CATALOG) {
    const cols = tableColumns(db, e.table);
    if (cols.size > 0) out.set(e.table, cols);
  }
  return out;
}

/** Reads the catalog tables' columns of a POS database file, opened read-only (nothing is installed). */
export function readLocalSchema(path: string): Map<string, Map<string, string>> {
  if (!existsSync(path)) throw new Error(`POS database ${path} does not exist`);
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new Error(`cannot open POS database ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    return readLocalColumns(db);
  } catch (err) {
    throw new Error(`cannot read POS database ${path}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    db.close();
  }
}

/** The terminal a POS database belongs to (recorded by the engine's first start), read without changing the file. */
export function boundTerminal(path: string): string | undefined {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const meta = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tillsync_meta'`).get();
    if (!meta) return undefined;
    const r = db.prepare(`SELECT value FROM tillsync_meta WHERE key = 'terminal_id'`).get() as { value: string } | undefined;
    return r?.value;
  } finally {
    db.close();
  }
}

/** A human-readable report: one block per table that differs, then the summary. */
export function formatParityReport(report: ParityReport, where: { database?: string; central?: string } = {}): string {
  const lines: string[] = [];
  if (where.database || where.central) lines.push(`schema parity: ${where.database ?? 'SQLite'} <-> ${where.central ?? 'central'}`, '');
  const list = (label: string, items: readonly string[]) => {
    if (items.length > 0) lines.push(`  ${label.padEnd(20)} ${items.join(', ')}`);
  };
  for (const t of report.tables) {
    if (t.ok) continue;
    const name = t.centralTable === t.table ? t.table : `${t.table} (central ${t.centralTable})`;
    lines.push(`${name} [${t.entityType}]`);
    if (!t.presentAtCentral) lines.push(`  table missing at central`);
    if (!t.schemaHashMatches) lines.push(`  schema hash differs: central runs another catalog version for ${t.entityType}`);
    list('missing locally:', t.missingLocally);
    list('missing at central:', t.missingAtCentral);
    list('extra locally:', t.extraLocally);
    list('extra at central:', t.extraAtCentral);
    for (const m of t.typeMismatches) {
      lines.push(`  ${'type mismatch:'.padEnd(20)} ${m.column} (${m.side === 'local' ? 'SQLite' : 'PostgreSQL'}) is ${m.actual}, expected ${m.expected}`);
    }
    if (t.renamed.length > 0) list('renamed (catalog):', t.renamed.map((r) => `${r.local} -> ${r.central}`));
  }
  const s = report.summary;
  const renames = report.tables.flatMap((t) => (t.ok ? t.renamed.map((r) => `${t.table}.${r.local} -> ${r.central}`) : []));
  if (renames.length > 0) lines.push(`renamed by the catalog (informational): ${renames.join(', ')}`);
  if (s.tablesMissingLocally.length > 0) lines.push(`not in the POS database (not synced): ${s.tablesMissingLocally.join(', ')}`);
  if (s.unknownEntityTypes.length > 0) lines.push(`central knows entity types this terminal does not: ${s.unknownEntityTypes.join(', ')}`);
  lines.push(
    s.ok
      ? `OK: ${s.tablesOk} of ${s.tables} catalog tables match`
      : `DIFFERENCES in ${s.tablesWithDifferences.length} of ${s.tables} tables: ${s.missingLocally} missing locally, ${s.missingAtCentral} missing at central, ` +
          `${s.extraLocally} extra locally, ${s.extraAtCentral} extra at central, ${s.typeMismatches} type mismatches` +
          (s.schemaHashMismatches > 0 ? `, ${s.schemaHashMismatches} schema hash mismatches` : ''),
  );
  return lines.join('\n');
}
