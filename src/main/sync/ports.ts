/**
 * What the sync loops need of the terminal's store, as narrow ports grouped by the
 * store room that implements them (base, capture, outbox, batches, answers, pages,
 * cursors, resync, conflicts, history). Each port keeps the store's method names and
 * signatures; a loop takes only the ports it uses. The rooms of store/ implement
 * them (portsOf in sync-service.ts is the one place that wires them); a test can hand
 * a loop anything else that has the same methods.
 *
 * Also the engine's narrow view of central (CentralPort): the calls the loops make.
 */
import type { CatalogEntry, WireRow } from '../../shared/catalog/index.js';
import type { ConflictView } from '../../shared/ipc.js';
import type { PulledChange, PushResponse, TableCounts } from '../../shared/protocol.js';
import type { CentralClient } from './central-client.js';
import type { InFlight, OutgoingBatch, PageRead, PageResult, PushRecord } from './store/index.js';

/** store.base: metadata and the catalog tables present in the file. */
export interface BasePort {
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  /** Catalog tables present in this file. */
  readonly tables: ReadonlyMap<string, { readonly entry: CatalogEntry }>;
}

/** store.capture: the capture log, its mode, and the probe for other processes' commits. */
export interface CapturePort {
  setMode(mode: 'ONLINE' | 'OFFLINE'): void;
  dataVersion(): number;
  /** Moves captured writes into the outbox (in short steps); returns how many. */
  promote(chunk?: number, maxSteps?: number): number;
}

/** store.outbox: the queue of changes waiting for central. */
export interface OutboxPort {
  unsent(batch: OutgoingBatch): void;
  retryFailed(): number;
  purgeSynced(olderThanMs: number): number;
  counts(): Record<string, TableCounts>;
  lastEntryId(): number;
  hasPending(minPriority: number, now: number): boolean;
  nextAttemptAt(now: number): number | null;
  oldestPendingAt(): string | null;
}

/** store.batches: planning the next push. */
export interface BatchesPort {
  nextBatch(opts: { limit: number; minPriority: number; now: number; pausedTables: ReadonlySet<string>; upToId?: number; busy?: InFlight }): OutgoingBatch;
}

/** store.answers: central's answers to a push, or its failure. */
export interface AnswersPort {
  recordPush(
    batch: OutgoingBatch,
    response: PushResponse,
    maxDriftMs: number,
    retry?: { maxRetries: number; retryDelayMs: number; now: number },
  ): PushRecord;
  recordPushFailure(batch: OutgoingBatch, error: string, opts: { maxRetries: number; retryDelayMs: number; now: number }): number;
}

/** store.pages: a pulled page applied (and its cursor moved) in one transaction. */
export interface PagesPort {
  applyPage(entry: CatalogEntry, changes: readonly PulledChange[], cursor: string, maxDriftMs: number, read?: PageRead): PageResult;
}

/** store.cursors: per-table pull cursors, paused tables and push/pull stamps. */
export interface CursorsPort {
  cursor(table: string): string | undefined;
  pausedTables(): Map<string, string>;
  pauseTable(table: string, reason: string): void;
  unpauseTable(table: string): void;
  resetCursor(table: string): void;
  holdsSyncedRows(table: string): boolean;
  /** Whether the table is being re-read from a snapshot after CURSOR_EXPIRED. */
  resyncing(table: string): boolean;
  tableStamps(): Map<string, { lastPushAt: string | null; lastPullAt: string | null; paused: string | null }>;
}

/** store.resync: re-reading a table from a snapshot after central purged past its cursor. */
export interface ResyncPort {
  /** Begins the re-read (notes the rows held from central, forgets the cursor); returns how many rows it noted. */
  start(table: string, opts?: { forgetVersions?: boolean }): number;
}

/** store.restored: catching up after central was restored from a backup (CENTRAL_RESTORED). */
export interface RestoredPort {
  /** Re-reads every pulled table and sends the kept sales again, once per epoch; null when already caught up with it. */
  catchUp(epoch: number): { epoch: number; tables: number; resent: number } | null;
}

/** store.conflicts: conflicts seen here, and a resolution applied locally. */
export interface ConflictsPort {
  openConflicts(): ConflictView[];
  allConflicts(limit?: number): ConflictView[];
  applyResolution(entity: { table: string; serverId: string }, data: WireRow, version: number, deleted: boolean, resolution: string): void;
}

type RunCountsOf = { pushed: number; pulled: number; conflicts: number; failed: number; errors: string[] };

/** store.history: the record of sync runs (each new run keeps only the newest `keep`). */
export interface HistoryPort {
  closeInterruptedRuns(): number;
  startRun(kind: string, trigger: string, keep: number): number;
  finishRun(id: number, r: RunCountsOf): void;
  recordRun(kind: string, trigger: string, startedAt: string, r: RunCountsOf, keep: number): number;
}

/** Every room the engine uses, by the name the store will give it. */
export interface StorePorts {
  readonly base: BasePort;
  readonly capture: CapturePort;
  readonly outbox: OutboxPort;
  readonly batches: BatchesPort;
  readonly answers: AnswersPort;
  readonly pages: PagesPort;
  readonly cursors: CursorsPort;
  readonly resync: ResyncPort;
  readonly restored: RestoredPort;
  readonly conflicts: ConflictsPort;
  readonly history: HistoryPort;
}

/** The calls the engine makes to central. */
export type CentralPort = Pick<CentralClient, 'push' | 'pull' | 'heartbeat' | 'resolve' | 'conflicts'>;
