/**
 * The purge: keeps central's bookkeeping bounded (DESIGN.md invariant 10). One
 * instance at a time (an advisory lock), every TILLSYNC_PURGE_INTERVAL seconds and on
 * demand (POST /api/admin/purge). Each run removes, in short transactions of at most
 * `chunk` rows (a long one would hold back every pull: pulls serve only changes below
 * the oldest running transaction):
 *
 * - compacted: change-log entries superseded by a later entry of the same row (and
 *   store), once that later one is committed below every running transaction. A
 *   terminal behind the removed entry reaches the later one and reads the row as it is
 *   now, so no cursor needs it: this needs no horizon, and keeps the log at about one
 *   entry per row however often rows change.
 * - tombstones: rows deleted longer ago than the retention (and no open conflict)
 *   whose change-log entries every active terminal has pulled past (the lowest position among enabled terminals
 *   that pulled the table within the retention; disabled, never-seen and silent ones do
 *   not hold it back), with their entries. The newest entry removed is the table's
 *   purge horizon: a cursor behind it may have missed a deletion and gets
 *   CURSOR_EXPIRED (the terminal reads the table again from a snapshot).
 * - unpulled: entries of tables no terminal pulls (direction up), older than the retention
 *   (versions before issue 17 logged them; this one keeps no log of them).
 * - answers: push answers (sync_applied) older than the retention. Each terminal's
 *   newest removed answer is noted (answers_purged_through): a change of its made
 *   before that may be a replay, and is refused by version instead (push-decide).
 * - triggers: sync triggers older than the retention (undelivered ones expired long before).
 *
 * Then it vacuums the tables it removed rows from, so their space is reused.
 */
import type { Logger } from 'pino';
import { CATALOG, pullable, type CatalogEntry } from '../../shared/catalog/index.js';
import type { PurgeReport } from '../../shared/protocol.js';
import type { Database } from '../db/database.js';
import { retryTransient } from '../db/retry.js';
import { ident } from '../db/sql.js';
import type { Metrics } from '../metrics.js';

export const PURGE_LOCK_KEY = 7_402_118_016;

export interface PurgeOptions {
  readonly retentionSeconds: number;
  /** Rows per transaction. */
  readonly chunk?: number;
}

type Removed = PurgeReport['removed'];
const nothing = (): { -readonly [K in keyof Removed]: number } => ({ tombstones: 0, compacted: 0, unpulled: 0, answers: 0, triggers: 0 });

/** A position in the change log, after (txid, seq). */
interface Position {
  readonly txid: string;
  readonly seq: number;
}

/** The lowest position among the terminals that hold the table's purge back, or undefined if none does. */
export const ACTIVE_LOW = `SELECT p.txid::text AS txid, p.seq FROM sync_pull_positions p JOIN sync_terminals t ON t.id = p.terminal_id
  WHERE p.entity_type = $1 AND t.disabled_at IS NULL AND p.seen_at >= $2::timestamptz
  ORDER BY p.txid, p.seq LIMIT 1`;

/** Entries superseded by a later entry of the same row and store, that later one below `$2` (an xmin). */
export const SUPERSEDED = `SELECT coalesce(array_agg(seq), '{}') AS seqs FROM (
    SELECT seq, row_number() OVER (PARTITION BY entity_id, store_id ORDER BY txid DESC, seq DESC) AS rn
    FROM sync_changes WHERE entity_type = $1 AND txid < $2::xid8) s
  WHERE rn > 1`;

/**
 * Rows deleted before `$2` whose every entry is at or behind ($3, $4) (a terminal at a
 * position has read the entry there), with their entries; a row a supervisor still has
 * to decide on (an open conflict) stays until it is decided.
 */
export function tombstonesSql(entry: CatalogEntry): string {
  return `SELECT t.id, t.sync_version::text AS version, coalesce(array_agg(c.seq) FILTER (WHERE c.seq IS NOT NULL), '{}') AS seqs
    FROM ${ident(entry.centralName)} t LEFT JOIN sync_changes c ON c.entity_type = $1 AND c.entity_id = t.id
    WHERE t.sync_deleted_at < $2::timestamptz
      AND NOT EXISTS (SELECT 1 FROM sync_conflicts k WHERE k.entity_type = $1 AND k.entity_id = t.id AND k.status = 'open')
    GROUP BY t.id, t.sync_version
    HAVING coalesce(bool_and((c.txid, c.seq) <= ($3::xid8, $4::bigint)), true)`;
}

/**
 * Removes tombstoned rows (the soft-delete trigger lets a purge through) and returns the
 * ids gone. The rows are locked in key order first, the order a push locks them in, so
 * a purge and a push meeting on rows wait for each other instead of deadlocking.
 */
function deleteRowsSql(entry: CatalogEntry): string {
  const table = ident(entry.centralName);
  return `WITH purge AS (SELECT set_config('tillsync.purge', 'on', true)),
    want AS (SELECT * FROM unnest($1::text[], $3::bigint[]) AS w(id, version)),
    locked AS (SELECT t.id FROM ${table} t JOIN want w ON w.id = t.id WHERE t.sync_deleted_at < $2::timestamptz ORDER BY t.id FOR UPDATE OF t)
    DELETE FROM ${table} t USING want w WHERE t.id IN (SELECT id FROM locked) AND w.id = t.id
      AND t.sync_deleted_at < $2::timestamptz
      -- Still the version whose entries were read: a tombstone written again since (an
      -- update of the deleted row logs an entry past the position) stays, with its entries.
      AND t.sync_version = w.version
      AND EXISTS (SELECT 1 FROM purge) RETURNING t.id`;
}

/** A purge chunk rolled back for a deadlock runs again, after a short pause. */
const retried = <T>(fn: () => Promise<T>): Promise<T> => retryTransient(fn, { attempts: 4, maxPauseMs: 100 });

/**
 * Removes entries, and moves the table's horizon to the newest of them and its time to
 * the latest of theirs (never back: a transaction's entries are stamped with its start,
 * so a later position may carry an earlier time).
 */
export const DELETE_ENTRIES_MOVING_HORIZON = `WITH d AS (DELETE FROM sync_changes WHERE seq = ANY($2::bigint[]) RETURNING txid, seq, changed_at),
  newest AS (SELECT txid, seq, (SELECT max(changed_at) FROM d) AS changed_at FROM d ORDER BY txid DESC, seq DESC LIMIT 1),
  h AS (INSERT INTO sync_purge_horizons (entity_type, txid, seq, changed_at)
        SELECT $1, txid, seq, changed_at FROM newest
        ON CONFLICT (entity_type) DO UPDATE SET
          txid = CASE WHEN (excluded.txid, excluded.seq) > (sync_purge_horizons.txid, sync_purge_horizons.seq) THEN excluded.txid ELSE sync_purge_horizons.txid END,
          seq = CASE WHEN (excluded.txid, excluded.seq) > (sync_purge_horizons.txid, sync_purge_horizons.seq) THEN excluded.seq ELSE sync_purge_horizons.seq END,
          changed_at = GREATEST(excluded.changed_at, sync_purge_horizons.changed_at),
          purged_at = now())
  SELECT count(*)::int AS n FROM d`;

const DELETE_ENTRIES = 'WITH d AS (DELETE FROM sync_changes WHERE seq = ANY($1::bigint[]) RETURNING 1) SELECT count(*)::int AS n FROM d';

const DELETE_UNPULLED = `WITH d AS (DELETE FROM sync_changes WHERE seq IN (
    SELECT seq FROM sync_changes WHERE entity_type = ANY($1::text[]) AND changed_at < $2::timestamptz LIMIT $3) RETURNING 1)
  SELECT count(*)::int AS n FROM d`;

/** Answers older than the cutoff, a chunk; each terminal's newest removed one noted. */
export const DELETE_ANSWERS = `WITH d AS (DELETE FROM sync_applied WHERE change_id IN (
      SELECT change_id FROM sync_applied WHERE applied_at < $1::timestamptz LIMIT $2) RETURNING terminal_id, applied_at),
  m AS (SELECT terminal_id, max(applied_at) AS through, count(*) AS n FROM d GROUP BY terminal_id),
  u AS (UPDATE sync_terminals s SET answers_purged_through = GREATEST(s.answers_purged_through, m.through) FROM m WHERE s.id = m.terminal_id)
  SELECT coalesce(sum(n), 0)::int AS n FROM m`;

const DELETE_TRIGGERS = `WITH d AS (DELETE FROM sync_triggers WHERE id IN (
    SELECT id FROM sync_triggers WHERE created_at < $1::timestamptz LIMIT $2) RETURNING 1)
  SELECT count(*)::int AS n FROM d`;

/** Splits a list into runs of at most `size`. */
function* chunks<T>(list: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < list.length; i += size) yield list.slice(i, i + size);
}

export class PurgeService {
  private readonly chunk: number;

  constructor(
    private readonly db: Database,
    private readonly metrics: Metrics,
    private readonly log: Pick<Logger, 'info' | 'error'>,
    private readonly options: PurgeOptions,
    /** Writes this instance's pull positions first, so the run sees them. */
    private readonly flushPositions: () => Promise<void> = async () => undefined,
  ) {
    this.chunk = options.chunk ?? 5000;
  }

  /**
   * One run. `now` stands for the present (the cutoff is now minus the retention);
   * undefined when another instance holds the lock (it is running one).
   */
  async run(opts: { now?: Date } = {}): Promise<PurgeReport | undefined> {
    const release = await this.db.tryLock(PURGE_LOCK_KEY);
    if (!release) {
      this.metrics.purgeRuns.inc({ outcome: 'skipped' });
      this.log.info('purge skipped: another instance is running one');
      return undefined;
    }
    const started = performance.now();
    try {
      const report = await this.runLocked(opts.now ?? new Date());
      const seconds = (performance.now() - started) / 1000;
      report.ms = Math.round(seconds * 1000);
      this.metrics.purgeRuns.inc({ outcome: 'done' });
      this.metrics.purgeSeconds.observe(seconds);
      for (const [kind, n] of Object.entries(report.removed)) this.metrics.purged.inc({ kind }, n);
      this.log.info({ removed: report.removed, ms: report.ms, cutoff: report.cutoff }, 'purge done');
      return report;
    } catch (err) {
      this.metrics.purgeRuns.inc({ outcome: 'failed' });
      this.log.error({ err }, 'purge failed');
      throw err;
    } finally {
      await release();
    }
  }

  private async runLocked(now: Date): Promise<PurgeReport> {
    await this.flushPositions();
    const cutoff = new Date(now.getTime() - this.options.retentionSeconds * 1000).toISOString();
    const removed = nothing();
    const tables: PurgeReport['tables'] = {};
    // Everything below this xmin is committed, and every later snapshot sees it.
    const snap = await this.db.query<{ xmin: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin');
    const xmin = (snap.rows[0] as { xmin: string }).xmin;
    const above: Position = { txid: xmin, seq: 0 };

    for (const entry of CATALOG) {
      const compacted = await this.compact(entry, xmin);
      // A table no terminal pulls holds nobody back; the others, their active terminals.
      const low = pullable(entry) ? await this.activeLow(entry, cutoff) : undefined;
      const horizon = low && BigInt(low.txid) < BigInt(xmin) ? low : above;
      const tombstones = await this.purgeTombstones(entry, cutoff, horizon);
      removed.compacted += compacted;
      removed.tombstones += tombstones;
      tables[entry.entityType] = { compacted, tombstones, heldBackAt: low ? `${low.txid}:${low.seq}` : null };
    }
    removed.unpulled = await this.repeat(DELETE_UNPULLED, [CATALOG.filter((e) => !pullable(e)).map((e) => e.entityType), cutoff, this.chunk]);
    removed.answers = await this.repeat(DELETE_ANSWERS, [cutoff, this.chunk]);
    removed.triggers = await this.repeat(DELETE_TRIGGERS, [cutoff, this.chunk]);
    await this.vacuum(removed, tables);
    return { ranAt: now.toISOString(), cutoff, retentionSeconds: this.options.retentionSeconds, ms: 0, removed, tables };
  }

  /**
   * Makes the space of what was removed reusable at once (a plain VACUUM: no lock that
   * stops writers), so the tables stay their size under churn. PostgreSQL's autovacuum
   * would get there later; embedded PGlite has none, and without this its files would
   * grow however often the purge ran.
   */
  private async vacuum(removed: Removed, tables: PurgeReport['tables']): Promise<void> {
    const names = new Set<string>();
    if (removed.compacted + removed.tombstones + removed.unpulled > 0) names.add('sync_changes');
    if (removed.answers > 0) names.add('sync_applied');
    if (removed.triggers > 0) names.add('sync_triggers');
    for (const entry of CATALOG) if ((tables[entry.entityType]?.tombstones ?? 0) > 0) names.add(entry.centralName);
    if (names.size > 0) await this.db.query(`VACUUM (ANALYZE) ${[...names].map(ident).join(', ')}`);
  }

  private async activeLow(entry: CatalogEntry, cutoff: string): Promise<Position | undefined> {
    const r = await this.db.query<{ txid: string; seq: number }>(ACTIVE_LOW, [entry.entityType, cutoff]);
    const row = r.rows[0];
    return row ? { txid: row.txid, seq: Number(row.seq) } : undefined;
  }

  private async compact(entry: CatalogEntry, xmin: string): Promise<number> {
    const r = await this.db.query<{ seqs: (string | number)[] }>(SUPERSEDED, [entry.entityType, xmin]);
    const seqs = r.rows[0]?.seqs ?? [];
    let n = 0;
    for (const part of chunks(seqs, this.chunk)) {
      const d = await retried(() => this.db.query<{ n: number }>(DELETE_ENTRIES, [part]));
      n += d.rows[0]?.n ?? 0;
    }
    return n;
  }

  private async purgeTombstones(entry: CatalogEntry, cutoff: string, horizon: Position): Promise<number> {
    const r = await this.db.query<{ id: string; version: string; seqs: (string | number)[] }>(tombstonesSql(entry), [entry.entityType, cutoff, horizon.txid, horizon.seq]);
    let n = 0;
    for (const part of chunks(r.rows, Math.max(1, Math.floor(this.chunk / 4)))) {
      n += await retried(() => this.db.transaction(async (tx) => {
        const gone = await tx.query<{ id: string }>(deleteRowsSql(entry), [part.map((p) => p.id), cutoff, part.map((p) => p.version)]);
        // A row written again meanwhile is no tombstone any more: it and its entries stay.
        const ids = new Set(gone.rows.map((g) => g.id));
        const seqs = part.filter((p) => ids.has(p.id)).flatMap((p) => p.seqs);
        if (seqs.length > 0) await tx.query(DELETE_ENTRIES_MOVING_HORIZON, [entry.entityType, seqs]);
        return ids.size;
      }));
    }
    return n;
  }

  /** Runs a chunked delete (its count in column n) until a run removes less than a chunk. */
  private async repeat(sql: string, params: unknown[]): Promise<number> {
    let total = 0;
    for (;;) {
      const r = await retried(() => this.db.query<{ n: number }>(sql, params));
      const n = r.rows[0]?.n ?? 0;
      total += n;
      if (n < this.chunk) return total;
    }
  }
}
