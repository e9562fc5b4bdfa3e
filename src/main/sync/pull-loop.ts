/**
 * Pulling from central: a table page by page (the next page asked for while one is
 * written), the tables central hinted at, conflicts resolved at central, and a
 * supervisor's resolution. It reads and writes the store only through its ports and
 * tells its host what happened (reached, unreachable, a page applied).
 */
import type { Logger } from 'pino';
import { pullable, type CatalogEntry, type WireRow } from '../../shared/catalog/index.js';
import type { PullResponse } from '../../shared/protocol.js';
import type { SyncKind } from '../../shared/ipc.js';
import { CentralError } from './central-client.js';
import { tablePriority } from './cadence.js';
import { failureOf } from './failure.js';
import type { BasePort, CapturePort, CentralPort, ConflictsPort, CursorsPort, PagesPort, RestoredPort, ResyncPort } from './ports.js';
import type { SyncConfig } from './sync-config.js';

export interface PullLoopPorts {
  readonly base: Pick<BasePort, 'tables'>;
  readonly capture: Pick<CapturePort, 'promote'>;
  readonly pages: PagesPort;
  readonly cursors: Pick<CursorsPort, 'cursor' | 'pausedTables' | 'pauseTable' | 'resetCursor' | 'holdsSyncedRows' | 'resyncing'>;
  readonly resync: ResyncPort;
  readonly restored: RestoredPort;
  readonly conflicts: Pick<ConflictsPort, 'openConflicts' | 'applyResolution'>;
}

/** What the pull loop asks of, and tells, the engine around it. */
export interface PullLoopHost {
  terminalId(): string;
  stopped(): boolean;
  paused(): boolean;
  /** Runs `fn` after the pass that runs (hinted pulls wait their turn on the pass lane). */
  afterPasses(fn: () => Promise<void>): Promise<void>;
  /** A page of `table` brought `applied` rows; `pulled` rows of it so far in this pull. */
  page(kind: SyncKind, table: string, applied: number, pulled: number): void;
  /** Central answered (a hinted pull got through). */
  reached(): void;
  /** Central could not be reached. */
  unreachable(reason: string): void;
  /** Hinted pulls changed what the store holds. */
  changed(): void;
  /** Central was restored and changes it accepted were queued again: push them. */
  resent(): void;
}

export interface TablePull {
  pulled: number;
  conflicts: number;
  error?: string;
}

/** The pullable tables a pass of `minPriority` pulls, in catalog order, leaving out paused ones (pure). */
export function tablesToPull(entries: Iterable<CatalogEntry>, minPriority: number, paused: ReadonlyMap<string, string>): CatalogEntry[] {
  return [...entries].filter((e) => pullable(e) && tablePriority(e.priority) >= minPriority && !paused.has(e.table));
}

/** The pullable, unpaused tables of the entity types central hinted at (pure). */
export function hintedTables(entries: Iterable<CatalogEntry>, wanted: ReadonlySet<string>, paused: ReadonlyMap<string, string>): CatalogEntry[] {
  return [...entries].filter((e) => wanted.has(e.entityType) && pullable(e) && !paused.has(e.table));
}

/**
 * What a failed page request means for the table (pure): `pause` (its schema differs
 * from central's: sync of it stops, no data touched), `restart` (the cursor is ahead of
 * central: pull it again from the start), `resync` (central purged deleted rows past
 * the cursor: read the table again from a snapshot and drop what it does not bring),
 * `restored` (central's database was restored from a backup since the cursor was
 * issued: store/restored.ts catches up), or `fail` (the pull fails).
 */
export function afterPullFailure(err: unknown): 'pause' | 'restart' | 'resync' | 'restored' | 'fail' {
  if (err instanceof CentralError && err.code === 'SCHEMA_MISMATCH') return 'pause';
  if (err instanceof CentralError && err.code === 'CENTRAL_RESTORED' && err.epoch !== undefined) return 'restored';
  if (err instanceof CentralError && err.code === 'CURSOR_AHEAD') return 'restart';
  if (err instanceof CentralError && err.code === 'CURSOR_EXPIRED') return 'resync';
  return 'fail';
}

/**
 * Whether a pull of a table without a cursor starts from a snapshot (pure): when the
 * terminal holds none of the table's rows (a first sync), or re-reads the table after
 * CURSOR_EXPIRED. Else it follows the change log from its beginning, so a delete made
 * while its cursor was lost still reaches it. (A pull with a cursor goes on from it.)
 */
export function startsFromSnapshot(table: { holdsSyncedRows: boolean; resyncing: boolean }): boolean {
  return table.resyncing || !table.holdsSyncedRows;
}

/**
 * Where a page request starts and how long it is (pure). A snapshot start (see
 * startsFromSnapshot) reads the live rows in key order, then the change log: it reads
 * no tombstones. Every other start follows the log from its beginning.
 */
export function pageRequest(cursor: string | undefined, snapshot: boolean, sizes: { pullPageSize: number; snapshotPageSize: number }) {
  return { cursor, start: cursor === undefined && snapshot ? ('snapshot' as const) : undefined, limit: snapshot ? sizes.snapshotPageSize : sizes.pullPageSize };
}

export class PullLoop {
  /** Tables central hinted at (sync:changes) not pulled yet. */
  private readonly hinted = new Set<string>();
  private pullingHinted = false;

  constructor(
    private readonly ports: PullLoopPorts,
    private readonly client: Pick<CentralPort, 'pull' | 'conflicts' | 'resolve'>,
    private readonly config: Pick<SyncConfig, 'pullPageSize' | 'snapshotPageSize' | 'maxClockDriftMs'>,
    private readonly log: Logger,
    private readonly host: PullLoopHost,
  ) {}

  /** The tables a pass of `minPriority` pulls (unpaused, pullable, due). */
  due(minPriority: number): CatalogEntry[] {
    const entries = [...this.ports.base.tables.values()].map((t) => t.entry);
    return tablesToPull(entries, minPriority, this.ports.cursors.pausedTables());
  }

  /** Pulls one table to its end. Throws when central cannot be reached (or fails otherwise). */
  async pullTable(entry: CatalogEntry, kind: SyncKind): Promise<TablePull> {
    const { capture, cursors, pages } = this.ports;
    let pulled = 0;
    let conflicts = 0;
    /** A re-read after CURSOR_EXPIRED began in this pull (a second refusal ends the pull with an error: the next pass begins again). */
    let resyncStarted = false;
    const fetchPage = (cursor: string | undefined, snapshot: boolean) =>
      this.client.pull({
        terminalId: this.host.terminalId(),
        entityType: entry.entityType,
        ...pageRequest(cursor, snapshot, this.config),
        schemaHash: entry.schemaHash,
      });
    /** The following page, asked for while this one is written (central and the till work side by side). */
    let ahead: Promise<PullResponse> | null = null;
    for (let guard = 0; guard < 1_000_000; guard++) {
      if (this.host.stopped()) break;
      let page: PullResponse;
      try {
        // A long capture log is moved in short steps now, not all inside the page's transaction.
        capture.promote();
        const cursor = cursors.cursor(entry.table);
        const snapshot = cursor === undefined && startsFromSnapshot({ holdsSyncedRows: cursors.holdsSyncedRows(entry.table), resyncing: cursors.resyncing(entry.table) });
        page = await (ahead ?? fetchPage(cursor, snapshot));
      } catch (err) {
        ahead = null;
        const then = afterPullFailure(err);
        if (then === 'pause' && err instanceof Error) {
          cursors.pauseTable(entry.table, err.message);
          this.log.error({ table: entry.table, err: err.message }, 'schema mismatch: table paused');
          return { pulled, conflicts, error: err.message };
        }
        if (then === 'restart') {
          this.log.warn({ table: entry.table }, 'cursor ahead of central; pulling the table again from the start');
          cursors.resetCursor(entry.table);
          continue;
        }
        if (then === 'restored' && err instanceof CentralError && err.epoch !== undefined) {
          // Refused again in the same pull: the epoch moved again meanwhile; the next pass goes on.
          if (resyncStarted) return { pulled, conflicts, error: err.message };
          resyncStarted = true;
          const caught = this.ports.restored.catchUp(err.epoch);
          if (caught) {
            this.log.warn(caught, 'central was restored from a backup: re-reading every table from a snapshot and sending the kept sales again');
            if (caught.resent > 0) this.host.resent();
          } else {
            // Caught up with this epoch already: a cursor of before it was still about (a page in flight).
            this.ports.resync.start(entry.table, { forgetVersions: true });
          }
          continue;
        }
        if (then === 'resync' && err instanceof Error) {
          // Refused again in the same pull: central purged meanwhile; the next pass reads the table again.
          if (resyncStarted) return { pulled, conflicts, error: err.message };
          resyncStarted = true;
          const held = this.ports.resync.start(entry.table);
          this.log.warn({ table: entry.table, held }, 'cursor expired: central purged deleted rows past it; re-reading the table from a snapshot');
          continue;
        }
        throw err;
      }
      ahead = null;
      if (page.hasMore && !this.host.stopped()) {
        // The cursor this page ends at is where the table's cursor will be once it is applied;
        // if applying fails, the page fetched ahead is dropped and the next pass asks again.
        const next = fetchPage(page.cursor, page.snapshot === true);
        next.catch(() => undefined);
        ahead = next;
        await new Promise((r) => setImmediate(r)); // let the request go out before the page is written
      }
      const r = pages.applyPage(entry, page.changes, page.cursor, this.config.maxClockDriftMs, { snapshot: page.snapshot, snapshotEnd: page.snapshotEnd });
      pulled += r.applied;
      conflicts += r.conflicts;
      if (r.resynced) {
        const { dropped, conflicts: c, givenBack = 0, kept = 0 } = r.resynced;
        this.log.info({ table: entry.table, dropped, conflicts: c, givenBack, kept }, 're-read from a snapshot: rows central purged were dropped, rows its restore lost given back or kept');
      }
      if (page.changes.length > 0) this.host.page(kind, entry.table, r.applied, pulled);
      if (!page.hasMore) break;
    }
    return { pulled, conflicts };
  }

  /** Conflicts parked at central that a supervisor resolved there (or at another till). */
  async refreshConflicts(): Promise<number> {
    const { conflicts } = this.ports;
    const open = conflicts.openConflicts().filter((c) => c.atCentral);
    if (open.length === 0) return 0;
    const resolved = await this.client.conflicts({ terminalId: this.host.terminalId(), status: 'resolved', limit: 1000 });
    const byId = new Map(resolved.conflicts.map((c) => [c.conflictId, c]));
    let n = 0;
    for (const c of open) {
      const r = byId.get(c.conflictId);
      if (!r || !r.resolvedData || r.resolvedVersion === null) continue;
      conflicts.applyResolution({ table: c.table, serverId: c.entityId }, r.resolvedData as WireRow, r.resolvedVersion, r.resolution === 'TERMINAL_WINS' && r.terminal === null, r.resolution ?? 'resolved');
      n++;
    }
    return n;
  }

  /**
   * A supervisor's decision: resolved at central (so every till converges), then
   * applied here. A conflict only seen locally is first pushed (`pushFirst`) so central
   * parks it.
   */
  async resolveConflict(
    conflictId: string,
    resolution: 'TERMINAL_WINS' | 'CENTRAL_WINS' | 'MANUAL_MERGE',
    resolvedData: WireRow | undefined,
    resolvedBy: string | undefined,
    pushFirst: () => Promise<unknown>,
  ) {
    const { conflicts } = this.ports;
    let conflict = conflicts.openConflicts().find((c) => c.conflictId === conflictId);
    if (!conflict) throw new Error(`no open conflict ${conflictId}`);
    if (!conflict.atCentral) {
      await pushFirst();
      const local = conflict;
      conflict = conflicts.openConflicts().find((c) => c.atCentral && c.table === local.table && c.entityId === local.entityId);
      if (!conflict) throw new Error(`conflict ${conflictId} is not parked at central yet (is central reachable?)`);
    }
    const r = await this.client.resolve({
      conflictId: conflict.conflictId,
      resolution,
      ...(resolvedData ? { resolvedData } : {}),
      ...(resolvedBy ? { resolvedBy } : {}),
    });
    conflicts.applyResolution({ table: conflict.table, serverId: conflict.entityId }, r.data as WireRow, r.version, r.deleted, resolution);
    return r;
  }

  /**
   * Central said these tables changed: pull them now, on the pass lane (after a pass
   * that runs). Hints arriving meanwhile are gathered into the next pull; a table
   * pulled is pulled to its end, so a hint for it while it was pulled costs one more
   * (usually empty) page, never a change.
   */
  pullHinted(entityTypes: readonly string[]): void {
    for (const t of entityTypes) this.hinted.add(t);
    if (this.pullingHinted || this.host.stopped()) return;
    this.pullingHinted = true;
    const going = () => !this.host.stopped() && !this.host.paused();
    void this.host
      .afterPasses(async () => {
        while (this.hinted.size > 0 && going()) {
          const wanted = new Set(this.hinted);
          this.hinted.clear();
          const entries = [...this.ports.base.tables.values()].map((t) => t.entry);
          for (const entry of hintedTables(entries, wanted, this.ports.cursors.pausedTables())) {
            try {
              const r = await this.pullTable(entry, 'INCREMENTAL');
              if (r.pulled > 0 || r.conflicts > 0) this.log.debug({ table: entry.table, pulled: r.pulled }, 'pulled on a change hint');
              this.host.reached();
            } catch (err) {
              // A hint is a hint: the next pass pulls what this one could not.
              const message = err instanceof Error ? err.message : String(err);
              if (failureOf(err) === 'unreachable') this.host.unreachable(message);
              else this.log.warn({ table: entry.table, err: message }, 'pull on a change hint failed');
              return;
            }
          }
          this.host.changed();
        }
      })
      .finally(() => {
        this.pullingHinted = false;
        // A hint that came after the loop looked for the last time.
        if (this.hinted.size > 0 && going()) this.pullHinted([]);
      });
  }
}
