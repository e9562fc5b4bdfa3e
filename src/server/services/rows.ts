/** Reading and writing catalog rows at central, in wire form. */
import { CENTRAL_SYNC_COLUMNS as S, type CatalogEntry, type WireRow } from '../../shared/catalog/index.js';
import { toIso, type Queryable } from '../db/database.js';
import { ident, literal } from '../db/sql.js';

/** A central row: its wire image plus sync metadata. */
export interface CentralRow {
  readonly wire: WireRow;
  readonly version: number;
  readonly hlc: string | null;
  readonly origin: string | null;
  readonly deletedAt: string | null;
  readonly updatedAt: string;
  /** The terminal change whose `applied` answer the row holds (see CENTRAL_SYNC_COLUMNS.changeId), and its content hash. */
  readonly changeId?: string | null;
  readonly changeHash?: string | null;
}

export function toCentralRow(entry: CatalogEntry, db: Record<string, unknown>): CentralRow {
  const wire: WireRow = { id: db.id as string };
  for (const c of entry.wireColumns) wire[c.name] = (db[c.name] ?? null) as WireRow[string];
  return {
    wire,
    version: Number(db[S.version]),
    hlc: (db[S.hlc] as string | null) ?? null,
    origin: (db[S.origin] as string | null) ?? null,
    deletedAt: (db[S.deletedAt] as string | null) ?? null,
    updatedAt: db[S.updatedAt] as string,
    changeId: (db[S.changeId] as string | null | undefined) ?? null,
    changeHash: (db[S.changeHash] as string | null | undefined) ?? null,
  };
}

/** Current rows by id, locked (in id order) for the rest of the transaction. */
export async function lockRows(tx: Queryable, entry: CatalogEntry, ids: readonly string[]): Promise<Map<string, CentralRow>> {
  const r = await tx.query(`SELECT * FROM ${ident(entry.centralName)} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [ids]);
  return new Map(r.rows.map((row) => [row.id as string, toCentralRow(entry, row)]));
}

/**
 * One branch of a UNION ALL that reads and locks a table's rows by id (in id order):
 * `('row', entity_type, id, row as jsonb)`. Several tables' rows come back in one statement,
 * locked in the order the branches are written.
 */
export function lockedRowsBranch(entry: CatalogEntry, idsParam: string): string {
  const table = ident(entry.centralName);
  return `SELECT 'row' AS kind, ${literal(entry.entityType)}::text AS entity_type, x.id, to_jsonb(x) AS row
    FROM (SELECT * FROM ${table} WHERE id = ANY(${idsParam}::text[]) ORDER BY id FOR UPDATE) x`;
}

/**
 * One branch of a UNION ALL that reads parent rows a batch points at:
 * `('parent', entity_type, id, { store, deleted })`. Rows of a store-scoped table are
 * locked `FOR SHARE` (in id order), so a move to another store committed while the
 * batch runs waits for it, or is seen by it; rows of a global table are only read
 * (no store to cross, and a row is never removed, only tombstoned).
 */
export function parentRowsBranch(entry: CatalogEntry, idsParam: string): string {
  const table = ident(entry.centralName);
  const store = entry.centralStoreColumn;
  const storeExpr = store === undefined ? 'NULL::jsonb' : `to_jsonb(x.${ident(store)})`;
  const cols = store === undefined || store === 'id' ? `id, ${S.deletedAt}` : `id, ${ident(store)}, ${S.deletedAt}`;
  return `SELECT 'parent' AS kind, ${literal(entry.entityType)}::text AS entity_type, x.id,
      jsonb_build_object('store', ${storeExpr}, 'deleted', x.${S.deletedAt} IS NOT NULL) AS row
    FROM (SELECT ${cols} FROM ${table} WHERE id = ANY(${idsParam}::text[]) ORDER BY id${store === undefined ? '' : ' FOR SHARE'}) x`;
}

/**
 * One branch that locks, in one scan in id order and FOR UPDATE, both the rows a batch
 * writes in a store-scoped table and the rows of that table it points at as parents:
 * `('row', ...)` as lockedRowsBranch for the first, `('parent', ...)` as
 * parentRowsBranch for the others. Locking both in one id order keeps every lock of a
 * push in one global order (see readBatch).
 */
export function lockedRowsAndParentsBranch(entry: CatalogEntry, rowsParam: string, parentsParam: string): string {
  const table = ident(entry.centralName);
  const store = entry.centralStoreColumn;
  if (store === undefined) throw new Error(`${entry.entityType} has no store column: its parents are not locked`);
  const written = `x.id = ANY(${rowsParam}::text[])`;
  return `SELECT CASE WHEN ${written} THEN 'row' ELSE 'parent' END AS kind, ${literal(entry.entityType)}::text AS entity_type, x.id,
      CASE WHEN ${written} THEN to_jsonb(x)
           ELSE jsonb_build_object('store', to_jsonb(x.${ident(store)}), 'deleted', x.${S.deletedAt} IS NOT NULL) END AS row
    FROM (SELECT * FROM ${table} WHERE id = ANY(${rowsParam}::text[] || ${parentsParam}::text[]) ORDER BY id FOR UPDATE) x`;
}

/** A timestamp as jsonb carries it ("2026-01-02T03:04:05.6+00:00") in the form the drivers give (ISO, UTC). */
function isoFromJson(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  return toIso(/T\d\d:\d\d:\d\d(\.\d+)?$/.test(v) ? `${v}Z` : v);
}

/**
 * A central row read as jsonb (see lockedRowsBranch), with its values as a plain
 * query gives them: timestamps as ISO strings, numerics as numbers.
 */
export function centralRowFromJson(entry: CatalogEntry, json: Record<string, unknown>): CentralRow {
  const db: Record<string, unknown> = { ...json };
  for (const c of entry.wireColumns) {
    const v = db[c.name];
    if (c.def.type === 'timestamp') db[c.name] = isoFromJson(v);
    else if ((c.def.type === 'numeric' || c.def.type === 'integer') && typeof v === 'string') db[c.name] = Number(v);
  }
  db[S.deletedAt] = isoFromJson(db[S.deletedAt]);
  db[S.updatedAt] = isoFromJson(db[S.updatedAt]);
  return toCentralRow(entry, db);
}

export async function readRows(tx: Queryable, entry: CatalogEntry, ids: readonly string[]): Promise<Map<string, CentralRow>> {
  const r = await tx.query(`SELECT * FROM ${ident(entry.centralName)} WHERE id = ANY($1::text[])`, [ids]);
  return new Map(r.rows.map((row) => [row.id as string, toCentralRow(entry, row)]));
}

/** A full row image to write, with its clock and tombstone state. */
export interface RowWrite {
  readonly wire: WireRow;
  readonly hlc: string | null;
  readonly deletedAt: string | null;
  /** The change whose plain `applied` answer the row is to hold, and its content hash (none: the row holds no answer). */
  readonly changeId?: string;
  readonly changeHash?: string;
  /**
   * The terminal that wrote it, taken by the stamp trigger only from a push (which sets
   * tillsync.origin to '*row*', migration 0008: one transaction may carry several
   * terminals' rows); any other writer is stamped as itself.
   */
  readonly origin?: string;
}

/**
 * The statement that upserts full row images given as a jsonb array in `param`
 * (see upsertRecords), without its RETURNING clause. The capture trigger bumps
 * versions and logs the changes. `insert`: rows that already exist are left as they
 * are (and not returned); the statement then fires no UPDATE trigger.
 */
export function upsertStatement(entry: CatalogEntry, param: string, mode: 'upsert' | 'insert' = 'upsert'): string {
  const cols = ['id', ...entry.wireColumns.map((c) => c.name), S.hlc, S.deletedAt, S.changeId, S.changeHash, S.origin];
  const list = cols.map(ident).join(', ');
  const updates = cols
    .filter((c) => c !== 'id')
    .map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`)
    .join(', ');
  const table = ident(entry.centralName);
  return `INSERT INTO ${table} (${list}) SELECT ${list} FROM jsonb_populate_recordset(NULL::${table}, ${param}::jsonb)
     ON CONFLICT (id) ${mode === 'insert' ? 'DO NOTHING' : `DO UPDATE SET ${updates}`}`;
}

/**
 * The jsonb parameter of upsertStatement: sorted by id, so concurrent batches lock rows
 * in one order and cannot deadlock. Each row is its image's JSON with the clock,
 * tombstone, answer (change id and hash) and writer appended (no copy of the image per row); were the image to carry one
 * of those keys too, the appended one wins, as jsonb keeps a duplicate key's last value.
 */
export function upsertRecords(writes: readonly RowWrite[]): string {
  const sorted = [...writes].sort((a, b) => {
    const x = String(a.wire.id);
    const y = String(b.wire.id);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const parts = sorted.map((w) => {
    const image = JSON.stringify(w.wire);
    // Always written (null: no answer), so no key of the image itself can set them.
    const answer = `,${CHANGE_KEY}:${JSON.stringify(w.changeId ?? null)},${HASH_KEY}:${JSON.stringify(w.changeHash ?? null)},${ORIGIN_KEY}:${JSON.stringify(w.origin ?? null)}`;
    const sync = `${HLC_KEY}:${JSON.stringify(w.hlc ?? null)},${DELETED_KEY}:${JSON.stringify(w.deletedAt ?? null)}${answer}}`;
    return image.length > 2 ? `${image.slice(0, -1)},${sync}` : `{${sync}`;
  });
  return `[${parts.join(',')}]`;
}
const HLC_KEY = JSON.stringify(S.hlc);
const DELETED_KEY = JSON.stringify(S.deletedAt);
const CHANGE_KEY = JSON.stringify(S.changeId);
const HASH_KEY = JSON.stringify(S.changeHash);
const ORIGIN_KEY = JSON.stringify(S.origin);

/**
 * Upserts full row images in one statement; the capture trigger bumps versions and
 * logs the changes. Returns the new version per id.
 */
export async function upsertRows(tx: Queryable, entry: CatalogEntry, writes: readonly RowWrite[]): Promise<Map<string, number>> {
  if (writes.length === 0) return new Map();
  const r = await tx.query<{ id: string; sync_version: number }>(`${upsertStatement(entry, '$1')} RETURNING id, ${S.version} AS sync_version`, [
    upsertRecords(writes),
  ]);
  return new Map(r.rows.map((x) => [x.id, Number(x.sync_version)]));
}
