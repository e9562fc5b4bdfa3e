/**
 * What the cashier's tray icon says, derived from the engine's status (pure):
 * needs attention (failures, conflicts or a paused table), offline, syncing,
 * N pending, or synced.
 */
import type { EngineStatus } from './ipc.js';

export const TRAY_STATES = ['synced', 'syncing', 'pending', 'offline', 'attention'] as const;
export type TrayState = (typeof TRAY_STATES)[number];

export interface TrayView {
  readonly state: TrayState;
  /** One line a cashier understands at a glance. */
  readonly headline: string;
  /** The tooltip: the headline and the counts. */
  readonly tooltip: string;
}

export function trayView(s: EngineStatus): TrayView {
  const { pending, failed, conflicts } = s.totals;
  const pausedTables = Object.values(s.tables).filter((t) => t.paused !== null).length;
  let state: TrayState;
  let headline: string;
  if (failed > 0 || conflicts > 0 || pausedTables > 0) {
    state = 'attention';
    const parts = [
      failed > 0 ? `${failed} failed` : '',
      conflicts > 0 ? `${conflicts} conflict${conflicts === 1 ? '' : 's'}` : '',
      pausedTables > 0 ? `${pausedTables} table${pausedTables === 1 ? '' : 's'} paused` : '',
    ].filter(Boolean);
    headline = `Needs attention: ${parts.join(', ')}`;
  } else if (s.connection === 'offline') {
    state = 'offline';
    headline = pending > 0 ? `Offline: ${pending} sale change${pending === 1 ? '' : 's'} kept safely on this till` : 'Offline: sales are kept safely on this till';
  } else if (s.activity) {
    state = 'syncing';
    headline = 'Syncing with HQ';
  } else if (pending > 0) {
    state = 'pending';
    headline = `${pending} pending`;
  } else {
    state = 'synced';
    headline = 'All sales are safe at HQ';
  }
  const counts = `pending ${pending} · failed ${failed} · conflicts ${conflicts}`;
  const paused = s.paused ? ' · sync paused' : '';
  return { state, headline, tooltip: `TillSync: ${headline}\n${counts}${paused}` };
}
