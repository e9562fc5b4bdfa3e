/**
 * Pull: central's changes of one entity type for one terminal's store, in pages.
 *
 * The change log is read in (txid, seq) order and only below the snapshot's xmin:
 * every transaction that could still commit a change has a txid at or above the
 * oldest one running, so a change committed late can never land behind the cursor
 * (DESIGN.md invariant 4). A plain serial cursor would skip it.
 */
import { entryForEntity, pullable, type CatalogEntry } from '../../shared/catalog/index.js';
import type { PulledChange, PullQuery, PullResponse } from '../../shared/protocol.js';
import type { Database } from '../db/database.js';
import { badRequest, conflict } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Acting } from './fleet.js';
import { readRows } from './rows.js';

/** Position in the change log: after (txid, seq); `since` keeps a lastSync start. */
export interface Cursor {
  readonly txid: string;
  readonly seq: number;
  readonly since?: string;
}

export const START: Cursor = { txid: '0', seq: 0 };
const XID8_MAX = 2n ** 64n - 1n;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c.since ? [c.txid, c.seq, c.since] : [c.txid, c.seq])).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      (v.length === 2 || v.length === 3) &&
      typeof v[0] === 'string' &&
      /^\d{1,20}$/.test(v[0]) &&
      BigInt(v[0]) <= XID8_MAX &&
      Number.isSafeInteger(v[1]) &&
      v[1] >= 0
    ) {
      if (v.length === 2) return { txid: v[0], seq: v[1] };
      if (typeof v[2] === 'string' && ISO_INSTANT.test(v[2])) return { txid: v[0], seq: v[1], since: v[2] };
    }
  } catch {
    // fall through
  }
  throw badRequest('INVALID_CURSOR', 'cursor is not one this server issued; start again without it (or with lastSync)');
}

interface ChangeRow {
  txid_text: string;
  seq: number;
  entity_id: string;
  op: string;
  changed_at: string;
}

/**
 * A page of the change log after a cursor, in cursor order. Ordered by the xid8 column
 * itself: ordering by its text (the alias) would put '1000' before '997' and skip
 * changes at every power of ten.
 */
export function pullPageSql(scoped: boolean): string {
  return `SELECT txid::text AS txid_text, seq, entity_id, op, changed_at FROM sync_changes
       WHERE entity_type = $1 AND (txid, seq) > ($2::xid8, $3::bigint)
         AND txid < pg_snapshot_xmin(pg_current_snapshot())
         AND ($5::timestamptz IS NULL OR changed_at >= $5::timestamptz)
         ${scoped ? 'AND (store_id = $6 OR store_id IS NULL)' : ''}
       ORDER BY sync_changes.txid, seq LIMIT $4`;
}

/**
 * The page is always read by walking the cursor index in order and stopping at the
 * limit. Right after a bulk import, before autovacuum has analyzed the log, the
 * planner expects a handful of rows and would rather fetch every change after the
 * cursor and sort them: each page then costs the whole rest of the table, and a
 * first sync of a million rows turns quadratic. These settings (for this
 * transaction only) rule that plan out. The same statement reads the snapshot's
 * xmax, which a cursor must be behind.
 */
export const PULL_PLAN_HINTS = `SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true),
  pg_snapshot_xmax(pg_current_snapshot())::text AS xmax`;

export class PullService {
  constructor(
    private readonly db: Database,
    private readonly metrics: Metrics,
  ) {}

  async pull(acting: Acting, q: PullQuery): Promise<PullResponse> {
    const entry = entryForEntity(q.entityType) as CatalogEntry;
    if (!pullable(entry)) {
      throw badRequest('NOT_PULLED', `${entry.entityType} is synced from terminals to central only (direction up); it is never pulled`);
    }
    if (q.schemaHash !== undefined && q.schemaHash !== entry.schemaHash) {
      throw conflict(
        'SCHEMA_MISMATCH',
        `${entry.entityType}: terminal schema ${q.schemaHash} differs from central ${entry.schemaHash}; sync of this table must pause until both run the same catalog`,
      );
    }
    const from: Cursor = q.cursor ? decodeCursor(q.cursor) : q.lastSync ? { ...START, since: q.lastSync } : START;
    const scoped = entry.centralStoreColumn !== undefined;
    const params: unknown[] = [entry.entityType, from.txid, from.seq, q.limit, from.since ?? null];
    if (scoped) params.push(acting.storeId);
    const changes = await this.db.transaction(async (tx) => {
      // The planner hints and the snapshot's xmax in one round trip.
      const h = await tx.query<{ xmax: string }>(PULL_PLAN_HINTS);
      // Every change served is below the snapshot's xmin, so a real cursor is behind its
      // xmax. One ahead of it was forged, or central's database was restored from a backup:
      // following it would silently serve nothing until the ids catch up.
      if (q.cursor && BigInt(from.txid) >= BigInt(h.rows[0]?.xmax ?? '0')) {
        throw conflict('CURSOR_AHEAD', 'cursor is ahead of this database (was it restored from a backup?); pull this table again from the start');
      }
      return tx.query<ChangeRow>(pullPageSql(scoped), params);
    });
    const page = changes.rows;
    const last = page.at(-1);
    const next: Cursor = last ? { txid: last.txid_text, seq: Number(last.seq), ...(from.since ? { since: from.since } : {}) } : from;

    // Each row once per page, as it is now (its latest version), at its last change's place.
    const lastChange = new Map<string, ChangeRow>();
    for (const c of page) {
      lastChange.delete(c.entity_id);
      lastChange.set(c.entity_id, c);
    }
    const rows = await readRows(this.db, entry, [...lastChange.keys()]);
    const out: PulledChange[] = [];
    for (const [id, c] of lastChange) {
      const row = rows.get(id);
      if (!row) continue; // purged
      if (scoped && !this.visible(entry, row.wire, acting)) {
        // Moved to another store: for this store it is gone. Its new contents are not ours to see.
        out.push({
          entityId: id,
          operation: 'DELETE',
          version: row.version,
          data: { id },
          deleted: true,
          origin: row.origin,
          hlc: row.hlc,
          changedAt: row.updatedAt,
        });
        continue;
      }
      out.push({
        entityId: id,
        operation: row.deletedAt ? 'DELETE' : (c.op as PulledChange['operation']),
        version: row.version,
        data: row.wire,
        deleted: row.deletedAt !== null,
        origin: row.origin,
        hlc: row.hlc,
        changedAt: row.updatedAt,
      });
    }
    this.metrics.pulls.inc({ entity_type: entry.entityType });
    this.metrics.pulledChanges.inc({ entity_type: entry.entityType }, out.length);
    return {
      terminalId: acting.terminalId,
      entityType: entry.entityType,
      changes: out,
      cursor: encodeCursor(next),
      hasMore: page.length === q.limit,
      schemaHash: entry.schemaHash,
      serverTime: new Date().toISOString(),
    };
  }

  private visible(entry: CatalogEntry, row: Record<string, unknown>, acting: Acting): boolean {
    const store = row[entry.centralStoreColumn as string];
    return store === null || store === undefined || store === acting.storeId;
  }
}
