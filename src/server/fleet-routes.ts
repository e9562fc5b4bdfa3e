/**
 * HQ's fleet view over HTTP (admin token): GET /api/fleet, /api/fleet/stores,
 * /api/fleet/terminals/:terminalId and GET /api/conflicts/analytics. The reads are
 * FleetReport's and ConflictAnalyticsService's; this file only routes.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z, type ZodType } from 'zod';
import { ConflictAnalyticsQuery, ConflictAnalyticsResponse, FleetQuery, FleetResponse, FleetTerminalDetail, StoreRollupResponse } from '../shared/fleet-protocol.js';
import { TERMINAL_ID } from '../shared/protocol.js';
import { requireAdmin, type Principal } from './auth.js';
import type { ConflictAnalyticsService } from './services/conflict-analytics.js';
import type { FleetReport } from './services/fleet-report.js';

type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

export interface FleetViewDeps {
  readonly principal: (req: FastifyRequest) => Promise<Principal>;
  readonly report: FleetReport;
  readonly analytics: ConflictAnalyticsService;
  /** The error answers every route documents. */
  readonly errors: Readonly<Record<number, ZodType>>;
  readonly secured: { bearerAuth: string[] }[];
}

export function registerFleetView(app: App, deps: FleetViewDeps): void {
  const { principal, errors, secured } = deps;
  const fleetReport = deps.report;
  const conflictAnalytics = deps.analytics;
  app.get(
    '/api/fleet',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Every till at a glance, most urgent first',
        description:
          'Admin token. One row per provisioned terminal as its last heartbeat reported it (pending, failed, unsynced sales and their value, oldest pending change, clock skew, app and schema version) with central\'s open conflicts and how far behind central\'s change log it pulls; sorted by attention (offline tills holding sales first). Filters: storeId, status, attention=true; pages: limit (<= 1000) and offset.',
        security: secured,
        querystring: FleetQuery,
        response: { 200: FleetResponse, ...errors },
      },
    },
    async (req) => {
      requireAdmin(await principal(req));
      return fleetReport.page(req.query);
    },
  );
  app.get(
    '/api/fleet/stores',
    {
      schema: {
        tags: ['fleet'],
        summary: 'The fleet rolled up per store',
        description: 'Admin token. Per store: tills by status, how many need attention, pending and failed changes, open conflicts, unsynced sales and their value, oldest pending change.',
        security: secured,
        response: { 200: StoreRollupResponse, ...errors },
      },
    },
    async (req) => {
      requireAdmin(await principal(req));
      return fleetReport.stores();
    },
  );
  app.get(
    '/api/fleet/terminals/:terminalId',
    {
      schema: {
        tags: ['fleet'],
        summary: 'One till in detail',
        description: 'Admin token. The fleet row plus the per-table counts and the latest sync runs (with their errors) from its last heartbeat. 404 UNKNOWN_TERMINAL.',
        security: secured,
        params: z.object({ terminalId: TERMINAL_ID }),
        response: { 200: FleetTerminalDetail, ...errors },
      },
    },
    async (req) => {
      requireAdmin(await principal(req));
      return fleetReport.detail(req.params.terminalId);
    },
  );
  app.get(
    '/api/conflicts/analytics',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Which tables and fields conflict, and how they were resolved, per week',
        description:
          'Admin token. Counts of the conflicts of the last `weeks` weeks (1-52, this one included) per week (its Monday, UTC), entity type, field the two sides disagreed on (`(row)` for a delete against a change) and resolution (null while open).',
        security: secured,
        querystring: ConflictAnalyticsQuery,
        response: { 200: ConflictAnalyticsResponse, ...errors },
      },
    },
    async (req) => {
      requireAdmin(await principal(req));
      return conflictAnalytics.weeks(req.query.weeks);
    },
  );
}
