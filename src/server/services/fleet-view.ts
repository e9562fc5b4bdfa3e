/**
 * The fleet view's decisions (pure): a till's status, why it needs attention, the
 * order the console lists tills in, the filters and pages, and the roll-up per store.
 * FleetService reads the rows; nothing here does I/O.
 */
import type { AttentionReason, FleetQuery, FleetStatus, FleetTerminal, StoreRollup } from '../../shared/protocol.js';
import { ATTENTION_REASONS, FLEET_STATUSES } from '../../shared/protocol.js';

/** What the fleet view needs of one till, as read from sync_terminals (central's clock throughout). */
export interface FleetFacts {
  readonly terminalId: string;
  readonly storeId: string;
  readonly name: string;
  readonly disabled: boolean;
  /** ms since epoch; null: never heard from. */
  readonly lastSeenAt: number | null;
  readonly appVersion: string | null;
  readonly schemaVersion: string | null;
  readonly pending: number;
  readonly failed: number;
  readonly conflicts: number;
  /** ms since epoch, on central's clock. */
  readonly oldestPendingAt: number | null;
  readonly unsyncedSalesTotal: number;
  readonly unsyncedSalesCount: number;
  readonly currency: string | null;
  readonly clockSkewMs: number | null;
  readonly pullLagSeconds: number | null;
}

/** When a till is worth a look; the defaults are what the README's fleet section says. */
export interface AttentionRules {
  /** Silent for longer than this: OFFLINE (three heartbeat intervals). */
  readonly silentMs: number;
  /** A change waiting longer than this while the till is online. */
  readonly pendingTooLongMs: number;
  /** A clock further off than this (either way). */
  readonly clockSkewMs: number;
  /** Behind central's log for longer than this. */
  readonly pullBehindMs: number;
}

export function attentionRules(heartbeatIntervalSeconds: number): AttentionRules {
  return { silentMs: 3 * heartbeatIntervalSeconds * 1000, pendingTooLongMs: 5 * 60_000, clockSkewMs: 2 * 60_000, pullBehindMs: 5 * 60_000 };
}

export function fleetStatus(f: Pick<FleetFacts, 'disabled' | 'lastSeenAt'>, now: number, rules: Pick<AttentionRules, 'silentMs'>): FleetStatus {
  if (f.disabled) return 'DISABLED';
  if (f.lastSeenAt === null) return 'NEVER_SEEN';
  return now - f.lastSeenAt > rules.silentMs ? 'OFFLINE' : 'ONLINE';
}

/** Why a till needs attention, most urgent first; empty when it does not (a disabled till never does). */
export function attentionOf(f: FleetFacts, status: FleetStatus, now: number, rules: AttentionRules): AttentionReason[] {
  if (status === 'DISABLED') return [];
  const reasons = new Set<AttentionReason>();
  const holdsSales = f.unsyncedSalesCount > 0 || f.pending > 0;
  if (status === 'OFFLINE' && holdsSales) reasons.add('OFFLINE_WITH_SALES');
  if (f.failed > 0) reasons.add('FAILED_CHANGES');
  if (f.conflicts > 0) reasons.add('OPEN_CONFLICTS');
  if (status === 'ONLINE' && f.oldestPendingAt !== null && now - f.oldestPendingAt > rules.pendingTooLongMs) reasons.add('PENDING_TOO_LONG');
  if (status === 'OFFLINE' && !holdsSales) reasons.add('OFFLINE');
  if (f.clockSkewMs !== null && Math.abs(f.clockSkewMs) > rules.clockSkewMs) reasons.add('CLOCK_SKEW');
  if (f.pullLagSeconds !== null && f.pullLagSeconds * 1000 > rules.pullBehindMs) reasons.add('PULL_BEHIND');
  return ATTENTION_REASONS.filter((r) => reasons.has(r));
}

const secondsSince = (at: number | null, now: number): number | null => (at === null ? null : Math.max(0, Math.floor((now - at) / 1000)));

export function fleetTerminal(f: FleetFacts, now: number, rules: AttentionRules): FleetTerminal {
  const status = fleetStatus(f, now, rules);
  return {
    terminalId: f.terminalId,
    storeId: f.storeId,
    name: f.name,
    status,
    lastSeenAt: f.lastSeenAt === null ? null : new Date(f.lastSeenAt).toISOString(),
    appVersion: f.appVersion,
    schemaVersion: f.schemaVersion,
    pending: f.pending,
    failed: f.failed,
    conflicts: f.conflicts,
    oldestPendingSeconds: f.pending > 0 || f.unsyncedSalesCount > 0 ? secondsSince(f.oldestPendingAt, now) : null,
    unsyncedSalesTotal: f.unsyncedSalesTotal,
    unsyncedSalesCount: f.unsyncedSalesCount,
    currency: f.currency,
    clockSkewMs: f.clockSkewMs,
    pullLagSeconds: f.pullLagSeconds,
    attention: attentionOf(f, status, now, rules),
  };
}

/** Where a status sorts among tills that need no attention: the ones worth seeing first come first. */
const STATUS_ORDER: Record<FleetStatus, number> = { OFFLINE: 0, ONLINE: 1, NEVER_SEEN: 2, DISABLED: 3 };

/**
 * The console's order: by the most urgent reason (offline tills holding sales first),
 * then tills with no reason by status; within each, the most money not at central
 * first, then the oldest pending change, then by id (a stable order for paging).
 */
export function byAttention(a: FleetTerminal, b: FleetTerminal): number {
  const rank = (t: FleetTerminal) => (t.attention.length > 0 ? ATTENTION_REASONS.indexOf(t.attention[0] as AttentionReason) : ATTENTION_REASONS.length + STATUS_ORDER[t.status]);
  return (
    rank(a) - rank(b) ||
    b.unsyncedSalesTotal - a.unsyncedSalesTotal ||
    (b.oldestPendingSeconds ?? -1) - (a.oldestPendingSeconds ?? -1) ||
    (a.terminalId < b.terminalId ? -1 : a.terminalId > b.terminalId ? 1 : 0)
  );
}

export function matches(t: FleetTerminal, q: Pick<FleetQuery, 'storeId' | 'status' | 'attention'>): boolean {
  if (q.storeId !== undefined && t.storeId !== q.storeId) return false;
  if (q.status !== undefined && t.status !== q.status) return false;
  if (q.attention !== undefined && (t.attention.length > 0) !== q.attention) return false;
  return true;
}

/** The filtered tills in the console's order, and the page asked for. */
export function fleetPage(all: readonly FleetTerminal[], q: FleetQuery): { terminals: FleetTerminal[]; total: number } {
  const selected = all.filter((t) => matches(t, q)).sort(byAttention);
  return { terminals: selected.slice(q.offset, q.offset + q.limit), total: selected.length };
}

/** Per store: how many tills in each status, how many need attention, and what they hold. */
export function storeRollups(all: readonly FleetTerminal[], stores: ReadonlyMap<string, { name: string; currency: string | null }>): StoreRollup[] {
  const out = new Map<string, StoreRollup & { byStatus: Record<FleetStatus, number> }>();
  for (const t of all) {
    let r = out.get(t.storeId);
    if (!r) {
      const s = stores.get(t.storeId);
      r = {
        storeId: t.storeId,
        name: s?.name ?? null,
        currency: s?.currency ?? t.currency,
        terminals: 0,
        byStatus: Object.fromEntries(FLEET_STATUSES.map((x) => [x, 0])) as Record<FleetStatus, number>,
        needAttention: 0,
        pending: 0,
        failed: 0,
        conflicts: 0,
        unsyncedSalesTotal: 0,
        unsyncedSalesCount: 0,
        oldestPendingSeconds: null,
      };
      out.set(t.storeId, r);
    }
    r.terminals++;
    r.byStatus[t.status]++;
    if (t.attention.length > 0) r.needAttention++;
    r.pending += t.pending;
    r.failed += t.failed;
    r.conflicts += t.conflicts;
    r.unsyncedSalesTotal = roundMoney(r.unsyncedSalesTotal + t.unsyncedSalesTotal);
    r.unsyncedSalesCount += t.unsyncedSalesCount;
    if (t.oldestPendingSeconds !== null) r.oldestPendingSeconds = Math.max(r.oldestPendingSeconds ?? 0, t.oldestPendingSeconds);
  }
  return [...out.values()].sort((a, b) => b.needAttention - a.needAttention || b.unsyncedSalesTotal - a.unsyncedSalesTotal || (a.storeId < b.storeId ? -1 : 1));
}

/** Money summed in floating point, kept to the cent (sums of reported totals). */
export const roundMoney = (v: number): number => Math.round(v * 100) / 100;

/**
 * Central's clock for a moment the till reported on its own clock: the report's
 * instant on the till (`reportedAt`) arrived at central at `receivedAt`, so the till's
 * clock is `reportedAt - receivedAt` ahead (within the request's transit time).
 */
export function onCentralClock(tillInstant: number, reportedAt: number | null, receivedAt: number): number {
  return reportedAt === null ? tillInstant : tillInstant - (reportedAt - receivedAt);
}

/** The skew kept: the till's clock minus central's, clamped to what an integer column holds. */
export function clockSkew(reportedAt: number | null, receivedAt: number): number | null {
  if (reportedAt === null) return null;
  return Math.max(-2_147_483_647, Math.min(2_147_483_647, Math.round(reportedAt - receivedAt)));
}
