/**
 * The terminal's side of sync, over its SQLite file: the outbox (batches out,
 * answers in), pulled pages in, conflicts, cursors, history. Every step that
 * changes state is one short SQLite transaction, so a crash at any instant leaves
 * either the state before or the state after.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  CATALOG,
  LOCAL_KEY,
  LOCAL_SERVER_ID,
  entryForTable,
  priorityOf,
  type CatalogEntry,
  type WireRow,
} from '../../shared/catalog/index.js';
import { conflictInput, decideConflict, mergeRows } from '../../shared/conflict.js';
import { uuid7 } from '../../shared/uuid7.js';
import { retryPause } from '../../shared/backoff.js';
import { formatHlc, parseHlc, receiveHlc, tickHlc, type Hlc } from '../../shared/hlc.js';
import type { PulledChange, PushChange, PushResponse, PushResult, TableCounts } from '../../shared/protocol.js';
import { localToWire, wireToLocal, type ForeignKeys, type LocalRow } from './mapping.js';
import { GROUP_KEY, installSchema, q, tableColumns, type InstallReport, type Warn } from './schema.js';

export type EntryStatus = 'pending' | 'failed' | 'synced' | 'conflict';

export interface OutboxEntry {
  id: number;
  change_id: string;
  table_name: string;
  local_id: number;
  server_id: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  new_image: string | null;
  old_image: string | null;
  priority: number;
  created_in_mode: 'ONLINE' | 'OFFLINE';
  tx_group: string | null;
  status: EntryStatus;
  attempts: number;
  last_error: string | null;
  next_attempt_at: number | null;
  sent_as: string | null;
  base_version: number | null;
  hlc: string | null;
  created_at: string;
}

/** One change as sent, and the outbox entries it stands for. */
export interface OutgoingChange {
  readonly change: PushChange;
  readonly entry: CatalogEntry;
  readonly entryIds: number[];
  readonly wire: WireRow | null;
}

export interface OutgoingBatch {
  readonly changes: OutgoingChange[];
  /** Entries settled while building the batch (created and deleted before any push). */
  readonly cancelled: number;
  /** Entries that could not be sent (invalid data, unlinked rows) and were marked failed. */
  readonly invalid: number;
  /** Groups left for a later batch because a row of theirs is in a batch still at central. */
  readonly deferred?: number;
}

/** What a batch still at central holds: its groups and rows, kept out of the next batch. */
export interface InFlight {
  readonly groups: ReadonlySet<string>;
  readonly rows: ReadonlySet<string>;
}

const rowKey = (table: string, serverId: string) => `${table}\u0000${serverId}`;
/** A change's transaction group as GROUP_KEY names it: its own, or its row alone. */
const groupKey = (txGroup: string | null | undefined, table: string, serverId: string) => txGroup ?? `${table}:${serverId}`;

/** The groups (as GROUP_KEY names them) and rows of a batch that is on its way to central. */
export function inFlight(batch: OutgoingBatch): InFlight {
  const groups = new Set<string>();
  const rows = new Set<string>();
  for (const c of batch.changes) {
    groups.add(groupKey(c.change.transactionGroup, c.entry.table, c.change.entityId));
    rows.add(rowKey(c.entry.table, c.change.entityId));
  }
  return { groups, rows };
}

export interface PageResult {
  readonly applied: number;
  readonly skipped: number;
  readonly conflicts: number;
}

export interface LocalStoreOptions {
  /**
   * Make the file when it does not exist (a new terminal). Default false: a missing file
   * is a PosDatabaseMissingError, so a typo in a path never becomes a new, empty till
   * database. Its folder is never made.
   */
  readonly create?: boolean;
  /** Create the catalog's tables when missing (a new terminal). Default: only when the file is new. */
  readonly createMissing?: boolean;
  readonly warn?: Warn;
  readonly busyTimeoutMs?: number;
  /** Where the terminal's migrations are (default: next to the sources; a bundle passes its own). */
  readonly migrationsDir?: string | undefined;
}

const nowIso = () => new Date().toISOString();

/** The POS database is not where it was said to be (the file, or the folder it would be in). */
export class PosDatabaseMissingError extends Error {
  override name = 'PosDatabaseMissingError';
  constructor(
    readonly path: string,
    readonly missing: 'file' | 'folder',
  ) {
    super(missing === 'folder' ? `the folder ${dirname(path)} of POS database ${path} does not exist` : `POS database ${path} does not exist`);
  }
}

/** What is missing for a POS database at `path`: its folder, the file itself, or nothing. */
export function missingPart(path: string): 'file' | 'folder' | null {
  const kind = (p: string) => {
    try {
      return statSync(p).isDirectory() ? 'dir' : 'file';
    } catch {
      return null;
    }
  };
  if (kind(path) !== null) return null;
  return kind(dirname(path)) === 'dir' ? 'file' : 'folder';
}

/** Capture entries moved into the outbox per transaction (about 0.2 s of the POS waiting at most). */
const PROMOTE_CHUNK = 5000;

const ELIGIBLE = `status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?) AND id <= ? AND table_name NOT IN (SELECT value FROM json_each(?))`;

/**
 * How a batch is chosen: every statement goes through an index (the queue's, or the
 * pending entries by group), so choosing costs the batch, not the backlog (a test
 * checks their query plans).
 */
export const BATCH_SQL = {
  /** The next priority level with pending entries, below the last one. */
  nextLevel: `SELECT max(priority) AS p FROM tillsync_outbox WHERE status = 'pending' AND priority >= ? AND priority < ?`,
  /** Eligible entries of one level in capture order, a page at a time. */
  levelPage: `SELECT id, ${GROUP_KEY} AS g FROM tillsync_outbox WHERE ${ELIGIBLE} AND priority = ? AND id > ? ORDER BY priority, id LIMIT 500`,
  /** How many eligible entries a group has. */
  groupSize: `SELECT count(*) AS n FROM tillsync_outbox WHERE ${GROUP_KEY} = ? AND ${ELIGIBLE}`,
  /**
   * The batch's rows' entries sent before and still pending, newest first (from the rows
   * into the row index: with a batch at central there are many pending sent entries,
   * and a plan from them into the rows would read them all for every batch).
   */
  earlierAttempts: `SELECT o.table_name, o.server_id, o.sent_as, o.next_attempt_at FROM json_each(?) AS k
    CROSS JOIN tillsync_outbox AS o INDEXED BY tillsync_outbox_row_idx
    WHERE o.table_name = k.value ->> 0 AND o.server_id = k.value ->> 1 AND o.status = 'pending' AND o.sent_as IS NOT NULL ORDER BY o.id DESC`,
  /** The chosen groups' pending entries (CROSS JOIN: from the groups into the group index). */
  groupEntries: `SELECT o.* FROM json_each(?) AS chosen CROSS JOIN tillsync_outbox AS o
    WHERE ${GROUP_KEY} = chosen.value AND o.status = 'pending' AND o.table_name NOT IN (SELECT value FROM json_each(?))
    ORDER BY o.id`,
} as const;

/** See LocalStore.pageLookups. */
interface PageLookups {
  readonly localIds: Map<string, number>;
  readonly unresolved: boolean;
  readonly fk: ForeignKeys;
  readonly fresh: FreshRows;
}

/**
 * A page's rows new to this terminal, with every foreign key resolved and the same
 * columns, inserted at the end of the page through one prepared statement (its SQL
 * built once, each row's values bound as they are: faster than one statement over the
 * page as JSON, which SQLite parses again for every column).
 */
class FreshRows {
  private columns: string[] | null = null;
  private signature = '';
  private readonly values: (string | number | null)[][] = [];

  /** Takes the row if it has the columns of the rows taken before it. */
  add(serverId: string, row: LocalRow): boolean {
    const cols = Object.keys(row);
    const signature = cols.join('\u0000');
    if (this.columns === null) {
      this.columns = cols;
      this.signature = signature;
    } else if (signature !== this.signature) return false;
    const v: (string | number | null)[] = [serverId];
    for (const c of cols) {
      const x = row[c] ?? null;
      // Values travel as JSON: anything JSON cannot carry as it is goes the row-by-row way.
      if (x !== null && typeof x !== 'string' && !(typeof x === 'number' && Number.isFinite(x))) return false;
      v.push(x);
    }
    this.values.push(v);
    return true;
  }

  insert(table: string, stmt: (sql: string) => Database.Statement): void {
    if (this.columns === null || this.values.length === 0) return;
    const all = [LOCAL_SERVER_ID, ...this.columns];
    const insert = stmt(`INSERT INTO ${q(table)} (${all.map(q).join(', ')}) VALUES (${all.map(() => '?').join(', ')})`);
    for (const v of this.values) insert.run(v);
  }
}

export class LocalStore {
  readonly db: Database.Database;
  readonly install: InstallReport;
  /** Catalog tables present in this file, with their local columns. */
  readonly tables = new Map<string, { entry: CatalogEntry; columns: Set<string> }>();
  readonly fk: ForeignKeys;
  private readonly stmts = new Map<string, Database.Statement>();
  /** Tables other rows travel with (an order: its items and payments). */
  private readonly parents = new Set(CATALOG.flatMap((e) => (e.group ? [e.group.parent] : [])));
  private clock: Hlc | null = null;

  constructor(
    readonly path: string,
    readonly node: string,
    opts: LocalStoreOptions = {},
  ) {
    const isNew = path === ':memory:' || !existsNonEmpty(path);
    if (path !== ':memory:') {
      const missing = missingPart(path);
      if (missing === 'folder' || (missing === 'file' && opts.create !== true)) throw new PosDatabaseMissingError(path, missing);
    }
    // fileMustExist also covers a file removed between the check and the open.
    this.db = new Database(path, { fileMustExist: path !== ':memory:' && opts.create !== true });
    // Shared with the POS's own process: WAL lets it read while we write, and a busy
    // timeout waits out its short transactions instead of failing.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    this.db.pragma('synchronous = NORMAL');
    let install: InstallReport;
    try {
      install = installSchema(this.db, { createMissing: opts.createMissing ?? isNew, warn: opts.warn ?? (() => undefined), migrationsDir: opts.migrationsDir });
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.install = install;
    for (const e of CATALOG) {
      const cols = tableColumns(this.db, e.table);
      if (cols.size > 0 && !this.install.skippedTables.includes(e.table)) this.tables.set(e.table, { entry: e, columns: new Set(cols.keys()) });
    }
    const clock = this.getMeta('hlc');
    this.clock = clock ? parseHlc(clock) : null;
    this.fk = {
      serverIdOf: (table, localId) => {
        if (!this.tables.has(table)) return null;
        const r = this.stmt(`SELECT ${q(LOCAL_SERVER_ID)} AS s FROM ${q(table)} WHERE ${q(LOCAL_KEY)} = ?`).get(localId) as { s: string | null } | undefined;
        return r?.s ?? null;
      },
      localIdOf: (table, serverId) => {
        if (!this.tables.has(table)) return null;
        const r = this.stmt(`SELECT ${q(LOCAL_KEY)} AS id FROM ${q(table)} WHERE ${q(LOCAL_SERVER_ID)} = ?`).get(serverId) as { id: number } | undefined;
        return r?.id ?? null;
      },
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  // ------------------------------------------------------------------ meta, clock, mode

  getMeta(key: string): string | undefined {
    const r = this.stmt('SELECT value FROM tillsync_meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value;
  }

  setMeta(key: string, value: string): void {
    this.stmt('INSERT INTO tillsync_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /**
   * A fresh clock for a local event. `persist: false` inside a transaction that
   * calls saveClock() before it commits (one write per batch, not per change).
   */
  tick(opts: { persist?: boolean } = {}): string {
    this.clock = tickHlc(this.clock, Date.now(), this.node);
    const s = formatHlc(this.clock);
    if (opts.persist === false) this.clockDirty = true;
    else this.setMeta('hlc', s);
    return s;
  }

  /** Merges a clock seen from central (never further ahead than `maxDriftMs`); `persist` as for tick(). */
  observe(remote: string | null | undefined, maxDriftMs: number, opts: { persist?: boolean } = {}): void {
    const h = remote ? parseHlc(remote) : null;
    if (!h) return;
    try {
      this.clock = receiveHlc(this.clock, h, Date.now(), this.node, maxDriftMs);
    } catch {
      return; // a clock too far ahead is ignored, not adopted
    }
    if (opts.persist === false) this.clockDirty = true;
    else this.setMeta('hlc', formatHlc(this.clock));
  }

  private clockDirty = false;

  /** Writes the clock once, after tick/observe calls with `persist: false` in this transaction. */
  private saveClock(): void {
    if (!this.clockDirty || !this.clock) return;
    this.setMeta('hlc', formatHlc(this.clock));
    this.clockDirty = false;
  }

  setMode(mode: 'ONLINE' | 'OFFLINE'): void {
    this.stmt('UPDATE tillsync_control SET mode = ? WHERE id = 1').run(mode);
  }

  /** Changes when any connection (the POS's too) commits to the file: a cheap "something new?" probe. */
  dataVersion(): number {
    return Number(this.db.pragma('data_version', { simple: true }));
  }

  /** Runs `fn` in one transaction with capture switched off for every connection. */
  applying<T>(fn: () => T): T {
    return this.db.transaction(() => {
      this.stmt('UPDATE tillsync_control SET applying = 1 WHERE id = 1').run();
      try {
        // Whatever reads or settles the outbox sees every captured write first.
        this.promoteInline();
        return fn();
      } finally {
        this.stmt('UPDATE tillsync_control SET applying = 0 WHERE id = 1').run();
      }
    }).immediate();
  }

  // ------------------------------------------------------------------ enqueue (explicit API)

  /**
   * Queues a change by hand, as the seed's example does, for rows written without
   * the triggers (or to re-send one). The row must exist (except for DELETE).
   */
  enqueue(table: string, localId: number, operation: 'CREATE' | 'UPDATE' | 'DELETE', priority?: number): string {
    const t = this.tables.get(table);
    if (!t) throw new Error(`table ${table} is not synced on this terminal`);
    return this.db.transaction(() => {
      this.applyingInline(() => this.promoteInline());
      const row = this.stmt(`SELECT * FROM ${q(table)} WHERE ${q(LOCAL_KEY)} = ?`).get(localId) as LocalRow | undefined;
      if (!row && operation !== 'DELETE') throw new Error(`${table} row ${localId} does not exist`);
      let serverId = row?.[LOCAL_SERVER_ID] as string | null | undefined;
      if (!serverId) {
        if (!row) throw new Error(`${table} row ${localId} has no central id`);
        serverId = randomUUID();
        this.applyingInline(() =>
          this.stmt(`UPDATE ${q(table)} SET ${q(LOCAL_SERVER_ID)} = ? WHERE ${q(LOCAL_KEY)} = ?`).run(serverId, localId),
        );
      }
      const image = row ? JSON.stringify(pickImage(t.entry, row)) : null;
      const changeId = randomUUID();
      this.stmt(
        `INSERT INTO tillsync_outbox (change_id, table_name, local_id, server_id, operation, new_image, old_image, priority, created_in_mode, tx_group)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT mode FROM tillsync_control WHERE id = 1), NULL)`,
      ).run(changeId, table, localId, serverId, operation, operation === 'DELETE' ? null : image, operation === 'DELETE' ? image : null, priority ?? priorityOf(t.entry.priority, row ?? {}));
      return changeId;
    }).immediate();
  }

  /** Capture off for statements inside an already open transaction. */
  private applyingInline<T>(fn: () => T): T {
    // Nested inside applying(): leave the switch as the outer transaction set it.
    const before = (this.stmt('SELECT applying FROM tillsync_control WHERE id = 1').get() as { applying: number } | undefined)?.applying ?? 0;
    this.stmt('UPDATE tillsync_control SET applying = 1 WHERE id = 1').run();
    try {
      return fn();
    } finally {
      this.stmt('UPDATE tillsync_control SET applying = ? WHERE id = 1').run(before);
    }
  }

  // ------------------------------------------------------------------ capture log -> outbox

  /**
   * Moves what the triggers captured into the outbox: new rows get their central id
   * (stamped on the POS row), every entry a change id, a transaction group and its
   * capture time. A long log goes in transactions of `chunk` entries, so the POS is
   * never kept waiting for long; each transaction is whole (a crash leaves its
   * entries in the log, or all of them in the outbox). Writes of rows never linked
   * to central (legacy rows waiting for bootstrap) are dropped, as the triggers used
   * to drop them. Returns how many entries were moved.
   */
  promote(chunk = PROMOTE_CHUNK, maxSteps = Number.MAX_SAFE_INTEGER): number {
    // Nothing captured: no write transaction at all (the usual case between sales).
    if (this.stmt('SELECT 1 FROM tillsync_capture LIMIT 1').get() === undefined) return 0;
    let moved = 0;
    for (let step = 0; step < maxSteps; step++) {
      const n = this.db.transaction(() => this.applyingInline(() => this.promoteInline(chunk))).immediate();
      moved += n.moved;
      if (!n.more) break;
    }
    return moved;
  }

  /**
   * One promotion step inside an open transaction with capture off: up to `limit`
   * entries of the log, in capture order. Returns how many entries it moved into the
   * outbox and whether the log holds more.
   */
  private promoteInline(limit = Number.MAX_SAFE_INTEGER): { moved: number; more: boolean } {
    const read = this.stmt(`SELECT * FROM tillsync_capture WHERE id > ? ORDER BY id LIMIT ?`);
    const page = Math.min(limit, 2000);
    let rows = read.all(0, page) as CaptureRow[];
    if (rows.length === 0) return { moved: 0, more: false };
    const insert = this.stmt(
      `INSERT INTO tillsync_outbox (change_id, table_name, local_id, server_id, operation, new_image, old_image, priority, created_in_mode, tx_group, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const earlier = this.stmt('SELECT server_id FROM tillsync_minted WHERE table_name = ? AND local_id = ?');
    // Central ids given in this step, per table and local id.
    const minted = new Map<string, string>();
    const live = new Map<string, { table: string; localId: number; serverId: string }>();
    let after = 0;
    let done = 0;
    let moved = 0;
    while (rows.length > 0) {
      for (const r of rows) {
        const t = this.tables.get(r.table_name);
        const key = `${r.table_name}\u0000${r.local_id}`;
        let serverId = r.server_id ?? minted.get(key) ?? null;
        if (r.operation === 'CREATE') {
          serverId = r.server_id ?? uuid7();
          minted.set(key, serverId);
          if (!r.server_id) live.set(key, { table: r.table_name, localId: r.local_id, serverId });
        } else {
          // An update that changed the row's key: its id is the one the old key got.
          let from = key;
          let fromLocal = r.local_id;
          if (!serverId && r.operation === 'UPDATE' && r.old_image) {
            const oldKey = Number((JSON.parse(r.old_image) as LocalRow)[LOCAL_KEY]);
            if (Number.isInteger(oldKey) && oldKey !== r.local_id) {
              from = `${r.table_name}\u0000${oldKey}`;
              fromLocal = oldKey;
              serverId = minted.get(from) ?? null;
            }
          }
          // Created in an earlier step of a long log, before its id was stamped.
          const fromEarlier = !serverId;
          if (fromEarlier) serverId = (earlier.get(r.table_name, fromLocal) as { server_id: string } | undefined)?.server_id ?? null;
          if (serverId && from !== key) {
            // The row lives on under its new key: that is where its id is stamped.
            minted.delete(from);
            live.delete(from);
            minted.set(key, serverId);
            live.set(key, { table: r.table_name, localId: r.local_id, serverId });
          }
          if (r.operation === 'DELETE') {
            minted.delete(key);
            live.delete(key);
            if (fromEarlier && serverId) this.stmt('DELETE FROM tillsync_minted WHERE table_name = ? AND local_id = ?').run(r.table_name, r.local_id);
          }
        }
        if (!t || !serverId) continue; // a row that never got a central id: bootstrap queues it whole
        // Only a row that travels with a parent needs its image read (for the parent's id).
        const image = t.entry.group ? (JSON.parse((r.new_image ?? r.old_image) as string) as LocalRow) : {};
        insert.run(uuid7(), r.table_name, r.local_id, serverId, r.operation, r.new_image, r.old_image, r.priority, r.mode, this.groupOf(t.entry, image, serverId, minted), r.captured_at);
        moved++;
      }
      after = (rows[rows.length - 1] as CaptureRow).id;
      done += rows.length;
      rows = done >= limit ? [] : (read.all(after, Math.min(page, limit - done)) as CaptureRow[]);
    }
    this.stmt('DELETE FROM tillsync_capture WHERE id <= ?').run(after);
    const more = this.stmt('SELECT 1 FROM tillsync_capture LIMIT 1').get() !== undefined;
    // A row deleted in a later part of the log is gone already: the row now under its
    // local id is a newer one (SQLite reuses the key of a deleted last row), which gets
    // its own id when its create is moved. Stamping it now would give it the old id.
    const deletedLater = new Set<string>();
    if (more && live.size > 0) {
      for (const d of this.stmt(`SELECT DISTINCT table_name, local_id FROM tillsync_capture WHERE operation = 'DELETE'`).all() as { table_name: string; local_id: number }[]) {
        deletedLater.add(`${d.table_name}\u0000${d.local_id}`);
      }
    }
    const stamps = new Map<string, Database.Statement>();
    for (const [key, { table, localId, serverId }] of live) {
      if (deletedLater.has(key)) continue;
      let stamp = stamps.get(table);
      if (!stamp) {
        stamp = this.stmt(`UPDATE ${q(table)} SET ${q(LOCAL_SERVER_ID)} = ? WHERE ${q(LOCAL_KEY)} = ? AND ${q(LOCAL_SERVER_ID)} IS NULL`);
        stamps.set(table, stamp);
      }
      stamp.run(serverId, localId);
    }
    if (more) {
      // Entries left in the log may belong to rows created in this step (captured before the stamp).
      const keep = this.stmt('INSERT OR REPLACE INTO tillsync_minted (table_name, local_id, server_id) VALUES (?, ?, ?)');
      for (const { table, localId, serverId } of live.values()) keep.run(table, localId, serverId);
    } else {
      this.stmt('DELETE FROM tillsync_minted').run();
    }
    return { moved, more };
  }

  /**
   * The transaction group of a row: its parent's for rows that travel with a parent
   * (an order's items and payments), its own for a parent, none otherwise. `minted`
   * holds central ids given in the same promotion, not yet stamped.
   */
  groupOf(entry: CatalogEntry, row: LocalRow, serverId: string, minted?: ReadonlyMap<string, string>): string | null {
    if (entry.group) {
      const parentId = row[entry.group.via];
      const parent =
        parentId === null || parentId === undefined
          ? null
          : (minted?.get(`${entry.group.parent}\u0000${Number(parentId)}`) ?? this.fk.serverIdOf(entry.group.parent, Number(parentId)));
      return `${entry.group.parent}:${parent ?? `local-${String(parentId)}`}`;
    }
    if (this.parents.has(entry.table)) return `${entry.table}:${serverId}`;
    return null;
  }

  // ------------------------------------------------------------------ outbox -> central

  /**
   * The transaction groups of the next batch: most urgent first (a group counts at its
   * highest priority), then in capture order, whole groups only, up to `limit`
   * changes. Walks the queue index level by level and stops once the batch is full,
   * so its cost follows the batch, not the backlog (a till that was offline for
   * days has a long one).
   */
  private chooseGroups(opts: { limit: number; minPriority: number; now: number; upToId?: number; busy?: InFlight }, paused: string): string[] {
    const upTo = opts.upToId ?? Number.MAX_SAFE_INTEGER;
    const nextLevel = this.stmt(BATCH_SQL.nextLevel);
    const page = this.stmt(BATCH_SQL.levelPage);
    const size = this.stmt(BATCH_SQL.groupSize);
    const chosen: string[] = [];
    // A group at central now is not chosen again (nor counted) until its answer is in.
    const seen = new Set<string>(opts.busy?.groups ?? []);
    let total = 0;
    let below = Number.MAX_SAFE_INTEGER;
    for (;;) {
      const level = (nextLevel.get(opts.minPriority, below) as { p: number | null }).p;
      if (level === null) return chosen;
      below = level;
      let after = 0;
      for (;;) {
        const rows = page.all(opts.now, upTo, paused, level, after) as { id: number; g: string }[];
        if (rows.length === 0) break;
        for (const r of rows) {
          if (seen.has(r.g)) continue;
          seen.add(r.g);
          const n = (size.get(r.g, opts.now, upTo, paused) as { n: number }).n;
          if (total > 0 && total + n > opts.limit) return chosen;
          chosen.push(r.g);
          total += n;
          if (total >= opts.limit) return chosen;
        }
        after = (rows[rows.length - 1] as { id: number }).id;
      }
    }
  }

  /**
   * The next batch: whole transaction groups, highest priority first. Updates of one
   * row not yet sent collapse into one change; a row created and deleted before any
   * push sends nothing. Entries once sent are frozen: a retry sends exactly the same
   * change (same id), so central's idempotency answers it.
   *
   * `busy`: a batch still at central (built while it is on its way). Its groups are not
   * chosen, and a group touching one of its rows waits for a later batch: a change of
   * such a row must be built on the version central's answer will bring.
   */
  nextBatch(opts: {
    limit: number;
    minPriority: number;
    now: number;
    pausedTables: ReadonlySet<string>;
    upToId?: number;
    busy?: InFlight;
  }): OutgoingBatch {
    const paused = JSON.stringify([...opts.pausedTables]);
    // IMMEDIATE: this reads, then writes; a deferred transaction could not upgrade its
    // lock while the POS writes (SQLITE_BUSY_SNAPSHOT) and would fail instead of waiting.
    return this.db.transaction((): OutgoingBatch => {
      this.applyingInline(() => this.promoteInline());
      const chosen = this.chooseGroups(opts, paused);
      if (chosen.length === 0) return { changes: [], cancelled: 0, invalid: 0 };
      let entries = this.stmt(BATCH_SQL.groupEntries).all(JSON.stringify(chosen), paused) as OutboxEntry[];
      let deferred = 0;
      const busyRows = opts.busy?.rows;
      if (busyRows && busyRows.size > 0) {
        const groupOf = (e: OutboxEntry) => groupKey(e.tx_group, e.table_name, e.server_id);
        const waiting = new Set(entries.filter((e) => busyRows.has(rowKey(e.table_name, e.server_id))).map(groupOf));
        if (waiting.size > 0) entries = entries.filter((e) => !waiting.has(groupOf(e)));
        deferred = waiting.size;
      }

      // Per row, in capture order.
      const rows = new Map<string, OutboxEntry[]>();
      for (const e of entries) {
        const key = rowKey(e.table_name, e.server_id);
        const list = rows.get(key) ?? [];
        list.push(e);
        rows.set(key, list);
      }
      interface Candidate {
        readonly t: { entry: CatalogEntry; columns: Set<string> };
        readonly members: OutboxEntry[];
        readonly group: string;
        readonly wire: WireRow | null;
        readonly operation: 'CREATE' | 'UPDATE' | 'DELETE';
        readonly key: string;
      }
      const candidates: Candidate[] = [];
      const badGroups = new Map<string, string>();
      let cancelled = 0;
      // What the batch's rows need from other entries and from the row states, read once for the batch.
      const rowKeys = JSON.stringify([...rows.values()].map((list) => [(list[0] as OutboxEntry).table_name, (list[0] as OutboxEntry).server_id]));
      /** Per row, its oldest earlier attempt still pending: it goes first, alone and unchanged. */
      const earliest = new Map<string, { sent_as: string; next_attempt_at: number | null }>();
      for (const r of this.stmt(
        BATCH_SQL.earlierAttempts,
      ).all(rowKeys) as { table_name: string; server_id: string; sent_as: string; next_attempt_at: number | null }[]) {
        earliest.set(rowKey(r.table_name, r.server_id), r); // descending: the oldest is set last
      }
      const states = new Map<string, { version: number; base: string | null }>();
      for (const r of this.stmt(
        `SELECT s.table_name, s.server_id, s.version, s.base FROM json_each(?) AS k
         CROSS JOIN tillsync_row_state AS s WHERE s.table_name = k.value ->> 0 AND s.server_id = k.value ->> 1`,
      ).all(rowKeys) as { table_name: string; server_id: string; version: number; base: string | null }[]) {
        states.set(rowKey(r.table_name, r.server_id), r);
      }
      for (const [key, list] of rows) {
        const head = list[0] as OutboxEntry;
        const t = this.tables.get(head.table_name);
        if (!t) continue;
        const earlier = earliest.get(key);
        let members: OutboxEntry[];
        if (earlier) {
          if (earlier.next_attempt_at !== null && earlier.next_attempt_at > opts.now) continue;
          members = list.filter((e) => e.sent_as === earlier.sent_as);
          if (members.length === 0) continue;
        } else {
          members = list.filter((e) => e.sent_as === null);
        }
        const first = members[0] as OutboxEntry;
        const last = members[members.length - 1] as OutboxEntry;
        const group = groupKey(first.tx_group, head.table_name, head.server_id);
        if (!first.sent_as && first.operation === 'CREATE' && last.operation === 'DELETE') {
          this.settle(
            members.map((m) => m.id),
            'synced',
            'cancelled: created and deleted before it was pushed',
          );
          cancelled += members.length;
          continue;
        }
        const operation = first.operation === 'CREATE' ? 'CREATE' : last.operation === 'DELETE' ? 'DELETE' : 'UPDATE';
        const image = last.new_image ? (JSON.parse(last.new_image) as LocalRow) : null;
        let wire: WireRow | null = null;
        if (image) {
          const mapped = localToWire(t.entry, head.server_id, image, this.fk);
          if (mapped.unlinked.length > 0) {
            badGroups.set(group, `UNLINKED: ${t.entry.entityType} ${head.server_id}: ${mapped.unlinked.join(', ')} point at rows without a central id; run bootstrap`);
            continue;
          }
          const valid = t.entry.rowSchema.safeParse(mapped.row);
          if (!valid.success) {
            const issue = valid.error.issues[0];
            badGroups.set(group, `INVALID_DATA: ${t.entry.entityType} ${head.server_id}.${issue?.path.join('.')}: ${issue?.message}`);
            continue;
          }
          wire = valid.data;
        }
        candidates.push({ t, members, group, wire, operation, key });
      }

      // A transaction group travels whole or not at all: one bad row holds back its order.
      let invalid = 0;
      for (const [group, why] of badGroups) {
        const held = this.stmt(
          `UPDATE tillsync_outbox SET status = 'failed', last_error = ?, attempts = attempts + 1
           WHERE status = 'pending' AND ${GROUP_KEY} = ?`,
        ).run(why, group);
        invalid += held.changes;
      }
      const out: OutgoingChange[] = [];
      /** [entry id, sent as, base version, clock]: written in one statement below. */
      const sent: [number, string, number, string][] = [];
      for (const { t, members, group, wire, operation, key } of candidates) {
        if (badGroups.has(group)) continue;
        const first = members[0] as OutboxEntry;
        const ids = members.map((m) => m.id);
        const state = states.get(key);
        const changeId = first.sent_as ?? first.change_id;
        const hlc = first.hlc ?? this.tick({ persist: false });
        const baseVersion = first.sent_as ? (first.base_version ?? 0) : (state?.version ?? 0);
        const base = state?.base
          ? (JSON.parse(state.base) as WireRow)
          : first.old_image
            ? localToWire(t.entry, first.server_id, JSON.parse(first.old_image) as LocalRow, this.fk).row
            : null;
        for (const id of ids) sent.push([id, changeId, baseVersion, hlc]);
        out.push({
          entry: t.entry,
          entryIds: ids,
          wire,
          change: {
            changeId,
            entityType: t.entry.entityType,
            entityId: first.server_id,
            operation,
            ...(wire && operation !== 'DELETE' ? { data: wire } : {}),
            ...(base ? { baseData: base } : {}),
            syncVersion: baseVersion,
            hlc,
            priority: Math.min(10, Math.max(...members.map((m) => m.priority))),
            createdInMode: first.created_in_mode,
            ...(first.tx_group ? { transactionGroup: first.tx_group } : {}),
          },
        });
      }
      if (sent.length > 0) {
        this.stmt(
          `UPDATE tillsync_outbox AS o SET sent_as = u.value ->> 1, base_version = u.value ->> 2, hlc = u.value ->> 3, attempts = o.attempts + 1
           FROM json_each(?) AS u WHERE o.id = u.value ->> 0`,
        ).run(JSON.stringify(sent));
      }
      this.saveClock();
      // Parents before children (an order before its items), then capture order.
      const order = new Map(CATALOG.map((e, i) => [e.table, i]));
      out.sort((a, b) => (order.get(a.entry.table) ?? 0) - (order.get(b.entry.table) ?? 0) || (a.entryIds[0] ?? 0) - (b.entryIds[0] ?? 0));
      return { changes: out, cancelled, invalid, deferred };
    }).immediate();
  }

  private settle(ids: number[], status: EntryStatus, note: string | null): void {
    this.stmt(`UPDATE tillsync_outbox SET status = ?, last_error = ?, synced_at = ?, next_attempt_at = NULL WHERE id IN (SELECT value FROM json_each(?))`).run(
      status,
      note,
      status === 'synced' ? nowIso() : null,
      JSON.stringify(ids),
    );
  }

  private fail(ids: number[], error: string): void {
    this.stmt(`UPDATE tillsync_outbox SET status = 'failed', last_error = ?, attempts = attempts + 1 WHERE id IN (SELECT value FROM json_each(?))`).run(
      error,
      JSON.stringify(ids),
    );
  }

  /**
   * Records central's answers in one transaction: versions and bases for accepted
   * changes, central's row where central won, parked conflicts, refusals.
   */
  recordPush(
    batch: OutgoingBatch,
    response: PushResponse,
    maxDriftMs: number,
    retry: { maxRetries: number; retryDelayMs: number; now: number } = { maxRetries: 3, retryDelayMs: 1000, now: Date.now() },
  ): { synced: number; conflicts: number; failed: number; paused: string[] } {
    const byId = new Map(response.results.map((r) => [r.changeId, r]));
    let synced = 0;
    let conflicts = 0;
    let failed = 0;
    const paused = new Set<string>();
    this.applying(() => {
      // Accepted changes are settled together after the loop, a statement each, not per row.
      const settled: [number, number, string | null][] = [];
      const states: [string, string, number, WireRow | null][] = [];
      const forgotten: [string, string][] = [];
      /** Entries refused MISSING_PARENT: backed off together below. */
      const waitingForParent: number[] = [];
      let lastWhy = '';
      const settledRows: [string, string, number][] = [];
      for (const out of batch.changes) {
        const raw = byId.get(out.change.changeId as string);
        if (!raw) continue;
        const r: PushResult = raw.status === 'duplicate' && raw.originalStatus ? { ...raw, status: raw.originalStatus } : raw;
        const table = out.entry.table;
        const serverId = out.change.entityId;
        if (r.status === 'rejected') {
          if (r.error?.code === 'SCHEMA_MISMATCH') {
            paused.add(table);
            this.pauseTable(table, r.error.message);
            // Not the change's fault: it waits, unchanged, until the table syncs again.
            this.stmt(`UPDATE tillsync_outbox SET attempts = max(0, attempts - 1) WHERE id IN (SELECT value FROM json_each(?))`).run(JSON.stringify(out.entryIds));
            continue;
          }
          const why = `${r.error?.code ?? 'REJECTED'}: ${r.error?.message ?? 'refused by central'}`;
          if (r.error?.code === 'MISSING_PARENT') {
            // Its parent is on its way (behind in the queue, or in a batch that failed):
            // the change waits and goes again, as after a failed push, not failed for good.
            waitingForParent.push(...out.entryIds);
            lastWhy = why;
            continue;
          }
          this.fail(out.entryIds, why);
          failed += out.entryIds.length;
          continue;
        }
        if (r.status === 'conflict' && r.resolution === 'PARKED') {
          this.stmt(`UPDATE tillsync_outbox SET status = 'conflict', conflict_id = ?, last_error = ? WHERE id IN (SELECT value FROM json_each(?))`).run(
            r.conflictId ?? null,
            'parked at central for a supervisor (MANUAL_MERGE)',
            JSON.stringify(out.entryIds),
          );
          this.stmt(`DELETE FROM tillsync_conflicts WHERE table_name = ? AND server_id = ? AND id LIKE 'local-%'`).run(table, serverId);
          this.recordConflict(out.entry, serverId, {
            id: r.conflictId,
            status: 'open',
            base: (out.change.baseData as WireRow | undefined) ?? null,
            terminal: out.wire,
            central: null,
            centralVersion: r.version,
            resolution: null,
          });
          conflicts += out.entryIds.length;
          continue;
        }
        // Accepted. Where central's row won or was merged, take it.
        const version = r.version ?? 0;
        let base: WireRow | null = out.wire;
        if (r.status === 'conflict' && r.data && (r.resolution === 'CENTRAL_WINS' || r.resolution === 'MERGED')) {
          const data = r.data as WireRow & { _deleted?: boolean };
          const { _deleted, ...row } = data;
          if (_deleted) this.deleteLocal(out.entry, serverId);
          else this.takeCentral(out, row);
          base = row;
          this.recordConflict(out.entry, serverId, {
            id: r.conflictId,
            status: 'resolved',
            base: (out.change.baseData as WireRow | undefined) ?? null,
            terminal: out.wire,
            central: row,
            centralVersion: version,
            resolution: r.resolution ?? null,
          });
          conflicts += out.entryIds.length;
        }
        const note = r.status === 'conflict' ? `conflict: ${r.resolution}` : null;
        for (const id of out.entryIds) settled.push([id, version, note]);
        settledRows.push([table, serverId, Math.min(...out.entryIds)]);
        if (out.change.operation === 'DELETE' && r.status !== 'conflict') forgotten.push([table, serverId]);
        else if (version > 0) states.push([table, serverId, version, base]);
        synced += out.entryIds.length;
        this.observe(out.change.hlc, maxDriftMs, { persist: false });
      }
      const now = nowIso();
      if (settled.length > 0) {
        this.stmt(
          `UPDATE tillsync_outbox AS o SET status = 'synced', result_version = u.value ->> 1, synced_at = ?, last_error = u.value ->> 2, next_attempt_at = NULL
           FROM json_each(?) AS u WHERE o.id = u.value ->> 0`,
        ).run(now, JSON.stringify(settled));
      }
      // An older failed change of a row is superseded by the newer one just accepted (only if anything failed at all).
      if (settledRows.length > 0 && this.stmt(`SELECT 1 FROM tillsync_outbox WHERE status = 'failed' LIMIT 1`).get() !== undefined) {
        const supersede = this.stmt(
          `UPDATE tillsync_outbox SET status = 'synced', last_error = 'superseded by a later change', synced_at = ? WHERE table_name = ? AND server_id = ? AND status = 'failed' AND id < ?`,
        );
        for (const [table, serverId, first] of settledRows) supersede.run(now, table, serverId, first);
      }
      if (waitingForParent.length > 0 && this.backOff(waitingForParent, lastWhy, retry)) failed += waitingForParent.length;
      this.setRowStates(states);
      for (const [table, serverId] of forgotten) this.forgetRow(table, serverId);
      this.saveClock();
      for (const t of new Set(batch.changes.map((c) => c.entry.table))) {
        if (!paused.has(t)) this.stmt(`INSERT INTO tillsync_cursors (table_name, last_push_at) VALUES (?, ?) ON CONFLICT (table_name) DO UPDATE SET last_push_at = excluded.last_push_at`).run(t, nowIso());
      }
    });
    return { synced, conflicts, failed, paused: [...paused] };
  }

  /**
   * Writes central's row for a change we sent, with what the POS wrote since we sent
   * it put back on top (counters as deltas, other fields where the POS changed them).
   * The newer, unsent entries are rewritten to that row, so they carry the POS's edits
   * on top of central's and nothing is lost on either side.
   */
  private takeCentral(out: OutgoingChange, central: WireRow): void {
    const newer = this.stmt(
      `SELECT id FROM tillsync_outbox WHERE table_name = ? AND server_id = ? AND status = 'pending' AND sent_as IS NULL`,
    ).all(out.entry.table, out.change.entityId) as { id: number }[];
    const ours = newer.length > 0 ? this.localWire(out.entry, out.change.entityId) : null;
    if (!ours) {
      this.writeLocal(out.entry, out.change.entityId, central);
      return;
    }
    const rebased = mergeRows(
      conflictInput(out.entry, { base: out.wire ?? central, terminal: ours, central, terminalHlc: this.tick(), centralHlc: null }),
    );
    const localId = this.writeLocal(out.entry, out.change.entityId, rebased);
    const row = this.stmt(`SELECT * FROM ${q(out.entry.table)} WHERE ${q(LOCAL_KEY)} = ?`).get(localId) as LocalRow;
    const image = JSON.stringify(pickImage(out.entry, row, this.tables.get(out.entry.table)?.columns));
    this.stmt(`UPDATE tillsync_outbox SET new_image = ? WHERE id IN (SELECT value FROM json_each(?))`).run(image, JSON.stringify(newer.map((n) => n.id)));
  }

  /** Keeps a conflict for the supervisor's inbox and the record; a parked one is updated in place. */
  private recordConflict(
    entry: CatalogEntry,
    serverId: string,
    c: {
      id: string | undefined;
      status: 'open' | 'resolved';
      base: WireRow | null;
      terminal: WireRow | null;
      central: WireRow | null;
      centralVersion: number | null;
      resolution: string | null;
    },
  ): void {
    const json = (v: WireRow | null) => (v ? JSON.stringify(v) : null);
    this.stmt(
      `INSERT INTO tillsync_conflicts (id, table_name, entity_type, server_id, strategy, status, base, terminal, central, central_version, resolution, resolved_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET terminal = excluded.terminal, central_version = coalesce(excluded.central_version, central_version)`,
    ).run(
      c.id ?? `local-${randomUUID()}`,
      entry.table,
      entry.entityType,
      serverId,
      entry.conflictStrategy,
      c.status,
      json(c.base),
      json(c.terminal),
      json(c.central),
      c.centralVersion,
      c.resolution,
      c.status === 'resolved' ? nowIso() : null,
    );
  }

  /** The batch did not get an answer: back off, and after maxRetries mark its entries failed. */
  recordPushFailure(batch: OutgoingBatch, error: string, opts: { maxRetries: number; retryDelayMs: number; now: number }): number {
    const ids = batch.changes.flatMap((c) => c.entryIds);
    let failed = 0;
    this.db.transaction(() => {
      if (this.backOff(ids, error, opts)) failed = ids.length;
    }).immediate();
    return failed;
  }

  /**
   * Entries that did not get through wait and go again (exponential backoff with
   * jitter), or are failed once they used up their attempts (true). In the caller's
   * transaction. They are judged together, by the most attempts among them, so a
   * batch's transaction groups (an order, its items and payments) come due, or fail,
   * together, and travel together again (DESIGN invariant 8).
   */
  private backOff(entryIds: readonly number[], error: string, opts: { maxRetries: number; retryDelayMs: number; now: number }): boolean {
    const ids = JSON.stringify(entryIds);
    const r = this.stmt(`SELECT max(attempts) AS a FROM tillsync_outbox WHERE id IN (SELECT value FROM json_each(?))`).get(ids) as { a: number };
    if (r.a >= opts.maxRetries) {
      this.stmt(`UPDATE tillsync_outbox SET status = 'failed', last_error = ?, next_attempt_at = NULL WHERE id IN (SELECT value FROM json_each(?))`).run(error, ids);
      return true;
    }
    const delay = retryPause(r.a, opts.retryDelayMs, Number.MAX_SAFE_INTEGER, Math.random());
    this.stmt(`UPDATE tillsync_outbox SET last_error = ?, next_attempt_at = ? WHERE id IN (SELECT value FROM json_each(?))`).run(error, opts.now + delay, ids);
    return false;
  }

  /**
   * A batch built (its entries stamped, an attempt counted) but never sent, because the
   * push before it failed or the engine stopped: the attempt is taken back. The stamps
   * stay, so the entries go as built whenever they go.
   */
  unsent(batch: OutgoingBatch): void {
    const ids = batch.changes.flatMap((c) => c.entryIds);
    if (ids.length === 0) return;
    this.stmt(`UPDATE tillsync_outbox SET attempts = max(0, attempts - 1) WHERE id IN (SELECT value FROM json_each(?))`).run(JSON.stringify(ids));
  }

  /** Failed entries go back to the queue (the retry timer, or "Retry failed"). */
  retryFailed(): number {
    return this.stmt(`UPDATE tillsync_outbox SET status = 'pending', attempts = 0, next_attempt_at = NULL WHERE status = 'failed'`).run().changes;
  }

  /** Drops synced entries older than the retention period. */
  purgeSynced(olderThanMs: number): number {
    const cutoff = new Date(Date.now() - olderThanMs).toISOString();
    return this.stmt(`DELETE FROM tillsync_outbox WHERE status = 'synced' AND coalesce(synced_at, created_at) < ?`).run(cutoff).changes;
  }

  /** Per table: when it last pushed and pulled, and why it is paused (null: not paused). */
  tableStamps(): Map<string, { lastPushAt: string | null; lastPullAt: string | null; paused: string | null }> {
    const rows = this.stmt('SELECT table_name, last_push_at, last_pull_at, paused_reason FROM tillsync_cursors').all() as {
      table_name: string;
      last_push_at: string | null;
      last_pull_at: string | null;
      paused_reason: string | null;
    }[];
    return new Map(rows.map((r) => [r.table_name, { lastPushAt: r.last_push_at, lastPullAt: r.last_pull_at, paused: r.paused_reason }]));
  }

  /** Outbox counts per entity type (the heartbeat's and the UI's numbers). */
  counts(): Record<string, TableCounts> {
    const rows = this.stmt(`SELECT table_name, status, count(*) AS n FROM tillsync_outbox GROUP BY table_name, status`).all() as {
      table_name: string;
      status: EntryStatus;
      n: number;
    }[];
    // Writes captured but not yet moved into the outbox are pending too.
    rows.push(
      ...(this.stmt(`SELECT table_name, 'pending' AS status, count(*) AS n FROM tillsync_capture GROUP BY table_name`).all() as typeof rows),
    );
    const out: Record<string, TableCounts> = {};
    for (const { entry } of this.tables.values()) out[entry.entityType] = { pending: 0, failed: 0, synced: 0, conflicts: 0 };
    for (const r of rows) {
      const e = entryForTable(r.table_name);
      if (!e) continue;
      const c = (out[e.entityType] ??= { pending: 0, failed: 0, synced: 0, conflicts: 0 });
      if (r.status === 'pending') c.pending += r.n;
      else if (r.status === 'failed') c.failed += r.n;
      else if (r.status === 'synced') c.synced += r.n;
      else c.conflicts += r.n;
    }
    return out;
  }

  /** The newest outbox entry's id (a push pass drains up to it, not an endless stream). */
  lastEntryId(): number {
    return (this.stmt('SELECT coalesce(max(id), 0) AS id FROM tillsync_outbox').get() as { id: number }).id;
  }

  /** Whether anything is ready to push at or above a priority. */
  hasPending(minPriority: number, now: number): boolean {
    return (
      this.stmt(`SELECT 1 FROM tillsync_capture WHERE priority >= ? LIMIT 1`).get(minPriority) !== undefined ||
      this.stmt(`SELECT 1 FROM tillsync_outbox WHERE status = 'pending' AND priority >= ? AND (next_attempt_at IS NULL OR next_attempt_at <= ?) LIMIT 1`).get(
        minPriority,
        now,
      ) !== undefined
    );
  }

  /** When the earliest pending entry waiting out a backoff may go (ms), or null if none waits. */
  nextAttemptAt(now: number): number | null {
    const r = this.stmt(`SELECT min(next_attempt_at) AS t FROM tillsync_outbox WHERE status = 'pending' AND next_attempt_at > ?`).get(now) as { t: number | null };
    return r.t;
  }

  /** When the oldest change still waiting to reach central was captured (ISO), or null when nothing waits. */
  oldestPendingAt(): string | null {
    const r = this.stmt(
      // The oldest by id in each (ids follow capture order): index look-ups, not a scan of a long backlog's rows.
      `SELECT min(t) AS t FROM (
         SELECT captured_at AS t FROM tillsync_capture WHERE id = (SELECT min(id) FROM tillsync_capture)
         UNION ALL SELECT created_at FROM tillsync_outbox WHERE id = (SELECT min(id) FROM tillsync_outbox WHERE status = 'pending'))`,
    ).get() as { t: string | null };
    return r.t;
  }

  // ------------------------------------------------------------------ central -> terminal

  cursor(table: string): string | undefined {
    const r = this.stmt('SELECT cursor FROM tillsync_cursors WHERE table_name = ?').get(table) as { cursor: string | null } | undefined;
    return r?.cursor ?? undefined;
  }

  pausedTables(): Map<string, string> {
    const rows = this.stmt('SELECT table_name, paused_reason FROM tillsync_cursors WHERE paused_reason IS NOT NULL').all() as { table_name: string; paused_reason: string }[];
    return new Map(rows.map((r) => [r.table_name, r.paused_reason]));
  }

  pauseTable(table: string, reason: string): void {
    this.stmt(`INSERT INTO tillsync_cursors (table_name, paused_reason) VALUES (?, ?) ON CONFLICT (table_name) DO UPDATE SET paused_reason = excluded.paused_reason`).run(table, reason);
  }

  unpauseTable(table: string): void {
    this.stmt('UPDATE tillsync_cursors SET paused_reason = NULL WHERE table_name = ?').run(table);
  }

  /** Forgets a table's cursor: its next pull starts from the beginning. */
  resetCursor(table: string): void {
    this.stmt('UPDATE tillsync_cursors SET cursor = NULL WHERE table_name = ?').run(table);
  }

  /** Whether any row of the table is linked to a central row (has its central id). */
  holdsSyncedRows(table: string): boolean {
    if (!this.tables.has(table)) return false;
    return this.stmt(`SELECT 1 FROM ${q(table)} WHERE ${q(LOCAL_SERVER_ID)} IS NOT NULL LIMIT 1`).get() !== undefined;
  }

  rowState(table: string, serverId: string): { version: number; base: string | null } | undefined {
    return this.stmt('SELECT version, base FROM tillsync_row_state WHERE table_name = ? AND server_id = ?').get(table, serverId) as
      | { version: number; base: string | null }
      | undefined;
  }

  private setRowState(table: string, serverId: string, version: number, base: WireRow | null): void {
    this.setRowStates([[table, serverId, version, base]]);
  }

  /**
   * Versions and bases of many rows: [table, server id, version, base], through one
   * prepared upsert run per row (cheaper than one statement over the rows as JSON,
   * which SQLite takes apart and writes back per row).
   */
  private setRowStates(rows: readonly (readonly [string, string, number, WireRow | null])[]): void {
    if (rows.length === 0) return;
    const upsert = this.stmt(
      `INSERT INTO tillsync_row_state (table_name, server_id, version, base) VALUES (?, ?, ?, ?)
       ON CONFLICT (table_name, server_id) DO UPDATE SET version = excluded.version, base = excluded.base`,
    );
    for (const [table, serverId, version, base] of rows) upsert.run(table, serverId, version, base === null ? null : JSON.stringify(base));
  }

  private forgetRow(table: string, serverId: string): void {
    this.stmt('DELETE FROM tillsync_row_state WHERE table_name = ? AND server_id = ?').run(table, serverId);
  }

  /** Writes central's image of a row locally (capture must be off: inside `applying`). */
  private writeLocal(entry: CatalogEntry, serverId: string, wire: WireRow, page?: PageLookups): number {
    const t = this.tables.get(entry.table);
    if (!t) return 0;
    const { row, missing } = wireToLocal(entry, wire, page?.fk ?? this.fk, t.columns);
    const existing = page ? (page.localIds.get(serverId) ?? null) : this.fk.localIdOf(entry.table, serverId);
    if (page && existing === null && missing.size === 0 && page.fresh.add(serverId, row)) return 0;
    const cols = Object.keys(row);
    let localId: number;
    if (existing !== null) {
      if (cols.length > 0) {
        this.stmt(`UPDATE ${q(entry.table)} SET ${cols.map((c) => `${q(c)} = ?`).join(', ')} WHERE ${q(LOCAL_KEY)} = ?`).run(...cols.map((c) => row[c] ?? null), existing);
      }
      localId = existing;
    } else {
      const all = [LOCAL_SERVER_ID, ...cols];
      const r = this.stmt(`INSERT INTO ${q(entry.table)} (${all.map(q).join(', ')}) VALUES (${all.map(() => '?').join(', ')})`).run(serverId, ...cols.map((c) => row[c] ?? null));
      localId = Number(r.lastInsertRowid);
      page?.localIds.set(serverId, localId);
    }
    if (!page || page.unresolved) this.stmt('DELETE FROM tillsync_unresolved WHERE table_name = ? AND local_id = ?').run(entry.table, localId);
    for (const [column, target] of missing) {
      this.stmt(`INSERT OR REPLACE INTO tillsync_unresolved (table_name, local_id, "column", target_table, target_server_id) VALUES (?, ?, ?, ?, ?)`).run(
        entry.table,
        localId,
        column,
        target.table,
        target.serverId,
      );
    }
    return localId;
  }

  private deleteLocal(entry: CatalogEntry, serverId: string): void {
    if (!this.tables.has(entry.table)) return;
    this.stmt(`DELETE FROM ${q(entry.table)} WHERE ${q(LOCAL_SERVER_ID)} = ?`).run(serverId);
  }

  /** The local row as a wire image (for conflicts), or null if it is gone. */
  private localWire(entry: CatalogEntry, serverId: string): WireRow | null {
    const row = this.stmt(`SELECT * FROM ${q(entry.table)} WHERE ${q(LOCAL_SERVER_ID)} = ?`).get(serverId) as LocalRow | undefined;
    return row ? localToWire(entry, serverId, row, this.fk).row : null;
  }

  /**
   * Applies one pulled page and moves the table's cursor, in one transaction with
   * capture off. A row with changes not yet at central is never overwritten
   * silently: the table's conflict strategy decides.
   */
  applyPage(entry: CatalogEntry, changes: readonly PulledChange[], cursor: string, maxDriftMs: number): PageResult {
    let applied = 0;
    let skipped = 0;
    let conflicts = 0;
    this.applying(() => {
      // What this terminal knows of the page's rows, read once for the page (a row
      // appears at most once in a page): the versions it has, and its own changes.
      const ids = JSON.stringify(changes.map((c) => c.entityId));
      const states = new Map(
        (
          this.stmt(`SELECT server_id, version, base FROM tillsync_row_state WHERE table_name = ? AND server_id IN (SELECT value FROM json_each(?))`).all(entry.table, ids) as {
            server_id: string;
            version: number;
            base: string | null;
          }[]
        ).map((r) => [r.server_id, { version: r.version, base: r.base }]),
      );
      /** Rows with changes of ours not at central yet; `parked`: one waits for a supervisor. */
      const held = new Set<string>();
      const parked = new Set<string>();
      for (const r of this.stmt(
        `SELECT server_id, status FROM tillsync_outbox WHERE table_name = ? AND server_id IN (SELECT value FROM json_each(?)) AND status IN ('pending', 'failed', 'conflict')`,
      ).all(entry.table, ids) as { server_id: string; status: string }[]) {
        held.add(r.server_id);
        if (r.status === 'conflict') parked.add(r.server_id);
      }
      const lookups = this.pageLookups(entry, ids);
      /** The versions now held, written in one statement after the loop. */
      const seen: [string, string, number, WireRow][] = [];
      for (const c of changes) {
        this.observe(c.hlc, maxDriftMs, { persist: false });
        const state = states.get(c.entityId);
        if (state && state.version >= c.version) {
          skipped++;
          continue; // already have it (our own push, or a page seen before a crash)
        }
        if (parked.has(c.entityId)) {
          // Waits for the supervisor; keep central's latest image beside it.
          this.stmt(`UPDATE tillsync_conflicts SET central = ?, central_version = ? WHERE table_name = ? AND server_id = ? AND status = 'open'`).run(
            JSON.stringify(c.data),
            c.version,
            entry.table,
            c.entityId,
          );
          skipped++;
          continue;
        }
        if (!held.has(c.entityId)) {
          if (c.deleted) {
            this.deleteLocal(entry, c.entityId);
            this.forgetRow(entry.table, c.entityId);
          } else {
            this.writeLocal(entry, c.entityId, c.data as WireRow, lookups);
            seen.push([entry.table, c.entityId, c.version, c.data as WireRow]);
          }
          applied++;
          continue;
        }
        const pending = this.stmt(
          `SELECT id, hlc, created_at FROM tillsync_outbox WHERE table_name = ? AND server_id = ? AND status IN ('pending', 'failed') ORDER BY id`,
        ).all(entry.table, c.entityId) as { id: number; hlc: string | null; created_at: string }[];
        conflicts++;
        this.pullConflict(entry, c, state, pending);
      }
      lookups.fresh.insert(entry.table, (sql) => this.stmt(sql));
      this.setRowStates(seen);
      this.stmt(
        `INSERT INTO tillsync_cursors (table_name, cursor, last_pull_at) VALUES (?, ?, ?)
         ON CONFLICT (table_name) DO UPDATE SET cursor = excluded.cursor, last_pull_at = excluded.last_pull_at`,
      ).run(entry.table, cursor, nowIso());
      this.fixUnresolved();
      this.saveClock();
    });
    return { applied, skipped, conflicts };
  }

  private pullConflict(
    entry: CatalogEntry,
    c: PulledChange,
    state: { version: number; base: string | null } | undefined,
    pending: { id: number; hlc: string | null; created_at: string }[],
  ): void {
    const local = this.localWire(entry, c.entityId);
    const central = c.data as WireRow;
    const lastLocal = pending[pending.length - 1] as { hlc: string | null; created_at: string };
    const terminalHlc = lastLocal.hlc ?? formatHlc({ physical: Date.parse(lastLocal.created_at), counter: 0, node: this.node });
    const base = state?.base ? (JSON.parse(state.base) as WireRow) : null;
    const ids = JSON.stringify(pending.map((p) => p.id));
    const outcome = decideConflict(conflictInput(entry, { base, terminal: local ?? {}, central, terminalHlc, centralHlc: c.hlc }));
    const supersede = (why: string) =>
      this.stmt(`UPDATE tillsync_outbox SET status = 'synced', last_error = ?, synced_at = ? WHERE id IN (SELECT value FROM json_each(?))`).run(why, nowIso(), ids);
    const record = (resolution: string | null, status: 'open' | 'resolved') =>
      this.recordConflict(entry, c.entityId, { id: undefined, status, base, terminal: local, central, centralVersion: c.version, resolution });
    switch (outcome.kind) {
      case 'TERMINAL_WINS':
        // Keep ours; our pending change now builds on central's version and goes through.
        this.setRowState(entry.table, c.entityId, c.version, central);
        this.stmt(`UPDATE tillsync_outbox SET base_version = ? WHERE id IN (SELECT value FROM json_each(?)) AND sent_as IS NOT NULL`).run(c.version, ids);
        record('TERMINAL_WINS', 'resolved');
        return;
      case 'CENTRAL_WINS':
        if (c.deleted) {
          this.deleteLocal(entry, c.entityId);
          this.forgetRow(entry.table, c.entityId);
        } else {
          this.writeLocal(entry, c.entityId, central);
          this.setRowState(entry.table, c.entityId, c.version, central);
        }
        supersede('superseded: central won the conflict');
        record('CENTRAL_WINS', 'resolved');
        return;
      case 'MERGED': {
        const localId = this.writeLocal(entry, c.entityId, outcome.row);
        this.setRowState(entry.table, c.entityId, c.version, central);
        supersede('superseded: merged with central');
        // The merged row still has to reach central, on top of central's version.
        const t = this.tables.get(entry.table);
        const row = this.stmt(`SELECT * FROM ${q(entry.table)} WHERE ${q(LOCAL_KEY)} = ?`).get(localId) as LocalRow;
        this.stmt(
          `INSERT INTO tillsync_outbox (change_id, table_name, local_id, server_id, operation, new_image, priority, created_in_mode)
           VALUES (?, ?, ?, ?, 'UPDATE', ?, ?, (SELECT mode FROM tillsync_control WHERE id = 1))`,
        ).run(randomUUID(), entry.table, localId, c.entityId, JSON.stringify(pickImage(entry, row, t?.columns)), priorityOf(entry.priority, row));
        record('MERGED', 'resolved');
        return;
      }
      case 'PARKED':
        // Nothing applied; our pending change goes up and central parks it for a supervisor.
        record(null, 'open');
        return;
    }
  }

  /**
   * What writing a page's rows needs to know, read once for the page: the local ids of
   * its rows (a row appears at most once in a page), whether any row of the table waits
   * for a foreign key target (else there is nothing to clear per row), and the local
   * ids of other tables' rows it points at, remembered once found.
   */
  private pageLookups(entry: CatalogEntry, idsJson: string): PageLookups {
    const localIds = new Map<string, number>();
    if (this.tables.has(entry.table)) {
      const rows = this.stmt(
        `SELECT ${q(LOCAL_SERVER_ID)} AS s, ${q(LOCAL_KEY)} AS id FROM ${q(entry.table)} WHERE ${q(LOCAL_SERVER_ID)} IN (SELECT value FROM json_each(?))`,
      ).all(idsJson) as { s: string; id: number }[];
      for (const r of rows) localIds.set(r.s, r.id);
    }
    const unresolved = this.stmt('SELECT 1 FROM tillsync_unresolved WHERE table_name = ? LIMIT 1').get(entry.table) !== undefined;
    const found = new Map<string, number>();
    const fk: ForeignKeys = {
      serverIdOf: this.fk.serverIdOf,
      localIdOf: (table, serverId) => {
        // The page's own table changes as the page is written (a row may point at one written before it).
        if (table === entry.table) return this.fk.localIdOf(table, serverId);
        const key = rowKey(table, serverId);
        const known = found.get(key);
        if (known !== undefined) return known;
        const id = this.fk.localIdOf(table, serverId);
        if (id !== null) found.set(key, id);
        return id;
      },
    };
    return { localIds, unresolved, fk, fresh: new FreshRows() };
  }

  /** Foreign keys pulled before their target arrived point at it once it has. */
  private fixUnresolved(): void {
    const rows = this.stmt('SELECT table_name, local_id, "column", target_table, target_server_id FROM tillsync_unresolved').all() as {
      table_name: string;
      local_id: number;
      column: string;
      target_table: string;
      target_server_id: string;
    }[];
    for (const r of rows) {
      const target = this.fk.localIdOf(r.target_table, r.target_server_id);
      if (target === null) continue;
      this.stmt(`UPDATE ${q(r.table_name)} SET ${q(r.column)} = ? WHERE ${q(LOCAL_KEY)} = ?`).run(target, r.local_id);
      this.stmt('DELETE FROM tillsync_unresolved WHERE table_name = ? AND local_id = ? AND "column" = ?').run(r.table_name, r.local_id, r.column);
    }
  }

  // ------------------------------------------------------------------ conflicts

  openConflicts(): LocalConflict[] {
    return (this.stmt(`SELECT * FROM tillsync_conflicts WHERE status = 'open' ORDER BY created_at`).all() as ConflictRow[]).map(toLocalConflict);
  }

  allConflicts(limit = 200): LocalConflict[] {
    return (this.stmt(`SELECT * FROM tillsync_conflicts ORDER BY created_at DESC LIMIT ?`).all(limit) as ConflictRow[]).map(toLocalConflict);
  }

  /**
   * A conflict central has resolved: the resolution is the row's truth. Every change
   * of this row the till still holds (parked, or made while it was parked) is
   * superseded by it, so no stale edit undoes the supervisor's decision.
   */
  applyResolution(entity: { table: string; serverId: string }, data: WireRow, version: number, deleted: boolean, resolution: string): void {
    const entry = this.tables.get(entity.table)?.entry;
    if (!entry) return;
    this.applying(() => {
      const state = this.rowState(entity.table, entity.serverId);
      // Central may have moved on after the resolution and we may have pulled that already.
      const newer = state && state.version > version && state.base ? (JSON.parse(state.base) as WireRow) : null;
      if (newer) this.writeLocal(entry, entity.serverId, newer);
      else if (deleted) {
        this.deleteLocal(entry, entity.serverId);
        this.forgetRow(entity.table, entity.serverId);
      } else {
        this.writeLocal(entry, entity.serverId, data);
        this.setRowState(entity.table, entity.serverId, version, data);
      }
      this.stmt(
        `UPDATE tillsync_outbox SET status = 'synced', last_error = ?, synced_at = ? WHERE table_name = ? AND server_id = ? AND status IN ('pending', 'failed', 'conflict')`,
      ).run(`superseded by the conflict resolution (${resolution})`, nowIso(), entity.table, entity.serverId);
      this.stmt(`UPDATE tillsync_conflicts SET status = 'resolved', resolution = ?, resolved_at = ? WHERE table_name = ? AND server_id = ? AND status = 'open'`).run(
        resolution,
        nowIso(),
        entity.table,
        entity.serverId,
      );
    });
  }

  // ------------------------------------------------------------------ history

  /** Runs a crash cut short never finished: close them as interrupted. */
  closeInterruptedRuns(): number {
    return this.stmt(`UPDATE tillsync_history SET finished_at = ?, errors = '["interrupted (the engine stopped mid-run)"]' WHERE finished_at IS NULL`).run(nowIso()).changes;
  }

  startRun(kind: string, trigger: string): number {
    return Number(this.stmt(`INSERT INTO tillsync_history (kind, trigger, started_at) VALUES (?, ?, ?)`).run(kind, trigger, nowIso()).lastInsertRowid);
  }

  finishRun(id: number, r: { pushed: number; pulled: number; conflicts: number; failed: number; errors: string[] }): void {
    this.stmt(`UPDATE tillsync_history SET finished_at = ?, pushed = ?, pulled = ?, conflicts = ?, failed = ?, errors = ? WHERE id = ?`).run(
      nowIso(),
      r.pushed,
      r.pulled,
      r.conflicts,
      r.failed,
      r.errors.length ? JSON.stringify(r.errors) : null,
      id,
    );
  }

  history(limit = 50): HistoryRow[] {
    return this.stmt(`SELECT * FROM tillsync_history ORDER BY id DESC LIMIT ?`).all(limit) as HistoryRow[];
  }
}

export interface HistoryRow {
  id: number;
  kind: string;
  trigger: string;
  started_at: string;
  finished_at: string | null;
  pushed: number;
  pulled: number;
  conflicts: number;
  failed: number;
  errors: string | null;
}

interface ConflictRow {
  id: string;
  table_name: string;
  entity_type: string;
  server_id: string;
  strategy: string;
  status: 'open' | 'resolved';
  base: string | null;
  terminal: string | null;
  central: string | null;
  central_version: number | null;
  resolution: string | null;
  created_at: string;
  resolved_at: string | null;
}

export interface LocalConflict {
  readonly conflictId: string;
  readonly table: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly strategy: string;
  readonly status: 'open' | 'resolved';
  readonly base: WireRow | null;
  readonly terminal: WireRow | null;
  readonly central: WireRow | null;
  readonly centralVersion: number | null;
  readonly resolution: string | null;
  readonly createdAt: string;
  readonly resolvedAt: string | null;
  /** Parked at central (resolvable there) rather than only seen locally. */
  readonly atCentral: boolean;
}

function toLocalConflict(r: ConflictRow): LocalConflict {
  const parse = (s: string | null) => (s ? (JSON.parse(s) as WireRow) : null);
  return {
    conflictId: r.id,
    table: r.table_name,
    entityType: r.entity_type,
    entityId: r.server_id,
    strategy: r.strategy,
    status: r.status,
    base: parse(r.base),
    terminal: parse(r.terminal),
    central: parse(r.central),
    centralVersion: r.central_version,
    resolution: r.resolution,
    createdAt: r.created_at,
    resolvedAt: r.resolved_at,
    atCentral: !r.id.startsWith('local-'),
  };
}

/** The columns a capture trigger records, from a row read locally. */
function pickImage(entry: CatalogEntry, row: LocalRow, present?: ReadonlySet<string>): LocalRow {
  const out: LocalRow = { [LOCAL_KEY]: row[LOCAL_KEY] ?? null };
  for (const c of entry.wireColumns) if (!present || present.has(c.local)) out[c.local] = row[c.local] ?? null;
  return out;
}


interface CaptureRow {
  id: number;
  table_name: string;
  local_id: number;
  server_id: string | null;
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  new_image: string | null;
  old_image: string | null;
  priority: number;
  mode: 'ONLINE' | 'OFFLINE';
  captured_at: string;
}

function existsNonEmpty(path: string): boolean {
  try {
    return statSync(path).size > 0;
  } catch {
    return false;
  }
}

