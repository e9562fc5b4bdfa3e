/**
 * The till's heartbeat report (link.ts sends it): outbox counts for /api/sync/status,
 * and for HQ's fleet view the oldest pending change, the completed sales not at
 * central yet, the pull cursors, the schema and the latest runs (bounded as the
 * protocol bounds them).
 */
import { MAX_REPORTED_RUNS, type ReportedRun } from '../../shared/protocol.js';
import type { HistoryEntry } from '../../shared/ipc.js';
import type { TillReport } from './link.js';
import type { LocalStore } from './store/index.js';

const MAX_ERRORS = 5;
const MAX_ERROR_LENGTH = 500;

/** A history entry as the heartbeat reports it (pure). */
export function reportedRun(h: HistoryEntry): ReportedRun {
  return {
    kind: h.kind.slice(0, 32),
    trigger: h.trigger.slice(0, 100),
    startedAt: h.startedAt,
    finishedAt: h.finishedAt,
    pushed: h.pushed,
    pulled: h.pulled,
    conflicts: h.conflicts,
    failed: h.failed,
    errors: h.errors.slice(0, MAX_ERRORS).map((e) => (e.length > MAX_ERROR_LENGTH ? `${e.slice(0, MAX_ERROR_LENGTH - 1)}…` : e)),
  };
}

export function tillReport(store: Pick<LocalStore, 'outbox' | 'facts' | 'history'>, state: { syncing: boolean; lastSyncAt: string | null }): TillReport {
  return {
    syncing: state.syncing,
    outbox: store.outbox.counts(),
    lastSyncAt: state.lastSyncAt,
    oldestPendingAt: store.outbox.oldestPendingAt(),
    unsyncedSales: store.facts.unsyncedSales(),
    cursors: store.facts.pullCursors(),
    schemaVersion: store.facts.schemaVersion(),
    recentRuns: store.history.history(MAX_REPORTED_RUNS).map(reportedRun),
  };
}
