/**
 * Push: a terminal's batch of changes, applied in one transaction. Every change
 * gets an answer (applied, duplicate, conflict, rejected) with the row's new
 * version. Change ids make apply idempotent: a replayed batch gets the same
 * answers and writes nothing.
 *
 * This file holds the request, the transaction and its retries. The decision is
 * pure: push-decide.ts for one change, push-batch.ts for the batch's order and
 * writes; the read and write statements are in push-statements.ts.
 */
import { randomUUID } from 'node:crypto';
import { CENTRAL_SYNC_COLUMNS, entryForEntity, type CatalogEntry, type WireRow } from '../../shared/catalog/index.js';
import type { PushChange, PushRequest, PushResponse, PushResult } from '../../shared/protocol.js';
import type { Database, Queryable } from '../db/database.js';
import { retryTransient } from '../db/retry.js';
import { ident } from '../db/sql.js';
import type { Metrics } from '../metrics.js';
import type { Acting } from './fleet.js';
import { changeIdOf, contentHashOf } from './change-ids.js';
import { parentRefs } from './parents.js';
import { answersOnRows, decideBatch, foldConflicts, keyOf, tableWrites, type Work } from './push-batch.js';
import { answerRepeat, answerSeen, rejected, staticCheck } from './push-decide.js';
import { GroupCommit } from './push-group.js';
import { readBatch, writeBatch, type OwnedConflict, type SettledAnswer } from './push-statements.js';

export { changeIdOf } from './change-ids.js';

export interface PushOptions {
  readonly maxClockDriftMs: number;
  /**
   * Push transactions run at once (each carries a group of pushes: push-group.ts);
   * default 2 on PostgreSQL, 1 on PGlite (its one connection runs one at a time).
   */
  readonly groupsInFlight?: number;
  /** Most transactions at once, counting those running longer than groupStallMs; default groupsInFlight. */
  readonly groupsMaxInFlight?: number;
  /** How long a push transaction runs before the next group may start beside it; default 200 ms. */
  readonly groupStallMs?: number;
  /** Most changes in one group (a larger push runs alone); default 1,000. */
  readonly groupMaxChanges?: number;
  /** Most pushes in one group; default 100 (1: every push its own transaction). */
  readonly groupMaxMembers?: number;
}

/** One terminal's push waiting for, or in, a group transaction. */
interface Member {
  readonly acting: Acting;
  readonly work: readonly Work[];
  /** Its answers, by the change's index in the request. */
  readonly results: (PushResult | undefined)[];
  /** Answers given before any transaction (refusals); put back when a transaction runs again. */
  readonly upfront: readonly { index: number; result: PushResult }[];
}

export class PushService {
  private readonly groups: GroupCommit<Member>;

  constructor(
    private readonly db: Database,
    private readonly opts: PushOptions,
    private readonly metrics: Metrics,
  ) {
    this.groups = new GroupCommit<Member>({
      inFlight: opts.groupsInFlight ?? (db.kind === 'pglite' ? 1 : 2),
      maxInFlight: opts.groupsMaxInFlight,
      stallMs: opts.groupStallMs,
      maxChanges: opts.groupMaxChanges ?? 1000,
      maxMembers: opts.groupMaxMembers ?? 100,
      keysOf: (m) => ({
        terminalId: m.acting.terminalId,
        rows: m.work.map((w) => keyOf(w.change.entityType, w.change.entityId)),
        changeIds: m.work.map((w) => w.changeId),
        size: m.work.length,
      }),
      run: (members) =>
        retryOnContention(() =>
          this.db.transaction(async (tx) => {
            for (const m of members) {
              m.results.fill(undefined, 0, m.results.length);
              for (const r of m.upfront) m.results[r.index] = r.result;
            }
            await this.applyGroup(tx, members);
          }),
        ),
      onGroup: (size) => this.metrics.pushGroups.observe(size),
    });
  }

  async push(acting: Acting, req: PushRequest): Promise<PushResponse> {
    const results: (PushResult | undefined)[] = new Array(req.changes.length);
    const work: Work[] = [];
    const firstOf = new Map<string, { index: number; hash: string }>();
    const repeats: { index: number; first: number; hash: string }[] = [];
    const rejectedUpfront: { index: number; result: PushResult }[] = [];
    const nowMs = Date.now();

    req.changes.forEach((change, index) => {
      const changeId = changeIdOf(acting.terminalId, change);
      const entry = entryForEntity(change.entityType) as CatalogEntry; // validated by the schema
      const rejection = staticCheck(entry, change, req.schemaHashes, this.opts.maxClockDriftMs, nowMs);
      if (rejection) {
        results[index] = rejected(changeId, change, rejection);
        rejectedUpfront.push({ index, result: results[index] });
        return;
      }
      const hash = contentHashOf(change);
      const first = firstOf.get(changeId);
      if (first !== undefined) {
        repeats.push({ index, first: first.index, hash });
        return;
      }
      firstOf.set(changeId, { index, hash });
      const parents = change.operation === 'DELETE' ? [] : parentRefs(entry, change.data as WireRow | undefined);
      work.push({ index, changeId, hash, change, entry, parents });
    });

    if (work.length > 0) await this.groups.submit({ acting, work, results, upfront: rejectedUpfront });

    for (const { index, first, hash } of repeats) {
      const r = results[first] as PushResult;
      results[index] = answerRepeat(r, hash === firstOf.get(r.changeId)?.hash, req.changes[index] as PushChange);
    }

    const final = results as PushResult[];
    const summary = { applied: 0, duplicate: 0, conflict: 0, rejected: 0 };
    this.metrics.pushes.inc();
    // Counted per (type, status) first: one metric update per kind, not one per change.
    const counted = new Map<string, { entity_type: string; status: string; n: number }>();
    for (const r of final) {
      summary[r.status]++;
      const key = `${r.entityType}\u0000${r.status}`;
      const c = counted.get(key);
      if (c) c.n++;
      else counted.set(key, { entity_type: r.entityType, status: r.status, n: 1 });
      if (r.status === 'conflict') this.metrics.conflicts.inc({ entity_type: r.entityType, resolution: r.resolution ?? '' });
    }
    for (const { entity_type, status, n } of counted.values()) this.metrics.pushedChanges.inc({ entity_type, status }, n);
    return { terminalId: acting.terminalId, results: final, summary, serverTime: new Date().toISOString() };
  }

  /**
   * Two statements between BEGIN and COMMIT, whatever the group of pushes holds:
   *
   * 1. Read: the answers already given to these change ids, the rows the group touches
   *    (locked, table by table in catalog order, by id), its terminals' open conflicts
   *    on them, and the writer's identity set per row for the capture triggers.
   * 2. Write: every table's upsert (each row with its writer), the conflict records and
   *    the answers, in one statement; each answer is written once, with its final
   *    status and version: a row's last plain `applied` change on the row itself
   *    (sync_change_id), every other answer in sync_applied.
   *
   * Between them every change is decided in memory (push-batch.ts, push-decide.ts),
   * push by push: the members write disjoint rows (push-group.ts), so this is deciding
   * them one after the other. A change id found in step 1 (in sync_applied or on its
   * locked row) is answered from its stored answer and not applied again. A change id
   * that a concurrent push committed after step 1 read (its answer insert finds the id
   * taken, or its new row exists) rolls this whole transaction back; the retry then
   * finds it in step 1 and answers it as a duplicate: a change is applied once.
   */
  private async applyGroup(tx: Queryable, members: readonly Member[]): Promise<void> {
    // 1. Read and lock.
    const { types, byType, slots, prior, parents, answersPurgedThrough, purgedTypes } = await readBatch(tx, members);
    const now = new Date().toISOString();
    const answers: SettledAnswer[] = [];
    const conflicts: OwnedConflict[] = [];
    const decided: { member: Member; wroteRow: ReadonlySet<number> }[] = [];
    const refusedHere: Work[] = [];
    for (const m of members) {
      const { acting, results } = m;
      const todo: Work[] = [];
      for (const w of m.work) {
        const p = prior.get(w.changeId);
        if (p) results[w.index] = answerSeen(w, p, acting);
        else todo.push(w);
      }
      if (todo.length === 0) continue;

      // 2. Decide every change in batch order (pure), remembering the writes.
      // Changes made before the newest answer the purge removed may be replays (push-decide's maybeReplay).
      const purgedThrough = answersPurgedThrough.get(acting.terminalId);
      const replayHorizonMs = purgedThrough === undefined ? undefined : Date.parse(purgedThrough) + this.opts.maxClockDriftMs;
      const clock = { now, newId: randomUUID, replayHorizonMs, purgedTypes };
      const { wroteRow, conflictRows, lastWriter } = decideBatch(todo, slots, parents, acting, clock, results);
      // A row's last plain `applied` change keeps its answer on the row (no sync_applied record).
      const onRow = answersOnRows(lastWriter, slots, results);
      // Each row carries its writer (the stamp trigger takes it: migration 0008).
      for (const key of lastWriter.keys()) {
        const slot = slots.get(key);
        if (slot?.write) slot.write = { ...slot.write, origin: acting.terminalId };
      }
      for (const c of foldConflicts(conflictRows)) conflicts.push({ ...c, terminalId: acting.terminalId, storeId: acting.storeId });
      for (const w of todo) {
        const r = results[w.index] as PushResult;
        // A refusal writes nothing (a replay is judged afresh).
        if (r.status === 'rejected') {
          refusedHere.push(w);
          continue;
        }
        answers.push({ work: w, terminalId: acting.terminalId, result: r, wroteRow: wroteRow.has(w.index), onRow: onRow.has(w.index) });
      }
      decided.push({ member: m, wroteRow });
    }

    // A refusal decided here writes nothing, so no unique id would tell it that its change
    // was answered meanwhile: a replay that waited for its row's lock while another write
    // moved its answer off the row into sync_applied (HQ moving an order to another store),
    // or a resend refused while the push that first sent it commits it, would be refused.
    // A new statement sees what committed since the read; an answer found there (in
    // sync_applied or on its row) runs the group again, which answers it a duplicate.
    if (refusedHere.length > 0 && (await answeredMeanwhile(tx, refusedHere))) {
      throw new WrittenMeanwhile('a change refused here was answered by a concurrent write');
    }

    // 3. Write everything in one statement.
    const { writesByType, inserted } = tableWrites(types, byType, slots);
    if (answers.length === 0 && writesByType.size === 0 && conflicts.length === 0) return;
    const written = await writeBatch(tx, { writesByType, conflicts, answers });

    const versions = new Map<string, number>();
    const recorded = new Set<string>();
    for (const r of written) {
      if (r.kind === 'row') versions.set(keyOf(r.entity_type as string, r.id), Number(r.version));
      else recorded.add(r.id);
    }
    if (answers.some((a) => !a.onRow && !recorded.has(a.work.changeId))) throw new WrittenMeanwhile('a change id of this batch was applied by a concurrent push');
    // A row this batch found missing that a concurrent write created first: judge the batch again against it.
    if (inserted.some((k) => !versions.has(k))) throw new WrittenMeanwhile('a row this batch creates was created by a concurrent write');
    for (const { member, wroteRow } of decided) {
      for (const w of member.work) {
        if (!wroteRow.has(w.index)) continue;
        const r = member.results[w.index] as PushResult;
        member.results[w.index] = { ...r, version: versions.get(keyOf(w.change.entityType, w.change.entityId)) ?? r.version };
      }
    }
  }
}

/**
 * A concurrent write committed first what this batch was about to write: one of its
 * change ids (the run again answers it as a duplicate) or a row it found missing (the
 * run again judges the change against that row).
 */
class WrittenMeanwhile extends Error {
  override name = 'WrittenMeanwhile';
}

/** Whether any of these changes has an answer now (in sync_applied, or on its row), in a statement of its own. */
async function answeredMeanwhile(tx: Queryable, changes: readonly Work[]): Promise<boolean> {
  const ids = changes.map((w) => w.changeId);
  const byEntry = new Map<CatalogEntry, string[]>();
  for (const w of changes) byEntry.set(w.entry, [...(byEntry.get(w.entry) ?? []), w.change.entityId]);
  const params: unknown[] = [ids];
  const branches = ['SELECT 1 FROM sync_applied WHERE change_id = ANY($1::text[])'];
  for (const [entry, rowIds] of byEntry) {
    params.push(rowIds);
    branches.push(`SELECT 1 FROM ${ident(entry.centralName)} WHERE id = ANY($${params.length}::text[]) AND ${CENTRAL_SYNC_COLUMNS.changeId} = ANY($1::text[])`);
  }
  const r = await tx.query(`SELECT 1 FROM (${branches.join(' UNION ALL ')}) x LIMIT 1`, params);
  return r.rows.length > 0;
}

/** Runs a push's transaction again: at once when a concurrent push wrote first, after a pause on a deadlock. */
function retryOnContention<T>(fn: () => Promise<T>): Promise<T> {
  // At once: the retry finds the answers the other push committed.
  return retryTransient(fn, { attempts: 4, maxPauseMs: 40, immediately: (err) => err instanceof WrittenMeanwhile });
}
