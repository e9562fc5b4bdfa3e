/**
 * The till's side of the audit: one table's rows that have a central id, each as
 * (id, version held, content hash) in the same canonical form central uses
 * (src/shared/audit.ts), read in one read transaction so the audit compares one
 * moment of the till; and which of them have changes not at central yet.
 */
import type Database from 'better-sqlite3';
import { compareIds, contentHash, RowDigests, type AuditRow, type IdRange } from '../../shared/audit.js';
import { LOCAL_KEY, LOCAL_SERVER_ID, type CatalogEntry } from '../../shared/catalog/index.js';
import type { TillView } from './audit-plan.js';
import { localToWire, type ForeignKeys, type LocalRow } from './mapping.js';
import { q } from './schema.js';

export interface TillTable {
  /** Rows with a central id, in id order (UTF-8 byte order, as SQLite's BINARY). */
  readonly rows: readonly AuditRow[];
  /** Central ids of rows with changes not at central yet (outbox entries not settled, or still in the capture log). */
  readonly pending: ReadonlySet<string>;
  /** Rows without a central id (never sent): not compared. */
  readonly unsent: number;
}

/** Central ids of local rows, a referenced table read once per audit (faster than a lookup per row). */
function foreignKeys(db: Database.Database): ForeignKeys {
  const maps = new Map<string, Map<number, string>>();
  return {
    serverIdOf(table, localId) {
      let m = maps.get(table);
      if (!m) {
        const rows = db.prepare(`SELECT ${q(LOCAL_KEY)} AS id, ${q(LOCAL_SERVER_ID)} AS sid FROM ${q(table)} WHERE ${q(LOCAL_SERVER_ID)} IS NOT NULL`).all() as {
          id: number;
          sid: string;
        }[];
        m = new Map(rows.map((r) => [Number(r.id), r.sid]));
        maps.set(table, m);
      }
      return m.get(localId) ?? null;
    },
    localIdOf: () => null,
  };
}

/** Reads one table of the till for the audit (one read transaction). */
export function readTillTable(db: Database.Database, entry: CatalogEntry): TillTable {
  const read = db.transaction(() => {
    const fk = foreignKeys(db);
    const t = q(entry.table);
    const sid = q(LOCAL_SERVER_ID);
    const stmt = db.prepare(
      `SELECT t.*, s.version AS tillsync_audit_version FROM ${t} t
         LEFT JOIN tillsync_row_state s ON s.table_name = ? AND s.server_id = t.${sid}
       WHERE t.${sid} IS NOT NULL`,
    );
    const rows: AuditRow[] = [];
    for (const row of stmt.iterate(entry.table) as Iterable<LocalRow & { tillsync_audit_version: number | null }>) {
      const id = String(row[LOCAL_SERVER_ID]);
      const wire = localToWire(entry, id, row, fk).row;
      const v = row.tillsync_audit_version;
      rows.push({ id, version: v === null || v === undefined ? null : Number(v), hash: contentHash(entry, id, wire) });
    }
    rows.sort((a, b) => compareIds(a.id, b.id));
    const pending = db
      .prepare(
        `SELECT server_id AS sid FROM tillsync_outbox WHERE table_name = ? AND status <> 'synced' AND server_id IS NOT NULL
         UNION SELECT server_id FROM tillsync_capture WHERE table_name = ? AND server_id IS NOT NULL
         UNION SELECT t.${sid} FROM tillsync_capture c JOIN ${t} t ON t.${q(LOCAL_KEY)} = c.local_id WHERE c.table_name = ? AND t.${sid} IS NOT NULL`,
      )
      .pluck()
      .all(entry.table, entry.table, entry.table) as string[];
    const unsent = db.prepare(`SELECT count(*) FROM ${t} WHERE ${sid} IS NULL`).pluck().get() as number;
    return { rows, pending: new Set(pending), unsent: Number(unsent) };
  });
  // A deferred transaction that only reads: one snapshot of the WAL for the whole read.
  return read.deferred();
}

/** First index in sorted `rows` whose id sorts after `after` (null: 0). */
function firstAfter(rows: readonly AuditRow[], after: string | null): number {
  if (after === null) return 0;
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareIds((rows[mid] as AuditRow).id, after) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The till's rows as the planner asks for them: any range's digest (prefix sums, each row hashed once) or rows (binary search over the sorted rows). */
export function tillView(rows: readonly AuditRow[]): TillView {
  const digests = new RowDigests(rows);
  const bounds = (r: IdRange): [number, number] => [firstAfter(rows, r.after), r.upTo === null ? rows.length : firstAfter(rows, r.upTo)];
  return {
    digest: (r) => digests.of(...bounds(r)),
    rows: (r) => rows.slice(...bounds(r)),
  };
}
