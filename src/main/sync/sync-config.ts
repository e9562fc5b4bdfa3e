/**
 * The engine's settings and their defaults (plain data): what the agent's flags, the
 * companion's settings and the tests all build an engine from.
 */
import type { PushMode } from './push-scheduler.js';

export interface SyncConfig {
  readonly centralUrl: string;
  readonly apiKey: string;
  /** Changes per push request. */
  readonly batchSize: number;
  /** Attempts before an entry is marked failed (it is retried later on a timer). */
  readonly maxRetries: number;
  /** Base of the exponential backoff, ms. */
  readonly retryDelay: number;
  /** Seconds between incremental cycles. */
  readonly syncInterval: number;
  /** Optional cron expression for incremental cycles (instead of the interval). */
  readonly cron?: string | undefined;
  readonly heartbeatInterval: number;
  readonly pullPageSize: number;
  /** Rows per page while a first sync reads a table from a snapshot (see PullQuery.start). */
  readonly snapshotPageSize: number;
  readonly failedRetryIntervalMs: number;
  readonly retentionMs: number;
  readonly maxClockDriftMs: number;
  /** How often to look for other processes' commits, ms. */
  readonly watchIntervalMs: number;
  /**
   * `prompt`: every commit is pushed while online (CRITICAL at once, the rest within
   * `promptDelayMs`, coalesced). `cadence`: only CRITICAL at once, the other tiers at
   * the seed's cycles (for metered links).
   */
  readonly pushMode: PushMode;
  /** How long `prompt` mode gathers non-CRITICAL commits into one push, ms. */
  readonly promptDelayMs: number;
  /** Listen on socket.io for sync triggers. */
  readonly realtime: boolean;
  /**
   * The longest pause between two tries to reach central while it is away (the
   * socket's reconnects and the offline probe grow to it): once the network heals the
   * till catches up within about this long.
   */
  readonly reconnectMaxDelayMs: number;
  readonly appVersion: string;
  /** Sync runs kept in History (the oldest are removed as new ones are recorded). */
  readonly historyRuns: number;
}

export const DEFAULT_SYNC_CONFIG = {
  batchSize: 500,
  maxRetries: 3,
  retryDelay: 1000,
  syncInterval: 300,
  heartbeatInterval: 30,
  pullPageSize: 500,
  snapshotPageSize: 1000,
  failedRetryIntervalMs: 5 * 60_000,
  retentionMs: 7 * 24 * 3600_000,
  maxClockDriftMs: 60_000,
  watchIntervalMs: 25,
  pushMode: 'prompt',
  promptDelayMs: 1000,
  realtime: true,
  reconnectMaxDelayMs: 5000,
  appVersion: '0.1.0',
  historyRuns: 1000,
} as const;

