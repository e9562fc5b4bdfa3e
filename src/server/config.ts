/** Central server configuration, from the environment, validated. */
import { isIP } from 'node:net';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

/** An IPv4 or IPv6 address, optionally with a /prefix. */
const cidr = z.string().refine((v) => {
  const [addr, prefix, ...rest] = v.split('/');
  const family = isIP(addr ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}, 'must be true, false, a hop count (1-32), or comma-separated IP addresses and CIDRs (10.0.0.0/8, ::1)');

/** fastify's trustProxy, as configuration can give it (no function). */
export const TrustProxy = z.union([z.boolean(), z.number().int().min(1).max(32), z.array(cidr).min(1)]);
export type TrustProxy = z.infer<typeof TrustProxy>;

/**
 * TILLSYNC_TRUST_PROXY's text as TrustProxy's input (pure): true/false, a hop count,
 * or comma-separated addresses and CIDRs; anything else is left as text for the
 * schema to refuse.
 */
export function trustProxyFromEnv(raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  const v = raw.trim().toLowerCase();
  if (['true', 'yes', 'on'].includes(v)) return true;
  if (['false', 'no', 'off', '0'].includes(v)) return false;
  if (/^\d+$/.test(v)) return Number(v);
  return raw.split(',').map((s) => s.trim());
}

/** TrustProxy as fastify's option takes it (its types lack the hop count, which it runs as this function). */
export function fastifyTrustProxy(t: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof t === 'number' ? (_address, hop) => hop < t : t;
}

export const ServerConfig = z.object({
  port: port.default(4000),
  host: z.string().min(1).default('127.0.0.1'),
  /** PostgreSQL connection string; undefined runs on embedded PGlite. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  dataDir: z.string().min(1).default('./data/central'),
  /**
   * Connections of the PostgreSQL pool (plus one for LISTEN). Pushes take at most
   * pushTransactions of them (each carries a group of pushes); pulls, heartbeats and the
   * admin API the rest. Keep instances x (pool + 1) below the server's max_connections
   * (100 by default: four instances at 20).
   */
  pgPoolSize: positiveInt.max(500).default(20),
  /**
   * Push transactions run at once. Pushes that arrive while they are busy wait and the
   * next transaction carries them together (group commit: one read, one write, one
   * commit for many terminals' sales; services/push-group.ts). Default 2 on PostgreSQL
   * (a transaction waiting on its commit's flush leaves PostgreSQL's CPU to the other),
   * 1 on PGlite (its one connection runs one at a time). At most the pool's size.
   */
  pushTransactions: positiveInt.max(500).optional(),
  /** Most pushes one transaction carries; 1 turns group commit off (every push its own transaction). */
  pushGroupMax: positiveInt.max(1000).default(100),
  /**
   * Milliseconds a push transaction runs before it stops counting against
   * pushTransactions: one waiting for a row lock (an open back-office transaction) then
   * lets the next group start beside it, up to the pool's size less two, so one stuck
   * row does not hold up every terminal's sales.
   */
  pushStallMs: positiveInt.max(60_000).default(200),
  adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
  bodyLimitBytes: positiveInt.default(10 * 1024 * 1024),
  /** The largest file of a companion release an admin may upload (installer, archive). */
  updateMaxBytes: positiveInt.default(1024 * 1024 * 1024),
  heartbeatIntervalSeconds: positiveInt.default(30),
  maxClockDriftMs: positiveInt.default(60_000),
  autoSyncDelayMs: z.coerce.number().int().min(0).default(2000),
  autoSyncOnStart: z.boolean().default(true),
  triggerTtlSeconds: positiveInt.default(600),
  /**
   * How long a terminal key's identity is trusted from memory before PostgreSQL is
   * asked again. Disabling, deleting, re-keying or moving a terminal invalidates it at
   * once (on this instance directly, on the others by NOTIFY); the TTL only bounds how
   * long a missed notification can go unnoticed. 0 asks PostgreSQL on every request.
   */
  authCacheTtlMs: z.coerce.number().int().min(0).max(60_000).default(5000),
  /**
   * Seconds between purge runs (tombstones, superseded change-log entries, old push
   * answers; see services/purge.ts); one instance runs at a time. 0: only on demand
   * (POST /api/admin/purge).
   */
  purgeIntervalSeconds: z.coerce.number().int().min(0).max(30 * 86_400).default(3600),
  /**
   * Seconds between checks of the database's identity (system identifier, timeline)
   * while central runs, besides the one at start: a standby promoted under a running
   * instance moves the restore generation within this. 0: at start only.
   */
  restoreCheckIntervalSeconds: z.coerce.number().int().min(0).max(86_400).default(60),
  /**
   * Seconds a deleted row, a push answer and a log entry of an up table are kept at
   * least. A terminal that has not pulled a table for longer does not hold its purge
   * back: on its return it reads that table again from a snapshot.
   */
  retentionSeconds: positiveInt.max(10 * 365 * 86_400).default(604_800),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Which proxies' X-Forwarded-For (and -Proto, -Host) to believe, as fastify's
   * `trustProxy`: false (the default: the peer's address is the client's), true (every
   * hop: only behind a proxy that overwrites the header), a hop count, or the
   * proxies' addresses and CIDRs. The request log's remoteAddress is then the client's.
   */
  trustProxy: TrustProxy.default(false),
  /**
   * Longest a graceful drain (SIGTERM) takes, ms: requests and pushes under way are
   * answered within it; what is still open then is cut (the tills retry, nothing is
   * lost). Keep the load balancer's deregistration delay at least this, and the
   * orchestrator's kill timeout above it (Kubernetes: terminationGracePeriodSeconds, 30 s).
   */
  drainTimeoutMs: z.coerce.number().int().min(0).max(600_000).default(25_000),
});
export type ServerConfig = z.infer<typeof ServerConfig>;
export type ServerConfigInput = z.input<typeof ServerConfig>;

/** Environment variable per setting, so an error can name what to fix. */
const ENV_NAMES: Record<keyof ServerConfig, string> = {
  port: 'PORT',
  host: 'HOST',
  databaseUrl: 'POSTGRES_URL_REMOTE (or DATABASE_URL)',
  dataDir: 'TILLSYNC_DATA_DIR',
  pgPoolSize: 'TILLSYNC_PG_POOL',
  pushTransactions: 'TILLSYNC_PUSH_TRANSACTIONS',
  pushGroupMax: 'TILLSYNC_PUSH_GROUP_MAX',
  pushStallMs: 'TILLSYNC_PUSH_STALL_MS',
  adminToken: 'TILLSYNC_ADMIN_TOKEN',
  bodyLimitBytes: 'TILLSYNC_BODY_LIMIT',
  updateMaxBytes: 'TILLSYNC_UPDATE_MAX_BYTES',
  heartbeatIntervalSeconds: 'TILLSYNC_HEARTBEAT_INTERVAL',
  maxClockDriftMs: 'TILLSYNC_MAX_CLOCK_DRIFT_MS',
  autoSyncDelayMs: 'TILLSYNC_AUTO_SYNC_DELAY_MS',
  autoSyncOnStart: 'TILLSYNC_AUTO_SYNC',
  triggerTtlSeconds: 'TILLSYNC_TRIGGER_TTL',
  authCacheTtlMs: 'TILLSYNC_AUTH_CACHE_TTL_MS',
  purgeIntervalSeconds: 'TILLSYNC_PURGE_INTERVAL',
  restoreCheckIntervalSeconds: 'TILLSYNC_RESTORE_CHECK_INTERVAL',
  retentionSeconds: 'TILLSYNC_RETENTION',
  logLevel: 'LOG_LEVEL',
  trustProxy: 'TILLSYNC_TRUST_PROXY',
  drainTimeoutMs: 'TILLSYNC_DRAIN_TIMEOUT_MS',
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const empty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === '' ? undefined : v);

/** Reads the configuration from environment variables; throws a ConfigError naming each bad one. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const autoSync = empty(env.TILLSYNC_AUTO_SYNC);
  const raw = {
    port: empty(env.PORT),
    host: empty(env.HOST),
    // DATABASE_URL=file:... is the terminal's SQLite (the seed's convention), not central's.
    databaseUrl: empty(env.POSTGRES_URL_REMOTE) ?? (env.DATABASE_URL?.startsWith('file:') ? undefined : empty(env.DATABASE_URL)),
    dataDir: empty(env.TILLSYNC_DATA_DIR),
    pgPoolSize: empty(env.TILLSYNC_PG_POOL),
    pushTransactions: empty(env.TILLSYNC_PUSH_TRANSACTIONS),
    pushGroupMax: empty(env.TILLSYNC_PUSH_GROUP_MAX),
    pushStallMs: empty(env.TILLSYNC_PUSH_STALL_MS),
    adminToken: empty(env.TILLSYNC_ADMIN_TOKEN),
    bodyLimitBytes: empty(env.TILLSYNC_BODY_LIMIT),
    updateMaxBytes: empty(env.TILLSYNC_UPDATE_MAX_BYTES),
    heartbeatIntervalSeconds: empty(env.TILLSYNC_HEARTBEAT_INTERVAL),
    maxClockDriftMs: empty(env.TILLSYNC_MAX_CLOCK_DRIFT_MS),
    autoSyncDelayMs: empty(env.TILLSYNC_AUTO_SYNC_DELAY_MS),
    autoSyncOnStart: autoSync === undefined ? undefined : !['0', 'false', 'off', 'no'].includes(autoSync.toLowerCase()),
    triggerTtlSeconds: empty(env.TILLSYNC_TRIGGER_TTL),
    authCacheTtlMs: empty(env.TILLSYNC_AUTH_CACHE_TTL_MS),
    purgeIntervalSeconds: empty(env.TILLSYNC_PURGE_INTERVAL),
    restoreCheckIntervalSeconds: empty(env.TILLSYNC_RESTORE_CHECK_INTERVAL),
    retentionSeconds: empty(env.TILLSYNC_RETENTION),
    logLevel: empty(env.LOG_LEVEL),
    trustProxy: trustProxyFromEnv(empty(env.TILLSYNC_TRUST_PROXY)),
    drainTimeoutMs: empty(env.TILLSYNC_DRAIN_TIMEOUT_MS),
  };
  const parsed = ServerConfig.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = i.path[0] as keyof ServerConfig;
      return `${ENV_NAMES[key] ?? String(key)}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return parsed.data;
}
