/**
 * Liveness and readiness, for a load balancer or an orchestrator.
 *
 * `GET /healthz` is liveness: the process is up and its event loop answers. It asks
 * nothing of the database, on purpose: when PostgreSQL is down every instance would
 * fail it together, and an orchestrator that restarts instances failing liveness would
 * restart them all, for nothing (a restart cannot bring the database back) and with
 * every till's socket dropped on top.
 *
 * `GET /readyz` is readiness: should a load balancer send this instance new work?
 * 200 only when the database answers a trivial query within READY_DB_TIMEOUT_MS, every
 * migration of this build is recorded in it (a database restored from an older backup,
 * migrated by no instance since, is not), and the instance is accepting (not draining after SIGTERM);
 * otherwise 503 with the check that failed. `readiness()` decides (pure); the probe
 * around it is the only I/O.
 */
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HealthResponse } from './api-docs.js';
import type { Database } from './db/database.js';
import { CENTRAL_MIGRATIONS } from './db/migrate.js';

/** Longest the database's answer to readiness is waited for, ms. */
export const READY_DB_TIMEOUT_MS = 2000;

/** `skipped`: not asked (a draining instance does not ask its database). */
const CheckResult = z.enum(['ok', 'failed', 'skipped']);

export const ReadyResponse = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.object({
      accepting: CheckResult.describe('failed once the instance drains (SIGTERM): it takes no new connections'),
      database: CheckResult.describe(`failed when the database does not answer SELECT within ${READY_DB_TIMEOUT_MS} ms`),
      migrations: CheckResult.describe("failed when a migration of this build is not recorded in the database (or it could not be read)"),
    }),
    /** What failed, in words, for the operator reading it. */
    reasons: z.array(z.string()),
  })
  .describe('whether this instance should be sent new work');
export type ReadyResponse = z.infer<typeof ReadyResponse>;

/** What the probe found. */
export interface ReadinessFacts {
  readonly draining: boolean;
  /** The migrations recorded in the database (drizzle's created_at), or why they could not be read; undefined: not asked. */
  readonly database: { readonly ok: true; readonly appliedMigrations: readonly number[] } | { readonly ok: false; readonly error: string } | undefined;
  /** This build's migrations (drizzle's folderMillis). */
  readonly expectedMigrations: readonly number[];
}

/** The answer for what the probe found (pure). */
export function readiness(f: ReadinessFacts): ReadyResponse {
  const reasons: string[] = [];
  if (f.draining) reasons.push('draining: this instance is shutting down and takes no new connections');
  type Check = z.infer<typeof CheckResult>;
  let database: Check = 'ok';
  let migrations: Check = 'ok';
  if (f.database === undefined) {
    database = 'skipped';
    migrations = 'skipped';
  } else if (!f.database.ok) {
    database = 'failed';
    migrations = 'failed';
    reasons.push(`database: ${f.database.error}`);
  } else {
    // Every one recorded, not the newest alone: the migrator applies each one missing (a
    // migration was once released with a journal time before others').
    const applied = new Set(f.database.appliedMigrations);
    const missing = f.expectedMigrations.filter((m) => !applied.has(m));
    if (missing.length > 0) {
      migrations = 'failed';
      reasons.push(`migrations: ${missing.length} of this build's migrations not applied (the first made at ${missing[0]}); an instance of this build applies them as it starts`);
    }
  }
  const accepting = f.draining ? 'failed' : 'ok';
  const ready = accepting === 'ok' && database === 'ok' && migrations === 'ok';
  return { status: ready ? 'ready' : 'not_ready', checks: { accepting, database, migrations }, reasons };
}

/** This build's migrations (drizzle's folderMillis, which the migrator records as created_at). */
export function expectedMigrations(folder = CENTRAL_MIGRATIONS): number[] {
  return readMigrationFiles({ migrationsFolder: folder }).map((m) => m.folderMillis);
}

type DatabaseFact = NonNullable<ReadinessFacts['database']>;

/**
 * Reads the migrations recorded in the database, within `timeoutMs`. One read at a time: calls
 * while one is under way share it, so a load balancer probing a database that hangs
 * does not pile queries up in the pool.
 */
export function databaseProbe(db: Pick<Database, 'query'>, timeoutMs = READY_DB_TIMEOUT_MS): () => Promise<DatabaseFact> {
  let running: Promise<DatabaseFact> | undefined;
  const read = async (): Promise<DatabaseFact> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<DatabaseFact>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
    });
    const query = db
      .query<{ created_at: string }>('SELECT created_at::text AS created_at FROM drizzle.__drizzle_migrations')
      .then((r): DatabaseFact => ({ ok: true, appliedMigrations: r.rows.map((row) => Number(row.created_at)) }))
      .catch((err: unknown): DatabaseFact => ({ ok: false, error: err instanceof Error ? err.message.slice(0, 200) : 'query failed' }));
    try {
      return await Promise.race([query, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  return () => {
    running ??= read().finally(() => {
      running = undefined;
    });
    return running;
  };
}

/** `GET /healthz` (liveness, never the database) and `GET /readyz` (the probe and `draining()`), no credentials. */
export function registerReadiness(app: FastifyInstance, db: Pick<Database, 'query' | 'kind'>, draining: () => boolean): void {
  const expected = expectedMigrations();
  const probe = databaseProbe(db);
  app
    .withTypeProvider<ZodTypeProvider>()
    .get('/healthz', { schema: { tags: ['ops'], response: { 200: HealthResponse } } }, async () => ({ status: 'ok' as const, database: db.kind }));
  app.withTypeProvider<ZodTypeProvider>().get(
    '/readyz',
    { schema: { tags: ['ops'], response: { 200: ReadyResponse, 503: ReadyResponse } } },
    async (_req, reply) => {
      // Draining is known without asking the database (which may be closing).
      const facts: ReadinessFacts = draining()
        ? { draining: true, database: undefined, expectedMigrations: expected }
        : { draining: false, database: await probe(), expectedMigrations: expected };
      const answer = readiness(facts);
      reply.status(answer.status === 'ready' ? 200 : 503);
      return answer;
    },
  );
}
