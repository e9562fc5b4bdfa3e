import type { EngineStatus } from '../../src/shared/ipc.js';

/** An engine status for tray and UI tests: all clear unless overridden. */
export function engineStatus(over: Partial<Omit<EngineStatus, 'totals'>> & { totals?: Partial<EngineStatus['totals']> } = {}): EngineStatus {
  return {
    terminalId: 't1',
    centralUrl: 'http://127.0.0.1:4000',
    connection: 'online',
    paused: false,
    activity: null,
    lastSyncAt: null,
    lastError: null,
    tables: {},
    oldestPendingAt: null,
    ...over,
    totals: { pending: 0, failed: 0, synced: 0, conflicts: 0, ...over.totals },
  };
}
