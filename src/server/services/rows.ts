/** Reading and writing catalog rows at central, in wire form. */
import { CENTRAL_SYNC_COLUMNS as S, type CatalogEntry, type WireRow } from '../../shared/catalog/index.js';
import type { Queryable } from '../db/database.js';
import { ident } from '../db/sql.js';

/** A central row: its wire image plus sync metadata. */
export interface CentralRow {
  readonly wire: WireRow;
  readonly version: number;
  readonly hlc: string | null;
  readonly origin: string | null;
  readonly deletedAt: string | null;
  readonly updatedAt: string;
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
  };
}

/** Current rows by id, locked (in id order) for the rest of the transaction. */
export async function lockRows(tx: Queryable, entry: CatalogEntry, ids: readonly string[]): Promise<Map<string, CentralRow>> {
  const r = await tx.query(`SELECT * FROM ${ident(entry.centralName)} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`, [ids]);
  return new Map(r.rows.map((row) => [row.id as string, toCentralRow(entry, row)]));
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
}

/**
 * Upserts full row images in one statement; the capture trigger bumps versions and
 * logs the changes. Returns the new version per id.
 */
export async function upsertRows(tx: Queryable, entry: CatalogEntry, writes: readonly RowWrite[]): Promise<Map<string, number>> {
  if (writes.length === 0) return new Map();
  const cols = ['id', ...entry.wireColumns.map((c) => c.name), S.hlc, S.deletedAt];
  const list = cols.map(ident).join(', ');
  const updates = cols
    .filter((c) => c !== 'id')
    .map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`)
    .join(', ');
  const table = ident(entry.centralName);
  // Sorted by id: concurrent batches lock rows in the same order and cannot deadlock.
  const records = writes
    .map((w): WireRow => ({ ...w.wire, [S.hlc]: w.hlc, [S.deletedAt]: w.deletedAt }))
    .sort((a, b) => (String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0));
  const r = await tx.query<{ id: string; sync_version: number }>(
    `INSERT INTO ${table} (${list}) SELECT ${list} FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)
     ON CONFLICT (id) DO UPDATE SET ${updates} RETURNING id, ${S.version} AS sync_version`,
    [JSON.stringify(records)],
  );
  return new Map(r.rows.map((x) => [x.id, Number(x.sync_version)]));
}
