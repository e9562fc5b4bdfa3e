/**
 * The order in which a batch's changes are decided, and what the batch then writes,
 * pure: every change in batch order against its row's slot (push-decide.ts), a change
 * whose parent a later change of the batch creates after that parent; then the
 * writes gathered per table and the conflict records folded per conflict. No
 * database: the caller reads the slots and the parents' stores, and writes the result.
 */
import type { CatalogEntry, WireValue } from '../../shared/catalog/index.js';
import type { PushChange, PushResult } from '../../shared/protocol.js';
import type { Acting } from './fleet.js';
import { judgeParents, type ParentRef, type ParentState } from './parents.js';
import { applyToSlot, decideChange, rejected, type ConflictInsert, type DecideClock, type Slot } from './push-decide.js';
import type { RowWrite } from './rows.js';

/** The key of a row (or a parent) in the batch's maps. */
export const keyOf = (entityType: string, entityId: string) => `${entityType}\u0000${entityId}`;

/** One change of a batch to apply. */
export interface Work {
  readonly index: number;
  readonly changeId: string;
  /** Digest of the change's content (see contentHashOf), kept with its answer. */
  readonly hash: string;
  readonly change: PushChange;
  readonly entry: CatalogEntry;
  /** The parents its data points at (see parents.ts). */
  readonly parents: readonly ParentRef[];
}

/** What the decisions of a batch have produced beside the answers. */
export interface Decided {
  /** Indexes of the changes whose answer carries the version their row's upsert returns. */
  readonly wroteRow: Set<number>;
  readonly conflictRows: ConflictInsert[];
  /** Per row key, the change whose decision wrote the row last (its image is the one written). */
  readonly lastWriter: Map<string, Work>;
}

/**
 * Decides every change of `todo` in batch order (answers into `results`, rows into
 * `slots`). A change whose parent a later change of the batch creates waits for it
 * (and so do the later changes of its row); a pass that decides nothing judges the
 * waiting ones against the parents as they are. `parents`: the stores of the parents
 * at central that the batch does not write (null: global).
 */
export function decideBatch(
  todo: readonly Work[],
  slots: ReadonlyMap<string, Slot>,
  parents: ReadonlyMap<string, WireValue>,
  acting: Acting,
  clock: DecideClock,
  results: (PushResult | undefined)[],
): Decided {
  const wroteRow = new Set<number>();
  const conflictRows: ConflictInsert[] = [];
  const lastWriter = new Map<string, Work>();
  const undecidedCreates = new Map<string, number>();
  for (const w of todo) {
    if (w.change.operation === 'DELETE') continue;
    const k = keyOf(w.change.entityType, w.change.entityId);
    undecidedCreates.set(k, (undecidedCreates.get(k) ?? 0) + 1);
  }
  const parentState = (ref: ParentRef, lastPass: boolean): ParentState => {
    const key = keyOf(ref.parent.entityType, ref.id);
    const slot = slots.get(key);
    if (slot?.row) return { kind: 'present', store: ref.parent.centralStoreColumn ? (slot.row.wire[ref.parent.centralStoreColumn] ?? null) : null };
    if (!slot) return parents.has(key) ? { kind: 'present', store: parents.get(key) ?? null } : { kind: 'absent' };
    return !lastPass && (undecidedCreates.get(key) ?? 0) > 0 ? { kind: 'later' } : { kind: 'absent' };
  };
  let queue = todo;
  let lastPass = false;
  while (queue.length > 0) {
    const waiting: Work[] = [];
    const waitingRows = new Set<string>();
    for (const w of queue) {
      const key = keyOf(w.change.entityType, w.change.entityId);
      if (!waitingRows.has(key)) {
        const verdict = judgeParents(w.entry, w.change.entityId, w.parents, (ref) => parentState(ref, lastPass), acting.storeId);
        if (verdict.kind !== 'wait') {
          if (w.change.operation !== 'DELETE') undecidedCreates.set(key, (undecidedCreates.get(key) ?? 1) - 1);
          if (verdict.kind === 'refuse') {
            results[w.index] = rejected(w.changeId, w.change, { code: verdict.code, message: verdict.message });
            continue;
          }
          const slot = slots.get(key) as Slot;
          const decided = decideChange(w, slot, acting, clock);
          results[w.index] = decided.result;
          applyToSlot(slot, decided, acting.terminalId, clock.now);
          if (decided.write) {
            wroteRow.add(w.index);
            lastWriter.set(key, w);
          }
          if (decided.conflict) conflictRows.push(decided.conflict);
          continue;
        }
      }
      waiting.push(w);
      waitingRows.add(key);
    }
    lastPass = waiting.length === queue.length;
    queue = waiting;
  }
  return { wroteRow, conflictRows, lastWriter };
}

/**
 * The changes whose answer lives on their row instead of in sync_applied, and the row
 * writes made to carry it: a row's last writer in the batch, answered a plain
 * `applied` (its answer is then its id, its row and the row's new version, all on the
 * row). Every other answer (a conflict, an earlier change of the same row, a change
 * that wrote nothing) is kept in sync_applied. The stamp trigger moves a row's answer
 * there when the row is written again.
 */
export function answersOnRows(lastWriter: ReadonlyMap<string, Work>, slots: ReadonlyMap<string, Slot>, results: readonly (PushResult | undefined)[]): Set<number> {
  const onRow = new Set<number>();
  for (const [key, w] of lastWriter) {
    const r = results[w.index];
    const slot = slots.get(key);
    if (!r || r.status !== 'applied' || !slot?.write) continue;
    slot.write = { ...slot.write, changeId: w.changeId, changeHash: w.hash };
    onRow.add(w.index);
  }
  return onRow;
}

/** A table's writes: rows the read step found (updated) and rows it did not (inserted, if still missing). */
export interface TableWrites {
  readonly inserts: RowWrite[];
  readonly updates: RowWrite[];
}

/**
 * The rows the slots say to write, per table in the order of `types`, and the keys of
 * those to insert (rows the read did not find). A refusal writes nothing.
 */
export function tableWrites(
  types: readonly CatalogEntry[],
  byType: ReadonlyMap<CatalogEntry, ReadonlySet<string>>,
  slots: ReadonlyMap<string, Slot>,
): { writesByType: Map<CatalogEntry, TableWrites>; inserted: string[] } {
  const writesByType = new Map<CatalogEntry, TableWrites>();
  const inserted: string[] = [];
  for (const entry of types) {
    const writes: TableWrites = { inserts: [], updates: [] };
    for (const id of byType.get(entry) as ReadonlySet<string>) {
      const slot = slots.get(keyOf(entry.entityType, id)) as Slot;
      if (!slot.write) continue;
      if (slot.existed) writes.updates.push(slot.write);
      else {
        writes.inserts.push(slot.write);
        inserted.push(keyOf(entry.entityType, id));
      }
    }
    if (writes.inserts.length + writes.updates.length > 0) writesByType.set(entry, writes);
  }
  return { writesByType, inserted };
}

/**
 * Several changes of one batch parked on one conflict: one record, as the inserts one
 * after another would have left it (the first change's status and strategy, the last
 * change's terminal image and central side, the first base known).
 */
export function foldConflicts(rows: readonly ConflictInsert[]): ConflictInsert[] {
  const byId = new Map<string, ConflictInsert>();
  for (const c of rows) {
    const had = byId.get(c.id);
    byId.set(
      c.id,
      had
        ? { ...had, changeId: c.changeId, terminal: c.terminal, central: c.central, centralVersion: c.centralVersion, base: had.base ?? c.base }
        : c,
    );
  }
  return [...byId.values()];
}
