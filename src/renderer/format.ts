/** Display helpers (pure). */
import { formatAge } from '../shared/tray-state.js';

/** "12:03:04" today, else "3 Nov 12:03"; "never" for null. */
export function when(iso: string | null | undefined, now = new Date()): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })} ${time}`;
}

/** A cell value as text: '(empty)' for null/undefined, JSON for objects. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return '(empty)';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * How long ago, short enough for a table on a till's small screen: "just now", "12 s
 * ago", "3 min ago", "2 h ago", "1 day ago"; "never" for null. `when` gives the exact time (a title).
 */
export function ago(iso: string | null | undefined, now: number): string {
  if (!iso) return 'never';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const age = formatAge(now - at);
  return age === 'just now' ? age : `${age} ago`;
}
