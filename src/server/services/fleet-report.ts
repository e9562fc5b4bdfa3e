/**
 * The fleet view's reads (GET /api/fleet, /api/fleet/stores, /api/fleet/terminals/:terminalId):
 * every till's last report from sync_terminals, central's open conflicts per till, and
 * how far behind central's change log each till pulls. The decisions (status,
 * attention, order, pages, roll-ups) are fleet-view.ts's.
 */
import type { FleetQuery, FleetResponse, FleetTerminal, FleetTerminalDetail, ReportedRun, StoreRollup, TableCounts } from '../../shared/protocol.js';
import type { Database } from '../db/database.js';
import { notFound } from '../errors.js';
import { attentionRules, fleetPage, fleetTerminal, storeRollups, type AttentionRules, type FleetFacts } from './fleet-view.js';
import { decodeCursor, isSnapshot } from './pull.js';

interface FleetRow {
  id: string;
  store_id: string;
  name: string;
  disabled: boolean;
  last_heartbeat_at: string | null;
  app_version: string | null;
  schema_version: string | null;
  pending: number | null;
  failed: number | null;
  oldest_pending_at: string | null;
  unsynced_sales_count: number | null;
  unsynced_sales_total: string | null;
  clock_skew_ms: number | null;
  pull_cursors: Record<string, string> | null;
  currency: string | null;
  conflicts: number;
}

/** Every till's last report; pending and failed fall back to the reported outbox of a till that reported no sums (an older version). */
const FLEET_SQL = `SELECT t.id, t.store_id, t.name, t.disabled_at IS NOT NULL AS disabled, t.last_heartbeat_at, t.app_version, t.schema_version,
    coalesce(t.pending_total, (SELECT sum((v->>'pending')::bigint) FROM jsonb_each(t.outbox) AS o(k, v)))::int AS pending,
    coalesce(t.failed_total, (SELECT sum((v->>'failed')::bigint) FROM jsonb_each(t.outbox) AS o(k, v)))::int AS failed,
    t.oldest_pending_at, t.unsynced_sales_count, t.unsynced_sales_total::text AS unsynced_sales_total, t.clock_skew_ms, t.pull_cursors,
    s.currency, coalesce(c.n, 0)::int AS conflicts
  FROM sync_terminals t
  LEFT JOIN stores s ON s.id = t.store_id
  LEFT JOIN (SELECT terminal_id, count(*) AS n FROM sync_conflicts WHERE status = 'open' GROUP BY terminal_id) c ON c.terminal_id = t.id`;

/** The newest change of each entity type in central's log (an index look-up each). */
const HEADS_SQL = `SELECT e AS entity_type, h.txid::text AS txid, h.seq FROM unnest($1::text[]) AS e
  CROSS JOIN LATERAL (SELECT txid, seq FROM sync_changes WHERE entity_type = e ORDER BY txid DESC, seq DESC LIMIT 1) h`;

/**
 * For each (till, entity type) behind the head: the oldest change after its cursor
 * that it would pull (in its store or for every store, and not its own), as an age in
 * seconds; no row: nothing it needs.
 */
const LAG_SQL = `SELECT p.t AS terminal_id, extract(epoch FROM now() - f.changed_at)::float8 AS lag
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS p(t, store, e, x, s)
  CROSS JOIN LATERAL (
    SELECT c.changed_at FROM sync_changes c
     WHERE c.entity_type = p.e AND (c.txid, c.seq) > (p.x::xid8, p.s)
       AND (c.store_id IS NULL OR c.store_id = p.store) AND c.origin IS DISTINCT FROM p.t
     ORDER BY c.txid, c.seq LIMIT 1) f`;

const num = (v: string | number | null): number => (v === null ? 0 : Number(v));
const at = (v: string | null): number | null => (v === null ? null : Date.parse(v));

function facts(r: FleetRow, pullLagSeconds: number | null): FleetFacts {
  return {
    terminalId: r.id,
    storeId: r.store_id,
    name: r.name,
    disabled: r.disabled,
    lastSeenAt: at(r.last_heartbeat_at),
    appVersion: r.app_version,
    schemaVersion: r.schema_version,
    pending: r.pending ?? 0,
    failed: r.failed ?? 0,
    conflicts: r.conflicts,
    oldestPendingAt: at(r.oldest_pending_at),
    unsyncedSalesTotal: num(r.unsynced_sales_total),
    unsyncedSalesCount: r.unsynced_sales_count ?? 0,
    currency: r.currency,
    clockSkewMs: r.clock_skew_ms,
    pullLagSeconds,
  };
}

/** A cursor as the till reported it, as a log position (null: a snapshot read under way, or not one of ours: its lag is not known). */
function position(cursor: string): { txid: string; seq: number } | null {
  try {
    const c = decodeCursor(cursor);
    return isSnapshot(c) ? null : { txid: c.txid, seq: c.seq };
  } catch {
    return null;
  }
}

const after = (a: { txid: string; seq: number }, b: { txid: string; seq: number }): boolean => {
  const x = BigInt(a.txid);
  const y = BigInt(b.txid);
  return x > y || (x === y && a.seq > b.seq);
};

export class FleetReport {
  private readonly rules: AttentionRules;

  constructor(
    private readonly db: Database,
    heartbeatIntervalSeconds: number,
    private readonly isConnected: (terminalId: string) => boolean = () => false,
  ) {
    this.rules = attentionRules(heartbeatIntervalSeconds);
  }

  async page(q: FleetQuery): Promise<FleetResponse> {
    // One store's tills are read alone (fleetPage filters again, by the same rule).
    const all = await this.all(q.storeId);
    const { terminals, total } = fleetPage(all, q);
    return { terminals, total, offset: q.offset, limit: q.limit, generatedAt: new Date().toISOString() };
  }

  async stores(): Promise<{ stores: StoreRollup[]; generatedAt: string }> {
    const [all, names] = await Promise.all([
      this.all(),
      this.db.query<{ id: string; name: string; currency: string | null }>('SELECT id, name, currency FROM stores'),
    ]);
    return { stores: storeRollups(all, new Map(names.rows.map((s) => [s.id, s]))), generatedAt: new Date().toISOString() };
  }

  async detail(terminalId: string): Promise<FleetTerminalDetail> {
    const r = await this.db.query<FleetRow & { outbox: Record<string, TableCounts> | null; recent_runs: ReportedRun[] | null; last_sync_at: string | null }>(
      `SELECT f.*, t.outbox, t.recent_runs, t.last_sync_at FROM (${FLEET_SQL} WHERE t.id = $1) f JOIN sync_terminals t ON t.id = f.id`,
      [terminalId],
    );
    const row = r.rows[0];
    if (!row) throw notFound('UNKNOWN_TERMINAL', `no terminal ${terminalId}`);
    const lags = await this.pullLags([row]);
    const now = Date.now();
    return {
      ...fleetTerminal(facts(row, lags.get(row.id) ?? null), now, this.rules),
      tables: row.outbox ?? {},
      recentRuns: row.recent_runs ?? [],
      lastSyncAt: row.last_sync_at,
      disabled: row.disabled,
      connected: this.isConnected(row.id),
    };
  }

  /** Every till (or one store's) as the fleet view shows it (central's clock). */
  private async all(storeId?: string): Promise<FleetTerminal[]> {
    const r = storeId === undefined ? await this.db.query<FleetRow>(FLEET_SQL) : await this.db.query<FleetRow>(`${FLEET_SQL} WHERE t.store_id = $1`, [storeId]);
    const lags = await this.pullLags(r.rows);
    const now = Date.now();
    return r.rows.map((row) => fleetTerminal(facts(row, lags.get(row.id) ?? null), now, this.rules));
  }

  /**
   * Per till that reported cursors: the age of the oldest change it has not pulled (0:
   * in step; none for a till still reading a table from a snapshot). Only (till, table) pairs behind the table's newest change are looked up,
   * so a fleet in step costs one look-up per table.
   */
  private async pullLags(rows: readonly FleetRow[]): Promise<Map<string, number>> {
    const lags = new Map<string, number>();
    const reported = rows.filter((r) => r.pull_cursors && Object.keys(r.pull_cursors).length > 0 && !r.disabled);
    if (reported.length === 0) return lags;
    const types = [...new Set(reported.flatMap((r) => Object.keys(r.pull_cursors ?? {})))];
    const heads = await this.db.query<{ entity_type: string; txid: string; seq: string | number }>(HEADS_SQL, [types]);
    const head = new Map(heads.rows.map((h) => [h.entity_type, { txid: h.txid, seq: Number(h.seq) }]));
    const probe = { t: [] as string[], store: [] as string[], e: [] as string[], x: [] as string[], s: [] as number[] };
    const unknown = new Set<string>();
    for (const r of reported) {
      lags.set(r.id, 0);
      for (const [type, cursor] of Object.entries(r.pull_cursors ?? {})) {
        const h = head.get(type);
        const p = position(cursor);
        // A table still read from a snapshot (a first sync under way): how far behind is not known.
        if (!p) unknown.add(r.id);
        if (!h || !p || !after(h, p)) continue;
        probe.t.push(r.id);
        probe.store.push(r.store_id);
        probe.e.push(type);
        probe.x.push(p.txid);
        probe.s.push(p.seq);
      }
    }
    if (probe.t.length > 0) {
      const found = await this.db.query<{ terminal_id: string; lag: number }>(LAG_SQL, [probe.t, probe.store, probe.e, probe.x, probe.s]);
      for (const f of found.rows) lags.set(f.terminal_id, Math.max(lags.get(f.terminal_id) ?? 0, Math.max(0, Math.floor(f.lag))));
    }
    for (const id of unknown) lags.delete(id);
    return lags;
  }
}
