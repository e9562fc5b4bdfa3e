/**
 * The wire protocol between terminals and central: every HTTP body and socket.io
 * payload as a zod schema. The seed's endpoints and request shapes are the contract;
 * fields added here extend them, never change them.
 */
import { z } from 'zod';
import { CONFLICT_STRATEGIES, ENTITY_TYPES, entryForEntity, KEY_MAX_LENGTH, type WireRow } from './catalog/index.js';
import { excerpt } from './excerpt.js';
import { HlcString } from './hlc.js';

export const TERMINAL_ID = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, 'must be 1-64 letters, digits, _ . : or -, starting with a letter or digit');

export const ENTITY_TYPE = z.enum(ENTITY_TYPES as [string, ...string[]], {
  // An excerpt, never the input itself: it may be megabytes long or nested thousands deep.
  error: (issue) => `unknown entity type ${excerpt(issue.input)}; known: ${ENTITY_TYPES.join(', ')}`,
});

export const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE'] as const;
export const Operation = z.enum(OPERATIONS);
export type Operation = z.infer<typeof Operation>;

/**
 * A row image: a JSON object of columns. Only its shape is checked here: a push's `data`
 * and `baseData` are checked column by column against the entity's row schema below, and
 * the till's mapping reads only the catalog's columns of a pulled row. A check of each
 * key and value (`z.record(z.string(), z.unknown())`) cost 2.9 us an image (a
 * customer's), on every change central takes and every row a till pulls; this one 0.1
 * us. The API docs still describe it as an object.
 */
const RowImage = z
  .custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), { error: 'must be a JSON object (a row\'s columns)' })
  .meta({ type: 'object', additionalProperties: {} });

// ---------------------------------------------------------------- push

export const PushChange = z
  .strictObject({
    /** Globally unique id of this outbox entry; the idempotency key. When omitted, the change's content is its id. */
    changeId: z.string().min(8).max(128).optional(),
    entityType: ENTITY_TYPE,
    entityId: z.string().min(1).max(KEY_MAX_LENGTH),
    operation: Operation,
    /** The new row image, central column names. Omitted fields keep their central value. */
    data: RowImage.optional(),
    /** The row image the terminal last had from central (the base of a 3-way merge). */
    baseData: RowImage.nullable().optional(),
    /** The central version the terminal last saw; 0 for a row new to central. */
    syncVersion: z.number().int().min(0).default(0),
    /** Hybrid logical clock of the change (orders last-writer-wins ties). */
    hlc: HlcString.optional(),
    priority: z.number().int().min(0).max(10).optional(),
    createdInMode: z.enum(['ONLINE', 'OFFLINE']).optional(),
    transactionGroup: z.string().max(128).optional(),
  })
  .superRefine((change, ctx) => {
    const entry = entryForEntity(change.entityType);
    if (!entry) return;
    for (const key of ['data', 'baseData'] as const) {
      const image = change[key];
      if (!image) continue;
      const parsed = entry.rowSchema.safeParse(image);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          ctx.addIssue({ ...issue, path: [key, ...issue.path], message: `${change.entityType}: ${issue.message}` } as never);
        }
      }
    }
    if (change.data && change.data.id !== undefined && change.data.id !== change.entityId) {
      ctx.addIssue({ code: 'custom', path: ['data', 'id'], message: 'data.id must equal entityId' });
    }
    if (change.operation !== 'DELETE' && !change.data) {
      ctx.addIssue({ code: 'custom', path: ['data'], message: `${change.operation} needs data` });
    }
  });
export type PushChange = z.infer<typeof PushChange>;

export const PushRequest = z.strictObject({
  terminalId: TERMINAL_ID,
  changes: z.array(PushChange).max(5000),
  /** Schema hash per entity type the terminal is pushing; a mismatch rejects that type's changes. */
  schemaHashes: z.partialRecord(ENTITY_TYPE, z.string().max(64)).optional(),
});
export type PushRequest = z.infer<typeof PushRequest>;

export const CHANGE_STATUSES = ['applied', 'duplicate', 'conflict', 'rejected'] as const;
export const ChangeStatus = z.enum(CHANGE_STATUSES);
export type ChangeStatus = z.infer<typeof ChangeStatus>;

export const RESOLUTIONS = ['TERMINAL_WINS', 'CENTRAL_WINS', 'MERGED', 'PARKED'] as const;

export const ErrorInfo = z.object({ code: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof ErrorInfo>;

export const PushResult = z.object({
  changeId: z.string(),
  entityType: z.string(),
  entityId: z.string(),
  status: ChangeStatus,
  /** The row's version at central after this change (null when rejected). */
  version: z.number().int().nullable(),
  /** For a duplicate: the status the change got the first time. */
  originalStatus: ChangeStatus.optional(),
  /** For a conflict: how it was settled. */
  resolution: z.enum(RESOLUTIONS).optional(),
  conflictId: z.string().optional(),
  /** For a conflict settled other than TERMINAL_WINS: the row as central now has it. */
  data: RowImage.optional(),
  error: ErrorInfo.optional(),
});
export type PushResult = z.infer<typeof PushResult>;

export const PushResponse = z.object({
  terminalId: z.string(),
  results: z.array(PushResult),
  summary: z.object({
    applied: z.number().int(),
    duplicate: z.number().int(),
    conflict: z.number().int(),
    rejected: z.number().int(),
  }),
  serverTime: z.string(),
});
export type PushResponse = z.infer<typeof PushResponse>;

// ---------------------------------------------------------------- pull

export const PullQuery = z.strictObject({
  terminalId: TERMINAL_ID,
  entityType: ENTITY_TYPE,
  /** Starting point as in the seed: changes since this instant. Ignored when a cursor is given. */
  lastSync: z.iso.datetime({ offset: true }).optional(),
  /** Opaque cursor from the previous page. */
  cursor: z.string().max(2048).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
  /**
   * Where a pull without cursor or lastSync starts. `changes` (the default): the change
   * log from its beginning. `snapshot`: the table's live rows as they are now, in key
   * order, then the change log from where that read began; for a terminal that holds
   * none of the table's rows yet (a first sync), since it serves no tombstones.
   */
  start: z.enum(['changes', 'snapshot']).optional(),
  schemaHash: z.string().max(64).optional(),
  /**
   * The till handles 409 CENTRAL_RESTORED (engines since the restore generation say
   * so). Without it, a cursor of an earlier restore generation is answered 409
   * CURSOR_EXPIRED, which older engines act on (they re-read the table).
   */
  knows: z.literal('CENTRAL_RESTORED').optional(),
});
export type PullQuery = z.infer<typeof PullQuery>;

export const PulledChange = z.object({
  entityId: z.string(),
  operation: Operation,
  version: z.number().int(),
  /** The row as central has it now (central column names); a tombstone keeps its last image. */
  data: RowImage,
  deleted: z.boolean(),
  origin: z.string().nullable(),
  hlc: z.string().nullable(),
  changedAt: z.string(),
});
export type PulledChange = z.infer<typeof PulledChange>;

export const PullResponse = z.object({
  terminalId: z.string(),
  entityType: z.string(),
  changes: z.array(PulledChange),
  cursor: z.string(),
  hasMore: z.boolean(),
  /** The page is part of a snapshot read (see PullQuery.start); absent for change-log pages. */
  snapshot: z.boolean().optional(),
  /**
   * The last page of a snapshot read: every live row of the table (of the terminal's
   * store) has now been sent. A terminal re-reading a table after CURSOR_EXPIRED drops
   * what it holds that the read did not bring (central purged it as deleted).
   */
  snapshotEnd: z.boolean().optional(),
  schemaHash: z.string(),
  serverTime: z.string(),
});
export type PullResponse = z.infer<typeof PullResponse>;

// ---------------------------------------------------------------- conflicts

export const ResolveRequest = z
  .strictObject({
    conflictId: z.string().min(1).max(100),
    resolvedData: RowImage.optional(),
    resolution: z.enum(['TERMINAL_WINS', 'CENTRAL_WINS', 'MANUAL_MERGE']),
    resolvedBy: z.string().max(200).optional(),
  })
  .refine((r) => r.resolution !== 'MANUAL_MERGE' || r.resolvedData !== undefined, {
    path: ['resolvedData'],
    message: 'MANUAL_MERGE needs resolvedData',
  });
export type ResolveRequest = z.infer<typeof ResolveRequest>;

export const ConflictStatus = z.enum(['open', 'resolved']);

export const ConflictRecord = z.object({
  conflictId: z.string(),
  terminalId: z.string(),
  entityType: z.string(),
  entityId: z.string(),
  changeId: z.string(),
  status: ConflictStatus,
  strategy: z.enum(CONFLICT_STRATEGIES),
  base: RowImage.nullable(),
  terminal: RowImage.nullable(),
  central: RowImage.nullable(),
  centralVersion: z.number().int().nullable(),
  resolution: z.string().nullable(),
  resolvedData: RowImage.nullable(),
  /** The row's version after the resolution was written (null while open). */
  resolvedVersion: z.number().int().nullable(),
  createdAt: z.string(),
  resolvedAt: z.string().nullable(),
});
export type ConflictRecord = z.infer<typeof ConflictRecord>;

export const ResolveResponse = z.object({
  conflictId: z.string(),
  status: z.literal('resolved'),
  entityType: z.string(),
  entityId: z.string(),
  version: z.number().int(),
  data: RowImage,
  /** The resolution leaves the row deleted (the terminal's delete won). */
  deleted: z.boolean(),
});
export type ResolveResponse = z.infer<typeof ResolveResponse>;

export const ConflictListQuery = z.strictObject({
  terminalId: TERMINAL_ID.optional(),
  status: ConflictStatus.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const ConflictListResponse = z.object({ conflicts: z.array(ConflictRecord) });


// ---------------------------------------------------------------- heartbeat and status

// What a till reports and the fleet view shows: report-protocol.ts (fleet-protocol.ts builds on it, not on this file).
export { MAX_REPORTED_RUNS, ReportedRun, TableCounts } from './report-protocol.js';
import { MAX_REPORTED_RUNS, REPORTED_COUNT, ReportedCounts, ReportedRun, TableCounts } from './report-protocol.js';

export const TERMINAL_STATES = ['ONLINE', 'OFFLINE', 'SYNCING', 'ERROR'] as const;
const MAX_OUTBOX_TYPES = 100;

export const HeartbeatRequest = z.strictObject({
  terminalId: TERMINAL_ID,
  status: z.enum(TERMINAL_STATES),
  appVersion: z.string().max(64).optional(),
  /**
   * The terminal's outbox counts per entity type; they feed /api/sync/status. Keys are
   * not checked against central's catalog (a newer terminal may know more types), but
   * bounded: they are stored as reported.
   */
  outbox: z
    .record(z.string().min(1).max(64), ReportedCounts)
    .refine((o) => Object.keys(o).length <= MAX_OUTBOX_TYPES, `at most ${MAX_OUTBOX_TYPES} entity types`)
    .optional(),
  /**
   * When the terminal read the counts it reports (its clock). Central keeps the newest
   * report: one that arrives after a newer one (two requests crossing) is not kept.
   */
  reportedAt: z.iso.datetime({ offset: true }).optional(),
  lastSyncAt: z.iso.datetime({ offset: true }).optional(),
  /** The till's schema: terminal migrations applied and the catalog's fingerprint (`3/1a2b3c4d`). */
  schemaVersion: z.string().min(1).max(64).optional(),
  /** When the oldest change not yet at central was made (the till's clock); null: nothing waits. */
  oldestPendingAt: z.iso.datetime({ offset: true }).nullable().optional(),
  /** Completed sales the till holds that are not at central yet. */
  unsyncedSales: z
    .strictObject({ count: REPORTED_COUNT, total: z.number().finite().min(0).max(1e13) })
    .optional(),
  /** The till's pull cursor per entity type it pulls (as central issued it), for the fleet view's pull lag. */
  cursors: z
    .record(z.string().min(1).max(64), z.string().min(1).max(400))
    .refine((o) => Object.keys(o).length <= MAX_OUTBOX_TYPES, `at most ${MAX_OUTBOX_TYPES} entity types`)
    .optional(),
  /** The till's latest sync runs, newest first (what the console's terminal detail shows). */
  recentRuns: z.array(ReportedRun).max(MAX_REPORTED_RUNS).optional(),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

export const HeartbeatResponse = z.object({
  terminalId: z.string(),
  status: z.string(),
  serverTime: z.string(),
  heartbeatIntervalSeconds: z.number().int(),
});

export const StatusQuery = z.strictObject({ terminalId: TERMINAL_ID.optional() });

/** `GET /api/sync/status`: exactly the seed's shape, always for one terminal. */
export const StatusResponse = z.object({
  terminalId: z.string(),
  tables: z.record(z.string(), TableCounts),
  totals: TableCounts,
  summary: z.object({
    totalTables: z.number().int(),
    tablesWithPending: z.number().int(),
    tablesWithFailed: z.number().int(),
    tablesWithSynced: z.number().int(),
    tablesWithConflicts: z.number().int(),
  }),
});
export type StatusResponse = z.infer<typeof StatusResponse>;

// ---------------------------------------------------------------- triggers (REST + socket.io)

export const SYNC_TYPES = ['FULL', 'INCREMENTAL'] as const;
export const SyncType = z.enum(SYNC_TYPES);
export type SyncType = z.infer<typeof SyncType>;

export const SyncAllRequest = z
  .strictObject({
    terminalId: TERMINAL_ID.optional(),
    /** Every active terminal of this store (admin). */
    storeId: z.string().min(1).max(KEY_MAX_LENGTH).optional(),
    allTerminals: z.boolean().optional(),
    type: SyncType.default('FULL'),
    reason: z.string().min(1).max(64).default('MANUAL'),
  })
  .refine((r) => [r.terminalId !== undefined, r.storeId !== undefined, r.allTerminals === true].filter(Boolean).length === 1, {
    message: 'give one of terminalId, storeId or allTerminals: true',
  });
export type SyncAllRequest = z.infer<typeof SyncAllRequest>;

export const SyncAllResponse = z.object({
  type: SyncType,
  reason: z.string(),
  triggered: z.array(z.string()),
});

/** `sync:trigger`, exactly the seed's payload plus a trigger id for `sync:ack`. */
export const SyncTrigger = z.object({
  type: SyncType,
  terminalId: z.string(),
  timestamp: z.string(),
  reason: z.string(),
  triggerId: z.string().optional(),
});
export type SyncTrigger = z.infer<typeof SyncTrigger>;

/**
 * `sync:changes`: central's hint that tables this terminal pulls changed at central
 * (committed, by anyone). The terminal pulls them at once. A hint is only a hint: a
 * lost one costs latency, never data.
 */
export const ChangesHint = z.object({
  terminalId: z.string(),
  /** Entity types to pull now, in catalog (foreign-key) order. */
  entityTypes: z.array(z.string()).max(100),
  /** When central sent it. */
  at: z.string(),
});
export type ChangesHint = z.infer<typeof ChangesHint>;

export const RegisterPayload = z.strictObject({ terminalId: TERMINAL_ID });
export const AckPayload = z.strictObject({
  terminalId: TERMINAL_ID,
  type: SyncType,
  triggerId: z.string().max(100).optional(),
});
export type AckPayload = z.infer<typeof AckPayload>;

/** Every socket acknowledgement callback gets one of these. */
export type SocketReply = { ok: true } | { ok: false; error: string };

export const SOCKET_EVENTS = {
  register: 'terminal:register',
  trigger: 'sync:trigger',
  ack: 'sync:ack',
  changes: 'sync:changes',
  /** To the console (namespace /console): tills whose report changed. */
  fleetChanged: 'fleet:changed',
  /** To every socket (tills and the console) when an instance drains: its connection closes next; reconnect (to another instance). */
  draining: 'server:draining',
} as const;


// ---------------------------------------------------------------- fleet

export const CreateStoreRequest = z.strictObject({
  id: z.string().min(1).max(KEY_MAX_LENGTH).optional(),
  name: z.string().min(1).max(200),
  code: z.string().max(64).optional(),
  address: z.string().max(500).optional(),
  timezone: z.string().max(64).optional(),
  currency: z.string().length(3).optional(),
});
export const StoreResponse = z.object({ storeId: z.string(), name: z.string(), code: z.string().nullable() });

export const CreateTerminalRequest = z.strictObject({
  storeId: z.string().min(1).max(KEY_MAX_LENGTH),
  name: z.string().min(1).max(200).optional(),
  terminalId: TERMINAL_ID.optional(),
});
export const CreateTerminalResponse = z.object({
  terminalId: z.string(),
  storeId: z.string(),
  name: z.string(),
  /** Shown once; central keeps only its hash. */
  apiKey: z.string(),
});

export const UpdateTerminalRequest = z
  .strictObject({ disabled: z.boolean().optional(), name: z.string().min(1).max(200).optional() })
  .refine((r) => r.disabled !== undefined || r.name !== undefined, { message: 'nothing to change' });

export const TerminalInfo = z.object({
  terminalId: z.string(),
  storeId: z.string(),
  name: z.string(),
  status: z.enum([...TERMINAL_STATES, 'DISABLED', 'NEVER_SEEN']),
  disabled: z.boolean(),
  connected: z.boolean(),
  lastHeartbeatAt: z.string().nullable(),
  appVersion: z.string().nullable(),
  createdAt: z.string(),
});
export type TerminalInfo = z.infer<typeof TerminalInfo>;
export const TerminalListResponse = z.object({ terminals: z.array(TerminalInfo) });

export const ErrorResponse = z.object({
  statusCode: z.number().int(),
  error: z.string(),
  code: z.string(),
  message: z.string(),
  details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  /** With 409 CENTRAL_RESTORED (a pull cursor of before central's database was restored): central's restore generation now. */
  epoch: z.number().int().nonnegative().optional(),
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;

export type { WireRow };

// ---------------------------------------------------------------- schema parity

/** One column of a central table, as PostgreSQL's information_schema.columns has it. */
export const SchemaColumn = z.object({
  name: z.string(),
  /** `data_type`: text, bigint, numeric, boolean, timestamp with time zone, jsonb, ... */
  dataType: z.string(),
  /** `is_nullable` = YES. */
  nullable: z.boolean(),
});
export type SchemaColumn = z.infer<typeof SchemaColumn>;

/** One catalog table at central: the catalog's view of it and the table PostgreSQL actually has. */
export const SchemaTable = z.object({
  entityType: z.string(),
  /** The table's name at central. */
  table: z.string(),
  /** Central's catalog fingerprint of the wire shape (compare with the terminal's). */
  schemaHash: z.string(),
  /** The table exists in central's current schema. */
  exists: z.boolean(),
  /** Its columns in table order; empty when it does not exist. */
  columns: z.array(SchemaColumn),
});
export type SchemaTable = z.infer<typeof SchemaTable>;

/** `GET /api/sync/schema`: the columns of every catalog table at central (nothing else), for the parity check. */
export const SchemaResponse = z.object({
  tables: z.array(SchemaTable),
  serverTime: z.string(),
});
export type SchemaResponse = z.infer<typeof SchemaResponse>;

// ---------------------------------------------------------------- the fleet view and console: fleet-protocol.ts

export * from './fleet-protocol.js';

// ---------------------------------------------------------------- purge (admin): purge-protocol.ts

export { PurgeReport } from './purge-protocol.js';
