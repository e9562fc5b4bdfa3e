/**
 * Central's push decision for one change, pure: given the change, its catalog entry,
 * the row as the batch has left it (its slot) and the batch's clock, what central
 * answers, the row image it writes and the conflict record it keeps. No database: the
 * caller reads the rows and writes what comes out (push.ts, push-statements.ts).
 *
 * Also the answers to change ids already settled (a replay, a reused or a taken id)
 * and the refusals that need no row at all (direction, append-only, schema and clock
 * drift).
 */
import { CENTRAL_KEY, pushable, type CatalogEntry, type WireRow } from '../../shared/catalog/index.js';
import { conflictEffect, conflictInput, decideConflict } from '../../shared/conflict.js';
import { parseHlc } from '../../shared/hlc.js';
import type { PushChange, PushRequest, PushResult } from '../../shared/protocol.js';
import type { Acting } from './fleet.js';
import type { CentralRow, RowWrite } from './rows.js';

export interface Rejection {
  readonly code: string;
  readonly message: string;
}

/** A change to decide: the id it is known by, what it says, and its table. */
export interface ChangeToDecide {
  readonly changeId: string;
  readonly change: PushChange;
  readonly entry: CatalogEntry;
}

/** Row state while a batch is decided: what central has, as this batch leaves it. */
export interface Slot {
  row: CentralRow | undefined;
  /** Version the row had before this batch wrote it (a terminal's later change in the same batch saw that). */
  versionBeforeBatch: number | undefined;
  write: RowWrite | undefined;
  openConflictId: string | undefined;
  /** The read found the row (locked): its write updates it. Otherwise the write inserts it. */
  readonly existed: boolean;
}

export const freshSlot = (row: CentralRow | undefined): Slot => ({
  row,
  versionBeforeBatch: undefined,
  write: undefined,
  openConflictId: undefined,
  existed: row !== undefined,
});

/** A conflict record to insert (or, for a change parked on an open conflict, to update). */
export interface ConflictInsert {
  id: string;
  entityType: string;
  entityId: string;
  changeId: string;
  strategy: string;
  status: 'open' | 'resolved';
  base: unknown;
  terminal: unknown;
  central: unknown;
  centralVersion: number | null;
  resolution: string | null;
}

/** What central does with one change: its answer, and the row and conflict record to write (if any). */
export interface Decision {
  result: PushResult;
  write?: RowWrite;
  conflict?: ConflictInsert;
}

/** The batch's clock: its timestamp (tombstones, updated_at) and where new conflict ids come from. */
export interface DecideClock {
  readonly now: string;
  readonly newId: () => string;
  /**
   * The purge has removed this terminal's answers up to about this instant (ms; the
   * newest removed answer's time plus the clock drift allowed): a change of the
   * terminal's made before it that central has no answer for may be one it settled
   * (see maybeReplay). Undefined: none of its answers was removed.
   */
  readonly replayHorizonMs?: number;
  /** Entity types whose tombstones the purge has removed (some rows of them are gone for good). */
  readonly purgedTypes?: ReadonlySet<string>;
}

/**
 * The row a change meets: the batch's slot, or, where central no longer has the row at
 * all although the terminal had it from central (it names a version) and the purge has
 * removed tombstones of the table, that row's purged tombstone: its last image as the
 * terminal knew it (the change's base), deleted. The change is then judged against a
 * deletion, by the table's strategy, as it would have been with the tombstone kept:
 * a purge never lets an old edit bring back a row central deleted where central wins.
 * Its version is one past the change's, the least a deletion made after it has.
 */
export function rowMet(c: ChangeToDecide, slot: Readonly<Slot>, clock: Pick<DecideClock, 'purgedTypes' | 'now'>): CentralRow | undefined {
  if (slot.row || slot.existed || c.change.syncVersion === 0 || !clock.purgedTypes?.has(c.entry.entityType)) return slot.row;
  return {
    wire: { ...((c.change.baseData as WireRow | null | undefined) ?? {}), [CENTRAL_KEY]: c.change.entityId },
    version: c.change.syncVersion + 1,
    hlc: null,
    origin: null,
    deletedAt: clock.now,
    updatedAt: clock.now,
  };
}

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** When a change was made: its clock, else its uuid7 id's time (undefined: it says neither). */
export function mintedAt(change: Pick<PushChange, 'hlc'>, changeId: string): number | undefined {
  const h = change.hlc ? parseHlc(change.hlc) : undefined;
  if (h) return h.physical;
  if (UUID7.test(changeId)) return parseInt(changeId.slice(0, 8) + changeId.slice(9, 13), 16);
  return undefined;
}

/**
 * Whether a change central has no answer for may be a replay of one whose answer the
 * purge removed (pure): the terminal's answers before `horizonMs` are gone and this
 * change was made before then (one that does not say when it was made may be anything).
 * Such a change is applied only where the row proves it never was (decideChange): its
 * version is still the one the change was made on.
 */
export function maybeReplay(change: Pick<PushChange, 'hlc'>, changeId: string, horizonMs: number | undefined): boolean {
  if (horizonMs === undefined) return false;
  const made = mintedAt(change, changeId);
  return made === undefined || made <= horizonMs;
}

/**
 * A possible replay that the row says may have been applied already: nothing written,
 * the terminal takes central's row (a row central no longer has at all was deleted and
 * purged: the terminal deletes it too), recorded as a conflict central won.
 */
function keptAgainstReplay(c: ChangeToDecide, current: CentralRow | undefined, base: PushResult, clock: DecideClock): Decision {
  const id = clock.newId();
  const central: WireRow = current ? withDeleted(current) : { [CENTRAL_KEY]: c.change.entityId, _deleted: true };
  return {
    result: { ...base, status: 'conflict', resolution: 'CENTRAL_WINS', conflictId: id, data: central },
    conflict: conflictRecord(id, c, current, 'resolved', 'CENTRAL_WINS'),
  };
}

/** A change id central has already settled: by which terminal, and the answer it got. */
export interface Prior {
  readonly terminalId: string;
  readonly result: PushResult | null;
  /** The content hash kept with the answer (null for answers kept before hashes were). */
  readonly hash: string | null;
}

/** Refusals that need no database: direction, append-only, schema drift, clock drift (against `nowMs`). */
export function staticCheck(
  entry: CatalogEntry,
  c: PushChange,
  hashes: PushRequest['schemaHashes'],
  maxClockDriftMs: number,
  nowMs: number,
): Rejection | undefined {
  if (!pushable(entry)) {
    return { code: 'READ_ONLY_TABLE', message: `${entry.entityType} is synced from central to terminals only (direction down)` };
  }
  if (entry.appendOnly && c.operation === 'DELETE') {
    return { code: 'APPEND_ONLY', message: `${entry.entityType} is append-only: rows are never deleted (void or refund instead)` };
  }
  const hash = hashes?.[entry.entityType];
  if (hash !== undefined && hash !== entry.schemaHash) {
    return {
      code: 'SCHEMA_MISMATCH',
      message: `${entry.entityType}: terminal schema ${hash} differs from central ${entry.schemaHash}; sync of this table must pause until both run the same catalog`,
    };
  }
  if (c.hlc) {
    const h = parseHlc(c.hlc);
    if (h && h.physical - nowMs > maxClockDriftMs) {
      return {
        code: 'CLOCK_DRIFT',
        message: `clock ${new Date(h.physical).toISOString()} is ${h.physical - nowMs} ms ahead of central (limit ${maxClockDriftMs} ms); fix the terminal's clock`,
      };
    }
  }
  return undefined;
}

/** One change against the row as the batch has left it. */
export function decideChange(c: ChangeToDecide, slot: Readonly<Slot>, acting: Acting, clock: DecideClock): Decision {
  const { change, entry, changeId } = c;
  const current = rowMet(c, slot, clock);
  const base: PushResult = {
    changeId,
    entityType: change.entityType,
    entityId: change.entityId,
    status: 'applied',
    version: current?.version ?? null,
  };

  // A store-scoped row is the terminal's only if it is of the terminal's store.
  const storeCol = entry.centralStoreColumn;
  const data: WireRow = { ...(change.data ?? {}), [CENTRAL_KEY]: change.entityId };
  // A new row without a store is the terminal's store's (a POS often leaves the column empty).
  // An update that leaves it empty keeps the row's store (the terminal never learnt it).
  if (storeCol && storeCol !== CENTRAL_KEY && (data[storeCol] === undefined || data[storeCol] === null)) {
    if (!current || current.deletedAt) data[storeCol] = acting.storeId;
    else data[storeCol] = current.wire[storeCol] ?? acting.storeId;
  }
  if (storeCol) {
    const stores = [current?.wire[storeCol], data[storeCol]].filter((s) => s !== undefined);
    const foreign = stores.find((s) => s !== acting.storeId);
    if (foreign !== undefined) {
      return {
        result: rejected(changeId, change, {
          code: 'FORBIDDEN_STORE',
          message: `${entry.entityType} ${change.entityId} belongs to store ${String(foreign)}; terminal ${acting.terminalId} writes only store ${acting.storeId}`,
        }),
      };
    }
  }

  if (slot.openConflictId) {
    // The row waits for a supervisor: park this change on the same conflict.
    return {
      result: { ...base, status: 'conflict', resolution: 'PARKED', conflictId: slot.openConflictId },
      conflict: conflictRecord(slot.openConflictId, c, current, 'open', null),
    };
  }

  if (change.operation === 'DELETE' && (!current || current.deletedAt)) {
    return { result: { ...base } }; // nothing (left) to delete
  }

  const expectedVersion = slot.versionBeforeBatch ?? current?.version ?? 0;
  if (maybeReplay(change, changeId, clock.replayHorizonMs)) {
    // Applying a change moves its row's version past the one it was made on, so a row
    // still at that version (or a new row, still missing) proves it was never applied.
    // Any other row may already hold it: central keeps its row, whatever the table's
    // strategy would say (a replayed old image must never win again), and the
    // terminal takes central's row.
    const unapplied = current ? change.syncVersion === expectedVersion : change.syncVersion === 0;
    if (!unapplied) return keptAgainstReplay(c, current, base, clock);
  }

  const image: WireRow = change.operation === 'DELETE' ? { ...(current?.wire ?? {}) } : { ...(current && !current.deletedAt ? current.wire : {}), ...data };
  if (change.operation !== 'DELETE') {
    // A new row needs its required columns; an update may not clear one (NOT NULL at central).
    const missing = entry.wireColumns.filter((col) => col.def.required && (image[col.name] === undefined || image[col.name] === null));
    if (missing.length > 0) {
      const fresh = !current || current.deletedAt;
      return {
        result: rejected(changeId, change, {
          code: 'MISSING_FIELDS',
          message: fresh
            ? `${entry.entityType} ${change.entityId} is new to central and needs ${missing.map((col) => col.name).join(', ')}`
            : `${entry.entityType} ${change.entityId}: ${missing.map((col) => col.name).join(', ')} cannot be cleared (required)`,
        }),
      };
    }
  }
  const hlc = change.hlc ?? current?.hlc ?? null;
  const deleting = change.operation === 'DELETE';

  if (!current || change.syncVersion === expectedVersion) {
    return { result: base, write: rowWrite(entry, image, hlc, deleting ? clock.now : null) };
  }

  // A conflict: central moved on since the terminal last saw the row. The table's
  // strategy decides (decideConflict); conflictEffect says what each side writes.
  const effect = conflictEffect(
    decideConflict(
      conflictInput(entry, {
        base: change.baseData ? (change.baseData as WireRow) : null,
        terminal: deleting ? {} : data,
        central: current.wire,
        terminalHlc: change.hlc ?? null,
        centralHlc: current.hlc,
      }),
    ),
  );
  const id = clock.newId();
  const conflict = conflictRecord(id, c, current, effect.record, effect.record === 'open' ? null : effect.resolution);
  const answer: PushResult = { ...base, status: 'conflict', resolution: effect.resolution, conflictId: id };
  if (effect.row === null) return { result: answer, conflict }; // parked for a supervisor
  // Central takes the row that stands. The terminal's delete stands only where its change
  // wins outright; a merge keeps the row.
  const write = effect.toCentral ? rowWrite(entry, effect.row, hlc, deleting && !effect.toTerminal ? clock.now : null) : undefined;
  if (!effect.toTerminal) return { result: answer, write, conflict };
  // The terminal takes it too: it comes with the answer (central's own row with its tombstone made visible).
  const taken = write ? write.wire : current.deletedAt ? { ...effect.row, _deleted: true } : effect.row;
  return { result: { ...answer, data: taken }, write, conflict };
}

/** A decision's effect on its row's slot: a later change of the batch to the row meets it. */
export function applyToSlot(slot: Slot, decided: Decision, terminalId: string, now: string): void {
  if (decided.write) {
    if (slot.versionBeforeBatch === undefined) slot.versionBeforeBatch = slot.row?.version ?? 0;
    slot.write = decided.write;
    slot.row = {
      wire: decided.write.wire,
      version: (slot.row?.version ?? 0) + 1,
      hlc: decided.write.hlc,
      origin: terminalId,
      deletedAt: decided.write.deletedAt,
      updatedAt: now,
    };
  }
  if (decided.conflict?.status === 'open') slot.openConflictId = decided.conflict.id;
}

/** The answer to a change id central already settled: the same answer as a duplicate, unless another terminal used the id. */
export function answerSeen(c: Pick<ChangeToDecide, 'changeId' | 'change'> & { readonly hash: string }, prior: Prior, acting: Acting): PushResult {
  const first = prior.result;
  if (prior.terminalId !== acting.terminalId || !first) {
    return rejected(c.changeId, c.change, {
      code: 'CHANGE_ID_TAKEN',
      message: `change id ${c.changeId} was already used by another change; change ids must be globally unique`,
    });
  }
  if (prior.hash !== null && prior.hash !== c.hash) return reused(c.changeId, c.change);
  return { ...first, status: 'duplicate', originalStatus: first.status === 'duplicate' ? first.originalStatus : first.status };
}

/** The answer to a change id repeated within one batch, given the first change's answer. */
export function answerRepeat(first: PushResult, sameContent: boolean, change: PushChange): PushResult {
  if (!sameContent) return reused(first.changeId, change);
  if (first.status === 'rejected') return { ...first };
  return { ...first, status: 'duplicate', originalStatus: first.status === 'duplicate' ? first.originalStatus : first.status, entityId: change.entityId };
}

/** A change id already used for a change with other content: refused, never answered as the other change's duplicate. */
export function reused(changeId: string, change: PushChange): PushResult {
  return rejected(changeId, change, {
    code: 'CHANGE_ID_REUSED',
    message: `change id ${changeId} was already used for a change with other content; a change id names one change (send a new id for a new change)`,
  });
}

export function rejected(changeId: string, change: PushChange, why: Rejection): PushResult {
  return {
    changeId,
    entityType: change.entityType,
    entityId: change.entityId,
    status: 'rejected',
    version: null,
    error: why,
  };
}

function conflictRecord(id: string, c: ChangeToDecide, current: CentralRow | undefined, status: 'open' | 'resolved', resolution: string | null): ConflictInsert {
  return {
    id,
    entityType: c.change.entityType,
    entityId: c.change.entityId,
    changeId: c.changeId,
    strategy: c.entry.conflictStrategy,
    status,
    base: c.change.baseData ?? null,
    terminal: c.change.operation === 'DELETE' ? null : { ...(c.change.data ?? {}), id: c.change.entityId },
    central: current ? withDeleted(current) : null,
    centralVersion: current?.version ?? null,
    resolution,
  };
}

/** A row's image with its tombstone made visible to the terminal. */
function withDeleted(row: CentralRow): WireRow {
  return row.deletedAt ? { ...row.wire, _deleted: true } : row.wire;
}

/** A whole row image to write (see fill), with its clock and tombstone. */
function rowWrite(entry: CatalogEntry, row: WireRow, hlc: string | null, deletedAt: string | null): RowWrite {
  return { wire: fill(entry, row), hlc, deletedAt };
}

/** Every wire column present (null where unknown), so an upsert writes a whole row. */
function fill(entry: CatalogEntry, row: WireRow): WireRow {
  const out: WireRow = { [CENTRAL_KEY]: row[CENTRAL_KEY] ?? null };
  for (const c of entry.wireColumns) out[c.name] = row[c.name] ?? null;
  return out;
}
