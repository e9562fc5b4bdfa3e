/**
 * The outbox: the one insert every queued change goes through, the named status
 * transitions (outbox-status.ts) as statements, and the queue's read-outs.
 */
import { entryForTable } from '../../../shared/catalog/index.js';
import { retryPause } from '../../../shared/backoff.js';
import type { TableCounts } from '../../../shared/protocol.js';
import { uuid7 } from '../../../shared/uuid7.js';
import { GROUP_KEY } from '../schema.js';
import { nowIso, type StoreBase } from './base.js';
import type { OutgoingBatch } from './batch-rules.js';
import { setSql, whereSql, type EntryStatus, type TransitionName } from './outbox-status.js';

export type { EntryStatus, OutboxEntry } from './outbox-status.js';


/** A change to queue. */
export interface NewEntry {
  readonly table: string;
  readonly localId: number;
  readonly serverId: string;
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE';
  readonly newImage: string | null;
  readonly oldImage?: string | null;
  readonly priority: number;
  /** The connectivity mode it was made in (default: the one the control table holds now). */
  readonly mode?: 'ONLINE' | 'OFFLINE';
  readonly txGroup?: string | null;
  /** When it was captured (default: now). */
  readonly createdAt?: string;
}

export interface RetryPolicy {
  readonly maxRetries: number;
  readonly retryDelayMs: number;
  readonly now: number;
}

const INSERT = `INSERT INTO tillsync_outbox (change_id, table_name, local_id, server_id, operation, new_image, old_image, priority, created_in_mode, tx_group, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, (SELECT mode FROM tillsync_control WHERE id = 1)), ?, coalesce(?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`;

const IDS = 'id IN (SELECT value FROM json_each(?))';

/**
 * `UPDATE tillsync_outbox SET <the transition's status and attempts>, <extra> WHERE <where>
 * <the transition's status filter>`; `perEntry`: the values come per entry from a JSON
 * array bound first (`u.value`), the outbox is `o`.
 */
function update(name: TransitionName, extra: string, where: string, perEntry = false): string {
  const o = perEntry ? 'o.' : '';
  const set = [setSql(name, o), extra].filter((s) => s !== '').join(', ');
  return `UPDATE tillsync_outbox${perEntry ? ' AS o' : ''} SET ${set}${perEntry ? ' FROM json_each(?) AS u' : ''} WHERE ${where}${whereSql(name, o)}`;
}

export class Outbox {
  constructor(private readonly base: StoreBase) {}

  /** Queues one change under a fresh change id (uuid7), which it returns. */
  insert(e: NewEntry): string {
    const changeId = uuid7();
    this.base
      .stmt(INSERT)
      .run(changeId, e.table, e.localId, e.serverId, e.operation, e.newImage, e.oldImage ?? null, e.priority, e.mode ?? null, e.txGroup ?? null, e.createdAt ?? null);
    return changeId;
  }

  // ------------------------------------------------------------------ transitions

  /** Entries built into a batch: [entry id, sent as, base version, clock], an attempt counted each. */
  send(sent: readonly (readonly [number, string, number, string])[]): void {
    if (sent.length === 0) return;
    this.base.stmt(update('send', 'sent_as = u.value ->> 1, base_version = u.value ->> 2, hlc = u.value ->> 3', 'o.id = u.value ->> 0', true)).run(JSON.stringify(sent));
  }

  /** A transaction group with a bad row is held back whole: its pending entries fail. Returns how many. */
  holdGroup(group: string, why: string): number {
    return this.base.stmt(update('hold', 'last_error = ?', `${GROUP_KEY} = ?`)).run(why, group).changes;
  }

  /** Entries that need not be sent (created and deleted before any push). */
  cancel(ids: readonly number[], note: string): void {
    this.base.stmt(update('cancel', 'last_error = ?, synced_at = ?, next_attempt_at = NULL', IDS)).run(note, nowIso(), JSON.stringify(ids));
  }

  /** Central accepted these: [entry id, version, note]. */
  accept(settled: readonly (readonly [number, number, string | null])[], now: string): void {
    if (settled.length === 0) return;
    this.base
      .stmt(update('accept', 'result_version = u.value ->> 1, synced_at = ?, last_error = u.value ->> 2, next_attempt_at = NULL', 'o.id = u.value ->> 0', true))
      .run(now, JSON.stringify(settled));
  }

  /** Central refused these. */
  reject(ids: readonly number[], error: string): void {
    this.base.stmt(update('reject', 'last_error = ?', IDS)).run(error, JSON.stringify(ids));
  }

  /** Central parked these for a supervisor. */
  park(ids: readonly number[], conflictId: string | null, note: string): void {
    this.base.stmt(update('park', 'conflict_id = ?, last_error = ?', IDS)).run(conflictId, note, JSON.stringify(ids));
  }

  /** The attempt counted when these were built is taken back (never sent, or not their fault). */
  takeBack(ids: readonly number[]): void {
    this.base.stmt(update('takeBack', '', IDS)).run(JSON.stringify(ids));
  }

  /**
   * Entries that did not get through wait and go again (exponential backoff with
   * jitter), or are failed once they used up their attempts (true). In the caller's
   * transaction. They are judged together, by the most attempts among them, so a
   * batch's transaction groups (an order, its items and payments) come due, or fail,
   * together, and travel together again (DESIGN invariant 8). Only entries still
   * pending are touched (a half of a split batch that central took stays synced).
   * Returns how many were failed.
   */
  backOff(entryIds: readonly number[], error: string, opts: RetryPolicy): number {
    const ids = JSON.stringify(entryIds);
    const r = this.base.stmt(`SELECT max(attempts) AS a FROM tillsync_outbox WHERE ${IDS} AND status = 'pending'`).get(ids) as { a: number | null };
    if (r.a === null) return 0;
    if (r.a >= opts.maxRetries) return this.base.stmt(update('giveUp', 'last_error = ?, next_attempt_at = NULL', IDS)).run(error, ids).changes;
    const delay = retryPause(r.a, opts.retryDelayMs, Number.MAX_SAFE_INTEGER, Math.random());
    this.base.stmt(update('backOff', 'last_error = ?, next_attempt_at = ?', IDS)).run(error, opts.now + delay, ids);
    return 0;
  }

  /** Older failed changes of rows whose newer change was just accepted: [table, server id, first accepted entry id]. */
  overtaken(rows: readonly (readonly [string, string, number])[], now: string): void {
    // Only if anything failed at all.
    if (rows.length === 0 || this.base.stmt(`SELECT 1 FROM tillsync_outbox WHERE status = 'failed' LIMIT 1`).get() === undefined) return;
    const s = this.base.stmt(update('overtaken', `last_error = 'superseded by a later change', synced_at = ?`, 'table_name = ? AND server_id = ? AND id < ?'));
    for (const [table, serverId, first] of rows) s.run(now, table, serverId, first);
  }

  /** Changes a pulled row won over (or merged with). */
  supersede(ids: readonly number[], why: string): void {
    this.base.stmt(update('supersede', 'last_error = ?, synced_at = ?', IDS)).run(why, nowIso(), JSON.stringify(ids));
  }

  /** Every change the till still holds for a row gives way to a supervisor's resolution. */
  resolve(table: string, serverId: string, resolution: string): void {
    this.base
      .stmt(update('resolve', 'last_error = ?, synced_at = ?', 'table_name = ? AND server_id = ?'))
      .run(`superseded by the conflict resolution (${resolution})`, nowIso(), table, serverId);
  }

  /** Sent entries now build on a newer central version. */
  rebase(ids: readonly number[], version: number): void {
    this.base.stmt(update('rewrite', 'base_version = ?', `${IDS} AND sent_as IS NOT NULL`)).run(version, JSON.stringify(ids));
  }

  /** Unsent entries carry a new image (the POS's edits on top of central's row). */
  rewriteImage(ids: readonly number[], image: string): void {
    this.base.stmt(update('rewrite', 'new_image = ?', IDS)).run(image, JSON.stringify(ids));
  }

  /**
   * A batch built (its entries stamped, an attempt counted) that got no answer, because
   * the push before it failed or the engine stopped (it was not sent, or it went beside
   * that push and failed too): the attempt is taken back. The stamps stay, so the entries
   * go as built whenever they go, and central answers `duplicate` where it took them.
   */
  unsent(batch: OutgoingBatch): void {
    const ids = batch.changes.flatMap((c) => c.entryIds);
    if (ids.length === 0) return;
    this.takeBack(ids);
  }

  /**
   * Central was restored from a backup (store/restored.ts): every change of `tables`
   * it accepted that the till still keeps goes again as it was sent (same change id,
   * same content, in capture order), so central answers `duplicate` for what it still
   * has and applies what it lost. Only accepted entries (`result_version` set: never a
   * cancelled, superseded or resolved one); a pending entry with `result_version` set is
   * one sent again (answers.ts). Returns how many.
   */
  resendAccepted(tables: readonly string[], note: string): number {
    if (tables.length === 0) return 0;
    return this.base
      .stmt(update('resend', 'last_error = ?, next_attempt_at = NULL', 'sent_as IS NOT NULL AND result_version IS NOT NULL AND table_name IN (SELECT value FROM json_each(?))'))
      .run(note, JSON.stringify(tables)).changes;
  }

  /** Of these entries, those sent again after central was restored (pending with central's earlier answer kept). */
  resentAmong(ids: readonly number[]): Set<number> {
    if (ids.length === 0) return new Set();
    const rows = this.base.stmt(`SELECT id FROM tillsync_outbox WHERE ${IDS} AND status = 'pending' AND result_version IS NOT NULL`).all(JSON.stringify(ids)) as { id: number }[];
    return new Set(rows.map((r) => r.id));
  }

  /** Failed entries go back to the queue (the retry timer, or "Retry failed"). */
  retryFailed(): number {
    return this.base.stmt(update('retry', 'next_attempt_at = NULL', '1 = 1')).run().changes;
  }

  /** Drops synced entries older than the retention period. */
  purgeSynced(olderThanMs: number): number {
    const cutoff = new Date(Date.now() - olderThanMs).toISOString();
    return this.base.stmt(`DELETE FROM tillsync_outbox WHERE status = 'synced' AND coalesce(synced_at, created_at) < ?`).run(cutoff).changes;
  }

  // ------------------------------------------------------------------ reads

  /** A row's entries not sent yet. */
  unsentOf(table: string, serverId: string): number[] {
    const rows = this.base.stmt(`SELECT id FROM tillsync_outbox WHERE table_name = ? AND server_id = ? AND status = 'pending' AND sent_as IS NULL`).all(table, serverId) as {
      id: number;
    }[];
    return rows.map((r) => r.id);
  }

  /** A row's entries not at central yet (pending or failed), in capture order. */
  heldOf(table: string, serverId: string): { id: number; hlc: string | null; created_at: string }[] {
    return this.base
      .stmt(`SELECT id, hlc, created_at FROM tillsync_outbox WHERE table_name = ? AND server_id = ? AND status IN ('pending', 'failed') ORDER BY id`)
      .all(table, serverId) as { id: number; hlc: string | null; created_at: string }[];
  }

  /** Of the rows `idsJson` names, those with changes not at central yet, and their statuses. */
  heldAmong(table: string, idsJson: string): { server_id: string; status: string; sent: 0 | 1 }[] {
    return this.base
      .stmt(
        `SELECT server_id, status, sent_as IS NOT NULL AS sent FROM tillsync_outbox WHERE table_name = ? AND server_id IN (SELECT value FROM json_each(?)) AND status IN ('pending', 'failed', 'conflict')`,
      )
      .all(table, idsJson) as { server_id: string; status: string; sent: 0 | 1 }[];
  }

  /** Outbox counts per entity type (the heartbeat's and the UI's numbers). */
  counts(): Record<string, TableCounts> {
    const rows = this.base.stmt(`SELECT table_name, status, count(*) AS n FROM tillsync_outbox GROUP BY table_name, status`).all() as {
      table_name: string;
      status: EntryStatus;
      n: number;
    }[];
    // Writes captured but not yet moved into the outbox are pending too.
    rows.push(...(this.base.stmt(`SELECT table_name, 'pending' AS status, count(*) AS n FROM tillsync_capture GROUP BY table_name`).all() as typeof rows));
    const out: Record<string, TableCounts> = {};
    for (const { entry } of this.base.tables.values()) out[entry.entityType] = { pending: 0, failed: 0, synced: 0, conflicts: 0 };
    for (const r of rows) {
      const e = entryForTable(r.table_name);
      if (!e) continue;
      const c = (out[e.entityType] ??= { pending: 0, failed: 0, synced: 0, conflicts: 0 });
      if (r.status === 'pending') c.pending += r.n;
      else if (r.status === 'failed') c.failed += r.n;
      else if (r.status === 'synced') c.synced += r.n;
      else c.conflicts += r.n;
    }
    return out;
  }

  /** The newest outbox entry's id (a push pass drains up to it, not an endless stream). */
  lastEntryId(): number {
    return (this.base.stmt('SELECT coalesce(max(id), 0) AS id FROM tillsync_outbox').get() as { id: number }).id;
  }

  /** Whether anything is ready to push at or above a priority. */
  hasPending(minPriority: number, now: number): boolean {
    return (
      this.base.stmt(`SELECT 1 FROM tillsync_capture WHERE priority >= ? LIMIT 1`).get(minPriority) !== undefined ||
      this.base
        .stmt(`SELECT 1 FROM tillsync_outbox WHERE status = 'pending' AND priority >= ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?) LIMIT 1`)
        .get(minPriority, now) !== undefined
    );
  }

  /** When the earliest pending entry waiting out a backoff may go (ms), or null if none waits. */
  nextAttemptAt(now: number): number | null {
    const r = this.base.stmt(`SELECT min(next_attempt_at) AS t FROM tillsync_outbox WHERE status = 'pending' AND next_attempt_at > ?`).get(now) as { t: number | null };
    return r.t;
  }

  /** When the oldest change still waiting to reach central was captured (ISO), or null when nothing waits. */
  oldestPendingAt(): string | null {
    const r = this.base
      .stmt(
        // The oldest by id in each (ids follow capture order): index look-ups, not a scan of a long backlog's rows.
        `SELECT min(t) AS t FROM (
         SELECT captured_at AS t FROM tillsync_capture WHERE id = (SELECT min(id) FROM tillsync_capture)
         UNION ALL SELECT created_at FROM tillsync_outbox WHERE id = (SELECT min(id) FROM tillsync_outbox WHERE status = 'pending'))`,
      )
      .get() as { t: string | null };
    return r.t;
  }
}
