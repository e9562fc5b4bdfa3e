/**
 * TEMPORARY facade over the store's rooms (src/main/sync/store/): today's LocalStore
 * surface, each method one delegation to the room that owns it, kept while callers
 * move to `store.<room>.<method>`. Nothing here decides anything.
 */
import type Database from 'better-sqlite3';
import type { CatalogEntry, WireRow } from '../../shared/catalog/index.js';
import type { ConflictView, HistoryEntry } from '../../shared/ipc.js';
import type { PulledChange, PushResponse, TableCounts } from '../../shared/protocol.js';
import type { ForeignKeys, LocalRow } from './mapping.js';
import type { InstallReport } from './schema.js';
import type { PushRecord } from './store/answers.js';
import type { BatchOptions, Batches } from './store/batches.js';
import type { Capture } from './store/capture.js';
import type { Conflicts } from './store/conflicts.js';
import type { Cursors } from './store/cursors.js';
import type { History, RunCounts } from './store/history.js';
import { LocalStore as Rooms, type LocalStoreOptions, type LocalTable, type OutgoingBatch, type PageResult, type RetryPolicy, type StoreBase } from './store/index.js';
import type { Outbox } from './store/outbox.js';
import type { PullPages } from './store/pages.js';
import type { Rows } from './store/rows.js';

export {
  BATCH_SQL,
  PosDatabaseMissingError,
  inFlight,
  missingPart,
  type EntryStatus,
  type InFlight,
  type LocalStoreOptions,
  type OutboxEntry,
  type OutgoingBatch,
  type OutgoingChange,
  type PageResult,
} from './store/index.js';

/** @deprecated the IPC contract's ConflictView; kept until src/main/sync/ports.ts imports that instead. */
export type LocalConflict = ConflictView;

export class LocalStore {
  /** Every room, `history` among them (the facade's `history` is still the method). */
  readonly rooms: Rooms;
  readonly base: StoreBase;
  readonly capture: Capture;
  readonly outbox: Outbox;
  readonly batches: Batches;
  readonly answers: Rooms['answers'];
  readonly rows: Rows;
  readonly pages: PullPages;
  readonly cursors: Cursors;
  readonly conflicts: Conflicts;

  constructor(path: string, node: string, opts: LocalStoreOptions = {}) {
    this.rooms = new Rooms(path, node, opts);
    ({ base: this.base, capture: this.capture, outbox: this.outbox, batches: this.batches, answers: this.answers } = this.rooms);
    ({ rows: this.rows, pages: this.pages, cursors: this.cursors, conflicts: this.conflicts } = this.rooms);
  }

  private get historyRoom(): History {
    return this.rooms.history;
  }

  // base
  get db(): Database.Database { return this.base.db; }
  get path(): string { return this.base.path; }
  get node(): string { return this.base.node; }
  get install(): InstallReport { return this.base.install; }
  get tables(): Map<string, LocalTable> { return this.base.tables; }
  get fk(): ForeignKeys { return this.base.fk; }
  close(): void { this.base.close(); }
  stmt(sql: string): Database.Statement { return this.base.stmt(sql); }
  getMeta(key: string): string | undefined { return this.base.getMeta(key); }
  setMeta(key: string, value: string): void { this.base.setMeta(key, value); }
  tick(opts: { persist?: boolean } = {}): string { return this.base.tick(opts); }
  observe(remote: string | null | undefined, maxDriftMs: number, opts: { persist?: boolean } = {}): void { this.base.observe(remote, maxDriftMs, opts); }
  /** As before the split: the capture log is drained first, inside the transaction. */
  applying<T>(fn: () => T): T { return this.base.applying(() => { this.capture.promoteInline(); return fn(); }); }

  // capture
  setMode(mode: 'ONLINE' | 'OFFLINE'): void { this.capture.setMode(mode); }
  dataVersion(): number { return this.capture.dataVersion(); }
  promote(chunk?: number, maxSteps?: number): number { return this.capture.promote(chunk, maxSteps); }
  enqueue(table: string, localId: number, operation: 'CREATE' | 'UPDATE' | 'DELETE', priority?: number): string { return this.capture.enqueue(table, localId, operation, priority); }

  // batches
  groupOf(entry: CatalogEntry, row: LocalRow, serverId: string, minted?: ReadonlyMap<string, string>): string | null { return this.batches.groupOf(entry, row, serverId, minted); }
  nextBatch(opts: BatchOptions): OutgoingBatch { return this.batches.nextBatch(opts); }

  // answers
  recordPush(batch: OutgoingBatch, response: PushResponse, maxDriftMs: number, retry?: RetryPolicy): PushRecord { return this.answers.recordPush(batch, response, maxDriftMs, retry); }
  recordPushFailure(batch: OutgoingBatch, error: string, opts: RetryPolicy): number { return this.answers.recordPushFailure(batch, error, opts); }

  // outbox
  unsent(batch: OutgoingBatch): void { this.outbox.unsent(batch); }
  retryFailed(): number { return this.outbox.retryFailed(); }
  purgeSynced(olderThanMs: number): number { return this.outbox.purgeSynced(olderThanMs); }
  counts(): Record<string, TableCounts> { return this.outbox.counts(); }
  lastEntryId(): number { return this.outbox.lastEntryId(); }
  hasPending(minPriority: number, now: number): boolean { return this.outbox.hasPending(minPriority, now); }
  nextAttemptAt(now: number): number | null { return this.outbox.nextAttemptAt(now); }
  oldestPendingAt(): string | null { return this.outbox.oldestPendingAt(); }

  // cursors
  tableStamps(): ReturnType<Cursors['tableStamps']> { return this.cursors.tableStamps(); }
  cursor(table: string): string | undefined { return this.cursors.cursor(table); }
  pausedTables(): Map<string, string> { return this.cursors.pausedTables(); }
  pauseTable(table: string, reason: string): void { this.cursors.pauseTable(table, reason); }
  unpauseTable(table: string): void { this.cursors.unpauseTable(table); }
  resetCursor(table: string): void { this.cursors.resetCursor(table); }
  holdsSyncedRows(table: string): boolean { return this.cursors.holdsSyncedRows(table); }

  // rows
  rowState(table: string, serverId: string): { version: number; base: string | null } | undefined { return this.rows.rowState(table, serverId); }

  // pages
  applyPage(entry: CatalogEntry, changes: readonly PulledChange[], cursor: string, maxDriftMs: number): PageResult { return this.pages.applyPage(entry, changes, cursor, maxDriftMs); }

  // conflicts
  openConflicts(): ConflictView[] { return this.conflicts.openConflicts(); }
  allConflicts(limit?: number): ConflictView[] { return this.conflicts.allConflicts(limit); }
  applyResolution(entity: { table: string; serverId: string }, data: WireRow, version: number, deleted: boolean, resolution: string): void { this.conflicts.applyResolution(entity, data, version, deleted, resolution); }

  // history
  closeInterruptedRuns(): number { return this.historyRoom.closeInterruptedRuns(); }
  startRun(kind: string, trigger: string): number { return this.historyRoom.startRun(kind, trigger); }
  finishRun(id: number, r: RunCounts): void { this.historyRoom.finishRun(id, r); }
  history(limit?: number): HistoryEntry[] { return this.historyRoom.history(limit); }
}
