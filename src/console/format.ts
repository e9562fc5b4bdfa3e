/** The console's display helpers and the analytics' grouping (pure). */
import { when } from '../renderer/format.js';
import type { AttentionReason, ConflictAnalyticsRow, FleetStatus } from '../shared/protocol.js';

/** "€14.40" in the store's currency; a plain number when the currency is unknown. */
export function money(total: number, currency: string | null, locale?: string): string {
  if (currency) {
    try {
      return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(total);
    } catch {
      // an unknown currency code: the number with the code beside it
    }
    return `${total.toFixed(2)} ${currency}`;
  }
  return total.toFixed(2);
}

/** "45 s", "11 min", "2 h 5 min", "3 d 4 h"; "—" for null. */
export function age(seconds: number | null): string {
  if (seconds === null) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** The till's clock against central's: "in step" within a second, else "+5 min" (ahead) or "−12 s" (behind). */
export function skew(ms: number | null): string {
  if (ms === null) return '—';
  if (Math.abs(ms) < 1000) return 'in step';
  return `${ms > 0 ? '+' : '−'}${age(Math.abs(ms) / 1000)}`;
}

/** How far behind central's changes a till pulls: "in step" at 0. */
export function lag(seconds: number | null): string {
  if (seconds === null) return '—';
  return seconds === 0 ? 'in step' : `${age(seconds)} behind`;
}

/** "12:03:04" today, else "3 Nov 12:03"; "never" for null: the companion's own wording. */
export const seen = when;

export const ATTENTION_LABELS: Readonly<Record<AttentionReason, { readonly label: string; readonly why: string; readonly severity: 'bad' | 'warn' }>> = {
  OFFLINE_WITH_SALES: { label: 'Offline with sales', why: 'offline while holding completed sales not yet at HQ', severity: 'bad' },
  FAILED_CHANGES: { label: 'Failed changes', why: 'changes central refused; they need looking at', severity: 'bad' },
  OPEN_CONFLICTS: { label: 'Open conflicts', why: 'conflicts waiting for someone to resolve them', severity: 'bad' },
  PENDING_TOO_LONG: { label: 'Waiting too long', why: 'a change has waited to reach HQ for too long', severity: 'warn' },
  OFFLINE: { label: 'Offline', why: 'no heartbeat lately', severity: 'warn' },
  CLOCK_SKEW: { label: 'Clock off', why: "the till's clock is more than two minutes off central's", severity: 'warn' },
  PULL_BEHIND: { label: 'Behind HQ', why: "the till has not pulled HQ's latest changes", severity: 'warn' },
};

export const STATUS_LABELS: Readonly<Record<FleetStatus, string>> = {
  ONLINE: 'Online',
  OFFLINE: 'Offline',
  DISABLED: 'Disabled',
  NEVER_SEEN: 'Never seen',
};

/** A resolution's words; null is a conflict still open. */
export function resolutionLabel(resolution: string | null): string {
  if (resolution === null) return 'still open';
  return resolution.replace(/_/g, ' ').toLowerCase();
}

export interface FieldSummary {
  readonly entityType: string;
  readonly field: string;
  readonly total: number;
  /** resolution label -> count, most first */
  readonly byResolution: readonly { readonly resolution: string | null; readonly count: number }[];
}

/** Which tables and fields conflict most over the whole range, with how they were resolved. */
export function byField(rows: readonly ConflictAnalyticsRow[]): FieldSummary[] {
  const groups = new Map<string, { entityType: string; field: string; total: number; res: Map<string | null, number> }>();
  for (const r of rows) {
    const key = `${r.entityType}\u0000${r.field}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { entityType: r.entityType, field: r.field, total: 0, res: new Map() }));
    g.total += r.count;
    g.res.set(r.resolution, (g.res.get(r.resolution) ?? 0) + r.count);
  }
  return [...groups.values()]
    .map((g) => ({
      entityType: g.entityType,
      field: g.field,
      total: g.total,
      byResolution: [...g.res.entries()].map(([resolution, count]) => ({ resolution, count })).sort((a, b) => b.count - a.count || String(a.resolution).localeCompare(String(b.resolution))),
    }))
    .sort((a, b) => b.total - a.total || a.entityType.localeCompare(b.entityType) || a.field.localeCompare(b.field));
}

export interface WeekSummary {
  readonly weekStart: string;
  readonly total: number;
  readonly rows: readonly ConflictAnalyticsRow[];
}

/** Per week, newest first, its rows most frequent first. */
export function byWeek(rows: readonly ConflictAnalyticsRow[]): WeekSummary[] {
  const weeks = new Map<string, ConflictAnalyticsRow[]>();
  for (const r of rows) {
    const w = weeks.get(r.weekStart);
    if (w) w.push(r);
    else weeks.set(r.weekStart, [r]);
  }
  return [...weeks.entries()]
    .sort((a, b) => b[0].localeCompare(a[0]))
    .map(([weekStart, rs]) => ({
      weekStart,
      total: rs.reduce((n, r) => n + r.count, 0),
      rows: [...rs].sort((a, b) => b.count - a.count || a.entityType.localeCompare(b.entityType) || a.field.localeCompare(b.field)),
    }));
}
