/**
 * Central's answers to a push, recorded in one transaction: versions and bases for
 * accepted changes, central's row where central won or merged, parked conflicts,
 * refusals and backoff. What a conflict answer writes is conflictEffect's map.
 */
import type { WireRow } from '../../../shared/catalog/index.js';
import { conflictEffect, conflictInput, mergeRows, type ConflictOutcome } from '../../../shared/conflict.js';
import type { PushResponse, PushResult } from '../../../shared/protocol.js';
import { nowIso, type StoreBase } from './base.js';
import type { OutgoingBatch, OutgoingChange } from './batch-rules.js';
import type { Capture } from './capture.js';
import type { Conflicts } from './conflicts.js';
import type { Cursors } from './cursors.js';
import type { Outbox, RetryPolicy } from './outbox.js';
import type { Rows } from './rows.js';

export interface PushRecord {
  synced: number;
  conflicts: number;
  failed: number;
  paused: string[];
  /** Entries of changes central's answer left out (backed off, or failed once out of tries). */
  unanswered: number;
}

/** Central's conflict answer as an outcome (undefined: not a conflict, or no resolution given). */
function answeredOutcome(r: PushResult): ConflictOutcome | undefined {
  if (r.status !== 'conflict' || r.resolution === undefined) return undefined;
  if (r.resolution === 'PARKED') return { kind: 'PARKED' };
  return { kind: r.resolution, row: (r.data ?? {}) as WireRow };
}

export class Answers {
  constructor(
    private readonly base: StoreBase,
    private readonly capture: Capture,
    private readonly outbox: Outbox,
    private readonly rows: Rows,
    private readonly conflicts: Conflicts,
    private readonly cursors: Cursors,
  ) {}

  /**
   * Records central's answers in one transaction: versions and bases for accepted
   * changes, central's row where central won, parked conflicts, refusals.
   */
  recordPush(
    batch: OutgoingBatch,
    response: PushResponse,
    maxDriftMs: number,
    retry: RetryPolicy = { maxRetries: 3, retryDelayMs: 1000, now: Date.now() },
  ): PushRecord {
    const byId = new Map(response.results.map((r) => [r.changeId, r]));
    let synced = 0;
    let conflicts = 0;
    let failed = 0;
    const paused = new Set<string>();
    /**
     * Entries of changes central gave no answer for (central answers every change; a
     * broken one or a proxy may not): backed off as after a failed push. Left eligible,
     * a retried one would be sent again at every rebuild of the pass.
     */
    const unanswered: number[] = [];
    this.base.applying(() => {
      // Whatever settles the outbox sees every captured write first.
      this.capture.promoteInline();
      // Accepted changes are settled together after the loop, a statement each, not per row.
      const settled: [number, number, string | null][] = [];
      const states: [string, string, number, WireRow | null][] = [];
      const forgotten: [string, string][] = [];
      /** Entries refused MISSING_PARENT: backed off together below. */
      const waitingForParent: number[] = [];
      let lastWhy = '';
      const settledRows: [string, string, number][] = [];
      /** Entries sent again after central was restored (store/restored.ts). */
      const resent = response.results.some((r) => r.status === 'duplicate') ? this.outbox.resentAmong(batch.changes.flatMap((c) => c.entryIds)) : new Set<number>();
      for (const out of batch.changes) {
        const raw = byId.get(out.change.changeId as string);
        if (!raw) {
          unanswered.push(...out.entryIds);
          continue;
        }
        if (raw.status === 'duplicate' && out.entryIds.every((id) => resent.has(id))) {
          // Sent again after central's restore, and central still has it: its answer is the
          // one this till recorded when it was first sent (and has built on since: later
          // versions, central's row taken). Nothing but the entry's status changes.
          for (const id of out.entryIds) settled.push([id, raw.version ?? 0, 'duplicate: central still had it after its restore']);
          synced += out.entryIds.length;
          continue;
        }
        const r: PushResult = raw.status === 'duplicate' && raw.originalStatus ? { ...raw, status: raw.originalStatus } : raw;
        const table = out.entry.table;
        const serverId = out.change.entityId;
        if (r.status === 'rejected') {
          if (r.error?.code === 'SCHEMA_MISMATCH') {
            paused.add(table);
            this.cursors.pauseTable(table, r.error.message);
            // Not the change's fault: it waits, unchanged, until the table syncs again.
            this.outbox.takeBack(out.entryIds);
            continue;
          }
          const why = `${r.error?.code ?? 'REJECTED'}: ${r.error?.message ?? 'refused by central'}`;
          if (r.error?.code === 'MISSING_PARENT') {
            // Its parent is on its way (behind in the queue, or in a batch that failed):
            // the change waits and goes again, as after a failed push, not failed for good.
            waitingForParent.push(...out.entryIds);
            lastWhy = why;
            continue;
          }
          this.outbox.reject(out.entryIds, why);
          failed += out.entryIds.length;
          continue;
        }
        const outcome = answeredOutcome(r);
        const effect = outcome ? conflictEffect(outcome) : undefined;
        const baseData = (out.change.baseData as WireRow | undefined) ?? null;
        if (effect?.record === 'open') {
          this.outbox.park(out.entryIds, r.conflictId ?? null, 'parked at central for a supervisor (MANUAL_MERGE)');
          this.conflicts.dropLocal(table, serverId);
          this.conflicts.recordConflict(out.entry, serverId, {
            id: r.conflictId,
            status: 'open',
            base: baseData,
            terminal: out.wire,
            central: null,
            centralVersion: r.version,
            resolution: null,
          });
          conflicts += out.entryIds.length;
          continue;
        }
        // Accepted. Where central's row won or was merged, take it.
        const version = r.version ?? 0;
        let base: WireRow | null = out.wire;
        if (effect?.toTerminal && r.data) {
          const data = r.data as WireRow & { _deleted?: boolean };
          const { _deleted, ...row } = data;
          if (_deleted) this.rows.deleteLocal(out.entry, serverId);
          else this.takeCentral(out, row);
          base = row;
          this.conflicts.recordConflict(out.entry, serverId, {
            id: r.conflictId,
            status: effect.record,
            base: baseData,
            terminal: out.wire,
            central: row,
            centralVersion: version,
            resolution: effect.resolution,
          });
          conflicts += out.entryIds.length;
        }
        const note = r.status === 'conflict' ? `conflict: ${r.resolution}` : null;
        for (const id of out.entryIds) settled.push([id, version, note]);
        settledRows.push([table, serverId, Math.min(...out.entryIds)]);
        if (out.change.operation === 'DELETE' && r.status !== 'conflict') forgotten.push([table, serverId]);
        else if (version > 0) states.push([table, serverId, version, base]);
        synced += out.entryIds.length;
        this.base.observe(out.change.hlc, maxDriftMs, { persist: false });
      }
      const now = nowIso();
      this.outbox.accept(settled, now);
      // An older failed change of a row is superseded by the newer one just accepted.
      this.outbox.overtaken(settledRows, now);
      if (waitingForParent.length > 0) failed += this.outbox.backOff(waitingForParent, lastWhy, retry);
      if (unanswered.length > 0) failed += this.outbox.backOff(unanswered, 'NO_ANSWER: central gave no answer for this change; it goes again later', retry);
      this.rows.setRowStates(states);
      for (const [table, serverId] of forgotten) this.rows.forgetRow(table, serverId);
      this.base.saveClock();
      for (const t of new Set(batch.changes.map((c) => c.entry.table))) {
        if (!paused.has(t)) this.cursors.stampPush(t);
      }
    });
    return { synced, conflicts, failed, paused: [...paused], unanswered: unanswered.length };
  }

  /**
   * Writes central's row for a change we sent, with what the POS wrote since we sent
   * it put back on top (counters as deltas, other fields where the POS changed them).
   * The newer, unsent entries are rewritten to that row, so they carry the POS's edits
   * on top of central's and nothing is lost on either side.
   */
  takeCentral(out: OutgoingChange, central: WireRow): void {
    const newer = this.outbox.unsentOf(out.entry.table, out.change.entityId);
    const ours = newer.length > 0 ? this.rows.localWire(out.entry, out.change.entityId) : null;
    if (!ours) {
      this.rows.writeLocal(out.entry, out.change.entityId, central);
      return;
    }
    const rebased = mergeRows(
      conflictInput(out.entry, { base: out.wire ?? central, terminal: ours, central, terminalHlc: this.base.tick(), centralHlc: null }),
    );
    const localId = this.rows.writeLocal(out.entry, out.change.entityId, rebased);
    this.outbox.rewriteImage(newer, this.rows.imageOf(out.entry, localId).image);
  }

  /** The batch did not get an answer: back off, and after maxRetries mark its entries failed. */
  recordPushFailure(batch: OutgoingBatch, error: string, opts: RetryPolicy): number {
    const ids = batch.changes.flatMap((c) => c.entryIds);
    let failed = 0;
    this.base.db
      .transaction(() => {
        failed = this.outbox.backOff(ids, error, opts);
      })
      .immediate();
    return failed;
  }
}
