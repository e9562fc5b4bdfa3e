/**
 * What the cashier's tray icon (and the UI's headline) says, derived from the engine's
 * status and the current time (pure).
 *
 * "Synced" means nothing is waiting: no change on this till still waits to reach
 * central, nothing failed, no conflict, no table paused and sync not paused. Every
 * other state says what waits, and a waiting change shows how old the oldest one is
 * ("3 waiting for HQ, oldest 2 min"), so a till whose sales have not reached HQ for
 * an hour never looks like one that is a second behind. Precedence: needs attention
 * (failures, conflicts or a paused table) > sync paused > offline > syncing (a pass
 * runs while changes wait) > waiting > synced.
 */
import type { EngineStatus } from './ipc.js';

export const TRAY_STATES = ['synced', 'syncing', 'pending', 'offline', 'attention'] as const;
export type TrayState = (typeof TRAY_STATES)[number];

export interface TrayView {
  readonly state: TrayState;
  /** One line a cashier understands at a glance. */
  readonly headline: string;
  /** The tooltip: the headline, then the counts. */
  readonly tooltip: string;
  /** Changes on this till still waiting to reach central (the engine's `pending`). */
  readonly waiting: number;
  /**
   * How old the oldest waiting change is, in ms (null when nothing waits, or the
   * engine did not say when it was made). While it is not null the text ages: show
   * it again when `nextAgeChangeMs` says it changes.
   */
  readonly oldestAgeMs: number | null;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** An age as a cashier reads it: "just now" (under 5 s), "12 s", "3 min", "2 h", "1 day", "3 days" (each rounded down). */
export function formatAge(ms: number): string {
  if (!(ms >= 5 * SECOND)) return 'just now'; // also a clock slightly behind the engine's (a negative age), or NaN
  if (ms < MINUTE) return `${Math.floor(ms / SECOND)} s`;
  if (ms < HOUR) return `${Math.floor(ms / MINUTE)} min`;
  if (ms < DAY) return `${Math.floor(ms / HOUR)} h`;
  const days = Math.floor(ms / DAY);
  return `${days} day${days === 1 ? '' : 's'}`;
}

/** In how many ms `formatAge` of an age that is `ms` now says something else (> 0). */
export function nextAgeChangeMs(ms: number): number {
  if (!(ms >= 5 * SECOND)) return Number.isFinite(ms) ? 5 * SECOND - ms : SECOND;
  const unit = ms < MINUTE ? SECOND : ms < HOUR ? MINUTE : ms < DAY ? HOUR : DAY;
  return unit - (ms % unit);
}

/** How old the oldest waiting change is at `now` (ms), or null if nothing waits or its time is unknown. */
export function oldestAgeMs(s: EngineStatus, now: number | Date): number | null {
  if (s.totals.pending <= 0 || !s.oldestPendingAt) return null;
  const at = Date.parse(s.oldestPendingAt);
  if (Number.isNaN(at)) return null;
  return Math.max(0, +now - at);
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** ", oldest 2 min" (nothing when the age is unknown). */
const oldest = (age: number | null) => (age === null ? '' : `, oldest ${formatAge(age)}`);

export function trayView(s: EngineStatus, now: number | Date): TrayView {
  const { pending, failed, conflicts } = s.totals;
  const pausedTables = Object.values(s.tables).filter((t) => t.paused !== null).length;
  const age = oldestAgeMs(s, now);
  const waiting = `${pending} waiting${oldest(age)}`;
  let state: TrayState;
  let headline: string;
  if (failed > 0 || conflicts > 0 || pausedTables > 0) {
    state = 'attention';
    const parts = [
      failed > 0 ? `${failed} failed` : '',
      conflicts > 0 ? plural(conflicts, 'conflict') : '',
      pausedTables > 0 ? `${plural(pausedTables, 'table')} paused` : '',
    ].filter(Boolean);
    headline = `Needs attention: ${parts.join(', ')}${pending > 0 ? ` · ${waiting}` : ''}`;
  } else if (s.paused) {
    // A supervisor stopped sync: whatever is rung up now stays here until Resume.
    state = 'pending';
    headline = pending > 0 ? `Sync paused: ${pending} waiting on this till${oldest(age)}` : 'Sync paused: new sales will wait on this till';
  } else if (s.connection === 'offline') {
    state = 'offline';
    headline = pending > 0 ? `Offline: ${plural(pending, 'sale change')} kept safely on this till${oldest(age)}` : 'Offline: sales are kept safely on this till';
  } else if (pending === 0) {
    // Nothing waits: a pass that runs now (a pull, a check) does not make the sales any less safe.
    state = 'synced';
    headline = 'All sales are safe at HQ';
  } else if (s.activity) {
    state = 'syncing';
    headline = `Sending to HQ: ${waiting}`;
  } else {
    state = 'pending';
    headline = s.connection === 'connecting' ? `Connecting to HQ: ${waiting}` : `${pending} waiting for HQ${oldest(age)}`;
  }
  const counts = `waiting ${pending} · failed ${failed} · conflicts ${conflicts}`;
  const extra = [s.paused && state !== 'pending' ? 'sync paused' : '', s.connection === 'offline' && state !== 'offline' ? 'offline' : ''].filter(Boolean);
  const tooltip = `TillSync: ${headline}\n${[counts, ...extra].join(' · ')}`;
  return { state, headline, tooltip, waiting: pending, oldestAgeMs: age };
}
