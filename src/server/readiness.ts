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
 * 200 only when the database answers a trivial query within READY_DB_TIMEOUT_MS, its
 * schema is at least as new as this build's migrations (a database restored from an
 * older backup is not), and the instance is accepting (not draining after SIGTERM);
 * otherwise 503 with the check that failed. `readiness()` decides (pure); the probe
 * around it is the only I/O.
 */
import { readMigrationFiles } from 'drizzle-orm/migrator';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
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
      migrations: CheckResult.describe("failed when the database's schema is older than this build's migrations (or could not be read)"),
    }),
    /** What failed, in words, for the operator reading it. */
    reasons: z.array(z.string()),
  })
  .describe('whether this instance should be sent new work');
export type ReadyResponse = z.infer<typeof ReadyResponse>;

/** What the probe found. */
export interface ReadinessFacts {
  readonly draining: boolean;
  /** The database's newest applied migration (drizzle's created_at), or why it could not be read; undefined: not asked. */
  readonly database: { readonly ok: true; readonly appliedMigration: number } | { readonly ok: false; readonly error: string } | undefined;
  /** This build's newest migration. */
  readonly expectedMigration: number;
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
  } else if (f.database.appliedMigration < f.expectedMigration) {
    migrations = 'failed';
    reasons.push(`migrations: the database's schema (${f.database.appliedMigration}) is older than this build's (${f.expectedMigration})`);
  }
  const accepting = f.draining ? 'failed' : 'ok';
  const ready = accepting === 'ok' && database === 'ok' && migrations === 'ok';
  return { status: ready ? 'ready' : 'not_ready', checks: { accepting, database, migrations }, reasons };
}

/** This build's newest migration (drizzle's folderMillis), 0 when there are none. */
export function expectedMigration(folder = CENTRAL_MIGRATIONS): number {
  return readMigrationFiles({ migrationsFolder: folder }).reduce((max, m) => Math.max(max, m.folderMillis), 0);
}

type DatabaseFact = NonNullable<ReadinessFacts['database']>;

/**
 * Reads the database's newest migration, within `timeoutMs`. One read at a time: calls
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
      .query<{ created_at: string | number | null }>('SELECT max(created_at)::bigint AS created_at FROM drizzle.__drizzle_migrations')
      .then((r): DatabaseFact => ({ ok: true, appliedMigration: Number(r.rows[0]?.created_at ?? 0) }))
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

/** `GET /readyz` (no credentials), answered from the probe and `draining()`. */
export function registerReadiness(app: FastifyInstance, db: Pick<Database, 'query'>, draining: () => boolean): void {
  const expected = expectedMigration();
  const probe = databaseProbe(db);
  app.withTypeProvider<ZodTypeProvider>().get(
    '/readyz',
    { schema: { tags: ['ops'], response: { 200: ReadyResponse, 503: ReadyResponse } } },
    async (_req, reply) => {
      // Draining is known without asking the database (which may be closing).
      const facts: ReadinessFacts = draining()
        ? { draining: true, database: undefined, expectedMigration: expected }
        : { draining: false, database: await probe(), expectedMigration: expected };
      const answer = readiness(facts);
      reply.status(answer.status === 'ready' ? 200 : 503);
      return answer;
    },
  );
}
