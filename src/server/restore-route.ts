/**
 * Central restored from a backup (services/epoch.ts does the work): at start, the
 * database's identity is compared with the one it last saw (a point-in-time recovery,
 * a promoted standby or another cluster moves the restore generation on); an admin
 * says so for a restore that cannot be seen (`POST /api/admin/restored`), and reads
 * where it stands (`GET /api/admin/restored`). Declared here with its documentation so
 * app.ts stays the wiring.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ErrorResponse } from '../shared/protocol.js';
import { requireAdmin, type Principal } from './auth.js';
import type { Database } from './db/database.js';
import { EpochService, type EpochState } from './services/epoch.js';

type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

/** The reason of the sync trigger a restore sends every till. */
export const RESTORED_REASON = 'CENTRAL_RESTORED';

const errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse };

export const RestoredRequest = z
  .object({
    /** A name for this restore (the backup's name and time, a ticket): repeating it changes nothing. */
    restoreId: z.string().trim().min(1).max(200),
  })
  .strict();

export const RestoredResponse = z.object({
  /** Central's restore generation now (0: never restored); pull cursors of another one are refused with 409 CENTRAL_RESTORED. */
  epoch: z.number().int().nonnegative(),
  /** Whether this request moved it (false: this restore was already told, or nothing was asked). */
  moved: z.boolean(),
  restoreId: z.string().nullable(),
  /** What moved it last: `detected` (at start, from the database's identity) or `admin`. */
  reason: z.string().nullable(),
  changedAt: z.string(),
  /** The database's identity central last saw (null: it cannot read it). */
  systemIdentifier: z.string().nullable(),
  timeline: z.number().int().nullable(),
  /** Tills asked to sync now (a FULL sync trigger, reason CENTRAL_RESTORED), so they catch up at once: every active one when the epoch moved, none otherwise. */
  triggered: z.number().int().nonnegative(),
});
export type RestoredResponse = z.infer<typeof RestoredResponse>;

const answer = (s: EpochState, moved: boolean, triggered = 0): RestoredResponse => ({
  epoch: s.epoch,
  moved,
  restoreId: s.restoreId,
  reason: s.reason,
  changedAt: s.changedAt,
  systemIdentifier: s.systemIdentifier,
  timeline: s.timeline,
  triggered,
});

const DESCRIPTION =
  "The admin token only (401 without credentials, 403 ADMIN_ONLY for a terminal key; 400 VALIDATION_ERROR without a restoreId). Tells central its database was restored from a backup, for restores central cannot see at start (a cold copy of the data directory or a PGlite directory, a dump restored into the same cluster; a point-in-time recovery, a promoted standby or another cluster are seen by themselves). The restore generation (`epoch`) moves on: every till's next pull is refused with 409 CENTRAL_RESTORED, and the till reads every table again from a snapshot (HQ's changes the restore lost are undone at the till) and sends again the sales it still keeps (central answers `duplicate` for those it has, applies those it lost). Every active till is asked to sync now (a FULL sync trigger with reason CENTRAL_RESTORED; `triggered` counts them), so they catch up at once. `restoreId` names the restore: the same one again changes nothing (`moved: false`, nobody triggered), so the call can be retried. Call it after central started on the restored database, before the tills are let in, if possible.";

/** Checks the database's identity (moving the epoch on after a restore it shows), then declares the routes. */
export async function registerRestoreRoute(
  app: App,
  deps: {
    db: Database;
    principal: (req: FastifyRequest) => Promise<Principal>;
    /** Asks every active till for a FULL sync with this reason; how many were asked. */
    triggerAll?: (reason: string) => Promise<number>;
    /** Checks the identity again this often while central runs (0: at start only). */
    recheckMs?: number;
  },
): Promise<EpochService> {
  const epochs = new EpochService(deps.db);
  const detected = (state: EpochState) =>
    app.log.warn(
      { epoch: state.epoch, systemIdentifier: state.systemIdentifier, timeline: state.timeline },
      "central's database was restored (its identity or timeline changed): the restore generation moved on; every till re-reads its tables and sends its kept sales again",
    );
  const checked = await epochs.checkIdentity();
  if (checked.verdict === 'restored') {
    detected(checked.state);
  } else if (checked.verdict === 'unknown') {
    app.log.info("the database's identity cannot be read (pg_control_system): a restore is not detected by itself; after one, POST /api/admin/restored");
  }
  // A standby promoted (or a database restored) under a running instance: seen within
  // recheckMs. Only the instance whose locked check moves the epoch asks the tills.
  if (deps.recheckMs && deps.recheckMs > 0) {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      epochs
        .recheck()
        .then(async (r) => {
          if (r.verdict !== 'restored') return;
          detected(r.state);
          if (deps.triggerAll) await deps.triggerAll(RESTORED_REASON);
        })
        .catch((err: unknown) => app.log.warn({ err }, "checking the database's identity failed; trying again later"))
        .finally(() => {
          running = false;
        });
    }, deps.recheckMs);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  }
  app.post(
    '/api/admin/restored',
    {
      schema: {
        tags: ['fleet'],
        security: [{ bearerAuth: [] }],
        summary: 'Central was restored from a backup: the tills re-read and re-send',
        description: DESCRIPTION,
        body: RestoredRequest,
        response: { 200: RestoredResponse, ...errors },
      },
    },
    async (req) => {
      requireAdmin(await deps.principal(req));
      const r = await epochs.markRestored(req.body.restoreId);
      if (!r.moved) return answer(r.state, false);
      req.log.warn({ epoch: r.state.epoch, restoreId: r.state.restoreId }, 'central marked as restored by an admin: the restore generation moved on');
      return answer(r.state, true, deps.triggerAll ? await deps.triggerAll(RESTORED_REASON) : 0);
    },
  );
  app.get(
    '/api/admin/restored',
    {
      schema: {
        tags: ['fleet'],
        security: [{ bearerAuth: [] }],
        summary: "Central's restore generation and the database identity it last saw",
        description: 'The admin token only (401 without credentials, 403 ADMIN_ONLY for a terminal key). `epoch` 0: never restored. See POST /api/admin/restored.',
        response: { 200: RestoredResponse, ...errors },
      },
    },
    async (req) => {
      requireAdmin(await deps.principal(req));
      return answer(await epochs.state(), false);
    },
  );
  return epochs;
}
