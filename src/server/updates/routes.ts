/**
 * Companion updates over HTTP. The admin (admin token) creates releases, uploads their
 * files (PUT, application/octet-stream) and sets the rollout; a till (its terminal key,
 * which electron-updater's generic provider sends as a request header) reads its feed:
 * `GET /api/updates/feed/<channel file>` answers the channel file of the version this
 * till should run (updateTarget), and `GET /api/updates/feed/<version>/<file>` (or
 * `/api/updates/feed/<file>`) streams an artifact, with single byte ranges.
 */
import { Readable } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z, type ZodType } from 'zod';
import {
  APP_VERSION_HEADER,
  CreateReleaseRequest,
  FILE_NAME,
  isChannelFile,
  isVersion,
  Release,
  ReleaseListResponse,
  Rollout,
  RolloutPatch,
  TerminalUpdateResponse,
  UploadResponse,
  VERSION,
} from '../../shared/update-protocol.js';
import { requireAdmin, type Principal } from '../auth.js';
import type { Database } from '../db/database.js';
import { TERMINAL_ID } from '../../shared/protocol.js';
import { conflict, forbidden, HttpError, notFound } from '../errors.js';
import { currentVersionFile, servedChannelFile } from './channel-file.js';
import { ReleaseStore, type StoredFile } from './releases.js';
import { nextRollout, rolledBack, RolloutStore } from './rollout.js';
import { updateTarget, type UpdateTarget } from './target.js';

type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

export interface UpdateRoutesDeps {
  readonly db: Database;
  readonly principal: (req: FastifyRequest) => Promise<Principal>;
  /** The largest release file accepted (bytes). */
  readonly maxFileBytes: number;
  readonly errors: Readonly<Record<number, ZodType>>;
}

const OCTET_STREAM = 'application/octet-stream';

/** A single byte range of a file of `size` bytes (pure): [start, end], 'unsatisfiable', or null to send it whole (none, several, or malformed). */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return null; // not a valid range (RFC 9110 14.1.1): ignored
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

export function registerUpdateRoutes(app: App, deps: UpdateRoutesDeps): void {
  const { principal, errors } = deps;
  const releases = new ReleaseStore(deps.db, deps.maxFileBytes);
  const rollouts = new RolloutStore(deps.db);
  const secured = [{ bearerAuth: [] }];
  const admin = async (req: FastifyRequest) => requireAdmin(await principal(req));

  app.post(
    '/api/admin/updates/releases',
    {
      schema: {
        tags: ['updates'],
        security: secured,
        summary: 'Create a companion release',
        description: 'Admin token. A version (semver) and optional notes; then upload its files. 409 RELEASE_EXISTS.',
        body: CreateReleaseRequest,
        response: { 201: Release, ...errors },
      },
    },
    async (req, reply) => {
      await admin(req);
      reply.status(201);
      return releases.create(req.body.version, req.body.notes);
    },
  );
  app.get(
    '/api/admin/updates/releases',
    {
      schema: {
        tags: ['updates'],
        security: secured,
        summary: 'Companion releases, newest first, with their files',
        description: 'Admin token (a terminal key: 403). The latest 500 releases, each with its files and, per channel file, the artifacts it names that are not uploaded yet.',
        response: { 200: ReleaseListResponse, ...errors },
      },
    },
    async (req) => {
      await admin(req);
      return { releases: await releases.list() };
    },
  );

  app.register(async (scope) => {
    // The body of an upload is read as a stream, chunk by chunk, by the route (never whole into memory).
    scope.addContentTypeParser(OCTET_STREAM, (_req, payload, done) => done(null, payload));
    scope.withTypeProvider<ZodTypeProvider>().put(
      '/api/admin/updates/releases/:version/files/:name',
      {
        schema: {
          tags: ['updates'],
          security: secured,
          summary: "Upload a release's file",
          description:
            "Admin token; the body is the file (Content-Type: application/octet-stream). A channel file (latest.yml, latest-mac.yml, latest-linux.yml, as electron-builder writes them) must be for this version; an artifact's sha512 must be what the release's channel files give it (either may come first). Replaces the file of that name. 413 FILE_TOO_LARGE over TILLSYNC_UPDATE_MAX_BYTES (channel files: 256 KiB); 400 SHA512_MISMATCH, VERSION_MISMATCH, INVALID_CHANNEL_FILE; 404 UNKNOWN_RELEASE; 415 for another content type.",
          params: z.strictObject({ version: VERSION, name: FILE_NAME }),
          response: { 201: UploadResponse, ...errors, 413: errors[400] ?? z.unknown(), 415: errors[400] ?? z.unknown() },
        },
      },
      async (req, reply) => {
        await admin(req);
        if (!(req.body instanceof Readable) || !(req.headers['content-type'] ?? '').toLowerCase().startsWith(OCTET_STREAM)) {
          throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `send the file as ${OCTET_STREAM}`);
        }
        const length = req.headers['content-length'];
        const declared = length !== undefined && /^\d{1,15}$/.test(length) ? Number(length) : undefined;
        const r = await releases.upload(req.params.version, req.params.name, req.body, declared).catch((err: unknown) => {
          // Refused while the body still arrives: the rest is read and dropped, and the connection is not reused.
          if (!req.raw.complete) reply.header('connection', 'close');
          throw err;
        });
        reply.status(201);
        return { version: req.params.version, name: req.params.name, ...r };
      },
    );
  });

  app.get(
    '/api/admin/updates/rollout',
    {
      schema: {
        tags: ['updates'],
        security: secured,
        summary: 'The fleet rollout of companion versions',
        description: 'Admin token (a terminal key: 403). The version being rolled out, the previous one, the percentage of tills, pause, rollback and the store pins.',
        response: { 200: Rollout, ...errors },
      },
    },
    async (req) => {
      await admin(req);
      return rollouts.get();
    },
  );
  app.patch(
    '/api/admin/updates/rollout',
    {
      schema: {
        tags: ['updates'],
        security: secured,
        summary: 'Stage a version: per store, a percentage of tills, pause',
        description:
          'Admin token. `version` starts a rollout of it (over `previous`, by default the version the fleet was on) to `percentage` % of the tills (0 unless given; a stable hash of the terminal id picks them, so a till in at 10 % stays in at 20 %); `percentage` alone grows or shrinks it (a till already on the new version keeps it); `paused: true` moves no till forward; `stores` pins a store\'s tills to a version, also an older one (null unpins). 404 UNKNOWN_RELEASE, 409 RELEASE_NOT_READY (a file its channel files name is not uploaded).',
        body: RolloutPatch,
        response: { 200: Rollout, ...errors },
      },
    },
    async (req) => {
      await admin(req);
      const patch = req.body;
      return rollouts.change(
        (current) => nextRollout(current, patch),
        async (next, q) => {
          const named = [patch.version, patch.previous ?? undefined, ...Object.values(patch.stores ?? {})].filter((v): v is string => typeof v === 'string');
          for (const v of new Set(named)) {
            await releases.get(v, q);
            if (!(await releases.servable(v, q))) throw conflict('RELEASE_NOT_READY', `release ${v} has no channel file yet, or one names a file not uploaded`);
          }
          if (next.version !== null && next.previous !== null && next.version === next.previous) throw conflict('SAME_VERSION', 'the previous version is the rollout\'s version');
        },
      );
    },
  );
  app.post(
    '/api/admin/updates/rollback',
    {
      schema: {
        tags: ['updates'],
        security: secured,
        summary: 'Roll back: every till goes back to the previous version',
        description:
          'Admin token. The rollout\'s version becomes its previous one, for every till (store pins stay as set), and tills on the later version install it over theirs. 409 NOTHING_TO_ROLL_BACK, ALREADY_ROLLED_BACK.',
        response: { 200: Rollout, ...errors },
      },
    },
    async (req) => {
      await admin(req);
      return rollouts.change(rolledBack, async () => undefined);
    },
  );

  // ------------------------------------------------------------- the till's feed
  const terminalOnly = async (req: FastifyRequest) => {
    const p = await principal(req);
    if (p.kind !== 'terminal') throw forbidden('TERMINAL_ONLY', 'the update feed answers a terminal key: it serves the version that terminal should run');
    return p;
  };
  const targetOf = async (p: Extract<Principal, { kind: 'terminal' }>): Promise<UpdateTarget | null> => {
    const rollout = await rollouts.get();
    const candidates = new Set([rollout.version, rollout.previous, rollout.stores[p.storeId]].filter((v): v is string => typeof v === 'string'));
    const servable = new Set<string>();
    for (const v of candidates) if (await releases.servable(v)) servable.add(v);
    return updateTarget({ terminalId: p.terminalId, storeId: p.storeId }, rollout, servable);
  };
  app.get(
    '/api/admin/updates/terminals/:terminalId',
    {
      schema: {
        tags: ['updates'],
        security: secured,
        summary: "A till's version and the one the rollout has for it",
        description: 'Admin token. The version its last heartbeat reported and the version its feed offers now (null: none), with why. 404 UNKNOWN_TERMINAL.',
        params: z.strictObject({ terminalId: TERMINAL_ID }),
        response: { 200: TerminalUpdateResponse, ...errors },
      },
    },
    async (req) => {
      await admin(req);
      const r = await deps.db.query<{ id: string; store_id: string; app_version: string | null }>('SELECT id, store_id, app_version FROM sync_terminals WHERE id = $1', [req.params.terminalId]);
      const row = r.rows[0];
      if (!row) throw notFound('UNKNOWN_TERMINAL', `no terminal ${req.params.terminalId}`);
      const target = await targetOf({ kind: 'terminal', terminalId: row.id, storeId: row.store_id });
      return { terminalId: row.id, storeId: row.store_id, appVersion: row.app_version, target };
    },
  );
  const sendFile = (req: FastifyRequest, reply: FastifyReply, file: StoredFile) => {
    reply.header('accept-ranges', 'bytes').header('cache-control', 'no-store').header('content-type', OCTET_STREAM);
    const range = byteRange(req.headers.range, file.size);
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${file.size}`);
      throw new HttpError(416, 'RANGE_NOT_SATISFIABLE', `the file has ${file.size} bytes`);
    }
    const { start, end } = range ?? { start: 0, end: file.size - 1 };
    if (range) reply.status(206).header('content-range', `bytes ${start}-${end}/${file.size}`);
    reply.header('content-length', String(end - start + 1));
    return reply.send(Readable.from(releases.read(file, start, end)));
  };
  const feedErrors = { ...errors, 416: errors[400] ?? z.unknown() };

  app.get(
    '/api/updates/feed/:file',
    {
      schema: {
        tags: ['updates'],
        security: secured,
        summary: "A till's update feed (electron-updater's generic provider)",
        description: `Terminal key. A channel file (latest.yml, latest-mac.yml, latest-linux.yml): the one of the version this till should run, its files under <version>/, with tillsyncTarget (allowDowngrade, reason); when central offers none, a channel file of the version the till sends in ${APP_VERSION_HEADER} (electron-updater: no update), or 404 NO_UPDATE without it. Any other name: that artifact, of the version this till should run if it has one by that name, else of the newest release that has.`,
        params: z.strictObject({ file: FILE_NAME }),
        response: feedErrors,
      },
    },
    async (req, reply) => {
      const p = await terminalOnly(req);
      const name = req.params.file;
      const target = await targetOf(p);
      if (isChannelFile(name)) {
        const file = target ? await releases.file(target.version, name) : undefined;
        reply.header('cache-control', 'no-store').header('content-type', 'text/yaml; charset=utf-8');
        if (target && file?.content) return servedChannelFile(file.content, { allowDowngrade: target.allowDowngrade, reason: target.reason });
        const running = req.headers[APP_VERSION_HEADER];
        if (typeof running === 'string' && isVersion(running)) return currentVersionFile(running);
        throw notFound('NO_UPDATE', `no update for this terminal (send ${APP_VERSION_HEADER} to get its own version's channel file instead)`);
      }
      const file = (target ? await releases.file(target.version, name) : undefined) ?? (await releases.newest(name));
      if (!file) throw notFound('UNKNOWN_FILE', `no release has a file ${name}`);
      return sendFile(req, reply, file);
    },
  );
  app.get(
    '/api/updates/feed/:version/:file',
    {
      schema: {
        tags: ['updates'],
        security: secured,
        summary: "A release's file, for a till's updater",
        description: 'Terminal key. The file as uploaded; a single byte range (Range: bytes=a-b) is answered 206. 404 UNKNOWN_FILE.',
        params: z.strictObject({ version: VERSION, file: FILE_NAME }),
        response: feedErrors,
      },
    },
    async (req, reply) => {
      await terminalOnly(req);
      const file = await releases.file(req.params.version, req.params.file);
      if (!file) throw notFound('UNKNOWN_FILE', `release ${req.params.version} has no file ${req.params.file}`);
      return sendFile(req, reply, file);
    },
  );
}
