/**
 * A terminal's settings, outside the engine: the seed's variables (DATABASE_URL=file:...,
 * CENTRAL_API_URL, CENTRAL_API_KEY) plus TERMINAL_ID and tuning, each also a flag of the
 * `tillsync` agent. Flags win over the environment. A bad value is a clear error naming
 * the setting. `agentConfig` is the one function from flags + environment + defaults to
 * validated settings (the agent's commands and the companion's environment defaults
 * both go through it); `syncConfigFrom` turns settings into the engine's SyncConfig,
 * which src/main/sync/engine.ts (createEngine) builds an engine from.
 */
import { Cron } from 'croner';
import { resolve } from 'node:path';
import { z } from 'zod';
import { TERMINAL_ID } from '../shared/protocol.js';
import { PUSH_MODES } from './sync/push-scheduler.js';
import { DEFAULT_SYNC_CONFIG, type SyncConfig } from './sync/sync-config.js';

const positiveInt = z.coerce.number().int().positive();

export const AgentConfig = z.object({
  /** Path of the terminal's POS database. */
  databasePath: z.string().min(1),
  centralUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  apiKey: z.string().min(8, 'must be the terminal key from provisioning'),
  terminalId: TERMINAL_ID,
  batchSize: positiveInt.max(5000).default(DEFAULT_SYNC_CONFIG.batchSize),
  syncInterval: positiveInt.default(DEFAULT_SYNC_CONFIG.syncInterval),
  cron: z.string().min(1).optional(),
  maxRetries: positiveInt.default(DEFAULT_SYNC_CONFIG.maxRetries),
  retryDelay: positiveInt.default(DEFAULT_SYNC_CONFIG.retryDelay),
  heartbeatInterval: positiveInt.default(DEFAULT_SYNC_CONFIG.heartbeatInterval),
  pullPageSize: positiveInt.max(5000).default(DEFAULT_SYNC_CONFIG.pullPageSize),
  pushMode: z.enum(PUSH_MODES, { error: `must be ${PUSH_MODES.join(' or ')}` }).default(DEFAULT_SYNC_CONFIG.pushMode),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

/** Setting -> (environment variable, flag), for messages and help. */
export const SETTINGS: Record<keyof AgentConfig, { env: string; flag: string; help: string }> = {
  databasePath: { env: 'DATABASE_URL', flag: '--database', help: 'POS database, file:./pos.db or a path' },
  centralUrl: { env: 'CENTRAL_API_URL', flag: '--central-url', help: 'central sync server, e.g. http://127.0.0.1:4000' },
  apiKey: { env: 'CENTRAL_API_KEY', flag: '--api-key', help: "this terminal's key (from POST /api/terminals)" },
  terminalId: { env: 'TERMINAL_ID', flag: '--terminal-id', help: "this terminal's id" },
  batchSize: { env: 'TILLSYNC_BATCH_SIZE', flag: '--batch-size', help: `changes per push (default ${DEFAULT_SYNC_CONFIG.batchSize})` },
  syncInterval: { env: 'TILLSYNC_SYNC_INTERVAL', flag: '--interval', help: `seconds between incremental syncs (default ${DEFAULT_SYNC_CONFIG.syncInterval})` },
  cron: { env: 'TILLSYNC_CRON', flag: '--cron', help: 'cron expression for incremental syncs (instead of the interval)' },
  maxRetries: { env: 'TILLSYNC_MAX_RETRIES', flag: '--max-retries', help: `attempts before an entry is failed (default ${DEFAULT_SYNC_CONFIG.maxRetries})` },
  retryDelay: { env: 'TILLSYNC_RETRY_DELAY', flag: '--retry-delay', help: `backoff base in ms (default ${DEFAULT_SYNC_CONFIG.retryDelay})` },
  heartbeatInterval: { env: 'TILLSYNC_HEARTBEAT_INTERVAL', flag: '--heartbeat-interval', help: `seconds between heartbeats (default ${DEFAULT_SYNC_CONFIG.heartbeatInterval})` },
  pullPageSize: { env: 'TILLSYNC_PULL_PAGE_SIZE', flag: '--page-size', help: `rows per pull page (default ${DEFAULT_SYNC_CONFIG.pullPageSize})` },
  pushMode: {
    env: 'TILLSYNC_PUSH_MODE',
    flag: '--push-mode',
    help: `prompt: push every change while online (CRITICAL at once, the rest within a second); cadence: CRITICAL at once, other tiers at the seed's cycles (default ${DEFAULT_SYNC_CONFIG.pushMode})`,
  },
  logLevel: { env: 'LOG_LEVEL', flag: '--log-level', help: 'pino log level (default info)' },
};

export class AgentConfigError extends Error {
  override name = 'AgentConfigError';
}

/** How a setting is named in messages: `DATABASE_URL (--database)`. */
export function settingName(key: keyof AgentConfig): string {
  return `${SETTINGS[key].env} (${SETTINGS[key].flag})`;
}

/** A command's parsed flags (`--name value` strings and boolean switches); only the settings' flags are read here. */
export type Flags = Readonly<Record<string, string | boolean | undefined>>;

/** A setting's raw value: its flag (a string) wins over its environment variable. */
function rawSetting(flags: Flags, env: NodeJS.ProcessEnv, key: keyof AgentConfig): string | undefined {
  const s = SETTINGS[key];
  const flag = flags[s.flag.slice(2)];
  return typeof flag === 'string' ? flag : env[s.env];
}

/** Whether a setting was given (as a flag or in the environment), rather than left to a default or a placeholder. */
export function settingGiven(flags: Flags, env: NodeJS.ProcessEnv, key: keyof AgentConfig): boolean {
  const v = rawSetting(flags, env, key);
  return v !== undefined && v.trim() !== '';
}

/** The environment with the settings given as flags in it (web mode's flags act as their variables). */
export function flagsAsEnv(flags: Flags, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...env };
  for (const s of Object.values(SETTINGS)) {
    const v = flags[s.flag.slice(2)];
    if (typeof v === 'string') merged[s.env] = v;
  }
  return merged;
}

/** `file:./pos.db`, `file:///abs/pos.db` or a plain path, as an absolute path. */
export function databasePathFrom(url: string): string {
  if (url.startsWith('file://')) return new URL(url).pathname;
  if (url.startsWith('file:')) return resolve(url.slice('file:'.length));
  if (/^[a-z]+:\/\//i.test(url)) throw new AgentConfigError(`${SETTINGS.databasePath.env}: ${url} is not a SQLite file (use file:./pos.db)`);
  return resolve(url);
}

/**
 * Builds the configuration from flags (`--name value`) and environment. Only the
 * settings in `need` are required (`status` needs only the database, say).
 */
export function agentConfig(
  flags: Flags,
  env: NodeJS.ProcessEnv,
  need: readonly (keyof AgentConfig)[] = ['databasePath', 'centralUrl', 'apiKey', 'terminalId'],
): AgentConfig {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(SETTINGS) as (keyof AgentConfig)[]) {
    const v = rawSetting(flags, env, key);
    if (v !== undefined && v.trim() !== '') raw[key] = v.trim();
  }
  const missing = need.filter((k) => raw[k] === undefined);
  if (missing.length > 0) {
    throw new AgentConfigError(
      `missing configuration:\n  ${missing.map((k) => `${SETTINGS[k].env} (or ${SETTINGS[k].flag}): ${SETTINGS[k].help}`).join('\n  ')}`,
    );
  }
  if (typeof raw.databasePath === 'string') {
    try {
      raw.databasePath = databasePathFrom(raw.databasePath);
    } catch (err) {
      throw err instanceof AgentConfigError ? err : new AgentConfigError(String(err));
    }
  }
  // Settings not needed by this command get harmless placeholders for validation.
  const placeholders: Partial<Record<keyof AgentConfig, string>> = {
    databasePath: resolve('pos.db'),
    centralUrl: 'http://127.0.0.1:4000',
    apiKey: 'unset-key',
    terminalId: 'unset',
  };
  for (const [k, v] of Object.entries(placeholders)) if (raw[k] === undefined) raw[k] = v;
  const parsed = AgentConfig.safeParse(raw);
  if (!parsed.success) {
    throw new AgentConfigError(
      `invalid configuration:\n  ${parsed.error.issues.map((i) => {
        const s = SETTINGS[i.path[0] as keyof AgentConfig];
        return `${s ? `${s.env} (${s.flag})` : String(i.path[0])}: ${i.message}`;
      }).join('\n  ')}`,
    );
  }
  if (parsed.data.cron) validateCron(parsed.data.cron);
  return parsed.data;
}

function validateCron(expr: string): void {
  try {
    new Cron(expr, { paused: true }).stop();
  } catch (err) {
    throw new AgentConfigError(`${SETTINGS.cron.env} (${SETTINGS.cron.flag}): invalid cron expression "${expr}": ${err instanceof Error ? err.message : err}`);
  }
}

/**
 * The engine's SyncConfig from settings: the defaults, the settings' tuning, then
 * `tuning` (the companion's tests shorten heartbeats and watch intervals), then the
 * connection and the schedule, which always come from the settings.
 */
export function syncConfigFrom(config: AgentConfig, tuning: Partial<SyncConfig> = {}): SyncConfig {
  return {
    ...DEFAULT_SYNC_CONFIG,
    batchSize: config.batchSize,
    maxRetries: config.maxRetries,
    retryDelay: config.retryDelay,
    heartbeatInterval: config.heartbeatInterval,
    pullPageSize: config.pullPageSize,
    pushMode: config.pushMode,
    ...tuning,
    centralUrl: config.centralUrl,
    apiKey: config.apiKey,
    syncInterval: config.syncInterval,
    cron: config.cron,
  };
}

/**
 * Checks settings that come from somewhere other than flags (the companion's saved
 * Settings over its environment defaults): the same schema, one line of
 * `field: problem` pairs when something is wrong.
 */
export function checkSettings(values: Partial<Record<keyof AgentConfig, unknown>>): AgentConfig {
  const parsed = AgentConfig.safeParse(values);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

/** Settings given by the environment (the agent's variables); the companion's Settings win over them. */
export interface CompanionDefaults {
  centralUrl?: string | undefined;
  terminalId?: string | undefined;
  databasePath?: string | undefined;
  apiKey?: string | undefined;
  /** Seconds between incremental syncs (TILLSYNC_SYNC_INTERVAL). */
  syncInterval?: number | undefined;
  /** A cron expression for incremental syncs instead of the interval (TILLSYNC_CRON). */
  cron?: string | undefined;
}

/**
 * The agent's variables as the companion's defaults (Settings win over them), so a
 * companion started with the agent's environment (the local stack's, a kiosk's unit
 * file) syncs as that agent would. The interval and cron are checked here as the agent
 * checks them: a bad one names its variable.
 */
export function defaultsFromEnv(env: NodeJS.ProcessEnv): CompanionDefaults {
  const v = (name: string) => (env[name]?.trim() ? env[name]?.trim() : undefined);
  const db = v(SETTINGS.databasePath.env);
  const interval = v(SETTINGS.syncInterval.env);
  const cron = v(SETTINGS.cron.env);
  // agentConfig validates only what is set; the values come back parsed (the interval as a number).
  const timing = interval !== undefined || cron !== undefined ? agentConfig({}, { [SETTINGS.syncInterval.env]: interval, [SETTINGS.cron.env]: cron }, []) : undefined;
  return {
    centralUrl: v(SETTINGS.centralUrl.env),
    terminalId: v(SETTINGS.terminalId.env),
    apiKey: v(SETTINGS.apiKey.env),
    databasePath: db ? databasePathFrom(db) : undefined,
    syncInterval: interval !== undefined ? timing?.syncInterval : undefined,
    cron: cron !== undefined ? timing?.cron : undefined,
  };
}
