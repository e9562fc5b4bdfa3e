/**
 * The terminal's side of sync over its SQLite file, as rooms over a small base.
 * Every step that changes state is one short SQLite transaction, so a crash at any
 * instant leaves either the state before or the state after.
 *
 * Who uses whom (a DAG; base knows no room, the pure rules no I/O):
 *
 *   outbox-status, batch-rules        (pure)
 *   base <- open
 *   base <- outbox <- capture <- batches
 *   base <- rows, cursors, history, till-facts
 *   cursors <- resync
 *   outbox, resync <- restored
 *   capture, outbox, rows <- conflicts <- answers, pages (+ cursors, resync)
 *   rows <- capture (pickImage)
 */
import { Answers } from './answers.js';
import type { StoreBase } from './base.js';
import { Batches } from './batches.js';
import { Capture } from './capture.js';
import { Conflicts } from './conflicts.js';
import { Cursors } from './cursors.js';
import { History } from './history.js';
import { openStore, type LocalStoreOptions } from './open.js';
import { Outbox } from './outbox.js';
import { PullPages } from './pages.js';
import { Restored } from './restored.js';
import { Resync } from './resync.js';
import { Rows } from './rows.js';
import { TillFacts } from './till-facts.js';

export class LocalStore {
  readonly base: StoreBase;
  readonly capture: Capture;
  readonly outbox: Outbox;
  readonly batches: Batches;
  readonly answers: Answers;
  readonly rows: Rows;
  readonly pages: PullPages;
  readonly cursors: Cursors;
  readonly resync: Resync;
  readonly restored: Restored;
  readonly conflicts: Conflicts;
  readonly history: History;
  readonly facts: TillFacts;

  constructor(path: string, node: string, opts: LocalStoreOptions = {}) {
    const base = openStore(path, node, opts);
    this.base = base;
    this.outbox = new Outbox(base);
    this.rows = new Rows(base);
    this.cursors = new Cursors(base);
    this.resync = new Resync(base, this.cursors);
    this.history = new History(base);
    this.facts = new TillFacts(base);
    this.capture = new Capture(base, this.outbox);
    this.restored = new Restored(base, this.outbox, this.resync);
    this.batches = new Batches(base, this.capture, this.outbox);
    this.conflicts = new Conflicts(base, this.capture, this.outbox, this.rows);
    this.answers = new Answers(base, this.capture, this.outbox, this.rows, this.conflicts, this.cursors);
    this.pages = new PullPages(base, this.capture, this.outbox, this.rows, this.conflicts, this.cursors, this.resync);
  }

  /** Closes the file (every room shares it). */
  close(): void {
    this.base.close();
  }
}

export { StoreBase, nowIso, type LocalTable } from './base.js';
export { PosDatabaseMissingError, missingPart, openStore, type LocalStoreOptions } from './open.js';
export { BATCH_SQL, type BatchOptions } from './batches.js';
export { inFlight, crossesTiers, tierOf, pointsAtBusy, splitGroups, type InFlight, type OutgoingBatch, type OutgoingChange } from './batch-rules.js';
export type { EntryStatus, OutboxEntry } from './outbox-status.js';
export type { NewEntry, RetryPolicy } from './outbox.js';
export type { PageRead, PageResult } from './pages.js';
export type { PushRecord } from './answers.js';
export type { RunCounts } from './history.js';
export { pickImage } from './rows.js';
