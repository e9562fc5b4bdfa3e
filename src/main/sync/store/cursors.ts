/**
 * Per table: the pull cursor, the pause (a schema mismatch), whether it is re-read from
 * a snapshot after CURSOR_EXPIRED (store/resync.ts keeps that read's rows), and when it
 * last pushed and pulled.
 */
import { LOCAL_SERVER_ID } from '../../../shared/catalog/index.js';
import { q } from '../schema.js';
import { nowIso, type StoreBase } from './base.js';

export class Cursors {
  constructor(private readonly base: StoreBase) {}

  cursor(table: string): string | undefined {
    const r = this.base.stmt('SELECT cursor FROM tillsync_cursors WHERE table_name = ?').get(table) as { cursor: string | null } | undefined;
    return r?.cursor ?? undefined;
  }

  /** Moves a table's cursor past a pulled page, and stamps the pull (inside the page's transaction). */
  moveCursor(table: string, cursor: string): void {
    this.base
      .stmt(
        `INSERT INTO tillsync_cursors (table_name, cursor, last_pull_at) VALUES (?, ?, ?)
         ON CONFLICT (table_name) DO UPDATE SET cursor = excluded.cursor, last_pull_at = excluded.last_pull_at`,
      )
      .run(table, cursor, nowIso());
  }

  /** Stamps a table's push (central answered a batch with its rows). */
  stampPush(table: string): void {
    this.base
      .stmt(`INSERT INTO tillsync_cursors (table_name, last_push_at) VALUES (?, ?) ON CONFLICT (table_name) DO UPDATE SET last_push_at = excluded.last_push_at`)
      .run(table, nowIso());
  }

  pausedTables(): Map<string, string> {
    const rows = this.base.stmt('SELECT table_name, paused_reason FROM tillsync_cursors WHERE paused_reason IS NOT NULL').all() as {
      table_name: string;
      paused_reason: string;
    }[];
    return new Map(rows.map((r) => [r.table_name, r.paused_reason]));
  }

  pauseTable(table: string, reason: string): void {
    this.base
      .stmt(`INSERT INTO tillsync_cursors (table_name, paused_reason) VALUES (?, ?) ON CONFLICT (table_name) DO UPDATE SET paused_reason = excluded.paused_reason`)
      .run(table, reason);
  }

  unpauseTable(table: string): void {
    this.base.stmt('UPDATE tillsync_cursors SET paused_reason = NULL WHERE table_name = ?').run(table);
  }

  /** Forgets a table's cursor: its next pull starts from the beginning. */
  resetCursor(table: string): void {
    this.base.stmt('UPDATE tillsync_cursors SET cursor = NULL WHERE table_name = ?').run(table);
  }

  /** Whether the table is being re-read from a snapshot after central purged past its cursor (see store/resync.ts). */
  resyncing(table: string): boolean {
    return this.base.stmt('SELECT 1 FROM tillsync_cursors WHERE table_name = ? AND resync_since IS NOT NULL').get(table) !== undefined;
  }

  /** Marks the table as re-read from a snapshot and forgets its cursor (inside the resync's starting transaction). */
  beginResync(table: string): void {
    this.base
      .stmt(
        `INSERT INTO tillsync_cursors (table_name, cursor, resync_since) VALUES (?, NULL, ?)
         ON CONFLICT (table_name) DO UPDATE SET cursor = NULL, resync_since = excluded.resync_since`,
      )
      .run(table, nowIso());
  }

  /** The re-read has ended (inside the transaction of its last page). */
  endResync(table: string): void {
    this.base.stmt('UPDATE tillsync_cursors SET resync_since = NULL WHERE table_name = ?').run(table);
  }

  /** Whether any row of the table is linked to a central row (has its central id). */
  holdsSyncedRows(table: string): boolean {
    if (!this.base.tables.has(table)) return false;
    return this.base.stmt(`SELECT 1 FROM ${q(table)} WHERE ${q(LOCAL_SERVER_ID)} IS NOT NULL LIMIT 1`).get() !== undefined;
  }

  /** Per table: when it last pushed and pulled, and why it is paused (null: not paused). */
  tableStamps(): Map<string, { lastPushAt: string | null; lastPullAt: string | null; paused: string | null }> {
    const rows = this.base.stmt('SELECT table_name, last_push_at, last_pull_at, paused_reason FROM tillsync_cursors').all() as {
      table_name: string;
      last_push_at: string | null;
      last_pull_at: string | null;
      paused_reason: string | null;
    }[];
    return new Map(rows.map((r) => [r.table_name, { lastPushAt: r.last_push_at, lastPullAt: r.last_pull_at, paused: r.paused_reason }]));
  }
}
