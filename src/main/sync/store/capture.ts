/**
 * Capture: the switch the triggers read (mode), the cheap "anything new?" probe, and
 * moving the capture log the triggers fill into the outbox (or queueing by hand).
 */
import type Database from 'better-sqlite3';
import { LOCAL_KEY, LOCAL_SERVER_ID, priorityOf } from '../../../shared/catalog/index.js';
import { uuid7 } from '../../../shared/uuid7.js';
import type { LocalRow } from '../mapping.js';
import { q } from '../schema.js';
import type { StoreBase } from './base.js';
import { groupOf } from './batch-rules.js';
import type { Outbox } from './outbox.js';
import { pickImage } from './rows.js';

/** Capture entries moved into the outbox per transaction (about 0.2 s of the POS waiting at most). */
const PROMOTE_CHUNK = 5000;

interface CaptureRow {
  id: number;
  table_name: string;
  local_id: number;
  server_id: string | null;
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  new_image: string | null;
  old_image: string | null;
  priority: number;
  mode: 'ONLINE' | 'OFFLINE';
  captured_at: string;
}

export class Capture {
  constructor(
    private readonly base: StoreBase,
    private readonly outbox: Outbox,
  ) {}

  setMode(mode: 'ONLINE' | 'OFFLINE'): void {
    this.base.stmt('UPDATE tillsync_control SET mode = ? WHERE id = 1').run(mode);
  }

  /** Changes when any connection (the POS's too) commits to the file: a cheap "something new?" probe. */
  dataVersion(): number {
    return Number(this.base.db.pragma('data_version', { simple: true }));
  }

  /**
   * Moves what the triggers captured into the outbox: new rows get their central id
   * (stamped on the POS row), every entry a change id, a transaction group and its
   * capture time. A long log goes in transactions of `chunk` entries, so the POS is
   * never kept waiting for long; each transaction is whole (a crash leaves its
   * entries in the log, or all of them in the outbox). Writes of rows never linked
   * to central (legacy rows waiting for bootstrap) are dropped, as the triggers used
   * to drop them. Returns how many entries were moved.
   */
  promote(chunk = PROMOTE_CHUNK, maxSteps = Number.MAX_SAFE_INTEGER): number {
    // Nothing captured: no write transaction at all (the usual case between sales).
    if (this.base.stmt('SELECT 1 FROM tillsync_capture LIMIT 1').get() === undefined) return 0;
    let moved = 0;
    for (let step = 0; step < maxSteps; step++) {
      const n = this.base.db.transaction(() => this.base.applyingInline(() => this.promoteInline(chunk))).immediate();
      moved += n.moved;
      if (!n.more) break;
    }
    return moved;
  }

  /**
   * Drains the whole log inside the caller's open transaction, capture off for it (a
   * step that reads or settles the outbox sees every captured write first).
   */
  drain(): void {
    this.base.applyingInline(() => this.promoteInline());
  }

  /**
   * One promotion step inside an open transaction with capture off (inside
   * `applying`): up to `limit` entries of the log, in capture order. Returns how many
   * entries it moved into the outbox and whether the log holds more.
   */
  promoteInline(limit = Number.MAX_SAFE_INTEGER): { moved: number; more: boolean } {
    const read = this.base.stmt(`SELECT * FROM tillsync_capture WHERE id > ? ORDER BY id LIMIT ?`);
    const page = Math.min(limit, 2000);
    let rows = read.all(0, page) as CaptureRow[];
    if (rows.length === 0) return { moved: 0, more: false };
    const earlier = this.base.stmt('SELECT server_id FROM tillsync_minted WHERE table_name = ? AND local_id = ?');
    // Central ids given in this step, per table and local id.
    const minted = new Map<string, string>();
    const parentServerId = (table: string, localId: number) => minted.get(`${table}\u0000${localId}`) ?? this.base.fk.serverIdOf(table, localId);
    const live = new Map<string, { table: string; localId: number; serverId: string }>();
    let after = 0;
    let done = 0;
    let moved = 0;
    while (rows.length > 0) {
      for (const r of rows) {
        const t = this.base.tables.get(r.table_name);
        const key = `${r.table_name}\u0000${r.local_id}`;
        let serverId = r.server_id ?? minted.get(key) ?? null;
        if (r.operation === 'CREATE') {
          serverId = r.server_id ?? uuid7();
          minted.set(key, serverId);
          if (!r.server_id) live.set(key, { table: r.table_name, localId: r.local_id, serverId });
        } else {
          // An update that changed the row's key: its id is the one the old key got.
          let from = key;
          let fromLocal = r.local_id;
          if (!serverId && r.operation === 'UPDATE' && r.old_image) {
            const oldKey = Number((JSON.parse(r.old_image) as LocalRow)[LOCAL_KEY]);
            if (Number.isInteger(oldKey) && oldKey !== r.local_id) {
              from = `${r.table_name}\u0000${oldKey}`;
              fromLocal = oldKey;
              serverId = minted.get(from) ?? null;
            }
          }
          // Created in an earlier step of a long log, before its id was stamped.
          const fromEarlier = !serverId;
          if (fromEarlier) serverId = (earlier.get(r.table_name, fromLocal) as { server_id: string } | undefined)?.server_id ?? null;
          if (serverId && from !== key) {
            // The row lives on under its new key: that is where its id is stamped.
            minted.delete(from);
            live.delete(from);
            minted.set(key, serverId);
            live.set(key, { table: r.table_name, localId: r.local_id, serverId });
          }
          if (r.operation === 'DELETE') {
            minted.delete(key);
            live.delete(key);
            if (fromEarlier && serverId) this.base.stmt('DELETE FROM tillsync_minted WHERE table_name = ? AND local_id = ?').run(r.table_name, r.local_id);
          }
        }
        if (!t || !serverId) continue; // a row that never got a central id: bootstrap queues it whole
        // Only a row that travels with a parent needs its image read (for the parent's id).
        const image = t.entry.group ? (JSON.parse((r.new_image ?? r.old_image) as string) as LocalRow) : {};
        this.outbox.insert({
          table: r.table_name,
          localId: r.local_id,
          serverId,
          operation: r.operation,
          newImage: r.new_image,
          oldImage: r.old_image,
          priority: r.priority,
          mode: r.mode,
          txGroup: groupOf(t.entry, image, serverId, parentServerId),
          createdAt: r.captured_at,
        });
        moved++;
      }
      after = (rows[rows.length - 1] as CaptureRow).id;
      done += rows.length;
      rows = done >= limit ? [] : (read.all(after, Math.min(page, limit - done)) as CaptureRow[]);
    }
    this.base.stmt('DELETE FROM tillsync_capture WHERE id <= ?').run(after);
    const more = this.base.stmt('SELECT 1 FROM tillsync_capture LIMIT 1').get() !== undefined;
    // A row deleted in a later part of the log is gone already: the row now under its
    // local id is a newer one (SQLite reuses the key of a deleted last row), which gets
    // its own id when its create is moved. Stamping it now would give it the old id.
    const deletedLater = new Set<string>();
    if (more && live.size > 0) {
      for (const d of this.base.stmt(`SELECT DISTINCT table_name, local_id FROM tillsync_capture WHERE operation = 'DELETE'`).all() as {
        table_name: string;
        local_id: number;
      }[]) {
        deletedLater.add(`${d.table_name}\u0000${d.local_id}`);
      }
    }
    const stamps = new Map<string, Database.Statement>();
    for (const [key, { table, localId, serverId }] of live) {
      if (deletedLater.has(key)) continue;
      let stamp = stamps.get(table);
      if (!stamp) {
        stamp = this.base.stmt(`UPDATE ${q(table)} SET ${q(LOCAL_SERVER_ID)} = ? WHERE ${q(LOCAL_KEY)} = ? AND ${q(LOCAL_SERVER_ID)} IS NULL`);
        stamps.set(table, stamp);
      }
      stamp.run(serverId, localId);
    }
    if (more) {
      // Entries left in the log may belong to rows created in this step (captured before the stamp).
      const keep = this.base.stmt('INSERT OR REPLACE INTO tillsync_minted (table_name, local_id, server_id) VALUES (?, ?, ?)');
      for (const { table, localId, serverId } of live.values()) keep.run(table, localId, serverId);
    } else {
      this.base.stmt('DELETE FROM tillsync_minted').run();
    }
    return { moved, more };
  }

  /**
   * Queues a change by hand, as the seed's example does, for rows written without
   * the triggers (or to re-send one). The row must exist (except for DELETE).
   */
  enqueue(table: string, localId: number, operation: 'CREATE' | 'UPDATE' | 'DELETE', priority?: number): string {
    const t = this.base.tables.get(table);
    if (!t) throw new Error(`table ${table} is not synced on this terminal`);
    return this.base.db.transaction(() => {
      this.drain();
      const row = this.base.stmt(`SELECT * FROM ${q(table)} WHERE ${q(LOCAL_KEY)} = ?`).get(localId) as LocalRow | undefined;
      if (!row && operation !== 'DELETE') throw new Error(`${table} row ${localId} does not exist`);
      let serverId = row?.[LOCAL_SERVER_ID] as string | null | undefined;
      if (!serverId) {
        if (!row) throw new Error(`${table} row ${localId} has no central id`);
        const minted = uuid7();
        serverId = minted;
        this.base.applyingInline(() => this.base.stmt(`UPDATE ${q(table)} SET ${q(LOCAL_SERVER_ID)} = ? WHERE ${q(LOCAL_KEY)} = ?`).run(minted, localId));
      }
      const image = row ? JSON.stringify(pickImage(t.entry, row)) : null;
      return this.outbox.insert({
        table,
        localId,
        serverId,
        operation,
        newImage: operation === 'DELETE' ? null : image,
        oldImage: operation === 'DELETE' ? image : null,
        priority: priority ?? priorityOf(t.entry.priority, row ?? {}),
        txGroup: null,
      });
    }).immediate();
  }
}
