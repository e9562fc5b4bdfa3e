/**
 * The record of sync runs, as the IPC contract's HistoryEntry: passes (started, then
 * finished) and pushes on their own (the commit watcher's, recorded when they end).
 * Bounded: each new run removes those beyond the newest `keep`, so a busy till's many
 * small pushes cannot grow the file without limit.
 */
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

const errorsJson = (errors: readonly string[]) => (errors.length ? JSON.stringify(errors) : null);

export class History {
  constructor(private readonly base: StoreBase) {}

  /** Runs a crash cut short never finished: close them as interrupted. */
  closeInterruptedRuns(): number {
    return this.base
      .stmt(`UPDATE tillsync_history SET finished_at = ?, errors = '["interrupted (the engine stopped mid-run)"]' WHERE finished_at IS NULL`)
      .run(nowIso()).changes;
  }

  /** A run that begins now (finished by finishRun); the oldest runs beyond the newest `keep` are removed. */
  startRun(kind: string, trigger: string, keep: number): number {
    const id = Number(this.base.stmt(`INSERT INTO tillsync_history (kind, trigger, started_at) VALUES (?, ?, ?)`).run(kind, trigger, nowIso()).lastInsertRowid);
    this.prune(keep);
    return id;
  }

  /** A run already over (a push on its own), in one write; pruned as startRun. */
  recordRun(kind: string, trigger: string, startedAt: string, r: RunCounts, keep: number): number {
    const id = Number(
      this.base
        .stmt(`INSERT INTO tillsync_history (kind, trigger, started_at, finished_at, pushed, pulled, conflicts, failed, errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(kind, trigger, startedAt, nowIso(), r.pushed, r.pulled, r.conflicts, r.failed, errorsJson(r.errors)).lastInsertRowid,
    );
    this.prune(keep);
    return id;
  }

  finishRun(id: number, r: RunCounts): void {
    this.base
      .stmt(`UPDATE tillsync_history SET finished_at = ?, pushed = ?, pulled = ?, conflicts = ?, failed = ?, errors = ? WHERE id = ?`)
      .run(nowIso(), r.pushed, r.pulled, r.conflicts, r.failed, errorsJson(r.errors), id);
  }

  /** Removes every finished run older than the newest `keep` (ids only grow: the oldest have the lowest); a run under way stays. */
  private prune(keep: number): number {
    return this.base
      .stmt(`DELETE FROM tillsync_history WHERE finished_at IS NOT NULL AND id <= (SELECT id FROM tillsync_history ORDER BY id DESC LIMIT 1 OFFSET ?)`)
      .run(Math.max(1, Math.floor(keep))).changes;
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
