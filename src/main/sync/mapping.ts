/**
 * Mapping between a terminal row (local names, local integer foreign keys, SQLite
 * values) and a wire row (central names, central ids, JSON values). Pure: the
 * foreign-key lookups are passed in.
 */
import { CENTRAL_KEY, type CatalogEntry, type ColumnDef, type WireRow, type WireValue } from '../../shared/catalog/index.js';

export type LocalValue = string | number | bigint | null | Buffer;
export type LocalRow = Record<string, LocalValue | undefined>;

export interface ForeignKeys {
  /** The central id of a local row, or null when it has none (yet). */
  serverIdOf(table: string, localId: number): string | null;
  /** The local id of a central row, or null when the terminal does not have it (yet). */
  localIdOf(table: string, serverId: string): number | null;
}

const SQLITE_DATETIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(:\d{2}(\.\d+)?)?)$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** A SQLite timestamp as ISO 8601 with an offset; SQLite's own format is UTC. */
export function toIsoTimestamp(v: LocalValue): string | LocalValue {
  if (typeof v === 'number') return new Date(v).toISOString();
  if (typeof v !== 'string') return v;
  const m = SQLITE_DATETIME.exec(v);
  if (m) return `${m[1]}T${m[2]}${m[3] ? '' : ':00'}Z`;
  if (DATE_ONLY.test(v)) return `${v}T00:00:00Z`;
  return v;
}

function toWireValue(def: ColumnDef, v: LocalValue | undefined): WireValue | LocalValue | undefined {
  if (v === null || v === undefined) return v;
  switch (def.type) {
    case 'boolean':
      if (typeof v === 'number' || typeof v === 'bigint') return Number(v) !== 0;
      if (v === 'true' || v === 'false') return v === 'true';
      return v;
    case 'integer':
    case 'numeric':
      if (typeof v === 'bigint') return Number(v);
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
      return v;
    case 'timestamp':
      return toIsoTimestamp(v);
    case 'json':
      if (typeof v === 'string') {
        try {
          return JSON.parse(v) as WireValue;
        } catch {
          return v;
        }
      }
      return v;
    case 'text':
      return typeof v === 'number' || typeof v === 'bigint' ? String(v) : v;
  }
}

export interface ToWireResult {
  readonly row: WireRow;
  /** Foreign keys whose target has no central id yet (a legacy row before bootstrap). */
  readonly unlinked: string[];
}

/**
 * A local row image as a wire row: central names, central ids for foreign keys,
 * JSON values; local-only columns dropped. Values are not validated here.
 */
export function localToWire(entry: CatalogEntry, serverId: string, local: LocalRow, fk: ForeignKeys): ToWireResult {
  const row: Record<string, unknown> = { [CENTRAL_KEY]: serverId };
  const unlinked: string[] = [];
  for (const c of entry.wireColumns) {
    if (!(c.local in local)) continue;
    const v = local[c.local];
    if (c.def.references && v !== null && v !== undefined) {
      const target = fk.serverIdOf(c.def.references, Number(v));
      // The POS's own store row may never get a central id (central owns stores): an
      // empty store is filled by central with the terminal's store.
      if (target === null && c.local !== entry.storeColumn) unlinked.push(c.local);
      row[c.name] = target;
      continue;
    }
    row[c.name] = toWireValue(c.def, v);
  }
  return { row: row as WireRow, unlinked };
}

function toLocalValue(def: ColumnDef, v: WireValue | undefined): LocalValue | undefined {
  if (v === null || v === undefined) return v;
  switch (def.type) {
    case 'boolean':
      return v === true ? 1 : 0;
    case 'json':
      return JSON.stringify(v);
    case 'integer':
    case 'numeric':
      return typeof v === 'string' ? Number(v) : (v as number);
    default:
      return typeof v === 'object' ? JSON.stringify(v) : (v as string | number);
  }
}

export interface ToLocalResult {
  readonly row: LocalRow;
  /** Foreign keys whose target row the terminal does not have yet: column -> central id. */
  readonly missing: Map<string, { table: string; serverId: string }>;
}

/** A wire row as local column values (without the local key); only columns present locally. */
export function wireToLocal(entry: CatalogEntry, wire: WireRow, fk: ForeignKeys, localColumns: ReadonlySet<string>): ToLocalResult {
  const row: LocalRow = {};
  const missing = new Map<string, { table: string; serverId: string }>();
  for (const c of entry.wireColumns) {
    if (!(c.name in wire) || !localColumns.has(c.local)) continue;
    const v = wire[c.name];
    if (c.def.references && typeof v === 'string') {
      const local = fk.localIdOf(c.def.references, v);
      if (local === null) missing.set(c.local, { table: c.def.references, serverId: v });
      row[c.local] = local;
      continue;
    }
    row[c.local] = toLocalValue(c.def, v);
  }
  return { row, missing };
}
