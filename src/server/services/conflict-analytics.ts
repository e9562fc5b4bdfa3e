/**
 * Conflict analytics for HQ's console: per week, which tables and fields conflict and
 * how they were resolved. The counting is pure (`conflictAnalytics`); the service
 * reads the conflicts of the weeks asked for.
 */
import type { ConflictAnalyticsResponse, ConflictAnalyticsRow } from '../../shared/protocol.js';
import type { Database } from '../db/database.js';

type Image = Record<string, unknown> | null;

export interface ConflictFacts {
  readonly entityType: string;
  readonly createdAt: string;
  /** null while the conflict is open. */
  readonly resolution: string | null;
  readonly terminal: Image;
  readonly central: Image;
}

/** A row deleted on one side and changed on the other conflicts as a whole. */
export const WHOLE_ROW = '(row)';

/** Columns sync keeps itself: they differ in every conflict and say nothing of it. */
const BOOKKEEPING = /^(sync_|id$|version$|updated_at$|created_at$)/;

/** The fields the two sides disagree on (sorted); WHOLE_ROW when one side deleted the row. */
export function conflictingFields(terminal: Image, central: Image): string[] {
  if (terminal === null || central === null) return [WHOLE_ROW];
  const keys = new Set([...Object.keys(terminal), ...Object.keys(central)]);
  const fields = [...keys].filter((k) => !BOOKKEEPING.test(k) && JSON.stringify(terminal[k] ?? null) !== JSON.stringify(central[k] ?? null)).sort();
  return fields.length > 0 ? fields : [WHOLE_ROW];
}

/** The Monday (UTC) of the week an instant falls in, as YYYY-MM-DD. */
export function weekStart(instant: string): string {
  const d = new Date(instant);
  const day = (d.getUTCDay() + 6) % 7; // Monday 0
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day)).toISOString().slice(0, 10);
}

/** Counts per (week, table, field, resolution), newest week first, then by count. */
export function conflictAnalytics(conflicts: readonly ConflictFacts[]): ConflictAnalyticsRow[] {
  const counts = new Map<string, ConflictAnalyticsRow>();
  for (const c of conflicts) {
    const week = weekStart(c.createdAt);
    for (const field of conflictingFields(c.terminal, c.central)) {
      const key = JSON.stringify([week, c.entityType, field, c.resolution]);
      const row = counts.get(key) ?? { weekStart: week, entityType: c.entityType, field, resolution: c.resolution, count: 0 };
      row.count++;
      counts.set(key, row);
    }
  }
  return [...counts.values()].sort(
    (a, b) =>
      b.weekStart.localeCompare(a.weekStart) ||
      b.count - a.count ||
      a.entityType.localeCompare(b.entityType) ||
      a.field.localeCompare(b.field) ||
      (a.resolution ?? '').localeCompare(b.resolution ?? ''),
  );
}

/** At most this many conflicts are counted per request (the newest); `truncated` says when more were there. */
export const MAX_COUNTED = 50_000;

export class ConflictAnalyticsService {
  constructor(private readonly db: Database) {}

  async weeks(weeks: number): Promise<ConflictAnalyticsResponse> {
    const r = await this.db.query<{ entity_type: string; created_at: string; resolution: string | null; terminal: Image; central: Image }>(
      `SELECT entity_type, created_at, CASE WHEN status = 'open' THEN NULL ELSE resolution END AS resolution, terminal, central
         FROM sync_conflicts WHERE created_at >= (date_trunc('week', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') - make_interval(weeks => $1)
         ORDER BY created_at DESC LIMIT $2`,
      [weeks - 1, MAX_COUNTED + 1],
    );
    const rows = r.rows.slice(0, MAX_COUNTED);
    return {
      weeks: conflictAnalytics(
        rows.map((x) => ({ entityType: x.entity_type, createdAt: new Date(x.created_at).toISOString(), resolution: x.resolution, terminal: x.terminal, central: x.central })),
      ),
      conflicts: rows.length,
      truncated: r.rows.length > MAX_COUNTED,
      generatedAt: new Date().toISOString(),
    };
  }
}
