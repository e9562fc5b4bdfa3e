/**
 * The central sync server: fastify (HTTP API, OpenAPI from the shared zod
 * schemas), socket.io on the same port, and a PostgreSQL or PGlite database.
 * Stateless: any number of instances share one database.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { mkdirSync } from 'node:fs';
import { z } from 'zod';
import { excerpt } from '../shared/excerpt.js';
import {
  ConflictListQuery,
  ConflictListResponse,
  CreateStoreRequest,
  CreateTerminalRequest,
  CreateTerminalResponse,
  ErrorResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  PullQuery,
  PullResponse,
  PurgeReport,
  PushRequest,
  PushResponse,
  ResolveRequest,
  ResolveResponse,
  SchemaResponse,
  StatusQuery,
  StatusResponse,
  StoreResponse,
  SyncAllRequest,
  SyncAllResponse,
  TERMINAL_ID,
  TerminalInfo,
  TerminalListResponse,
  UpdateTerminalRequest,
} from '../shared/protocol.js';
import { documentRoutes } from './api-docs.js';
import { registerAuditRoute } from './audit-route.js';
import { registerRestoreRoute } from './restore-route.js';
import { Authenticator, bearerToken, requireAdmin, setupAdminToken, type Principal } from './auth.js';
import { registerConsole } from './console-route.js';
import { drainConnections, type DrainResult } from './drain.js';
import { registerUpdateRoutes } from './updates/routes.js';
import { fastifyTrustProxy, type ServerConfig } from './config.js';
import { openPglite, openPostgres, type Database } from './db/database.js';
import { migrate } from './db/migrate.js';
import { conflict, errorBody, HttpError, notFound, validationBody, type ErrorBody } from './errors.js';
import { clientErrorHandler, frameworkErrorHandler, installJsonBodyParser, installServerGuards } from './http-guards.js';
import { Metrics, registerMetricsRoute } from './metrics.js';
import { Realtime } from './realtime.js';
import { ConflictAnalyticsService } from './services/conflict-analytics.js';
import { ConflictService } from './services/conflicts.js';
import { FleetService } from './services/fleet.js';
import { FleetReport } from './services/fleet-report.js';
import { registerFleetView } from './fleet-routes.js';
import { PullPositions } from './services/positions.js';
import { PullService } from './services/pull.js';
import { PurgeService } from './services/purge.js';
import { PushService } from './services/push.js';
import { registerReadiness } from './readiness.js';
import { centralSchema } from './services/schema.js';
import { StatusService, statusTerminalId } from './services/status.js';
import { TriggerService } from './services/triggers.js';

export interface CentralOptions {
  readonly config: ServerConfig;
  /** A database to use instead of opening one; the caller keeps ownership. */
  readonly db?: Database;
}

export interface Central {
  readonly app: FastifyInstance;
  readonly db: Database;
  readonly config: ServerConfig;
  readonly metrics: Metrics;
  /** The purge (runs on its own every TILLSYNC_PURGE_INTERVAL once listening). */
  readonly purge: PurgeService;
  /** Writes the pull positions recorded so far (the purge does so first itself). */
  flushPositions(): Promise<void>;
  /** The admin token if this start generated it (print it once). */
  readonly generatedAdminToken: string | undefined;
  /** Starts listening; resolves to the base URL. */
  listen(): Promise<string>;
  /** Graceful drain (SIGTERM): /readyz 503 at once, then drain.ts, then the database closes; cut after `timeoutMs` (default config.drainTimeoutMs). */
  drain(timeoutMs?: number): Promise<DrainResult>;
  /** drain() with the configured timeout. */
  close(): Promise<void>;
}

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };
const secured = [{ bearerAuth: [] }];

async function openDatabase(config: ServerConfig, onError: (err: Error) => void): Promise<Database> {
  if (config.databaseUrl) return openPostgres({ connectionString: config.databaseUrl, max: config.pgPoolSize, onError });
  mkdirSync(config.dataDir, { recursive: true });
  return openPglite(config.dataDir);
}

/** The documented code of a 4xx that comes without one of ours (fastify's own errors). */
const CLIENT_ERROR_CODES: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'BODY_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
};

/** A route's answer written as its service built it (typed), without zod parsing it again on the way out. */
const writtenAsBuilt = () => (data: unknown) => JSON.stringify(data);

export async function createCentral(opts: CentralOptions): Promise<Central> {
  const { config } = opts;
  // Connection errors (an idle pooled connection or the listening one lost) go to the log once it exists.
  const logs: { log?: FastifyBaseLogger } = {};
  const db = opts.db ?? (await openDatabase(config, (err) => logs.log?.warn({ err }, 'PostgreSQL connection error')));
  const ownsDb = opts.db === undefined;
  try {
    await migrate(db);
  } catch (err) {
    if (ownsDb) await db.close();
    throw err;
  }
  const admin = await setupAdminToken(db, config.adminToken);
  const metrics = new Metrics();
  const auth = new Authenticator(db, admin.hash, { ttlMs: config.authCacheTtlMs });
  const triggers = new TriggerService(db, config.triggerTtlSeconds);

  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: config.bodyLimitBytes,
    // Per-request lines only when debugging; errors and events are always logged.
    logController: new LogController({ disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace' }),
    clientErrorHandler: clientErrorHandler(logs),
    frameworkErrors: frameworkErrorHandler,
    // The error handler below writes the answer from the issues; fastify's default
    // formatter would first join every issue's message into one string (5,000 of them
    // for a push of 5,000 bad changes) only for it to be thrown away.
    schemaErrorFormatter: (errors, dataVar) => new Error(`${dataVar} is invalid (${errors.length} problems)`),
    // node answers an HTTP/1.1 request without Host with a bare 400; the hook below
    // answers it in the documented shape instead.
    http: { requireHostHeader: false },
    // While draining, a request arriving on a connection still open is served (with
    // Connection: close), not refused with fastify's 503: behind a load balancer that
    // would be a 5xx for a request nothing was wrong with.
    return503OnClosing: false,
    trustProxy: fastifyTrustProxy(config.trustProxy),
  }).withTypeProvider<ZodTypeProvider>();
  logs.log = app.log;
  installJsonBodyParser(app);
  installServerGuards(app.server);
  await auth.start(app.log);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  let realtime: Realtime | undefined;
  const fleet = new FleetService(
    db,
    config.heartbeatIntervalSeconds,
    (id) => realtime?.isConnected(id) ?? false,
    (id) => auth.forget(id),
  );
  const conflictAnalytics = new ConflictAnalyticsService(db);
  const fleetReport = new FleetReport(db, config.heartbeatIntervalSeconds, (id) => realtime?.isConnected(id) ?? false);
  const push = new PushService(
    db,
    {
      maxClockDriftMs: config.maxClockDriftMs,
      groupsInFlight: db.kind === 'pglite' ? 1 : Math.min(config.pushTransactions ?? 2, config.pgPoolSize),
      // Transactions stuck longer than pushStallMs let others start, leaving two connections to pulls and heartbeats.
      groupsMaxInFlight: db.kind === 'pglite' ? 1 : Math.max(1, config.pgPoolSize - 2),
      groupStallMs: config.pushStallMs,
      groupMaxMembers: config.pushGroupMax,
    },
    metrics,
  );
  const positions = new PullPositions(db, (err) => app.log.warn({ err }, 'pull positions not written (kept for the next write)'));
  const pull = new PullService(db, metrics, positions);
  const purge = new PurgeService(db, metrics, app.log, { retentionSeconds: config.retentionSeconds }, () => positions.flush());
  const conflicts = new ConflictService(db);
  const status = new StatusService(db, fleet, conflicts);

  // Every /api call is authenticated before its body is read: an unknown caller gets
  // a 401, never a validation report or a 413 about a body nobody will look at.
  const principals = new WeakMap<FastifyRequest, Principal>();
  app.addHook('onRequest', async (req, reply) => {
    if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
      // HTTP/1.1 requires Host (RFC 9112 3.2); the connection is closed as node would.
      reply.header('connection', 'close');
      return reply.status(400).send(errorBody(400, 'MISSING_HOST', 'an HTTP/1.1 request needs a Host header'));
    }
  });
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/api/')) return;
    principals.set(req, await auth.authenticate(bearerToken(req.headers.authorization)));
  });
  const principal = async (req: FastifyRequest): Promise<Principal> => {
    const p = principals.get(req);
    if (!p) throw new HttpError(401, 'UNAUTHORIZED', 'missing credentials');
    return p;
  };

  app.setErrorHandler((err: FastifyError, req, reply) => {
    // Every answer goes through errorBody, which cuts whatever of the input a message quotes.
    const send = (body: ErrorBody) => reply.status(body.statusCode).send(body);
    if (hasZodFastifySchemaValidationErrors(err)) {
      return send(
        validationBody(
          err.validation.map((v) => ({
            path: [err.validationContext ?? 'body', ...v.instancePath.split('/').filter(Boolean)].join('.'),
            message: v.message ?? 'invalid',
          })),
        ),
      );
    }
    if (err instanceof HttpError) return send(errorBody(err.statusCode, err.code, err.message, err.details, err.epoch));
    if (typeof err.code === 'string') {
      // PostgreSQL's data exceptions (class 22: a NUL in a string, year 0, a number out
      // of range) are values the client sent that the database cannot store. Its message
      // may quote the value: cut, like every message.
      if (/^22[0-9A-Z]{3}$/.test(err.code)) return send(errorBody(400, 'INVALID_VALUE', `a value cannot be stored: ${err.message}`));
      // Program limits (class 54: an index row over the btree maximum, ...): the wire
      // schemas bound every value so that none is reached; should one be, it is still
      // the request's value that cannot be stored, and it is logged as a bound to add.
      if (/^54[0-9A-Z]{3}$/.test(err.code)) {
        req.log.warn({ err }, 'a request reached a database limit: a bound is missing from the wire schemas');
        return send(errorBody(400, 'VALUE_TOO_LARGE', `a value is too large to store: ${err.message}`));
      }
    }
    const statusCode = err.statusCode ?? 500;
    if (statusCode >= 400 && statusCode < 500) return send(clientError(err, statusCode, req));
    req.log.error({ err }, 'request failed');
    return send(errorBody(500, 'INTERNAL', 'internal error; see the server log'));
  });
  /** fastify's own 4xx (body parsing, content type) with a documented code instead of its FST_ERR_* one. */
  const clientError = (err: FastifyError, statusCode: number, req: FastifyRequest): ErrorBody => {
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return errorBody(statusCode, 'BODY_TOO_LARGE', `request body is larger than the limit of ${config.bodyLimitBytes} bytes`);
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return errorBody(statusCode, 'INVALID_JSON', err.message);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        // fastify's message quotes the whole header.
        return errorBody(statusCode, 'UNSUPPORTED_MEDIA_TYPE', `unsupported content-type ${excerpt(req.headers['content-type'])}; send application/json`);
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return errorBody(statusCode, 'INVALID_CONTENT_LENGTH', 'the body is not as long as its Content-Length says');
    }
    if (err instanceof SyntaxError) return errorBody(statusCode, 'INVALID_JSON', err.message);
    const own = typeof err.code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(err.code) && !err.code.startsWith('FST_');
    return errorBody(statusCode, own ? err.code : (CLIENT_ERROR_CODES[statusCode] ?? 'CLIENT_ERROR'), err.message);
  };
  app.setNotFoundHandler((req, reply) => {
    // The path is cut like any quoted input (it may be as long as the header limit).
    reply.status(404).send(errorBody(404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ route }, reply.elapsedTime / 1000);
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'TillSync central sync API', version: '1' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/api-docs' });
  documentRoutes(app);
  // HQ's fleet console (the page; it calls the /api routes below with the admin token).
  registerConsole(app);

  let draining = false;
  registerReadiness(app, db, () => draining); // /healthz (liveness) and /readyz
  registerMetricsRoute(app, metrics);

  // ------------------------------------------------------------- fleet (admin)
  app.post(
    '/api/stores',
    { schema: { tags: ['fleet'], security: secured, body: CreateStoreRequest, response: { 201: StoreResponse, ...errors } } },
    async (req, reply) => {
      requireAdmin(await principal(req));
      reply.status(201);
      return fleet.createStore(req.body);
    },
  );
  app.post(
    '/api/terminals',
    { schema: { tags: ['fleet'], security: secured, body: CreateTerminalRequest, response: { 201: CreateTerminalResponse, ...errors } } },
    async (req, reply) => {
      requireAdmin(await principal(req));
      reply.status(201);
      return fleet.createTerminal(req.body);
    },
  );
  app.get(
    '/api/terminals',
    { schema: { tags: ['fleet'], security: secured, response: { 200: TerminalListResponse, ...errors } } },
    async (req) => {
      requireAdmin(await principal(req));
      return { terminals: await fleet.list() };
    },
  );
  registerFleetView(app, { principal, report: fleetReport, analytics: conflictAnalytics, errors, secured });
  app.patch(
    '/api/terminals/:terminalId',
    {
      schema: {
        tags: ['fleet'],
        security: secured,
        params: z.object({ terminalId: TERMINAL_ID }),
        body: UpdateTerminalRequest,
        response: { 200: TerminalInfo, ...errors },
      },
    },
    async (req) => {
      requireAdmin(await principal(req));
      return fleet.updateTerminal(req.params.terminalId, req.body);
    },
  );

  // ------------------------------------------------------------- sync
  app.post(
    '/api/sync/push',
    {
      schema: { tags: ['sync'], security: secured, body: PushRequest, response: { 200: PushResponse, ...errors } },
      // The body is validated as every body is. The answer is built by PushService as a
      // PushResponse (typed) and is written as it is: parsing it with zod again on the way
      // out cost about 2.5 us per change of a 500-change batch. The schema still documents it.
      serializerCompiler: writtenAsBuilt,
    },
    async (req) => {
      const acting = await fleet.acting(await principal(req), req.body.terminalId);
      return push.push(acting, req.body);
    },
  );
  app.get(
    '/api/sync/pull',
    {
      schema: { tags: ['sync'], security: secured, querystring: PullQuery, response: { 200: PullResponse, ...errors } },
      // As push: PullService builds a PullResponse (typed) and it is written as it is. Parsing a
      // page again on the way out cost central about 3 us a row of a first sync; the terminal
      // validates every page it receives.
      serializerCompiler: writtenAsBuilt,
    },
    async (req) => {
      const acting = await fleet.acting(await principal(req), req.query.terminalId);
      return pull.pull(acting, req.query);
    },
  );
  app.post(
    '/api/sync/resolve',
    { schema: { tags: ['sync'], security: secured, body: ResolveRequest, response: { 200: ResolveResponse, ...errors } } },
    async (req) => conflicts.resolve(await principal(req), req.body),
  );
  app.get(
    '/api/sync/conflicts',
    { schema: { tags: ['sync'], security: secured, querystring: ConflictListQuery, response: { 200: ConflictListResponse, ...errors } } },
    async (req) => ({ conflicts: await conflicts.list(await principal(req), req.query) }),
  );
  app.post(
    '/api/sync/heartbeat',
    { schema: { tags: ['sync'], security: secured, body: HeartbeatRequest, response: { 200: HeartbeatResponse, ...errors } } },
    async (req) => {
      const acting = await fleet.acting(await principal(req), req.body.terminalId);
      return fleet.heartbeat(acting, req.body);
    },
  );
  app.post(
    '/api/sync/all',
    { schema: { tags: ['sync'], security: secured, body: SyncAllRequest, response: { 200: SyncAllResponse, ...errors } } },
    async (req) => {
      const p = await principal(req);
      const { type, reason } = req.body;
      let ids: string[];
      if (req.body.allTerminals) {
        requireAdmin(p);
        ids = await fleet.activeIds();
      } else if (req.body.storeId !== undefined) {
        requireAdmin(p);
        ids = await fleet.activeIdsInStore(req.body.storeId);
      } else {
        const acting = await fleet.acting(p, req.body.terminalId as string);
        const row = await fleet.find(acting.terminalId);
        if (!row || row.disabled_at) throw notFound('UNKNOWN_TERMINAL', `terminal ${acting.terminalId} is not active`);
        ids = [acting.terminalId];
      }
      return { type, reason, triggered: await triggers.trigger(ids, type, reason) };
    },
  );
  app.get(
    '/api/sync/status',
    { schema: { tags: ['sync'], security: secured, querystring: StatusQuery, response: { 200: StatusResponse, ...errors } } },
    async (req) => {
      const p = await principal(req);
      const acting = await fleet.acting(p, statusTerminalId(p, req.query.terminalId));
      return status.status(acting.terminalId);
    },
  );
  registerAuditRoute(app, { db, fleet, principal });
  await registerRestoreRoute(app, { db, principal, recheckMs: config.restoreCheckIntervalSeconds * 1000, triggerAll: async (reason) => (await triggers.trigger(await fleet.activeIds(), 'FULL', reason)).length });
  registerUpdateRoutes(app, { db, principal, maxFileBytes: config.updateMaxBytes, errors });
  app.get(
    '/api/sync/schema',
    { schema: { tags: ['sync'], security: secured, response: { 200: SchemaResponse, ...errors } } },
    async (req) => {
      await principal(req);
      return centralSchema(db);
    },
  );

  app.post(
    '/api/admin/purge',
    { schema: { tags: ['fleet'], security: secured, response: { 200: PurgeReport, ...errors } } },
    async (req) => {
      requireAdmin(await principal(req));
      const report = await purge.run();
      if (!report) throw conflict('PURGE_RUNNING', 'another instance is running the purge now; ask again when it is done');
      return report;
    },
  );

  let autoSync: NodeJS.Timeout | undefined;
  let purging: NodeJS.Timeout | undefined;
  let scheduledPurge: Promise<unknown> | undefined;
  let drained: Promise<DrainResult> | undefined;

  const runDrain = async (timeoutMs: number): Promise<DrainResult> => {
    draining = true;
    clearTimeout(autoSync);
    clearInterval(purging);
    const result = await drainConnections(app, realtime, timeoutMs);
    await scheduledPurge; // a run under way ends before the database closes
    await positions.close();
    await auth.close();
    if (ownsDb) await db.close();
    return result;
  };

  return {
    app,
    db,
    config,
    metrics,
    purge,
    flushPositions: () => positions.flush(),
    generatedAdminToken: admin.generated,
    async listen() {
      await app.ready();
      realtime = new Realtime(app.server, auth, triggers, metrics, app.log, db);
      await realtime.start();
      const address = await app.listen({ port: config.port, host: config.host });
      if (config.autoSyncOnStart) {
        // Terminals that were syncing when central went down catch up at once.
        autoSync = setTimeout(() => {
          fleet
            .activeIds()
            .then((ids) => triggers.trigger(ids, 'FULL', 'SERVER_RESTART'))
            .then((ids) => app.log.info({ terminals: ids.length }, 'auto-sync after restart triggered'))
            .catch((err: unknown) => app.log.error({ err }, 'auto-sync after restart failed'));
        }, config.autoSyncDelayMs);
      }
      if (config.purgeIntervalSeconds > 0) {
        // Every instance asks; the lock lets one run at a time.
        purging = setInterval(() => {
          if (scheduledPurge) return; // the last one is still running here
          scheduledPurge = purge
            .run()
            .catch(() => undefined) // logged and counted by the service
            .finally(() => {
              scheduledPurge = undefined;
            });
        }, config.purgeIntervalSeconds * 1000);
        purging.unref();
      }
      return address.replace('[::1]', '127.0.0.1');
    },
    drain(timeoutMs = config.drainTimeoutMs) {
      drained ??= runDrain(timeoutMs);
      return drained;
    },
    async close() {
      drained ??= runDrain(config.drainTimeoutMs);
      await drained;
    },
  };
}
