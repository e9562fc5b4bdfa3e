/**
 * Pulled pages in: each page applied and its table's cursor moved in one transaction
 * with capture off. A row with changes not yet at central is never overwritten
 * silently: the table's strategy decides, and conflictEffect says what each side writes.
 * While a table is re-read after CURSOR_EXPIRED (store/resync.ts), each snapshot page
 * crosses its rows off, and the read's last page drops what it did not bring.
 */
import { CENTRAL_KEY, LOCAL_KEY, LOCAL_SERVER_ID, priorityOf, pushable, type CatalogEntry, type WireRow } from '../../../shared/catalog/index.js';
import { conflictEffect, conflictInput, decideConflict } from '../../../shared/conflict.js';
import { formatHlc } from '../../../shared/hlc.js';
import type { PulledChange } from '../../../shared/protocol.js';
import type { ForeignKeys } from '../mapping.js';
import { q } from '../schema.js';
import { nowIso, type StoreBase } from './base.js';
import { rowKey } from './batch-rules.js';
import type { Capture } from './capture.js';
import type { Conflicts } from './conflicts.js';
import type { Cursors } from './cursors.js';
import type { Outbox } from './outbox.js';
import { GIVEN_BACK_PRIORITY } from './restored.js';
import type { Resync } from './resync.js';
import { FreshRows, type PageLookups, type Rows } from './rows.js';

export interface PageResult {
  readonly applied: number;
  readonly skipped: number;
  readonly conflicts: number;
  /**
   * Set when the page ended a re-read after CURSOR_EXPIRED: `dropped` rows central no
   * longer has were deleted here; `conflicts` more (also counted above) had changes of
   * ours not at central yet and went through the table's strategy.
   */
  readonly resynced?: { readonly dropped: number; readonly conflicts: number; readonly givenBack?: number; readonly kept?: number };
}

/** Where a page stands in a snapshot read (PullResponse.snapshot, snapshotEnd). */
export interface PageRead {
  readonly snapshot?: boolean | undefined;
  readonly snapshotEnd?: boolean | undefined;
}

export class PullPages {
  constructor(
    private readonly base: StoreBase,
    private readonly capture: Capture,
    private readonly outbox: Outbox,
    private readonly rows: Rows,
    private readonly conflicts: Conflicts,
    private readonly cursors: Cursors,
    private readonly resync: Resync,
  ) {}

  /**
   * Applies one pulled page and moves the table's cursor, in one transaction with
   * capture off. A row with changes not yet at central is never overwritten
   * silently: the table's conflict strategy decides. A page of a re-read after
   * CURSOR_EXPIRED (`read`: a snapshot page) also crosses its rows off the re-read, and
   * its last page drops what the read did not bring, in the same transaction.
   */
  applyPage(entry: CatalogEntry, changes: readonly PulledChange[], cursor: string, maxDriftMs: number, read: PageRead = {}): PageResult {
    let applied = 0;
    let skipped = 0;
    let conflicts = 0;
    let resynced: PageResult['resynced'];
    this.base.applying(() => {
      // Whatever reads the outbox sees every captured write first.
      this.capture.promoteInline();
      // What this terminal knows of the page's rows, read once for the page (a row
      // appears at most once in a page): the versions it has, and its own changes.
      const ids = JSON.stringify(changes.map((c) => c.entityId));
      const states = this.rows.rowStatesOf(entry.table, ids);
      /** Rows with changes of ours not at central yet; `parked`: one waits for a supervisor; `sent`: one was sent, its answer not in. */
      const { held, parked, sent } = this.heldAmong(entry.table, ids);
      const lookups = this.pageLookups(entry, ids);
      /** The versions now held, written in one statement after the loop. */
      const seen: [string, string, number, WireRow][] = [];
      for (const c of changes) {
        this.base.observe(c.hlc, maxDriftMs, { persist: false });
        const state = states.get(c.entityId);
        if (state && state.version >= c.version) {
          skipped++;
          continue; // already have it (our own push, or a page seen before a crash)
        }
        if (c.origin === this.base.node && sent.has(c.entityId)) {
          // Our own change, committed at central before its answer reached us (a pull
          // beside a push): the answer settles it, with the newer changes made since.
          skipped++;
          continue;
        }
        if (parked.has(c.entityId)) {
          // Waits for the supervisor; keep central's latest image beside it.
          this.conflicts.updateCentral(entry.table, c.entityId, c.data, c.version);
          skipped++;
          continue;
        }
        if (!held.has(c.entityId)) {
          if (c.deleted) {
            this.rows.deleteLocal(entry, c.entityId);
            this.rows.forgetRow(entry.table, c.entityId);
          } else {
            this.rows.writeLocal(entry, c.entityId, c.data as WireRow, lookups);
            seen.push([entry.table, c.entityId, c.version, c.data as WireRow]);
          }
          applied++;
          continue;
        }
        conflicts++;
        this.pullConflict(entry, c, state, this.outbox.heldOf(entry.table, c.entityId));
      }
      lookups.fresh.insert(entry.table, (sql) => this.base.stmt(sql));
      this.rows.setRowStates(seen);
      if (read.snapshot === true && this.cursors.resyncing(entry.table)) {
        // Applied or skipped, central still has these rows.
        this.resync.brought(entry.table, ids);
        if (read.snapshotEnd === true) {
          resynced = this.dropNotBrought(entry);
          conflicts += resynced.conflicts;
        }
      }
      this.cursors.moveCursor(entry.table, cursor);
      this.rows.fixUnresolved();
      this.base.saveClock();
    });
    return { applied, skipped, conflicts, ...(resynced ? { resynced } : {}) };
  }

  /** Of the rows `idsJson` names, those with changes of ours not at central yet; `parked`: one waits for a supervisor; `sent`: one is on its way (sent, pending, its answer not in). */
  private heldAmong(table: string, idsJson: string): { held: Set<string>; parked: Set<string>; sent: Set<string> } {
    const held = new Set<string>();
    const parked = new Set<string>();
    const sent = new Set<string>();
    for (const r of this.outbox.heldAmong(table, idsJson)) {
      held.add(r.server_id);
      if (r.status === 'conflict') parked.add(r.server_id);
      if (r.sent === 1 && r.status === 'pending') sent.add(r.server_id);
    }
    return { held, parked, sent };
  }

  /**
   * The end of a re-read after CURSOR_EXPIRED (inside its last page's transaction): the
   * rows the terminal held from central that the read did not bring were purged at
   * central as deleted. Each is deleted here as a pulled DELETE would delete it: a row
   * with changes of ours not at central yet goes through the table's strategy (with
   * central's side deleted at the version held, its last image the one held, as a
   * tombstone's would be); a row waiting for a supervisor is left as it is. Rows made
   * here and never synced were never noted, so they stay.
   *
   * After central was restored from a backup (the re-read `afterRestore`), a row the
   * read did not bring is one central lost (HQ or a till added it after the backup), not
   * one it purged, and a sale of this till may point at it (its central id is how the
   * sale's key goes on the wire: dropping the row would hold the sale back for good as
   * UNLINKED). So it is not dropped: a row of a table terminals push is given back to
   * central (giveBack); one of a table only central writes is kept as it is
   * (store/restored.ts says what central answers then).
   */
  private dropNotBrought(entry: CatalogEntry): { dropped: number; conflicts: number; givenBack: number; kept: number } {
    const left = this.resync.leftOver(entry.table);
    const restored = this.resync.afterRestore(entry.table);
    let dropped = 0;
    let conflicts = 0;
    let givenBack = 0;
    let kept = 0;
    const { held, parked } = this.heldAmong(entry.table, JSON.stringify(left.map((l) => l.serverId)));
    for (const { serverId, version } of left) {
      if (parked.has(serverId)) continue;
      if (restored && !pushable(entry) && !held.has(serverId)) {
        kept++;
        continue;
      }
      // A row with changes of ours not at central yet goes through the table's strategy, as before.
      if (restored && pushable(entry) && !held.has(serverId) && this.giveBack(entry, serverId)) {
        givenBack++;
        continue;
      }
      if (!held.has(serverId)) {
        this.rows.deleteLocal(entry, serverId);
        this.rows.forgetRow(entry.table, serverId);
        dropped++;
        continue;
      }
      conflicts++;
      // As a pulled DELETE: a tombstone carries the row's last image, and the last image
      // this terminal knows is the one it last had from central (its base).
      const state = this.rows.rowState(entry.table, serverId);
      const last = state?.base ? (JSON.parse(state.base) as WireRow) : {};
      const data = { ...last, [CENTRAL_KEY]: serverId };
      const purged: PulledChange = { entityId: serverId, operation: 'DELETE', version, data, deleted: true, origin: null, hlc: null, changedAt: nowIso() };
      this.pullConflict(entry, purged, state, this.outbox.heldOf(entry.table, serverId));
    }
    this.resync.finish(entry.table);
    return { dropped, conflicts, givenBack, kept };
  }

  /**
   * Gives a row central lost in its restore back to central (dropNotBrought): its image
   * here is queued as a CREATE, as a row made here is (a fresh change id, no version: its
   * state is forgotten, as central has none), at GIVEN_BACK_PRIORITY so it goes before
   * the sales that point at it. False when the row is gone here.
   */
  private giveBack(entry: CatalogEntry, serverId: string): boolean {
    const localId = this.base.fk.localIdOf(entry.table, serverId);
    if (localId === null) return false;
    const { image } = this.rows.imageOf(entry, localId);
    this.outbox.insert({ table: entry.table, localId, serverId, operation: 'CREATE', newImage: image, priority: GIVEN_BACK_PRIORITY, txGroup: null });
    this.rows.forgetRow(entry.table, serverId);
    return true;
  }

  /** A pulled row meets this terminal's changes not at central yet: the table's strategy decides. */
  private pullConflict(
    entry: CatalogEntry,
    c: PulledChange,
    state: { version: number; base: string | null } | undefined,
    pending: { id: number; hlc: string | null; created_at: string }[],
  ): void {
    const local = this.rows.localWire(entry, c.entityId);
    const central = c.data as WireRow;
    const lastLocal = pending[pending.length - 1] as { hlc: string | null; created_at: string };
    const terminalHlc = lastLocal.hlc ?? formatHlc({ physical: Date.parse(lastLocal.created_at), counter: 0, node: this.base.node });
    const base = state?.base ? (JSON.parse(state.base) as WireRow) : null;
    const ids = pending.map((p) => p.id);
    const effect = conflictEffect(decideConflict(conflictInput(entry, { base, terminal: local ?? {}, central, terminalHlc, centralHlc: c.hlc })));
    if (effect.toTerminal) {
      // Central's row (or the merge) stands here; our pending changes give way to it.
      const merged = effect.toCentral;
      let localId = 0;
      if (!merged && c.deleted) {
        this.rows.deleteLocal(entry, c.entityId);
        this.rows.forgetRow(entry.table, c.entityId);
      } else {
        localId = this.rows.writeLocal(entry, c.entityId, effect.row ?? central);
        this.rows.setRowState(entry.table, c.entityId, c.version, central);
      }
      this.outbox.supersede(ids, merged ? 'superseded: merged with central' : 'superseded: central won the conflict');
      // The merged row still has to reach central, on top of central's version.
      if (merged) this.queueMerged(entry, c.entityId, localId);
    } else if (effect.toCentral) {
      // Keep ours; our pending change now builds on central's version and goes through.
      this.rows.setRowState(entry.table, c.entityId, c.version, central);
      this.outbox.rebase(ids, c.version);
    }
    // Nothing applied while parked: our pending change goes up and central parks it for a supervisor.
    this.conflicts.recordConflict(entry, c.entityId, {
      id: undefined,
      status: effect.record,
      base,
      terminal: local,
      central,
      centralVersion: c.version,
      resolution: effect.record === 'open' ? null : effect.resolution,
    });
  }

  /** Queues the merged row of a pull conflict as an update. */
  private queueMerged(entry: CatalogEntry, serverId: string, localId: number): void {
    const { row, image } = this.rows.imageOf(entry, localId);
    this.outbox.insert({ table: entry.table, localId, serverId, operation: 'UPDATE', newImage: image, priority: priorityOf(entry.priority, row) });
  }

  /**
   * What writing a page's rows needs to know, read once for the page: the local ids of
   * its rows (a row appears at most once in a page), whether any row of the table waits
   * for a foreign key target (else there is nothing to clear per row), and the local
   * ids of other tables' rows it points at, remembered once found.
   */
  pageLookups(entry: CatalogEntry, idsJson: string): PageLookups {
    const base = this.base;
    const localIds = new Map<string, number>();
    if (base.tables.has(entry.table)) {
      const rows = base
        .stmt(`SELECT ${q(LOCAL_SERVER_ID)} AS s, ${q(LOCAL_KEY)} AS id FROM ${q(entry.table)} WHERE ${q(LOCAL_SERVER_ID)} IN (SELECT value FROM json_each(?))`)
        .all(idsJson) as { s: string; id: number }[];
      for (const r of rows) localIds.set(r.s, r.id);
    }
    const unresolved = base.stmt('SELECT 1 FROM tillsync_unresolved WHERE table_name = ? LIMIT 1').get(entry.table) !== undefined;
    const found = new Map<string, number>();
    const fk: ForeignKeys = {
      serverIdOf: base.fk.serverIdOf,
      localIdOf: (table, serverId) => {
        // The page's own table changes as the page is written (a row may point at one written before it).
        if (table === entry.table) return base.fk.localIdOf(table, serverId);
        const key = rowKey(table, serverId);
        const known = found.get(key);
        if (known !== undefined) return known;
        const id = base.fk.localIdOf(table, serverId);
        if (id !== null) found.set(key, id);
        return id;
      },
    };
    return { localIds, unresolved, fk, fresh: new FreshRows() };
  }
}
