/** The record of sync runs, as the IPC contract's HistoryEntry. */
import type { HistoryEntry } from '../../../shared/ipc.js';
import { nowIso, type StoreBase } from './base.js';

interface HistoryRow {
  id: number;
  kind: string;
  trigger: string;
  started_at: string;
  finished_at: string | null;
  pushed: number;
  pulled: number;
  conflicts: number;
  failed: number;
  errors: string | null;
}

export interface RunCounts {
  readonly pushed: number;
  readonly pulled: number;
  readonly conflicts: number;
  readonly failed: number;
  readonly errors: string[];
}

export class History {
  constructor(private readonly base: StoreBase) {}

  /** Runs a crash cut short never finished: close them as interrupted. */
  closeInterruptedRuns(): number {
    return this.base
      .stmt(`UPDATE tillsync_history SET finished_at = ?, errors = '["interrupted (the engine stopped mid-run)"]' WHERE finished_at IS NULL`)
      .run(nowIso()).changes;
  }

  startRun(kind: string, trigger: string): number {
    return Number(this.base.stmt(`INSERT INTO tillsync_history (kind, trigger, started_at) VALUES (?, ?, ?)`).run(kind, trigger, nowIso()).lastInsertRowid);
  }

  finishRun(id: number, r: RunCounts): void {
    this.base
      .stmt(`UPDATE tillsync_history SET finished_at = ?, pushed = ?, pulled = ?, conflicts = ?, failed = ?, errors = ? WHERE id = ?`)
      .run(nowIso(), r.pushed, r.pulled, r.conflicts, r.failed, r.errors.length ? JSON.stringify(r.errors) : null, id);
  }

  /** The latest runs, newest first. */
  history(limit = 50): HistoryEntry[] {
    return (this.base.stmt(`SELECT * FROM tillsync_history ORDER BY id DESC LIMIT ?`).all(limit) as HistoryRow[]).map((h) => ({
      id: h.id,
      kind: h.kind,
      trigger: h.trigger,
      startedAt: h.started_at,
      finishedAt: h.finished_at,
      pushed: h.pushed,
      pulled: h.pulled,
      conflicts: h.conflicts,
      failed: h.failed,
      errors: h.errors ? (JSON.parse(h.errors) as string[]) : [],
    }));
  }
}
