/**
 * Pull: central's changes of one entity type for one terminal's store, in pages.
 *
 * The change log is read in (txid, seq) order and only below the snapshot's xmin:
 * every transaction that could still commit a change has a txid at or above the
 * oldest one running, so a change committed late can never land behind the cursor
 * (DESIGN.md invariant 4). A plain serial cursor would skip it.
 *
 * A first sync may start with a snapshot instead (`start=snapshot`): the table's live
 * rows in key order, page by page, then the change log from the xmin of the
 * snapshot the read began in. Every transaction below that xmin had ended before the
 * first page was read, so each page (read later) shows its writes; every other
 * transaction's changes are in the log at or after that xmin, which the read hands
 * over to. A row written during the read may come twice (in a page and from the
 * log); the second is never older, and the terminal skips a version it has.
 */
import { CENTRAL_SYNC_COLUMNS, entryForEntity, pullable, type CatalogEntry } from '../../shared/catalog/index.js';
import type { PulledChange, PullQuery, PullResponse } from '../../shared/protocol.js';
import type { Database } from '../db/database.js';
import { ident } from '../db/sql.js';
import { badRequest, conflict, HttpError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Acting } from './fleet.js';
import type { PullPositions } from './positions.js';
import { readRows, toCentralRow, type CentralRow } from './rows.js';

/** Position in the change log: after (txid, seq); `since` keeps a lastSync start. */
export interface Cursor {
  readonly txid: string;
  readonly seq: number;
  readonly since?: string;
  /** Central's restore generation it was issued in (services/epoch.ts); absent: 0. */
  readonly epoch?: number;
}

/** A snapshot read under way: rows after `after` (key order) are still to come, then the log from `resume` (a txid). */
export interface SnapshotCursor {
  /** Null until the read's first page is served. */
  readonly resume: string | null;
  readonly after: string | null;
  /** Central's restore generation it was issued in; absent: 0. */
  readonly epoch?: number;
}

export const START: Cursor = { txid: '0', seq: 0 };
/** Central's restore generation now (services/epoch.ts), read with each page's snapshot. */
const EPOCH_NOW = `(SELECT epoch FROM sync_epoch WHERE id = 1)::text AS epoch`;

/**
 * Whether a cursor is of another restore generation than central's now (pure): central
 * was restored from a backup since it was issued (or, for one of a later epoch, the
 * backup is older than the epoch). Cursors of before epochs existed are epoch 0.
 */
export function ofAnotherEpoch(from: Cursor | SnapshotCursor, epoch: number): boolean {
  return (from.epoch ?? 0) !== epoch;
}

export const RESTORED_MESSAGE =
  "central's database was restored from a backup since this cursor was issued; read every table again from a snapshot (start=snapshot) and send again the changes central may have lost";
const XID8_MAX = 2n ** 64n - 1n;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const TXID = /^\d{1,20}$/;

export const isSnapshot = (c: Cursor | SnapshotCursor): c is SnapshotCursor => 'resume' in c;

/**
 * A cursor as the opaque text handed out. In epoch 0 (a database never restored) it is
 * what it always was; in a later epoch the position comes wrapped with its epoch.
 */
export function encodeCursor(c: Cursor | SnapshotCursor): string {
  const v = isSnapshot(c) ? ['s', c.resume, c.after] : c.since ? [c.txid, c.seq, c.since] : [c.txid, c.seq];
  return Buffer.from(JSON.stringify(c.epoch ? { e: c.epoch, c: v } : v)).toString('base64url');
}

/** The position of a decoded cursor's JSON (pure; undefined: not one). */
function position(v: unknown): Cursor | SnapshotCursor | undefined {
  if (Array.isArray(v) && v.length === 3 && v[0] === 's' && isTxid(v[1]) && (v[2] === null || (typeof v[2] === 'string' && v[2].length <= 200))) {
    return { resume: v[1], after: v[2] };
  }
  if (Array.isArray(v) && (v.length === 2 || v.length === 3) && isTxid(v[0]) && Number.isSafeInteger(v[1]) && v[1] >= 0) {
    if (v.length === 2) return { txid: v[0], seq: v[1] };
    if (typeof v[2] === 'string' && ISO_INSTANT.test(v[2])) return { txid: v[0], seq: v[1], since: v[2] };
  }
  return undefined;
}

const isTxid = (v: unknown): v is string => typeof v === 'string' && TXID.test(v) && BigInt(v) <= XID8_MAX;

export function decodeCursor(text: string): Cursor | SnapshotCursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const { e, c } = v as { e?: unknown; c?: unknown };
      const p = position(c);
      if (p && typeof e === 'number' && Number.isSafeInteger(e) && e > 0) return { ...p, epoch: e };
    } else {
      const p = position(v);
      if (p) return p;
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
  pg_snapshot_xmax(pg_current_snapshot())::text AS xmax, ${EPOCH_NOW}`;

/**
 * A page of the change log and the table's purge horizon, in one statement: both as of
 * one moment. A purge that committed before it shows in the horizon; one that commits
 * after it finds the page's entries still there, and the rows it removed missing when
 * the page's rows are read (pull answers CURSOR_EXPIRED for either). Read apart, a
 * purge committing between the two would let a cursor step over deletions unseen.
 */
export function pullPageWithHorizonSql(scoped: boolean): string {
  return `(${pullPageSql(scoped)})
    UNION ALL
    SELECT h.txid::text, h.seq, NULL, '${HORIZON_ROW}', h.changed_at FROM sync_purge_horizons h WHERE h.entity_type = $1`;
}
const HORIZON_ROW = 'HORIZON';

/** Where the purge has removed a deletion of this entity type's rows (see PurgeService). */
export interface PurgeHorizon {
  readonly txid: string;
  readonly seq: number;
  /** When that deletion was logged. */
  readonly changedAt: string;
}

/**
 * Whether a pull from `from` may have missed a deletion the purge removed (pure): its
 * position is behind the horizon's entry. A seed-style pull (`since`) only reads what
 * changed from its instant on, so it missed nothing if that is after the entry's time.
 */
export function cursorExpired(from: Cursor, horizon: PurgeHorizon | undefined): boolean {
  if (!horizon) return false;
  const behind = BigInt(from.txid) < BigInt(horizon.txid) || (from.txid === horizon.txid && from.seq < horizon.seq);
  if (!behind) return false;
  return from.since === undefined || Date.parse(from.since) <= Date.parse(horizon.changedAt);
}

export const EXPIRED_MESSAGE =
  'this table was purged past the cursor (central removes deleted rows once every active terminal has pulled past them, after the retention); read it again from a snapshot (start=snapshot) and drop local rows it does not bring';

/**
 * A page of a snapshot read: live rows after a key, in key order ($1 limit, then $2
 * the key when `after`, then the store when the table is scoped).
 */
export function snapshotPageSql(entry: CatalogEntry, after: boolean): string {
  const where = [`${ident(CENTRAL_SYNC_COLUMNS.deletedAt)} IS NULL`];
  let n = 1;
  if (after) where.push(`id > $${++n}`);
  if (entry.centralStoreColumn !== undefined) {
    const store = ident(entry.centralStoreColumn);
    where.push(`(${store} = $${++n} OR ${store} IS NULL)`);
  }
  return `SELECT * FROM ${ident(entry.centralName)} WHERE ${where.join(' AND ')} ORDER BY id LIMIT $1`;
}

/**
 * Before a snapshot page: the snapshot's xmin and xmax, and the same planner hints as
 * a change-log page, so the page walks the primary key in order and stops at the limit
 * even when a bulk import has left the table unanalyzed (else: the whole table
 * scanned and sorted for every page, a quadratic first sync).
 */
export const SNAPSHOT_PLAN = `SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true),
  pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, pg_snapshot_xmax(pg_current_snapshot())::text AS xmax, ${EPOCH_NOW}`;

/** 409 CENTRAL_RESTORED, saying central's epoch now (the till notes it once it has re-read and re-sent). */
export const restored = (epoch: number) => new HttpError(409, 'CENTRAL_RESTORED', RESTORED_MESSAGE, undefined, epoch);

export class PullService {
  constructor(
    private readonly db: Database,
    private readonly metrics: Metrics,
    /** Where terminals pull from, for the purge (none: not recorded). */
    private readonly positions?: PullPositions,
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
    const from: Cursor | SnapshotCursor = q.cursor
      ? decodeCursor(q.cursor)
      : q.lastSync
        ? { ...START, since: q.lastSync }
        : q.start === 'snapshot'
          ? { resume: null, after: null }
          : START;
    if (isSnapshot(from)) return this.snapshotPage(acting, entry, from, q);
    const scoped = entry.centralStoreColumn !== undefined;
    const params: unknown[] = [entry.entityType, from.txid, from.seq, q.limit, from.since ?? null];
    if (scoped) params.push(acting.storeId);
    const expired = () => {
      this.metrics.expiredCursors.inc({ entity_type: entry.entityType });
      return conflict('CURSOR_EXPIRED', `${entry.entityType}: ${EXPIRED_MESSAGE}`);
    };
    let epoch = 0;
    const read = await this.db.transaction(async (tx) => {
      // The planner hints and the snapshot's xmax in one round trip.
      const h = await tx.query<{ xmax: string; epoch: string | null }>(PULL_PLAN_HINTS);
      epoch = Number(h.rows[0]?.epoch ?? 0);
      if (q.cursor && ofAnotherEpoch(from, epoch)) throw this.restored(entry, epoch, q);
      // Every change served is below the snapshot's xmin, so a real cursor is behind its
      // xmax. One ahead of it was forged, or central's database was restored from a backup:
      // following it would silently serve nothing until the ids catch up.
      if (q.cursor && BigInt(from.txid) >= BigInt(h.rows[0]?.xmax ?? '0')) {
        throw conflict('CURSOR_AHEAD', 'cursor is ahead of this database (was it restored from a backup?); pull this table again from the start');
      }
      return tx.query<ChangeRow>(pullPageWithHorizonSql(scoped), params);
    });
    const horizonRow = read.rows.find((r) => r.op === HORIZON_ROW);
    if (horizonRow && cursorExpired(from, { txid: horizonRow.txid_text, seq: Number(horizonRow.seq), changedAt: horizonRow.changed_at })) throw expired();
    const page = horizonRow ? read.rows.filter((r) => r !== horizonRow) : read.rows;
    const last = page.at(-1);
    const next: Cursor = { ...(last ? { txid: last.txid_text, seq: Number(last.seq), ...(from.since ? { since: from.since } : {}) } : from), epoch };

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
      // Its row is gone: a purge removed it (a tombstone) after the page was read. Stepping
      // over it would leave the terminal holding a row central deleted.
      if (!row) throw expired();
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
    // Served: the terminal pulled from here (a refused pull records nothing).
    this.positions?.record(acting.terminalId, entry.entityType, from.txid, from.seq);
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

  /**
   * One page of a snapshot read: live rows after the cursor's key, in key order. The
   * first page notes where the change log will take over (its snapshot's xmin); the
   * page after the last rows hands over to the log at that point.
   */
  private async snapshotPage(acting: Acting, entry: CatalogEntry, from: SnapshotCursor, q: PullQuery): Promise<PullResponse> {
    const scoped = entry.centralStoreColumn !== undefined;
    const params: unknown[] = [q.limit];
    if (from.after !== null) params.push(from.after);
    if (scoped) params.push(acting.storeId);
    const { resume, rows, epoch } = await this.db.transaction(async (tx) => {
      const s = await tx.query<{ xmin: string; xmax: string; epoch: string | null }>(SNAPSHOT_PLAN);
      const snap = s.rows[0] as { xmin: string; xmax: string; epoch: string | null };
      const now = Number(snap.epoch ?? 0);
      if (q.cursor && ofAnotherEpoch(from, now)) throw this.restored(entry, now, q);
      // A resume point is an xmin, which is at most the xmax of its time (equal when nothing runs).
      if (from.resume !== null && BigInt(from.resume) > BigInt(snap.xmax)) {
        throw conflict('CURSOR_AHEAD', 'cursor is ahead of this database (was it restored from a backup?); pull this table again from the start');
      }
      // Read after the xmin above, in a later snapshot of the same transaction: it shows
      // every write of every transaction below that xmin.
      const r = await tx.query(snapshotPageSql(entry, from.after !== null), params);
      return { resume: from.resume ?? snap.xmin, rows: r.rows, epoch: now };
    });
    // The read hands over to the log at its resume point: the terminal is there already.
    this.positions?.record(acting.terminalId, entry.entityType, (BigInt(resume) - 1n).toString(), Number.MAX_SAFE_INTEGER);
    const changes: PulledChange[] = rows.map((db) => {
      const row: CentralRow = toCentralRow(entry, db);
      return {
        entityId: row.wire.id as string,
        operation: 'CREATE',
        version: row.version,
        data: row.wire,
        deleted: false,
        origin: row.origin,
        hlc: row.hlc,
        changedAt: row.updatedAt,
      };
    });
    const last = changes.at(-1);
    // A full page: the read goes on after its last key. A short one ends it: the change
    // log follows from the read's xmin, as the position after every change of the
    // transaction before it (so the cursor is behind xmax even when nothing ran since).
    const next: Cursor | SnapshotCursor =
      last && changes.length === q.limit ? { resume, after: last.entityId, epoch } : { txid: (BigInt(resume) - 1n).toString(), seq: Number.MAX_SAFE_INTEGER, epoch };
    this.metrics.pulls.inc({ entity_type: entry.entityType });
    this.metrics.pulledChanges.inc({ entity_type: entry.entityType }, changes.length);
    return {
      terminalId: acting.terminalId,
      entityType: entry.entityType,
      changes,
      cursor: encodeCursor(next),
      hasMore: true,
      snapshot: true,
      ...(isSnapshot(next) ? {} : { snapshotEnd: true }),
      schemaHash: entry.schemaHash,
      serverTime: new Date().toISOString(),
    };
  }

  /**
   * 409 CENTRAL_RESTORED, counted. A till that does not say it knows the code (an
   * engine older than the restore generation fails a pull on a code it does not know,
   * on every pass, for good) is told CURSOR_EXPIRED instead: it re-reads the table from
   * a snapshot, though without forgetting its versions or sending its sales again.
   */
  private restored(entry: CatalogEntry, epoch: number, q: PullQuery): HttpError {
    this.metrics.restoredCursors.inc({ entity_type: entry.entityType });
    if (q.knows !== 'CENTRAL_RESTORED') return conflict('CURSOR_EXPIRED', `${entry.entityType}: ${EXPIRED_MESSAGE}`);
    return restored(epoch);
  }

  private visible(entry: CatalogEntry, row: Record<string, unknown>, acting: Acting): boolean {
    const store = row[entry.centralStoreColumn as string];
    return store === null || store === undefined || store === acting.storeId;
  }
}
