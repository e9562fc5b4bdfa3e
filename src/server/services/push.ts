/**
 * Push: a terminal's batch of changes, applied in one transaction. Every change
 * gets an answer (applied, duplicate, conflict, rejected) with the row's new
 * version. Change ids make apply idempotent: a replayed batch gets the same
 * answers and writes nothing.
 */
import { randomUUID } from 'node:crypto';
import { CATALOG, CENTRAL_KEY, CENTRAL_SYNC_COLUMNS, entryForEntity, pushable, type CatalogEntry, type WireRow, type WireValue } from '../../shared/catalog/index.js';
import { retryPause } from '../../shared/backoff.js';
import { conflictInput, decideConflict } from '../../shared/conflict.js';
import { parseHlc } from '../../shared/hlc.js';
import type { PushChange, PushRequest, PushResponse, PushResult } from '../../shared/protocol.js';
import type { Database, Queryable } from '../db/database.js';
import { literal } from '../db/sql.js';
import type { Metrics } from '../metrics.js';
import type { Acting } from './fleet.js';
import { changeIdOf, contentHashOf } from './change-ids.js';
import { judgeParents, parentRefs, type ParentRef, type ParentState } from './parents.js';
import { centralRowFromJson, lockedRowsBranch, parentRowsBranch, upsertRecords, upsertStatement, type CentralRow, type RowWrite } from './rows.js';

export { changeIdOf } from './change-ids.js';

export interface PushOptions {
  readonly maxClockDriftMs: number;
}

type Rejection = { code: string; message: string };

const keyOf = (entityType: string, entityId: string) => `${entityType}\u0000${entityId}`;

interface Work {
  readonly index: number;
  readonly changeId: string;
  /** Digest of the change's content (see contentHashOf), kept with its answer. */
  readonly hash: string;
  readonly change: PushChange;
  readonly entry: CatalogEntry;
  /** The parents its data points at (see parents.ts). */
  readonly parents: readonly ParentRef[];
}

/** Row state while a batch is processed: what central has, as this batch leaves it. */
interface Slot {
  row: CentralRow | undefined;
  /** Version the row had before this batch wrote it (a terminal's later change in the same batch saw that). */
  versionBeforeBatch: number | undefined;
  write: RowWrite | undefined;
  openConflictId: string | undefined;
  /** The read found the row (locked): its write updates it. Otherwise the write inserts it. */
  readonly existed: boolean;
}

export class PushService {
  constructor(
    private readonly db: Database,
    private readonly opts: PushOptions,
    private readonly metrics: Metrics,
  ) {}

  async push(acting: Acting, req: PushRequest): Promise<PushResponse> {
    const results: (PushResult | undefined)[] = new Array(req.changes.length);
    const work: Work[] = [];
    const firstOf = new Map<string, { index: number; hash: string }>();
    const repeats: { index: number; first: number; hash: string }[] = [];
    const rejectedUpfront: { index: number; result: PushResult }[] = [];

    req.changes.forEach((change, index) => {
      const changeId = changeIdOf(acting.terminalId, change);
      const entry = entryForEntity(change.entityType) as CatalogEntry; // validated by the schema
      const rejection = this.staticCheck(entry, change, req.schemaHashes);
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

    if (work.length > 0) {
      await retryOnContention(() =>
        this.db.transaction(async (tx) => {
          results.fill(undefined, 0, results.length);
          for (const r of rejectedUpfront) results[r.index] = r.result;
          await this.applyBatch(tx, acting, work, results);
        }),
      );
    }

    for (const { index, first, hash } of repeats) {
      const r = results[first] as PushResult;
      const change = req.changes[index] as PushChange;
      if (hash !== firstOf.get(r.changeId)?.hash) results[index] = reused(r.changeId, change);
      else if (r.status === 'rejected') results[index] = { ...r };
      else results[index] = { ...r, status: 'duplicate', originalStatus: r.status === 'duplicate' ? r.originalStatus : r.status, entityId: change.entityId };
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

  /** Refusals that need no database: direction, append-only, schema drift, clock drift. */
  private staticCheck(entry: CatalogEntry, c: PushChange, hashes: PushRequest['schemaHashes']): Rejection | undefined {
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
      const now = Date.now();
      if (h && h.physical - now > this.opts.maxClockDriftMs) {
        return {
          code: 'CLOCK_DRIFT',
          message: `clock ${new Date(h.physical).toISOString()} is ${h.physical - now} ms ahead of central (limit ${this.opts.maxClockDriftMs} ms); fix the terminal's clock`,
        };
      }
    }
    return undefined;
  }

  /**
   * Two statements between BEGIN and COMMIT, whatever the batch holds:
   *
   * 1. Read: the answers already given to these change ids, the rows the batch
   *    touches (locked, table by table in catalog order, by id), the terminal's open
   *    conflicts on them, and the writer's identity set for the capture triggers.
   * 2. Write: every table's upsert, the conflict records and the answers, in one
   *    statement; each answer is inserted once, with its final status and version.
   *
   * A change id found in step 1 is answered from its stored answer and not applied
   * again. A change id that a concurrent push committed after step 1 read (its
   * answer insert finds the id taken) rolls this whole transaction back; the retry
   * then finds it in step 1 and answers it as a duplicate: a change is applied once.
   */
  private async applyBatch(tx: Queryable, acting: Acting, work: Work[], results: (PushResult | undefined)[]): Promise<void> {
    // 1. Read and lock.
    const byType = new Map<CatalogEntry, Set<string>>();
    for (const w of work) {
      const ids = byType.get(w.entry) ?? new Set<string>();
      ids.add(w.change.entityId);
      byType.set(w.entry, ids);
    }
    // Catalog order, then id order: every batch takes its locks in one global order.
    const types = [...byType.keys()].sort((a, b) => CATALOG.indexOf(a) - CATALOG.indexOf(b));
    const params: unknown[] = [acting.terminalId, work.map((w) => w.changeId), work.map((w) => w.change.entityId)];
    const branches = [
      `SELECT 'origin' AS kind, NULL::text AS entity_type, set_config('tillsync.origin', $1, true) AS id, NULL::jsonb AS row`,
      `SELECT 'applied', terminal_id, change_id, jsonb_build_object('r', result, 'h', content_hash) FROM sync_applied WHERE change_id = ANY($2::text[])`,
      `SELECT 'open', entity_type, entity_id, to_jsonb(id) FROM sync_conflicts
         WHERE terminal_id = $1 AND status = 'open' AND entity_id = ANY($3::text[])`,
    ];
    for (const entry of types) {
      params.push([...(byType.get(entry) as Set<string>)]);
      branches.push(lockedRowsBranch(entry, `$${params.length}`));
    }
    // The parents the batch points at that it does not write itself: read after the rows it writes.
    const parentIds = new Map<CatalogEntry, Set<string>>();
    for (const w of work) {
      for (const ref of w.parents) {
        if (byType.get(ref.parent)?.has(ref.id)) continue;
        const ids = parentIds.get(ref.parent) ?? new Set<string>();
        ids.add(ref.id);
        parentIds.set(ref.parent, ids);
      }
    }
    for (const entry of [...parentIds.keys()].sort((a, b) => CATALOG.indexOf(a) - CATALOG.indexOf(b))) {
      params.push([...(parentIds.get(entry) as Set<string>)]);
      branches.push(parentRowsBranch(entry, `$${params.length}`));
    }
    const read = await tx.query<{ kind: string; entity_type: string | null; id: string; row: unknown }>(branches.join('\nUNION ALL\n'), params);

    const slots = new Map<string, Slot>();
    const prior = new Map<string, Prior>();
    const openConflicts: { key: string; id: string }[] = [];
    const parents = new Map<string, WireValue>();
    for (const r of read.rows) {
      if (r.kind === 'applied') {
        const a = r.row as { r: PushResult | null; h: string | null };
        prior.set(r.id, { terminalId: r.entity_type as string, result: a.r, hash: a.h });
      } else if (r.kind === 'parent') parents.set(keyOf(r.entity_type as string, r.id), (r.row as { store: WireValue }).store);
      else if (r.kind === 'open') openConflicts.push({ key: keyOf(r.entity_type as string, r.id), id: r.row as string });
      else if (r.kind !== 'origin') {
        const entry = entryForEntity(r.entity_type as string) as CatalogEntry;
        slots.set(keyOf(entry.entityType, r.id), freshSlot(centralRowFromJson(entry, r.row as Record<string, unknown>)));
      }
    }
    for (const w of work) {
      const key = keyOf(w.change.entityType, w.change.entityId);
      if (!slots.has(key)) slots.set(key, freshSlot(undefined));
    }
    for (const c of openConflicts) {
      const slot = slots.get(c.key);
      if (slot) slot.openConflictId = c.id;
    }

    const todo: Work[] = [];
    for (const w of work) {
      const p = prior.get(w.changeId);
      if (p) results[w.index] = answerSeen(w, p, acting);
      else todo.push(w);
    }
    if (todo.length === 0) return;

    // 2. Decide every change in batch order (pure), remembering the writes. A change
    // whose parent a later change of the batch creates waits for it (and so do the
    // later changes of its row); a pass that decides nothing judges the waiting ones
    // against the parents as they are.
    const wroteRow = new Set<number>();
    const conflictRows: ConflictInsert[] = [];
    const now = new Date().toISOString();
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
            this.decideInto(w, slots.get(key) as Slot, acting, now, { results, wroteRow, conflictRows });
            continue;
          }
        }
        waiting.push(w);
        waitingRows.add(key);
      }
      lastPass = waiting.length === queue.length;
      queue = waiting;
    }

    // 3. Write everything in one statement. A refusal writes nothing (a replay is judged afresh).
    const writesByType = new Map<CatalogEntry, TableWrites>();
    const inserted: string[] = [];
    for (const entry of types) {
      const writes: TableWrites = { inserts: [], updates: [] };
      for (const id of byType.get(entry) as Set<string>) {
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
    const settled = todo.filter((w) => (results[w.index] as PushResult).status !== 'rejected');
    if (settled.length === 0 && writesByType.size === 0 && conflictRows.length === 0) return;
    const written = await writeBatch(tx, acting, { writesByType, conflicts: foldConflicts(conflictRows), settled, results, wroteRow });

    const versions = new Map<string, number>();
    const recorded = new Set<string>();
    for (const r of written) {
      if (r.kind === 'row') versions.set(keyOf(r.entity_type as string, r.id), Number(r.version));
      else recorded.add(r.id);
    }
    if (settled.some((w) => !recorded.has(w.changeId))) throw new WrittenMeanwhile('a change id of this batch was applied by a concurrent push');
    // A row this batch found missing that a concurrent write created first: judge the batch again against it.
    if (inserted.some((k) => !versions.has(k))) throw new WrittenMeanwhile('a row this batch creates was created by a concurrent write');
    for (const w of settled) {
      if (!wroteRow.has(w.index)) continue;
      const r = results[w.index] as PushResult;
      results[w.index] = { ...r, version: versions.get(keyOf(w.change.entityType, w.change.entityId)) ?? r.version };
    }
  }

  /** Decides one change and records its answer, its row's new state and its conflict record. */
  private decideInto(w: Work, slot: Slot, acting: Acting, now: string, into: Decisions): void {
    const decided = this.decide(w, slot, acting, now);
    into.results[w.index] = decided.result;
    if (decided.write) {
      if (slot.versionBeforeBatch === undefined) slot.versionBeforeBatch = slot.row?.version ?? 0;
      slot.write = decided.write;
      slot.row = {
        wire: decided.write.wire,
        version: (slot.row?.version ?? 0) + 1,
        hlc: decided.write.hlc,
        origin: acting.terminalId,
        deletedAt: decided.write.deletedAt,
        updatedAt: now,
      };
      into.wroteRow.add(w.index);
    }
    if (decided.conflict) {
      into.conflictRows.push(decided.conflict);
      if (decided.conflict.status === 'open') slot.openConflictId = decided.conflict.id;
    }
  }

  /** One change against the row as the batch has left it. Pure apart from ids and the clock. */
  private decide(w: Work, slot: Slot, acting: Acting, now: string): Decision {
    const { change, entry, changeId } = w;
    const current = slot.row;
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
        conflict: conflictRecord(slot.openConflictId, w, current, 'open', null),
      };
    }

    if (change.operation === 'DELETE' && (!current || current.deletedAt)) {
      return { result: { ...base } }; // nothing (left) to delete
    }

    const image: WireRow = change.operation === 'DELETE' ? { ...(current?.wire ?? {}) } : { ...(current && !current.deletedAt ? current.wire : {}), ...data };
    if (change.operation !== 'DELETE') {
      // A new row needs its required columns; an update may not clear one (NOT NULL at central).
      const missing = entry.wireColumns.filter((c) => c.def.required && (image[c.name] === undefined || image[c.name] === null));
      if (missing.length > 0) {
        const fresh = !current || current.deletedAt;
        return {
          result: rejected(changeId, change, {
            code: 'MISSING_FIELDS',
            message: fresh
              ? `${entry.entityType} ${change.entityId} is new to central and needs ${missing.map((c) => c.name).join(', ')}`
              : `${entry.entityType} ${change.entityId}: ${missing.map((c) => c.name).join(', ')} cannot be cleared (required)`,
          }),
        };
      }
    }
    const hlc = change.hlc ?? current?.hlc ?? null;
    const deleting = change.operation === 'DELETE';

    const expected = slot.versionBeforeBatch ?? current?.version ?? 0;
    if (!current || change.syncVersion === expected) {
      return { result: base, write: rowWrite(entry, image, hlc, deleting ? now : null) };
    }

    // A conflict: central moved on since the terminal last saw the row.
    const outcome = decideConflict(
      conflictInput(entry, {
        base: change.baseData ? (change.baseData as WireRow) : null,
        terminal: deleting ? {} : data,
        central: current.wire,
        terminalHlc: change.hlc ?? null,
        centralHlc: current.hlc,
      }),
    );
    const id = randomUUID();
    switch (outcome.kind) {
      case 'PARKED':
        return { result: { ...base, status: 'conflict', resolution: 'PARKED', conflictId: id }, conflict: conflictRecord(id, w, current, 'open', null) };
      case 'CENTRAL_WINS':
        return {
          result: { ...base, status: 'conflict', resolution: 'CENTRAL_WINS', conflictId: id, data: withDeleted(current) },
          conflict: conflictRecord(id, w, current, 'resolved', 'CENTRAL_WINS'),
        };
      case 'TERMINAL_WINS':
        return {
          result: { ...base, status: 'conflict', resolution: 'TERMINAL_WINS', conflictId: id },
          write: rowWrite(entry, deleting ? current.wire : outcome.row, hlc, deleting ? now : null),
          conflict: conflictRecord(id, w, current, 'resolved', 'TERMINAL_WINS'),
        };
      case 'MERGED': {
        const merged = fill(entry, outcome.row);
        return {
          result: { ...base, status: 'conflict', resolution: 'MERGED', conflictId: id, data: merged },
          write: rowWrite(entry, merged, hlc, null),
          conflict: conflictRecord(id, w, current, 'resolved', 'MERGED'),
        };
      }
    }
  }
}

/** PostgreSQL's deadlock and serialization failures: the whole transaction may simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);

/**
 * A concurrent write committed first what this batch was about to write: one of its
 * change ids (the run again answers it as a duplicate) or a row it found missing (the
 * run again judges the change against that row).
 */
class WrittenMeanwhile extends Error {
  override name = 'WrittenMeanwhile';
}

async function retryOnContention<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      // At once: the retry finds the answers the other push committed.
      if (err instanceof WrittenMeanwhile && i < attempts) continue;
      const code = (err as { code?: unknown }).code;
      if (i >= attempts || typeof code !== 'string' || !RETRYABLE.has(code)) throw err;
      await new Promise((r) => setTimeout(r, retryPause(i, 10, 40, Math.random())));
    }
  }
}

const freshSlot = (row: CentralRow | undefined): Slot => ({ row, versionBeforeBatch: undefined, write: undefined, openConflictId: undefined, existed: row !== undefined });

/** A change id central has already settled: by which terminal, and the answer it got. */
interface Prior {
  readonly terminalId: string;
  readonly result: PushResult | null;
  /** The content hash kept with the answer (null for answers kept before hashes were). */
  readonly hash: string | null;
}

/** The answer to a change id central already settled: the same answer as a duplicate, unless another terminal used the id. */
function answerSeen(w: Work, prior: Prior, acting: Acting): PushResult {
  const first = prior.result;
  if (prior.terminalId !== acting.terminalId || !first) {
    return rejected(w.changeId, w.change, {
      code: 'CHANGE_ID_TAKEN',
      message: `change id ${w.changeId} was already used by another change; change ids must be globally unique`,
    });
  }
  if (prior.hash !== null && prior.hash !== w.hash) return reused(w.changeId, w.change);
  return { ...first, status: 'duplicate', originalStatus: first.status === 'duplicate' ? first.originalStatus : first.status };
}

/** A change id already used for a change with other content: refused, never answered as the other change's duplicate. */
function reused(changeId: string, change: PushChange): PushResult {
  return rejected(changeId, change, {
    code: 'CHANGE_ID_REUSED',
    message: `change id ${changeId} was already used for a change with other content; a change id names one change (send a new id for a new change)`,
  });
}

/**
 * Several changes of one batch parked on one conflict: one record, as the inserts one
 * after another would have left it (the first change's status and strategy, the last
 * change's terminal image and central side, the first base known).
 */
function foldConflicts(rows: readonly ConflictInsert[]): ConflictInsert[] {
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

/** A table's writes: rows the read step found (updated) and rows it did not (inserted, if still missing). */
interface TableWrites {
  readonly inserts: RowWrite[];
  readonly updates: RowWrite[];
}

interface BatchWrites {
  readonly writesByType: ReadonlyMap<CatalogEntry, TableWrites>;
  readonly conflicts: readonly ConflictInsert[];
  /** The changes answered (not refused), whose answers are kept for replays. */
  readonly settled: readonly Work[];
  readonly results: readonly (PushResult | undefined)[];
  /** Indexes of the changes whose answer carries the version their row's upsert returns. */
  readonly wroteRow: ReadonlySet<number>;
}

interface WrittenRow {
  readonly kind: 'row' | 'answer';
  readonly entity_type: string | null;
  readonly id: string;
  readonly version: number | null;
}

/**
 * The write statement: per table (data-modifying CTEs, in catalog order) an insert of
 * the rows the read step did not find, which leaves alone a row created meanwhile
 * (`ON CONFLICT DO NOTHING`: it is not returned), and an upsert of the rows it found
 * and locked; then the conflict records, and the answers kept for replays, each
 * answer inserted once with the version its row's write returned. Returns the rows
 * written (entity type, id, new version) and the change ids whose answers were
 * inserted: an id missing was taken by a concurrent push, a row missing was created
 * by a concurrent write.
 */
async function writeBatch(tx: Queryable, acting: Acting, b: BatchWrites): Promise<WrittenRow[]> {
  const params: unknown[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  const ctes: string[] = [];
  const rowSources: string[] = [];
  let n = 0;
  for (const [entry, writes] of b.writesByType) {
    for (const [rows, mode] of [
      [writes.inserts, 'insert'],
      [writes.updates, 'upsert'],
    ] as const) {
      if (rows.length === 0) continue;
      const name = `w${n++}`;
      ctes.push(
        `${name} AS (${upsertStatement(entry, p(upsertRecords(rows)), mode)}
          RETURNING ${literal(entry.entityType)}::text AS entity_type, id, ${CENTRAL_SYNC_COLUMNS.version} AS version)`,
      );
      rowSources.push(`SELECT entity_type, id, version FROM ${name}`);
    }
  }
  if (rowSources.length === 0) rowSources.push('SELECT NULL::text AS entity_type, NULL::text AS id, NULL::bigint AS version WHERE false');
  ctes.push(`v AS (${rowSources.join(' UNION ALL ')})`);
  if (b.conflicts.length > 0) {
    const col = <K extends keyof ConflictInsert>(k: K) => b.conflicts.map((c) => c[k]);
    const jsonCol = (k: 'base' | 'terminal' | 'central') => b.conflicts.map((c) => json(c[k]));
    ctes.push(
      `c AS (INSERT INTO sync_conflicts (id, terminal_id, store_id, entity_type, entity_id, change_id, strategy, status,
           base, terminal, central, central_version, resolution, resolved_at)
         SELECT u.id, ${p(acting.terminalId)}, ${p(acting.storeId)}, u.et, u.ei, u.ci, u.st, u.s, u.b, u.t, u.c, u.cv, u.r,
           CASE WHEN u.s = 'resolved' THEN now() END
         FROM unnest(${p(col('id'))}::text[], ${p(col('entityType'))}::text[], ${p(col('entityId'))}::text[], ${p(col('changeId'))}::text[],
           ${p(col('strategy'))}::text[], ${p(col('status'))}::text[], ${p(jsonCol('base'))}::jsonb[], ${p(jsonCol('terminal'))}::jsonb[],
           ${p(jsonCol('central'))}::jsonb[], ${p(col('centralVersion'))}::bigint[], ${p(col('resolution'))}::text[])
           AS u(id, et, ei, ci, st, s, b, t, c, cv, r)
         ON CONFLICT (id) DO UPDATE SET change_id = EXCLUDED.change_id, terminal = EXCLUDED.terminal,
           base = coalesce(sync_conflicts.base, EXCLUDED.base), central = EXCLUDED.central, central_version = EXCLUDED.central_version)`,
    );
  }
  let answers = 'SELECT NULL::text WHERE false';
  if (b.settled.length > 0) {
    // One JSON document of every answer's columns (no array literal with each answer escaped in it).
    const rows = b.settled.map((w) => {
      const r = b.results[w.index] as PushResult;
      return { c: w.changeId, e: w.change.entityType, i: w.change.entityId, s: r.status, v: r.version, r, w: b.wroteRow.has(w.index), h: w.hash };
    });
    ctes.push(
      `a AS (INSERT INTO sync_applied (change_id, terminal_id, entity_type, entity_id, status, version, result, content_hash)
         SELECT u.c, ${p(acting.terminalId)}, u.e, u.i, u.s, CASE WHEN u.w THEN coalesce(v.version, u.v) ELSE u.v END,
           CASE WHEN u.w AND v.version IS NOT NULL THEN jsonb_set(u.r, '{version}', to_jsonb(v.version)) ELSE u.r END, u.h
         FROM jsonb_to_recordset(${p(JSON.stringify(rows))}::jsonb) AS u(c text, e text, i text, s text, v bigint, r jsonb, w boolean, h text)
         LEFT JOIN v ON u.w AND v.entity_type = u.e AND v.id = u.i
         ORDER BY u.c
         ON CONFLICT (change_id) DO NOTHING RETURNING change_id)`,
    );
    answers = 'SELECT change_id FROM a';
  }
  const r = await tx.query<WrittenRow>(
    `WITH ${ctes.join(',\n')}
     SELECT 'row' AS kind, entity_type, id, version FROM v
     UNION ALL SELECT 'answer', NULL, x.change_id, NULL FROM (${answers}) x(change_id)`,
    params,
  );
  return r.rows;
}

interface ConflictInsert {
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

/** What the decisions of a batch have produced so far. */
interface Decisions {
  readonly results: (PushResult | undefined)[];
  readonly wroteRow: Set<number>;
  readonly conflictRows: ConflictInsert[];
}

interface Decision {
  result: PushResult;
  write?: RowWrite;
  conflict?: ConflictInsert;
}

function conflictRecord(id: string, w: Work, current: CentralRow | undefined, status: 'open' | 'resolved', resolution: string | null): ConflictInsert {
  return {
    id,
    entityType: w.change.entityType,
    entityId: w.change.entityId,
    changeId: w.changeId,
    strategy: w.entry.conflictStrategy,
    status,
    base: w.change.baseData ?? null,
    terminal: w.change.operation === 'DELETE' ? null : { ...(w.change.data ?? {}), id: w.change.entityId },
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

function json(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

function rejected(changeId: string, change: PushChange, why: Rejection): PushResult {
  return {
    changeId,
    entityType: change.entityType,
    entityId: change.entityId,
    status: 'rejected',
    version: null,
    error: why,
  };
}
