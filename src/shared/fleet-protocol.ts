/**
 * HQ's fleet view and console, on the wire: GET /api/fleet, /api/fleet/stores,
 * /api/fleet/terminals/:terminalId, GET /api/conflicts/analytics, and the console's
 * `fleet:changed` (socket.io namespace /console). What a till reports for it is the
 * heartbeat's (protocol.ts).
 */
import { z } from 'zod';
import { KEY_MAX_LENGTH } from './catalog/index.js';
import { ReportedRun, TableCounts } from './report-protocol.js';

export const FLEET_STATUSES = ['ONLINE', 'OFFLINE', 'DISABLED', 'NEVER_SEEN'] as const;
export const FleetStatus = z.enum(FLEET_STATUSES);
export type FleetStatus = z.infer<typeof FleetStatus>;

/** Why a till needs someone to look at it, most urgent first (services/fleet-view.ts decides). */
export const ATTENTION_REASONS = [
  'OFFLINE_WITH_SALES',
  'FAILED_CHANGES',
  'OPEN_CONFLICTS',
  'PENDING_TOO_LONG',
  'OFFLINE',
  'CLOCK_SKEW',
  'PULL_BEHIND',
] as const;
export const AttentionReason = z.enum(ATTENTION_REASONS);
export type AttentionReason = z.infer<typeof AttentionReason>;

/** One till in the fleet view. Counts are as its last heartbeat reported them; conflicts are central's open ones. */
export const FleetTerminal = z.object({
  terminalId: z.string(),
  storeId: z.string(),
  name: z.string(),
  status: FleetStatus,
  lastSeenAt: z.string().nullable(),
  appVersion: z.string().nullable(),
  schemaVersion: z.string().nullable(),
  pending: z.number().int(),
  failed: z.number().int(),
  conflicts: z.number().int(),
  /** Age of the oldest change not yet at central, on central's clock; null: nothing waits (or not reported). */
  oldestPendingSeconds: z.number().int().nullable(),
  /** Value of completed sales not yet at central, in the store's currency (`currency`). */
  unsyncedSalesTotal: z.number(),
  unsyncedSalesCount: z.number().int(),
  currency: z.string().nullable(),
  /** The till's clock minus central's at its last heartbeat (ms; within the request's transit time). */
  clockSkewMs: z.number().int().nullable(),
  /** Age of the oldest change in central's log, for a table the till pulls and in its scope, that it has not pulled; 0: in step; null: unknown. */
  pullLagSeconds: z.number().int().nullable(),
  /** Empty when nothing needs looking at. */
  attention: z.array(AttentionReason),
});
export type FleetTerminal = z.infer<typeof FleetTerminal>;

export const FleetQuery = z.strictObject({
  storeId: z.string().min(1).max(KEY_MAX_LENGTH).optional(),
  status: FleetStatus.optional(),
  /** `true`: only tills that need attention. */
  attention: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type FleetQuery = z.infer<typeof FleetQuery>;

export const FleetResponse = z.object({
  /** Sorted by attention: offline tills holding sales first, then by their oldest pending change. */
  terminals: z.array(FleetTerminal),
  /** Tills matching the filters (all pages). */
  total: z.number().int(),
  offset: z.number().int(),
  limit: z.number().int(),
  generatedAt: z.string(),
});
export type FleetResponse = z.infer<typeof FleetResponse>;

export const StoreRollup = z.object({
  storeId: z.string(),
  name: z.string().nullable(),
  currency: z.string().nullable(),
  terminals: z.number().int(),
  byStatus: z.record(FleetStatus, z.number().int()),
  needAttention: z.number().int(),
  pending: z.number().int(),
  failed: z.number().int(),
  conflicts: z.number().int(),
  unsyncedSalesTotal: z.number(),
  unsyncedSalesCount: z.number().int(),
  oldestPendingSeconds: z.number().int().nullable(),
});
export type StoreRollup = z.infer<typeof StoreRollup>;
export const StoreRollupResponse = z.object({ stores: z.array(StoreRollup), generatedAt: z.string() });

/** One till in detail: the fleet row plus what its heartbeat reported per table and its latest runs. */
export const FleetTerminalDetail = FleetTerminal.extend({
  tables: z.record(z.string(), TableCounts),
  recentRuns: z.array(ReportedRun),
  lastSyncAt: z.string().nullable(),
  disabled: z.boolean(),
  connected: z.boolean(),
});
export type FleetTerminalDetail = z.infer<typeof FleetTerminalDetail>;


// ---------------------------------------------------------------- conflict analytics

/** `GET /api/conflicts/analytics` (admin): how many conflicts of the last `weeks` weeks (this one included). */
export const ConflictAnalyticsQuery = z.strictObject({ weeks: z.coerce.number().int().min(1).max(52).default(12) });

export const ConflictAnalyticsRow = z.object({
  /** The week's Monday (UTC), YYYY-MM-DD. */
  weekStart: z.string(),
  entityType: z.string(),
  /** A field the till's and central's rows disagreed on; `(row)` when one side had deleted the row. */
  field: z.string(),
  /** How it was resolved (TERMINAL_WINS, CENTRAL_WINS, MANUAL_MERGE, ...); null while still open. */
  resolution: z.string().nullable(),
  count: z.number().int(),
});
export type ConflictAnalyticsRow = z.infer<typeof ConflictAnalyticsRow>;

export const ConflictAnalyticsResponse = z.object({
  /** Newest week first, then the most frequent. */
  weeks: z.array(ConflictAnalyticsRow),
  /** Conflicts counted. */
  conflicts: z.number().int(),
  /** More conflicts than are counted per request (the newest were). */
  truncated: z.boolean(),
  generatedAt: z.string(),
});
export type ConflictAnalyticsResponse = z.infer<typeof ConflictAnalyticsResponse>;

// ---------------------------------------------------------------- live

/** `fleet:changed`: these tills reported (or, `all`, anything may have changed: read everything again). */
export const FleetChanged = z.object({ terminalIds: z.array(z.string()).max(1000), all: z.boolean() });
export type FleetChanged = z.infer<typeof FleetChanged>;
