/** Conflicts parked for a supervisor: listing and resolving. */
import { entryForEntity, type CatalogEntry, type ConflictStrategy, type WireRow } from '../../shared/catalog/index.js';
import { formatHlc, parseHlc, tickHlc } from '../../shared/hlc.js';
import type { ConflictRecord, ResolveRequest, ResolveResponse } from '../../shared/protocol.js';
import type { Principal } from '../auth.js';
import type { Database, Queryable } from '../db/database.js';
import { badRequest, conflict, forbidden, HttpError, notFound } from '../errors.js';
import { judgeParents, parentRefs, type ParentRef } from './parents.js';
import { lockRows, parentRowsBranch, upsertRows } from './rows.js';

interface ConflictRow {
  id: string;
  terminal_id: string;
  store_id: string | null;
  entity_type: string;
  entity_id: string;
  change_id: string;
  strategy: ConflictStrategy;
  status: 'open' | 'resolved';
  base: WireRow | null;
  terminal: WireRow | null;
  central: WireRow | null;
  central_version: number | null;
  resolution: string | null;
  resolved_data: WireRow | null;
  resolved_version: number | null;
  created_at: string;
  resolved_at: string | null;
}

function toRecord(r: ConflictRow): ConflictRecord {
  return {
    conflictId: r.id,
    terminalId: r.terminal_id,
    entityType: r.entity_type,
    entityId: r.entity_id,
    changeId: r.change_id,
    status: r.status,
    strategy: r.strategy,
    base: r.base,
    terminal: r.terminal,
    central: r.central,
    centralVersion: r.central_version,
    resolution: r.resolution,
    resolvedData: r.resolved_data,
    resolvedVersion: r.resolved_version,
    createdAt: r.created_at,
    resolvedAt: r.resolved_at,
  };
}

export class ConflictService {
  constructor(private readonly db: Database) {}

  /** A terminal sees the conflicts of its store; the admin sees all. */
  async list(principal: Principal, q: { terminalId?: string | undefined; status?: 'open' | 'resolved' | undefined; limit: number }) {
    const where: string[] = [];
    const params: unknown[] = [];
    if (principal.kind === 'terminal') {
      params.push(principal.storeId);
      where.push(`store_id = $${params.length}`);
    }
    if (q.terminalId) {
      params.push(q.terminalId);
      where.push(`terminal_id = $${params.length}`);
    }
    if (q.status) {
      params.push(q.status);
      where.push(`status = $${params.length}`);
    }
    params.push(q.limit);
    const r = await this.db.query<ConflictRow>(
      `SELECT * FROM sync_conflicts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC LIMIT $${params.length}`,
      params,
    );
    return r.rows.map(toRecord);
  }

  /**
   * Applies a supervisor's decision and closes the conflict. The row is always
   * written (with a fresh clock), so the outcome reaches every terminal by pull.
   */
  async resolve(principal: Principal, req: ResolveRequest): Promise<ResolveResponse> {
    return this.db.transaction(async (tx) => {
      const found = await tx.query<ConflictRow>('SELECT * FROM sync_conflicts WHERE id = $1 FOR UPDATE', [req.conflictId]);
      const c = found.rows[0];
      if (!c) throw notFound('UNKNOWN_CONFLICT', `no conflict ${req.conflictId}`);
      if (principal.kind === 'terminal' && principal.storeId !== c.store_id) {
        throw forbidden('FORBIDDEN_STORE', `conflict ${c.id} belongs to another store`);
      }
      if (c.status !== 'open') throw conflict('ALREADY_RESOLVED', `conflict ${c.id} was already resolved (${c.resolution})`);
      const entry = entryForEntity(c.entity_type) as CatalogEntry;
      let overlay: WireRow = {};
      if (req.resolvedData) {
        const parsed = entry.rowSchema.safeParse(req.resolvedData);
        if (!parsed.success) {
          throw new HttpError(
            400,
            'VALIDATION_ERROR',
            `resolvedData is not a valid ${entry.entityType}`,
            parsed.error.issues.map((i) => ({ path: ['resolvedData', ...i.path].join('.'), message: i.message })),
          );
        }
        if (parsed.data.id !== undefined && parsed.data.id !== c.entity_id) throw badRequest('VALIDATION_ERROR', 'resolvedData.id must be the conflicted row');
        overlay = parsed.data;
      }
      await tx.query(`SELECT set_config('tillsync.origin', 'central', true)`);
      const rows = await lockRows(tx, entry, [c.entity_id]);
      const current = rows.get(c.entity_id);
      const centralImage: WireRow = current?.wire ?? c.central ?? { id: c.entity_id };
      // A row the purge removed (its tombstone) was deleted: central's side of it stays deleted.
      const purged = current === undefined && (c.central as { _deleted?: unknown } | null)?._deleted === true;
      const deleted = req.resolution === 'TERMINAL_WINS' ? c.terminal === null : (current?.deletedAt ?? null) !== null || purged;
      const chosen: WireRow =
        req.resolution === 'TERMINAL_WINS' ? { ...centralImage, ...(c.terminal ?? {}) } : { ...centralImage };
      const image: WireRow = { id: c.entity_id };
      // A field present in resolvedData wins, even when it is null (the supervisor cleared it).
      for (const col of entry.wireColumns) image[col.name] = col.name in overlay ? (overlay[col.name] ?? null) : (chosen[col.name] ?? null);
      const missing = entry.wireColumns.filter((col) => col.def.required && image[col.name] === null);
      if (missing.length > 0 && !deleted) {
        throw badRequest('MISSING_FIELDS', `the resolved row needs ${missing.map((m) => m.name).join(', ')}`);
      }
      if (principal.kind === 'terminal' && !deleted) await checkStoreBounds(tx, entry, image, principal.storeId);
      const last = current?.hlc ? parseHlc(current.hlc) : null;
      const hlc = formatHlc(tickHlc(last, Date.now(), 'central'));
      const versions = await upsertRows(tx, entry, [{ wire: image, hlc, deletedAt: deleted ? (current?.deletedAt ?? new Date().toISOString()) : null }]);
      const version = versions.get(c.entity_id) ?? current?.version ?? 0;
      await tx.query(
        `UPDATE sync_conflicts SET status = 'resolved', resolution = $2, resolved_data = $3::jsonb, resolved_by = $4, resolved_at = now(), resolved_version = $5 WHERE id = $1`,
        [c.id, req.resolution, JSON.stringify(image), req.resolvedBy ?? (principal.kind === 'admin' ? 'admin' : principal.terminalId), version],
      );
      return {
        conflictId: c.id,
        status: 'resolved' as const,
        entityType: c.entity_type,
        entityId: c.entity_id,
        version,
        data: image,
        deleted,
      };
    });
  }

  /** Open conflicts per entity type, for one terminal or the whole fleet. */
  async openCounts(terminalId: string | undefined): Promise<Map<string, number>> {
    const r = terminalId
      ? await this.db.query<{ entity_type: string; n: number }>(
          `SELECT entity_type, count(*)::int AS n FROM sync_conflicts WHERE status = 'open' AND terminal_id = $1 GROUP BY entity_type`,
          [terminalId],
        )
      : await this.db.query<{ entity_type: string; n: number }>(
          `SELECT entity_type, count(*)::int AS n FROM sync_conflicts WHERE status = 'open' GROUP BY entity_type`,
        );
    return new Map(r.rows.map((x) => [x.entity_type, x.n]));
  }
}

/**
 * A supervisor at a till resolves within the till's store: the resolved row stays in
 * it, and its foreign keys point only at the store's rows or global ones (the same
 * rules as a push, see parents.ts). HQ (the admin token) may resolve anything.
 */
async function checkStoreBounds(tx: Queryable, entry: CatalogEntry, image: WireRow, storeId: string): Promise<void> {
  const storeCol = entry.centralStoreColumn;
  const own = storeCol === undefined ? null : (image[storeCol] ?? null);
  if (own !== null && own !== storeId) {
    throw forbidden('FORBIDDEN_STORE', `the resolved ${entry.entityType} would belong to store ${String(own)}; a terminal of store ${storeId} resolves only within its store`);
  }
  const refs = parentRefs(entry, image);
  if (refs.length === 0) return;
  const byParent = new Map<CatalogEntry, string[]>();
  for (const ref of refs) byParent.set(ref.parent, [...(byParent.get(ref.parent) ?? []), ref.id]);
  const params: unknown[] = [];
  const branches = [...byParent].map(([parent, ids]) => {
    params.push(ids);
    return parentRowsBranch(parent, `$${params.length}`);
  });
  const found = await tx.query<{ entity_type: string; id: string; row: { store: string | null } }>(branches.join('\nUNION ALL\n'), params);
  const stores = new Map(found.rows.map((r) => [`${r.entity_type}\u0000${r.id}`, r.row.store]));
  const key = (ref: ParentRef) => `${ref.parent.entityType}\u0000${ref.id}`;
  const verdict = judgeParents(entry, String(image.id), refs, (ref) => (stores.has(key(ref)) ? { kind: 'present', store: stores.get(key(ref)) ?? null } : { kind: 'absent' }), storeId);
  if (verdict.kind === 'refuse') throw new HttpError(verdict.code === 'FORBIDDEN_STORE' ? 403 : 400, verdict.code, verdict.message);
}
