/**
 * Re-reading a table after CURSOR_EXPIRED: central purged deleted rows (and their
 * change-log entries) past this terminal's cursor, so the log can no longer tell it
 * which of its rows are gone. The table is read again from a snapshot (every live row
 * of it), and what the terminal held from central that the read did not bring is
 * dropped (store/pages.ts, with the table's strategy for a row with local changes).
 *
 * Crash-safe: the rows held when the read began are written down with the start (and
 * the table's cursor forgotten) in one transaction; each snapshot page crosses its rows
 * off in the page's own transaction; the read's last page drops what is left and ends
 * the resync in its transaction. A restart mid-way goes on with the snapshot from the
 * cursor of its last page applied.
 *
 * A re-read after central was restored from a backup (`forgetVersions`) is marked as
 * one in the till's meta (`restore_reread:<table>`, written with the start, removed
 * with the finish): its last page gives back to central what the restore lost instead
 * of dropping it (store/pages.ts), and the sales wait while it is under way
 * (store/restored.ts salesHeldBack).
 */
import type { StoreBase } from './base.js';
import type { Cursors } from './cursors.js';

/** The meta key prefix marking a table's re-read as one after central's restore. */
const RESTORE_REREAD = 'restore_reread:';

/** The tables whose re-read after central's restore is under way (read once per batch). */
export function restoreRereadsOf(base: StoreBase): string[] {
  const n = RESTORE_REREAD.length;
  const rows = base.stmt(`SELECT substr(key, ${n + 1}) AS t FROM tillsync_meta WHERE substr(key, 1, ${n}) = ?`).all(RESTORE_REREAD) as { t: string }[];
  return rows.map((r) => r.t);
}

export class Resync {
  constructor(
    private readonly base: StoreBase,
    private readonly cursors: Cursors,
  ) {}

  /**
   * Begins re-reading `table` (again, if a resync was under way): notes every row the
   * terminal holds from central (it has a row state) at the version it holds, and
   * forgets the cursor, so the next pull reads a snapshot. Returns how many rows it noted.
   *
   * `forgetVersions` (central was restored from a backup, store/restored.ts): the
   * versions held are forgotten first (0), as central hands the lost versions out again
   * to other contents; every row the read brings is then written, whatever version it
   * has, except over changes of ours not at central yet (the table's strategy decides).
   */
  start(table: string, opts: { forgetVersions?: boolean } = {}): number {
    return this.base.db
      .transaction(() => {
        this.base.stmt('DELETE FROM tillsync_resync WHERE table_name = ?').run(table);
        if (opts.forgetVersions === true) {
          this.base.stmt('UPDATE tillsync_row_state SET version = 0 WHERE table_name = ?').run(table);
          // A plain re-read started over one after a restore stays one: the restore's losses are still to give back.
          this.base.setMeta(`${RESTORE_REREAD}${table}`, '1');
        }
        const r = this.base
          .stmt('INSERT INTO tillsync_resync (table_name, server_id, version) SELECT table_name, server_id, version FROM tillsync_row_state WHERE table_name = ?')
          .run(table);
        this.cursors.beginResync(table);
        return r.changes;
      })
      .immediate();
  }

  /** A snapshot page brought these rows (`idsJson`, a JSON array of central ids): central still has them (inside the page's transaction). */
  brought(table: string, idsJson: string): void {
    this.base.stmt('DELETE FROM tillsync_resync WHERE table_name = ? AND server_id IN (SELECT value FROM json_each(?))').run(table, idsJson);
  }

  /**
   * The rows the read did not bring, with the version the terminal holds: central
   * purged them as deleted. Only rows still at the version held when the read began:
   * one whose version moved meanwhile was settled with central since (central answered
   * a push of it), so central held it live after the read began, and the change log
   * the read hands over to brings whatever happened to it next.
   */
  leftOver(table: string): { serverId: string; version: number }[] {
    return this.base
      .stmt(
        `SELECT r.server_id AS serverId, r.version AS version FROM tillsync_resync r
         JOIN tillsync_row_state s ON s.table_name = r.table_name AND s.server_id = r.server_id AND s.version = r.version
         WHERE r.table_name = ? ORDER BY r.server_id`,
      )
      .all(table) as { serverId: string; version: number }[];
  }

  /** Whether the table's re-read under way is one after central's restore (`forgetVersions`). */
  afterRestore(table: string): boolean {
    return this.base.getMeta(`${RESTORE_REREAD}${table}`) !== undefined;
  }

  /** The read has ended: nothing of it is kept (inside the transaction of its last page). */
  finish(table: string): void {
    this.base.stmt('DELETE FROM tillsync_resync WHERE table_name = ?').run(table);
    this.base.stmt('DELETE FROM tillsync_meta WHERE key = ?').run(`${RESTORE_REREAD}${table}`);
    this.cursors.endResync(table);
  }
}
