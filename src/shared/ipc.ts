/**
 * The companion's IPC contract, once: channel -> zod-validated arguments and result
 * type, plus the events main sends. The Electron preload and the web-mode bridge
 * both serve it; the renderer never sees a channel string. Results cross the
 * boundary as `{ ok, value } | { ok, error }`, because invoke keeps only an error's
 * message.
 */
import { z } from 'zod';
import { AuditReport } from './audit-protocol.js';
import { TERMINAL_ID, TableCounts } from './protocol.js';

const Row = z.record(z.string(), z.unknown());

export const SyncKind = z.enum(['FULL', 'INCREMENTAL', 'CRITICAL']);
export type SyncKind = z.infer<typeof SyncKind>;

/** What the status screen and the tray show. */
export const EngineStatus = z.object({
  terminalId: z.string(),
  centralUrl: z.string(),
  connection: z.enum(['online', 'offline', 'connecting']),
  paused: z.boolean(),
  activity: z.object({ kind: SyncKind, table: z.string().optional(), pulled: z.number(), pushed: z.number() }).nullable(),
  lastSyncAt: z.string().nullable(),
  lastError: z.string().nullable(),
  tables: z.record(z.string(), TableCounts.extend({ lastPushAt: z.string().nullable(), lastPullAt: z.string().nullable(), paused: z.string().nullable() })),
  totals: TableCounts,
  /** When the oldest change still waiting to reach central was made (null: nothing waits). */
  oldestPendingAt: z.string().nullable(),
});
export type EngineStatus = z.infer<typeof EngineStatus>;

export const SyncRunResult = z.object({
  kind: SyncKind,
  trigger: z.string(),
  pushed: z.number(),
  pulled: z.number(),
  conflicts: z.number(),
  failed: z.number(),
  durationMs: z.number(),
  errors: z.array(z.string()),
});
export type SyncRunResult = z.infer<typeof SyncRunResult>;

export const ConflictView = z.object({
  conflictId: z.string(),
  table: z.string(),
  entityType: z.string(),
  entityId: z.string(),
  strategy: z.string(),
  status: z.enum(['open', 'resolved']),
  base: Row.nullable(),
  terminal: Row.nullable(),
  central: Row.nullable(),
  centralVersion: z.number().nullable(),
  resolution: z.string().nullable(),
  createdAt: z.string(),
  resolvedAt: z.string().nullable(),
  atCentral: z.boolean(),
});
export type ConflictView = z.infer<typeof ConflictView>;

export const HistoryEntry = z.object({
  id: z.number(),
  kind: z.string(),
  trigger: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  pushed: z.number(),
  pulled: z.number(),
  conflicts: z.number(),
  failed: z.number(),
  errors: z.array(z.string()),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** Settings as the renderer sees them: the key and the PIN are write-only. */
export const SettingsView = z.object({
  centralUrl: z.string().optional(),
  terminalId: z.string().optional(),
  databasePath: z.string().optional(),
  syncInterval: z.number(),
  cron: z.string().optional(),
  /** Starts at login (installed desktop app); null where auto-start does not apply (web mode, a run from a checkout). */
  autoStart: z.boolean().nullable(),
  hasPin: z.boolean(),
  hasKey: z.boolean(),
});
export type SettingsView = z.infer<typeof SettingsView>;

/** A change to the settings; every field optional, each validated with a clear message. */
export const SettingsPatch = z.strictObject({
  centralUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  terminalId: TERMINAL_ID.optional(),
  databasePath: z.string().min(1).optional(),
  apiKey: z.string().min(8, 'must be the terminal key from provisioning').optional(),
  syncInterval: z.number().int().min(10, 'must be at least 10 seconds').max(86_400, 'must be at most a day').optional(),
  /** A cron expression for incremental syncs instead of the interval; '' clears it. */
  cron: z.string().max(200).optional(),
  autoStart: z.boolean().optional(),
  supervisorPin: z.string().regex(/^\d{4,8}$/, 'must be 4 to 8 digits').optional(),
});
export type SettingsPatch = z.infer<typeof SettingsPatch>;

/**
 * A support bundle the companion saved (Electron: where the person chose in a save
 * dialog; web mode: in the companion's data folder). `saved` false: the dialog was cancelled.
 */
export const SavedSupportBundle = z.object({
  saved: z.boolean(),
  path: z.string().nullable(),
  files: z.number(),
  bytes: z.number(),
  /** What could not be collected (central unreachable for the parity report, no engine ...). */
  problems: z.array(z.string()),
});
export type SavedSupportBundle = z.infer<typeof SavedSupportBundle>;

/** Channel -> arguments (a tuple) and result. Channels are prefixed by domain. */
export const IPC = {
  'sync:status': { args: z.tuple([]), result: EngineStatus },
  'sync:now': { args: z.tuple([]), result: SyncRunResult },
  'sync:full': { args: z.tuple([]), result: SyncRunResult },
  'sync:pause': { args: z.tuple([]), result: EngineStatus },
  'sync:resume': { args: z.tuple([]), result: EngineStatus },
  'sync:retryFailed': { args: z.tuple([]), result: z.object({ retried: z.number() }) },
  'conflict:list': { args: z.tuple([z.strictObject({ status: z.enum(['open', 'all']) })]), result: z.array(ConflictView) },
  'conflict:resolve': {
    args: z.tuple([
      z.strictObject({
        conflictId: z.string().min(1).max(100),
        resolution: z.enum(['TERMINAL_WINS', 'CENTRAL_WINS', 'MANUAL_MERGE']),
        resolvedData: Row.optional(),
        pin: z.string().min(1).max(32),
      }),
    ]),
    result: z.object({ conflictId: z.string(), version: z.number(), data: Row }),
  },
  'history:list': { args: z.tuple([z.strictObject({ limit: z.number().int().min(1).max(500) })]), result: z.array(HistoryEntry) },
  /** The convergence audit (`tillsync audit`): this till's synced rows against central's, one table or all. */
  'audit:run': { args: z.tuple([z.strictObject({ table: z.string().min(1).max(64).optional() })]), result: AuditReport },
  'settings:get': { args: z.tuple([]), result: SettingsView },
  'settings:set': { args: z.tuple([SettingsPatch]), result: SettingsView },
  'app:saveSupportBundle': { args: z.tuple([]), result: SavedSupportBundle },
} as const;

export type Channel = keyof typeof IPC;
export type ArgsOf<C extends Channel> = z.infer<(typeof IPC)[C]['args']>;
export type ResultOf<C extends Channel> = z.infer<(typeof IPC)[C]['result']>;

/** Events main sends to the renderer, named as facts. */
export const EVENTS = {
  statusChanged: EngineStatus,
  syncFinished: SyncRunResult,
  /** The engine was started, restarted or is not set up (then `problem` says what is missing). */
  setupChanged: z.object({ configured: z.boolean(), problem: z.string().nullable() }),
} as const;
export type EventName = keyof typeof EVENTS;
export type EventOf<E extends EventName> = z.infer<(typeof EVENTS)[E]>;

export type IpcError = { readonly code: string; readonly message: string };
export type IpcResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: IpcError };

/** The object the renderer gets: one method per channel, and `on` for events. */
export type TillSyncBridge = {
  readonly [C in Channel]: (...args: ArgsOf<C>) => Promise<IpcResult<ResultOf<C>>>;
} & {
  on<E extends EventName>(event: E, listener: (payload: EventOf<E>) => void): () => void;
};

export function isChannel(name: string): name is Channel {
  return Object.prototype.hasOwnProperty.call(IPC, name);
}

export function isEventName(name: string): name is EventName {
  return Object.prototype.hasOwnProperty.call(EVENTS, name);
}

/** Validates a call's arguments; a bad call gets a clear error and never reaches the engine. */
export function parseArgs<C extends Channel>(channel: C, args: unknown): IpcResult<ArgsOf<C>> {
  const parsed = IPC[channel].args.safeParse(args);
  if (parsed.success) return { ok: true, value: parsed.data as ArgsOf<C> };
  const issue = parsed.error.issues[0];
  return { ok: false, error: { code: 'INVALID_ARGUMENTS', message: `${channel}: ${issue?.path.join('.') || 'arguments'}: ${issue?.message}` } };
}

/** How a bridge reaches main: Electron's ipcRenderer in the preload, HTTP in web mode. */
export interface BridgeTransport {
  invoke(channel: Channel, args: readonly unknown[]): Promise<unknown>;
  on(event: EventName, listener: (payload: unknown) => void): () => void;
}

/** A result that is not `{ ok, ... }` (a transport failure) becomes an error result. */
function asResult(raw: unknown): IpcResult<never> | { ok: true; value: never } {
  if (typeof raw === 'object' && raw !== null && 'ok' in raw) return raw as IpcResult<never>;
  return { ok: false, error: { code: 'TRANSPORT', message: 'the companion did not answer' } };
}

/** Builds the renderer's bridge from the contract over a transport; events are validated before listeners see them. */
export function createBridge(transport: BridgeTransport): TillSyncBridge {
  const bridge: Record<string, unknown> = {};
  for (const channel of Object.keys(IPC) as Channel[]) {
    bridge[channel] = async (...args: unknown[]) => {
      try {
        return asResult(await transport.invoke(channel, args));
      } catch (err) {
        return { ok: false, error: { code: 'TRANSPORT', message: err instanceof Error ? err.message : String(err) } };
      }
    };
  }
  bridge.on = (event: EventName, listener: (payload: unknown) => void) =>
    transport.on(event, (payload) => {
      const parsed = EVENTS[event].safeParse(payload);
      if (parsed.success) listener(parsed.data);
    });
  return bridge as TillSyncBridge;
}

/** Main sends events on these channels (prefixed so they never clash with calls). */
export const eventChannel = (event: EventName): string => `event:${event}`;
