/**
 * What the OpenAPI document (`/api-docs`, JSON at `/api-docs/json`) says of each route
 * beyond its zod schemas: a summary, and a description of what it does, who may call
 * it and its main errors. Kept here, one entry per route, so app.ts stays the wiring;
 * documentRoutes() puts them on the routes as they are declared (a summary or
 * description written on the route itself wins).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

export interface RouteDoc {
  readonly summary: string;
  readonly description: string;
}

/** What every `/api` route may answer besides its own errors: added to each one's description. */
const API_ERRORS =
  'Every /api call: 401 UNAUTHORIZED without credentials or with an unknown key, 403 TERMINAL_DISABLED for a disabled terminal\'s key (credentials are checked before the body is read), 400 VALIDATION_ERROR naming each field that does not match the schema; every error is `{ statusCode, error, code, message, details? }`.';
const ADMIN = 'Admin token only (a terminal key gets 403 ADMIN_ONLY).';
const EITHER = 'A terminal key acting as its own terminal (another terminalId: 403 WRONG_TERMINAL), or the admin token acting as any provisioned terminal (404 UNKNOWN_TERMINAL).';

/** Keyed by `METHOD /path` as fastify declares it (`:param`). */
export const ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  'GET /healthz': {
    summary: 'Liveness: the process answers',
    description:
      'No credentials. 200 `{ status: "ok", database: "postgres" | "pglite" }` (the kind of database configured) whenever the process answers: a liveness probe. It does not ask the database, so a database outage does not make an orchestrator restart every instance; a load balancer asks GET /readyz.',
  },
  'GET /readyz': {
    summary: 'Readiness: send this instance new work?',
    description:
      'No credentials. 200 `{ status: "ready", checks, reasons: [] }` when the database answers within 2 s, every migration of this build is recorded in it and the instance is accepting; otherwise 503 `{ status: "not_ready", checks, reasons }` with each check `ok`, `failed` or `skipped` (`accepting` fails from the moment the instance drains after SIGTERM; the database is then not asked). A load balancer\'s health check.',
  },
  'GET /metrics': {
    summary: 'Prometheus metrics',
    description:
      'No credentials (keep the port inside your network). Prometheus text exposition format 0.0.4, not JSON: HTTP requests and their durations by route (`tillsync_http_requests_total`, `tillsync_http_request_duration_seconds`), pushes, pushed changes and push group sizes (`tillsync_pushes_total`, `tillsync_pushed_changes_total`, `tillsync_push_group_size`), pulls (`tillsync_pulls_total`, `tillsync_pulled_changes_total`), conflicts, connected terminals, sync triggers, change hints, expired cursors, purges (`tillsync_purge_runs_total`, `tillsync_purged_total{kind}`, `tillsync_purge_duration_seconds`) and the Node process (`tillsync_process_*`, `tillsync_nodejs_*`).',
  },
  'POST /api/stores': {
    summary: 'Create a store',
    description: `${ADMIN} Creates a store (\`id\` generated when omitted) and answers 201 with it. 409 STORE_EXISTS for an id already taken.`,
  },
  'POST /api/terminals': {
    summary: 'Provision a terminal in a store',
    description: `${ADMIN} Creates a terminal (\`terminalId\` generated when omitted) in an existing store and answers 201 with its key, shown this once (central keeps only its hash). 404 UNKNOWN_STORE, 409 TERMINAL_EXISTS.`,
  },
  'GET /api/terminals': {
    summary: 'List the terminals',
    description: `${ADMIN} Every provisioned terminal with its store, status (ONLINE, OFFLINE after three heartbeat intervals of silence, SYNCING, ERROR, DISABLED, NEVER_SEEN), last heartbeat, app version and whether its socket is connected.`,
  },
  'PATCH /api/terminals/:terminalId': {
    summary: 'Rename, disable or enable a terminal',
    description: `${ADMIN} \`{ disabled?, name? }\` (at least one). A disabled terminal's key is refused (403 TERMINAL_DISABLED) at once on every instance; enabling it lets the same key in again. 404 UNKNOWN_TERMINAL.`,
  },
  'POST /api/sync/push': {
    summary: 'Push a batch of a terminal\'s changes',
    description: `${EITHER} One transaction (shared with other terminals' pushes waiting at that moment). Each change is answered \`applied\`, \`duplicate\` (a replay: the same answer, nothing written), \`conflict\` (decided by the table's strategy, or PARKED for a supervisor) or \`rejected\` with a code (FORBIDDEN_STORE, MISSING_PARENT, MISSING_FIELDS, CHANGE_ID_REUSED, CHANGE_ID_TAKEN, READ_ONLY_TABLE, APPEND_ONLY, SCHEMA_MISMATCH, CLOCK_DRIFT), with the row's new version. A refused change writes nothing; the rest of the batch goes through. At most 5,000 changes; a body over the limit is 413 BODY_TOO_LARGE.`,
  },
  'GET /api/sync/pull': {
    summary: 'Pull central\'s changes of one table',
    description: `${EITHER} One page of one entity type's changes (store-scoped rows of the terminal's store and global rows), in commit order behind an opaque \`cursor\`; deletes come as \`deleted: true\`. \`start=snapshot\` begins with the table's live rows in key order, then hands over to the change log (\`snapshotEnd: true\` on the last snapshot page). 400 NOT_PULLED for a table terminals only push, 400 INVALID_CURSOR, 409 SCHEMA_MISMATCH, 409 CURSOR_EXPIRED (a deletion behind the cursor was purged: read the table again with start=snapshot), 409 CURSOR_AHEAD (the database is older than the cursor), 409 CENTRAL_RESTORED (central's database was restored from a backup since the cursor was issued; the answer's \`epoch\` is central's restore generation now: read every table again with start=snapshot and send again the changes central may have lost).`,
  },
  'POST /api/sync/resolve': {
    summary: 'Resolve a parked conflict',
    description: `A terminal key for a conflict of its own store (another store: 403 FORBIDDEN_STORE), or the admin token for any. \`{ conflictId, resolution: TERMINAL_WINS | CENTRAL_WINS | MANUAL_MERGE, resolvedData? }\` (MANUAL_MERGE needs resolvedData) writes the decided row with a fresh clock and closes the conflict; the outcome reaches every terminal by pull. 404 UNKNOWN_CONFLICT, 409 ALREADY_RESOLVED, 400 MISSING_FIELDS or VALIDATION_ERROR for a resolved row that is not a valid row of its table, 400 MISSING_PARENT or 403 FORBIDDEN_STORE for a resolved row pointing outside the store.`,
  },
  'GET /api/sync/conflicts': {
    summary: 'List conflicts',
    description: `A terminal key sees its store's conflicts, the admin token every store's; newest first, filtered by \`terminalId\` and \`status\` (open or resolved), at most \`limit\` (default 100, at most 1000). Each carries the base, the terminal's and central's images of the row.`,
  },
  'POST /api/sync/heartbeat': {
    summary: 'A terminal\'s heartbeat and outbox report',
    description: `${EITHER} Records the terminal's state, app version and outbox counts per table (what GET /api/sync/status shows as pending and failed) and answers the server time and the heartbeat interval. Silent for three intervals, a terminal shows OFFLINE.`,
  },
  'POST /api/sync/all': {
    summary: 'Ask terminals to sync now',
    description: `\`{ terminalId }\` (a terminal key for itself, or the admin token for any active terminal; 404 UNKNOWN_TERMINAL for an unknown or disabled one) or \`{ allTerminals: true }\` (admin token only, 403 ADMIN_ONLY otherwise), with \`type\` FULL or INCREMENTAL and a \`reason\`. Records a \`sync:trigger\` per terminal, sent over socket.io now and again when a terminal registers until it acknowledges it.`,
  },
  'GET /api/sync/status': {
    summary: 'One terminal\'s sync counts per table',
    description: `${EITHER} \`?terminalId\` names the terminal; a terminal key may leave it out and gets its own. The admin token must name one: 400 VALIDATION_ERROR on querystring.terminalId (every terminal at once is GET /api/fleet). Per table, as in the seed: \`pending\` and \`failed\` as the terminal last reported them (heartbeat), \`synced\` the changes central accepted from it (applied, or settled as a conflict; counted as each push settles them, never lowered by the purge), \`conflicts\` open at central (or as many as the terminal reports, if more); with \`totals\` and \`summary\`.`,
  },
  'POST /api/sync/audit': {
    summary: 'Convergence audit: digests of a table\'s rows in id ranges',
    description: `${EITHER} For one table and the rows the terminal's pulls serve it (live rows of its store and global rows): per id range asked (at most 64), the row count and a digest of the rows in the till's canonical form, split into \`fanOut\` parts or listed row by row (id, version, hash) when at most \`listUpTo\` rows; the till compares them with its own rows to find what differs. A request reads a bounded number of rows: a range cut short says \`complete: false\`. 400 NOT_PULLED for a table terminals only push, 409 SCHEMA_MISMATCH.`,
  },
  'GET /api/sync/schema': {
    summary: 'Central\'s table schemas',
    description: `A terminal key or the admin token. Every catalog table as central's database has it (columns and types) with the catalog's schema hash, and the server time; \`tillsync parity\` compares it with the terminal's SQLite.`,
  },
  'POST /api/admin/purge': {
    summary: 'Run the purge now',
    description: `${ADMIN} Removes what central no longer needs (superseded change-log entries, tombstones every active terminal has pulled past and older than the retention, old push answers and triggers) and answers what it removed and how long it took. 409 PURGE_RUNNING while another instance runs it.`,
  },
};

/** `GET /healthz`'s answer. */
export const HealthResponse = z.object({ status: z.literal('ok'), database: z.enum(['postgres', 'pglite']) }).describe('the process answers (liveness; the database is not asked: see /readyz)');

/** `GET /metrics`'s answer: text (the route says so with `produces`), not JSON. */
export const MetricsResponse = z.string().describe('Prometheus text exposition format 0.0.4');

/**
 * Puts ROUTE_DOCS on every route declared after it (call it before the routes), and
 * the errors every /api route shares at the end of each /api route's description.
 */
export function documentRoutes(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const method = Array.isArray(route.method) ? route.method[0] : route.method;
    const doc = ROUTE_DOCS[`${String(method)} ${route.url}`];
    if (!doc && !route.schema) return;
    const schema = { ...doc, ...route.schema };
    if (typeof schema.description === 'string' && route.url.startsWith('/api/')) schema.description = `${schema.description} ${API_ERRORS}`;
    route.schema = schema;
  });
}
