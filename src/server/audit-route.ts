/**
 * `POST /api/sync/audit`, the convergence audit's endpoint (services/audit.ts does the
 * work): declared here with its documentation so app.ts stays the wiring.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AuditReportRequest, AuditReportResponse, AuditRequest, AuditResponse, LastAuditResponse, trimAudit } from '../shared/audit-protocol.js';
import { z } from 'zod';
import { ErrorResponse, TERMINAL_ID } from '../shared/protocol.js';
import { requireAdmin, type Principal } from './auth.js';
import type { Database } from './db/database.js';
import { AuditService } from './services/audit.js';
import type { FleetService } from './services/fleet.js';

type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse };

export function registerAuditRoute(app: App, deps: { db: Database; fleet: FleetService; principal: (req: FastifyRequest) => Promise<Principal> }): void {
  const audit = new AuditService(deps.db);
  app.post(
    '/api/sync/audit',
    {
      schema: {
        tags: ['sync'],
        security: [{ bearerAuth: [] }],
        summary: "Convergence audit: digests of id ranges of one table in a terminal's scope",
        description:
          'A terminal key acting as its own terminal (another terminalId: 403 WRONG_TERMINAL), or the admin token naming any provisioned terminal (404 UNKNOWN_TERMINAL). For one table the terminal pulls and its scope (live rows of its store and global rows), answers each id range (after, upTo] with its row count and digest, split into parts or listed row by row, as `tillsync audit` bisects. At most 64 ranges and 200,000 rows read a request (a range cut short says complete: false; later ranges are not answered). 400 NOT_PULLED for a table sent up only; 400 VALIDATION_ERROR for a range whose after does not sort before its upTo; 409 SCHEMA_MISMATCH.',
        body: AuditRequest,
        response: { 200: AuditResponse, ...errors },
      },
    },
    async (req) => {
      const acting = await deps.fleet.acting(await deps.principal(req), req.body.terminalId);
      return audit.audit(acting, req.body);
    },
  );
  app.post(
    '/api/sync/audit-report',
    {
      schema: {
        tags: ['sync'],
        security: [{ bearerAuth: [] }],
        summary: "A till's convergence audit, reported to HQ",
        description:
          "A terminal key for its own terminal (403 WRONG_TERMINAL otherwise), or the admin token naming one. The till sends the report of an audit it ran (after a sync trigger with reason AUDIT, the console's Audit button, or its own Audit button); central keeps the latest, every count whole and at most 20 listed rows per table, and the console shows it (GET /api/fleet/terminals/:terminalId/audit). At most 200 tables.",
        body: AuditReportRequest,
        response: { 200: AuditReportResponse, ...errors },
      },
    },
    async (req) => {
      const acting = await deps.fleet.acting(await deps.principal(req), req.body.terminalId);
      const receivedAt = await deps.fleet.recordAudit(acting, trimAudit({ ...req.body.report, terminalId: acting.terminalId }));
      return { terminalId: acting.terminalId, receivedAt };
    },
  );
  app.get(
    '/api/fleet/terminals/:terminalId/audit',
    {
      schema: {
        tags: ['fleet'],
        security: [{ bearerAuth: [] }],
        summary: "A till's latest convergence audit",
        description: 'Admin token. The latest audit the till reported (null before its first) and when central received it. 404 UNKNOWN_TERMINAL. Ask for a new one with POST /api/sync/all { terminalId, reason: "AUDIT" }.',
        params: z.object({ terminalId: TERMINAL_ID }),
        response: { 200: LastAuditResponse, ...errors },
      },
    },
    async (req) => {
      requireAdmin(await deps.principal(req));
      return deps.fleet.lastAudit(req.params.terminalId);
    },
  );
}
