/** Prometheus metrics of one central instance (text format at GET /metrics). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { MetricsResponse } from './api-docs.js';

/**
 * The process's own metrics (CPU, memory, event loop, garbage collection), collected
 * once per process and shown by every central in it: collected per instance, each
 * central closed would leave its GC observer and event-loop histogram running (tests
 * start over a hundred centrals in one process).
 */
let processRegistry: Registry | undefined;

export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'tillsync_' });
  }
  return processRegistry;
}

export class Metrics {
  /** This instance's metrics; `text()` adds the process's. */
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'tillsync_http_requests_total',
    help: 'HTTP requests by route, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly requestSeconds = new Histogram({
    name: 'tillsync_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly pushes = new Counter({
    name: 'tillsync_pushes_total',
    help: 'Push requests handled',
    registers: [this.registry],
  });
  readonly pushGroups = new Histogram({
    name: 'tillsync_push_group_size',
    help: 'Pushes carried by one push transaction (group commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 100],
    registers: [this.registry],
  });
  readonly pushedChanges = new Counter({
    name: 'tillsync_pushed_changes_total',
    help: 'Pushed changes by entity type and result',
    labelNames: ['entity_type', 'status'] as const,
    registers: [this.registry],
  });
  readonly pulls = new Counter({
    name: 'tillsync_pulls_total',
    help: 'Pull requests by entity type',
    labelNames: ['entity_type'] as const,
    registers: [this.registry],
  });
  readonly pulledChanges = new Counter({
    name: 'tillsync_pulled_changes_total',
    help: 'Changes served to terminals by entity type',
    labelNames: ['entity_type'] as const,
    registers: [this.registry],
  });
  readonly conflicts = new Counter({
    name: 'tillsync_conflicts_total',
    help: 'Conflicts detected by entity type and resolution',
    labelNames: ['entity_type', 'resolution'] as const,
    registers: [this.registry],
  });
  readonly connectedTerminals = new Gauge({
    name: 'tillsync_connected_terminals',
    help: 'Terminals with a registered socket on this instance',
    registers: [this.registry],
  });
  readonly triggersSent = new Counter({
    name: 'tillsync_sync_triggers_total',
    help: 'sync:trigger events emitted by this instance, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly hintsSent = new Counter({
    name: 'tillsync_change_hints_total',
    help: 'sync:changes hints emitted by this instance (each names the tables a terminal should pull now)',
    registers: [this.registry],
  });

  readonly expiredCursors = new Counter({
    name: 'tillsync_expired_cursors_total',
    help: 'Pulls refused with CURSOR_EXPIRED (the terminal re-reads the table from a snapshot), by entity type',
    labelNames: ['entity_type'] as const,
    registers: [this.registry],
  });
  readonly restoredCursors = new Counter({
    name: 'tillsync_restored_cursors_total',
    help: "Pulls refused with CENTRAL_RESTORED (a cursor of before central's database was restored: the terminal re-reads every table and sends its kept sales again), by entity type",
    labelNames: ['entity_type'] as const,
    registers: [this.registry],
  });
  readonly purgeRuns = new Counter({
    name: 'tillsync_purge_runs_total',
    help: 'Purge runs of this instance, by outcome (done, skipped: another instance held the lock, failed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly purged = new Counter({
    name: 'tillsync_purged_total',
    help: 'What the purge removed: tombstones (rows), compacted (superseded change-log entries), unpulled (entries of tables no terminal pulls), answers (sync_applied), triggers',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly purgeSeconds = new Histogram({
    name: 'tillsync_purge_duration_seconds',
    help: 'How long a purge run took',
    buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers: [this.registry],
  });

  constructor(private readonly defaults = true) {
    if (defaults) processMetrics();
  }

  /** Prometheus text: this instance's metrics and, unless left out, the process's. */
  text(): Promise<string> {
    return this.defaults ? Registry.merge([this.registry, processMetrics()]).metrics() : this.registry.metrics();
  }
}

/** `GET /metrics` (no credentials: keep it off the internet), this instance's registry as Prometheus text. */
export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/metrics',
    { schema: { tags: ['ops'], produces: [metrics.registry.contentType], response: { 200: MetricsResponse } } },
    async (_req, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.text();
    },
  );
}
