/**
 * The engine's status (the IPC contract's EngineStatus): the engine's own state, and
 * per table what the outbox holds and when it was last pushed and pulled, read through
 * the store's ports (no SQL here).
 */
import { CATALOG, type CatalogEntry } from '../../shared/catalog/index.js';
import type { TableCounts } from '../../shared/protocol.js';
import type { EngineStatus } from '../../shared/ipc.js';
import type { CursorsPort, OutboxPort } from './ports.js';

export interface StatusPorts {
  readonly outbox: Pick<OutboxPort, 'counts' | 'oldestPendingAt'>;
  readonly cursors: Pick<CursorsPort, 'tableStamps'>;
}

/** The engine's own part of the status. */
export type EngineState = Pick<EngineStatus, 'terminalId' | 'centralUrl' | 'connection' | 'paused' | 'activity' | 'lastSyncAt' | 'lastError'>;

type Stamps = ReadonlyMap<string, { lastPushAt: string | null; lastPullAt: string | null; paused: string | null }>;

/**
 * Per entity type (in catalog order, only those the outbox counts), its counts and
 * stamps; and the totals over them (pure).
 */
export function tableSummary(
  catalog: readonly Pick<CatalogEntry, 'entityType' | 'table'>[],
  counts: Readonly<Record<string, TableCounts>>,
  stamps: Stamps,
): Pick<EngineStatus, 'tables' | 'totals'> {
  const tables: EngineStatus['tables'] = {};
  const totals: TableCounts = { pending: 0, failed: 0, synced: 0, conflicts: 0 };
  for (const e of catalog) {
    const c = counts[e.entityType];
    if (!c) continue;
    const cur = stamps.get(e.table);
    tables[e.entityType] = { ...c, lastPushAt: cur?.lastPushAt ?? null, lastPullAt: cur?.lastPullAt ?? null, paused: cur?.paused ?? null };
    totals.pending += c.pending;
    totals.failed += c.failed;
    totals.synced += c.synced;
    totals.conflicts += c.conflicts;
  }
  return { tables, totals };
}

export function engineStatus(ports: StatusPorts, state: EngineState): EngineStatus {
  const counts = ports.outbox.counts();
  const { tables, totals } = tableSummary(CATALOG, counts, ports.cursors.tableStamps());
  return {
    ...state,
    tables,
    totals,
    oldestPendingAt: totals.pending > 0 ? ports.outbox.oldestPendingAt() : null,
  };
}
