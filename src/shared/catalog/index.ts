import { z } from 'zod';
import { TABLES } from './tables.js';
import {
  CENTRAL_KEY,
  JSON_MAX_DEPTH,
  JSON_MAX_LENGTH,
  KEY_MAX_LENGTH,
  LOCAL_ONLY_COLUMNS,
  TEXT_MAX_LENGTH,
  type ColumnDef,
  type ColumnType,
  type PrioritySpec,
  type TableDef,
} from './types.js';

export * from './types.js';
export { TABLES } from './tables.js';

/** A column as it crosses the wire (central names). */
export interface WireColumn {
  /** Name at central and on the wire. */
  readonly name: string;
  /** Name on the terminal. */
  readonly local: string;
  readonly def: ColumnDef;
}

/** One catalog table with everything derived from it, computed once. */
export interface CatalogEntry extends TableDef {
  readonly centralName: string;
  /** Business columns with both names, in catalog order (key not included). */
  readonly wireColumns: readonly WireColumn[];
  /** Store column's central name, if the table is store-scoped. */
  readonly centralStoreColumn: string | undefined;
  /** Strict zod schema of a row image on the wire (central names, `id` optional). */
  readonly rowSchema: z.ZodType<WireRow>;
  /** Stable fingerprint of the wire shape; both sides compare it (schema drift guard). */
  readonly schemaHash: string;
}

export type WireValue = string | number | boolean | null | WireJson;
export type WireJson = { [key: string]: WireJsonValue } | WireJsonValue[];
type WireJsonValue = string | number | boolean | null | WireJson;
/** A row image on the wire: central column names to values. */
export type WireRow = Record<string, WireValue>;

/**
 * Whether a parsed JSON value nests deeper than `max` levels (an object or array is one
 * level). Iterative, so asking about any depth is safe: zod's own walk of a JSON value
 * recurses, and is only run once this has said the value is shallow enough.
 */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [v, depth] = top;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

// PostgreSQL has no year 0 and stores no NUL character: refuse both here, so a bad
// value is caught at the terminal before it is sent, never by central's database.
// Lengths are bounded for the same reason (see KEY_MAX_LENGTH).
const NO_NUL = [(v: string) => !v.includes('\u0000'), 'must not contain NUL characters'] as const;
const ISO_TIMESTAMP = z.iso.datetime({ offset: true }).refine((v) => !v.startsWith('0000'), 'year 0000 does not exist');
const TEXT = z.string().max(TEXT_MAX_LENGTH).refine(...NO_NUL);
/** A foreign key: a central id, as bounded as the key itself. */
const KEY_TEXT = z.string().max(KEY_MAX_LENGTH).refine(...NO_NUL);
const DECIMAL_STRING = /^-?\d{1,18}(\.\d{1,12})?$/;
const JSON_VALUE = z
  .unknown()
  .refine((v) => !nestsDeeperThan(v, JSON_MAX_DEPTH), { message: `must not nest deeper than ${JSON_MAX_DEPTH} levels`, abort: true })
  .pipe(z.json())
  .superRefine((v, ctx) => {
    const text = JSON.stringify(v);
    if (text.length > JSON_MAX_LENGTH) ctx.addIssue({ code: 'custom', message: `must be at most ${JSON_MAX_LENGTH} characters as JSON` });
    else if (text.includes('\\u0000')) ctx.addIssue({ code: 'custom', message: 'must not contain NUL characters' });
  });

function valueSchema(col: ColumnDef): z.ZodType<WireValue> {
  let base: z.ZodType<WireValue>;
  switch (col.type) {
    case 'text':
      base = col.oneOf ? z.enum(col.oneOf as [string, ...string[]]) : col.references ? KEY_TEXT : TEXT;
      break;
    case 'integer':
      base = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
      break;
    case 'numeric':
      base = z.union([
        z.number().refine(Number.isFinite, 'must be a finite number'),
        z.string().regex(DECIMAL_STRING, 'must be a decimal number'),
      ]);
      break;
    case 'boolean':
      base = z.boolean();
      break;
    case 'timestamp':
      base = ISO_TIMESTAMP;
      break;
    case 'json':
      base = JSON_VALUE as z.ZodType<WireValue>;
      break;
  }
  return base.nullable();
}

/** FNV-1a over the text, twice with different offsets: a 64-bit hex fingerprint (not a security hash). */
export function fingerprint(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x01000193 + 2) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

function buildEntry(def: TableDef): CatalogEntry {
  const wireColumns: WireColumn[] = Object.entries(def.columns).map(([local, col]) => ({
    name: col.central ?? local,
    local,
    def: col,
  }));
  const shape: Record<string, z.ZodType<WireValue>> = { [CENTRAL_KEY]: z.string().min(1).max(KEY_MAX_LENGTH) };
  for (const c of wireColumns) shape[c.name] = valueSchema(c.def);
  const rowSchema = z.strictObject(shape).partial() as unknown as z.ZodType<WireRow>;
  const centralName = def.centralTable ?? def.table;
  const storeCol = def.storeColumn;
  const centralStoreColumn =
    storeCol === undefined ? undefined : storeCol === 'id' ? CENTRAL_KEY : (def.columns[storeCol]?.central ?? storeCol);
  const shapeText = [
    def.entityType,
    centralName,
    ...wireColumns.map((c) => `${c.name}:${c.def.type}:${c.def.references ?? ''}:${c.def.required ? 1 : 0}`),
  ].join('|');
  return {
    ...def,
    centralName,
    wireColumns,
    centralStoreColumn,
    rowSchema,
    schemaHash: fingerprint(shapeText),
  };
}

/** The catalog: every synced table with its derived parts, in foreign-key order. */
export const CATALOG: readonly CatalogEntry[] = (TABLES as readonly TableDef[]).map(buildEntry);

const byEntity = new Map(CATALOG.map((e) => [e.entityType, e]));
const byTable = new Map(CATALOG.map((e) => [e.table, e]));

export const ENTITY_TYPES = CATALOG.map((e) => e.entityType) as readonly string[];

export function entryForEntity(entityType: string): CatalogEntry | undefined {
  return byEntity.get(entityType);
}

export function entryForTable(table: string): CatalogEntry | undefined {
  return byTable.get(table);
}

/** Whether a terminal may push changes of this table. */
export function pushable(entry: TableDef): boolean {
  return entry.direction !== 'down';
}

/** Whether a terminal pulls this table from central. */
export function pullable(entry: TableDef): boolean {
  return entry.direction !== 'up';
}

/** The priority of one row (terminal column names). */
export function priorityOf(spec: PrioritySpec, row: Readonly<Record<string, unknown>>): number {
  if (typeof spec === 'number') return spec;
  const v = row[spec.column];
  return (typeof v === 'string' && spec.when[v]) || spec.otherwise;
}

/** Every local-only column name, for mapping. */
export const LOCAL_ONLY = new Set<string>(LOCAL_ONLY_COLUMNS);

export type { ColumnType };
