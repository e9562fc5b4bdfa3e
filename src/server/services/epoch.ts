/**
 * Central's restore generation ("epoch"): a number that moves on each time central's
 * database is restored from a backup, kept in `sync_epoch` (one row, migration 0012).
 *
 * Why: pull cursors are positions in the change log by transaction id. A database
 * restored to an earlier point has lost the transactions after it, and PostgreSQL hands
 * their ids out again to new ones. A till's cursor from before the restore may then
 * point past changes made after it (they get smaller ids than the cursor) and would
 * silently skip them; rows the till pulled that the restore lost would stay at the till.
 * A cursor carries the epoch it was issued in (pull.ts); one of an older epoch is
 * refused with CENTRAL_RESTORED, and the till re-reads every table from a snapshot and
 * sends again the sales it still keeps (src/main/sync/store/restored.ts).
 *
 * The epoch moves (a) at start when the database's identity differs from the one it
 * last saw (another cluster's system identifier, or another timeline: a point-in-time
 * recovery and a promoted standby both start a new timeline), and (b) on an admin's
 * POST /api/admin/restored, for restores nothing can see (a cold copy of the data
 * directory, a dump restored into the same cluster).
 */
import type { Database, Queryable } from '../db/database.js';

/** The database's identity, as PostgreSQL's control file has it. */
export interface DatabaseIdentity {
  readonly systemIdentifier: string;
  readonly timeline: number;
}

export interface EpochState {
  readonly epoch: number;
  readonly systemIdentifier: string | null;
  readonly timeline: number | null;
  readonly restoreId: string | null;
  readonly reason: string | null;
  readonly changedAt: string;
}

/**
 * What the identity seen at start means (pure): `unknown` (it could not be read:
 * nothing changes), `record` (none was kept yet: keep it, the epoch stays), `same`, or
 * `restored` (another cluster or another timeline: the epoch moves on).
 */
export function identityVerdict(stored: { systemIdentifier: string | null; timeline: number | null }, seen: DatabaseIdentity | null): 'unknown' | 'record' | 'same' | 'restored' {
  if (seen === null) return 'unknown';
  if (stored.systemIdentifier === null || stored.timeline === null) return 'record';
  return stored.systemIdentifier === seen.systemIdentifier && stored.timeline === seen.timeline ? 'same' : 'restored';
}

/**
 * What an admin's "central was restored" does (pure): a restore id already recorded
 * as the last one is a repeat (nothing moves); any other moves the epoch on.
 */
export function markVerdict(state: Pick<EpochState, 'restoreId'>, restoreId: string): 'repeat' | 'move' {
  return state.restoreId === restoreId ? 'repeat' : 'move';
}

/**
 * The epoch a move sets: the time of the move in seconds (one more than the epoch when
 * the clock is behind it). Not one more than the last: a backup brings back an older
 * epoch, and one more than that may be an epoch tills already hold cursors of (one
 * moved after the backup was taken); the time of the move is one no backup holds.
 */
const NEXT_EPOCH = `greatest(epoch + 1, floor(extract(epoch FROM clock_timestamp()))::bigint)`;

const SELECT = `SELECT epoch, system_identifier, timeline, restore_id, reason, changed_at::text AS changed_at FROM sync_epoch WHERE id = 1`;

interface Row {
  epoch: number;
  system_identifier: string | null;
  timeline: number | null;
  restore_id: string | null;
  reason: string | null;
  changed_at: string;
}

const toState = (r: Row): EpochState => ({
  epoch: Number(r.epoch),
  systemIdentifier: r.system_identifier,
  timeline: r.timeline === null ? null : Number(r.timeline),
  restoreId: r.restore_id,
  reason: r.reason,
  changedAt: new Date(r.changed_at).toISOString(),
});

/**
 * Reads the database's identity (null where the control functions cannot be called).
 * The timeline is the current WAL file's (its first 8 hex digits): the last
 * checkpoint's (pg_control_checkpoint) keeps the old one for minutes after a fast
 * promotion. In recovery (no current WAL position) the checkpoint's is taken.
 */
export async function readIdentity(db: Queryable): Promise<DatabaseIdentity | null> {
  const read = async (timeline: string) => {
    const r = await db.query<{ s: string | null; t: string | number | null }>(`SELECT (pg_control_system()).system_identifier::text AS s, ${timeline} AS t`);
    const row = r.rows[0];
    if (!row || row.s === null || row.t === null) return null;
    const t = typeof row.t === 'number' ? row.t : Number.parseInt(row.t, 16);
    return Number.isSafeInteger(t) ? { systemIdentifier: row.s, timeline: t } : null;
  };
  try {
    return await read('substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)');
  } catch {
    try {
      return await read('(pg_control_checkpoint()).timeline_id');
    } catch {
      return null;
    }
  }
}

/** The row exists (migration 0012 inserts it; a partial restore or a TRUNCATE may not have it): epoch 0. */
const ENSURE_ROW = 'INSERT INTO sync_epoch (id) VALUES (1) ON CONFLICT (id) DO NOTHING';

export class EpochService {
  constructor(private readonly db: Database) {}

  async state(db: Queryable = this.db): Promise<EpochState> {
    const r = await db.query<Row>(SELECT);
    const row = r.rows[0];
    // Migration 0012 inserts the row; a database without it is one never restored.
    return row ? toState(row) : { epoch: 0, systemIdentifier: null, timeline: null, restoreId: null, reason: null, changedAt: new Date(0).toISOString() };
  }

  /**
   * At start: compares the database's identity with the one kept, moves the epoch on
   * when they differ and keeps the identity seen. Instances starting together
   * serialize on the row, so one restore moves the epoch once.
   */
  async checkIdentity(): Promise<{ verdict: ReturnType<typeof identityVerdict>; state: EpochState }> {
    const seen = await readIdentity(this.db);
    return this.db.transaction(async (tx) => {
      await tx.query(ENSURE_ROW);
      const before = toState((await tx.query<Row>(`${SELECT} FOR UPDATE`)).rows[0] as Row);
      const verdict = identityVerdict(before, seen);
      if (verdict === 'unknown' || verdict === 'same' || seen === null) return { verdict, state: before };
      const move = verdict === 'restored';
      const r = await tx.query<Row>(
        `UPDATE sync_epoch SET system_identifier = $1, timeline = $2,
           epoch = CASE WHEN $3::int = 1 THEN ${NEXT_EPOCH} ELSE epoch END, reason = CASE WHEN $3::int = 1 THEN 'detected' ELSE reason END,
           changed_at = CASE WHEN $3::int = 1 THEN now() ELSE changed_at END
         WHERE id = 1
         RETURNING epoch, system_identifier, timeline, restore_id, reason, changed_at::text AS changed_at`,
        [seen.systemIdentifier, seen.timeline, move ? 1 : 0],
      );
      return { verdict, state: toState(r.rows[0] as Row) };
    });
  }

  /**
   * While central runs: the identity read and compared without a lock; only a
   * difference takes checkIdentity's locked path (which decides again).
   */
  async recheck(): Promise<{ verdict: ReturnType<typeof identityVerdict>; state: EpochState }> {
    const seen = await readIdentity(this.db);
    const now = await this.state();
    const verdict = identityVerdict(now, seen);
    if (verdict === 'unknown' || verdict === 'same') return { verdict, state: now };
    return this.checkIdentity();
  }

  /** An admin says central was restored (`restoreId` names the restore: its repeat changes nothing). */
  async markRestored(restoreId: string): Promise<{ moved: boolean; state: EpochState }> {
    return this.db.transaction(async (tx) => {
      await tx.query(ENSURE_ROW);
      const before = toState((await tx.query<Row>(`${SELECT} FOR UPDATE`)).rows[0] as Row);
      if (markVerdict(before, restoreId) === 'repeat') return { moved: false, state: before };
      const r = await tx.query<Row>(
        `UPDATE sync_epoch SET epoch = ${NEXT_EPOCH}, restore_id = $1, reason = 'admin', changed_at = now() WHERE id = 1
         RETURNING epoch, system_identifier, timeline, restore_id, reason, changed_at::text AS changed_at`,
        [restoreId],
      );
      return { moved: true, state: toState(r.rows[0] as Row) };
    });
  }
}
