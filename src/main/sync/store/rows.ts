/**
 * The POS rows as sync sees them: the version and base last seen per row, writing
 * central's image of a row locally (capture off), deleting it, reading it as a wire
 * image, and foreign keys that wait for their target.
 */
import type Database from 'better-sqlite3';
import { LOCAL_KEY, LOCAL_SERVER_ID, type CatalogEntry, type WireRow } from '../../../shared/catalog/index.js';
import { localToWire, wireToLocal, type ForeignKeys, type LocalRow } from '../mapping.js';
import { q } from '../schema.js';
import type { StoreBase } from './base.js';

/** What writing a page's rows needs to know, read once for the page (see PullPages.pageLookups). */
export interface PageLookups {
  readonly localIds: Map<string, number>;
  readonly unresolved: boolean;
  readonly fk: ForeignKeys;
  readonly fresh: FreshRows;
}

/** The columns a capture trigger records, from a row read locally. */
export function pickImage(entry: CatalogEntry, row: LocalRow, present?: ReadonlySet<string>): LocalRow {
  const out: LocalRow = { [LOCAL_KEY]: row[LOCAL_KEY] ?? null };
  for (const c of entry.wireColumns) if (!present || present.has(c.local)) out[c.local] = row[c.local] ?? null;
  return out;
}

/**
 * A page's rows new to this terminal, with every foreign key resolved and the same
 * columns, inserted at the end of the page through one prepared statement (its SQL
 * built once, each row's values bound as they are: faster than one statement over the
 * page as JSON, which SQLite parses again for every column).
 */
export class FreshRows {
  private columns: string[] | null = null;
  private signature = '';
  private readonly values: (string | number | null)[][] = [];

  /** Takes the row if it has the columns of the rows taken before it. */
  add(serverId: string, row: LocalRow): boolean {
    const cols = Object.keys(row);
    const signature = cols.join('\u0000');
    if (this.columns === null) {
      this.columns = cols;
      this.signature = signature;
    } else if (signature !== this.signature) return false;
    const v: (string | number | null)[] = [serverId];
    for (const c of cols) {
      const x = row[c] ?? null;
      // Values travel as JSON: anything JSON cannot carry as it is goes the row-by-row way.
      if (x !== null && typeof x !== 'string' && !(typeof x === 'number' && Number.isFinite(x))) return false;
      v.push(x);
    }
    this.values.push(v);
    return true;
  }

  insert(table: string, stmt: (sql: string) => Database.Statement): void {
    if (this.columns === null || this.values.length === 0) return;
    const all = [LOCAL_SERVER_ID, ...this.columns];
    const insert = stmt(`INSERT INTO ${q(table)} (${all.map(q).join(', ')}) VALUES (${all.map(() => '?').join(', ')})`);
    for (const v of this.values) insert.run(v);
  }
}

export class Rows {
  constructor(private readonly base: StoreBase) {}

  rowState(table: string, serverId: string): { version: number; base: string | null } | undefined {
    return this.base.stmt('SELECT version, base FROM tillsync_row_state WHERE table_name = ? AND server_id = ?').get(table, serverId) as
      | { version: number; base: string | null }
      | undefined;
  }

  /** The versions and bases held for many rows of a table ({ server id: state }). */
  rowStatesOf(table: string, idsJson: string): Map<string, { version: number; base: string | null }> {
    const rows = this.base
      .stmt(`SELECT server_id, version, base FROM tillsync_row_state WHERE table_name = ? AND server_id IN (SELECT value FROM json_each(?))`)
      .all(table, idsJson) as { server_id: string; version: number; base: string | null }[];
    return new Map(rows.map((r) => [r.server_id, { version: r.version, base: r.base }]));
  }

  setRowState(table: string, serverId: string, version: number, base: WireRow | null): void {
    this.setRowStates([[table, serverId, version, base]]);
  }

  /**
   * Versions and bases of many rows: [table, server id, version, base], through one
   * prepared upsert run per row (cheaper than one statement over the rows as JSON,
   * which SQLite takes apart and writes back per row).
   */
  setRowStates(rows: readonly (readonly [string, string, number, WireRow | null])[]): void {
    if (rows.length === 0) return;
    const upsert = this.base.stmt(
      `INSERT INTO tillsync_row_state (table_name, server_id, version, base) VALUES (?, ?, ?, ?)
       ON CONFLICT (table_name, server_id) DO UPDATE SET version = excluded.version, base = excluded.base`,
    );
    for (const [table, serverId, version, base] of rows) upsert.run(table, serverId, version, base === null ? null : JSON.stringify(base));
  }

  forgetRow(table: string, serverId: string): void {
    this.base.stmt('DELETE FROM tillsync_row_state WHERE table_name = ? AND server_id = ?').run(table, serverId);
  }

  /** Writes central's image of a row locally (capture must be off: inside `applying`). Returns its local id (0: left for `page.fresh`). */
  writeLocal(entry: CatalogEntry, serverId: string, wire: WireRow, page?: PageLookups): number {
    const t = this.base.tables.get(entry.table);
    if (!t) return 0;
    const { row, missing } = wireToLocal(entry, wire, page?.fk ?? this.base.fk, t.columns);
    const existing = page ? (page.localIds.get(serverId) ?? null) : this.base.fk.localIdOf(entry.table, serverId);
    if (page && existing === null && missing.size === 0 && page.fresh.add(serverId, row)) return 0;
    const cols = Object.keys(row);
    let localId: number;
    if (existing !== null) {
      if (cols.length > 0) {
        this.base
          .stmt(`UPDATE ${q(entry.table)} SET ${cols.map((c) => `${q(c)} = ?`).join(', ')} WHERE ${q(LOCAL_KEY)} = ?`)
          .run(...cols.map((c) => row[c] ?? null), existing);
      }
      localId = existing;
    } else {
      const all = [LOCAL_SERVER_ID, ...cols];
      const r = this.base
        .stmt(`INSERT INTO ${q(entry.table)} (${all.map(q).join(', ')}) VALUES (${all.map(() => '?').join(', ')})`)
        .run(serverId, ...cols.map((c) => row[c] ?? null));
      localId = Number(r.lastInsertRowid);
      page?.localIds.set(serverId, localId);
    }
    if (!page || page.unresolved) this.base.stmt('DELETE FROM tillsync_unresolved WHERE table_name = ? AND local_id = ?').run(entry.table, localId);
    for (const [column, target] of missing) {
      this.base
        .stmt(`INSERT OR REPLACE INTO tillsync_unresolved (table_name, local_id, "column", target_table, target_server_id) VALUES (?, ?, ?, ?, ?)`)
        .run(entry.table, localId, column, target.table, target.serverId);
    }
    return localId;
  }

  deleteLocal(entry: CatalogEntry, serverId: string): void {
    if (!this.base.tables.has(entry.table)) return;
    this.base.stmt(`DELETE FROM ${q(entry.table)} WHERE ${q(LOCAL_SERVER_ID)} = ?`).run(serverId);
  }

  /** The local row as a wire image (for conflicts), or null if it is gone. */
  localWire(entry: CatalogEntry, serverId: string): WireRow | null {
    const row = this.base.stmt(`SELECT * FROM ${q(entry.table)} WHERE ${q(LOCAL_SERVER_ID)} = ?`).get(serverId) as LocalRow | undefined;
    return row ? localToWire(entry, serverId, row, this.base.fk).row : null;
  }

  /** The image a capture trigger would record of the row under `localId`, as JSON. */
  imageOf(entry: CatalogEntry, localId: number): { row: LocalRow; image: string } {
    const row = this.base.stmt(`SELECT * FROM ${q(entry.table)} WHERE ${q(LOCAL_KEY)} = ?`).get(localId) as LocalRow;
    return { row, image: JSON.stringify(pickImage(entry, row, this.base.tables.get(entry.table)?.columns)) };
  }

  /** Foreign keys pulled before their target arrived point at it once it has. */
  fixUnresolved(): void {
    const rows = this.base.stmt('SELECT table_name, local_id, "column", target_table, target_server_id FROM tillsync_unresolved').all() as {
      table_name: string;
      local_id: number;
      column: string;
      target_table: string;
      target_server_id: string;
    }[];
    for (const r of rows) {
      const target = this.base.fk.localIdOf(r.target_table, r.target_server_id);
      if (target === null) continue;
      this.base.stmt(`UPDATE ${q(r.table_name)} SET ${q(r.column)} = ? WHERE ${q(LOCAL_KEY)} = ?`).run(target, r.local_id);
      this.base.stmt('DELETE FROM tillsync_unresolved WHERE table_name = ? AND local_id = ? AND "column" = ?').run(r.table_name, r.local_id, r.column);
    }
  }
}
