/**
 * Agent configuration: the seed's variables (DATABASE_URL=file:..., CENTRAL_API_URL,
 * CENTRAL_API_KEY) plus TERMINAL_ID and tuning, each also a flag. Flags win over the
 * environment. A bad value is a clear error naming the setting.
 */
import { Cron } from 'croner';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { TERMINAL_ID } from '../../shared/protocol.js';
import { PUSH_MODES } from './push-scheduler.js';
import { DEFAULT_SYNC_CONFIG } from './sync-config.js';

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

/** Whether a setting was given (as a flag or in the environment), rather than left to a default or a placeholder. */
export function settingGiven(flags: Record<string, string | undefined>, env: NodeJS.ProcessEnv, key: keyof AgentConfig): boolean {
  const s = SETTINGS[key];
  const v = flags[s.flag.slice(2)] ?? env[s.env];
  return v !== undefined && v.trim() !== '';
}

/**
 * The one line for a POS database that is not where the settings say. `createHint`
 * says how this command would make a new one (null when it never does).
 */
export function missingDatabaseError(path: string, missing: 'file' | 'folder', createHint: string | null): AgentConfigError {
  if (missing === 'folder') {
    return new AgentConfigError(
      `${settingName('databasePath')}: the folder ${dirname(path)} does not exist (POS database ${path}); check the path${createHint ? ' (--create makes the database file, not its folder)' : ''}`,
    );
  }
  return new AgentConfigError(`${settingName('databasePath')}: POS database ${path} does not exist; check the path${createHint ? `, or ${createHint}` : ''}`);
}

/** The database was bound to another terminal (its first sync recorded that terminal's id). */
export function terminalMismatchError(path: string, known: string, given: string): AgentConfigError {
  return new AgentConfigError(`${settingName('terminalId')}: POS database ${path} belongs to terminal ${known}, not ${given}; use ${known}, or another database for ${given}`);
}

/** Central's definite refusal of the terminal's key (see CentralError.refusesKey), as one line naming what to fix. */
export function keyRefusedError(terminalId: string, refusal: { status: number; code: string; message: string }): AgentConfigError {
  const why = `(${refusal.status} ${refusal.code}: ${refusal.message})`;
  if (refusal.code === 'WRONG_TERMINAL') {
    return new AgentConfigError(`${settingName('apiKey')} or ${settingName('terminalId')}: central refused this key for terminal ${terminalId} ${why}`);
  }
  if (refusal.code === 'TERMINAL_DISABLED') {
    return new AgentConfigError(`${settingName('terminalId')}: central refused terminal ${terminalId}, it is disabled there ${why}`);
  }
  return new AgentConfigError(`${settingName('apiKey')}: central refused this key for terminal ${terminalId} ${why}`);
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
  flags: Record<string, string | undefined>,
  env: NodeJS.ProcessEnv,
  need: readonly (keyof AgentConfig)[] = ['databasePath', 'centralUrl', 'apiKey', 'terminalId'],
): AgentConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [keyof AgentConfig, (typeof SETTINGS)[keyof AgentConfig]][]) {
    const v = flags[s.flag.slice(2)] ?? env[s.env];
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
