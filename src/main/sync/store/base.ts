/**
 * The small base every room of the terminal store stands on: the SQLite handle, the
 * catalog tables present in the file, foreign-key look-ups, a statement cache, the
 * meta table, the hybrid logical clock and the apply transaction (capture off). It
 * knows no room; rooms take it and nothing wider.
 */
import type Database from 'better-sqlite3';
import { LOCAL_KEY, LOCAL_SERVER_ID, type CatalogEntry } from '../../../shared/catalog/index.js';
import { formatHlc, parseHlc, receiveHlc, tickHlc, type Hlc } from '../../../shared/hlc.js';
import type { ForeignKeys } from '../mapping.js';
import { q, type InstallReport } from '../schema.js';

export const nowIso = () => new Date().toISOString();

/** A catalog table present in this file, with its local columns. */
export interface LocalTable {
  readonly entry: CatalogEntry;
  readonly columns: Set<string>;
}

export class StoreBase {
  /** Catalog tables present in this file, with their local columns (a test swaps an entry to fake schema drift). */
  readonly tables: Map<string, LocalTable>;
  readonly fk: ForeignKeys;
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly rawStmts = new Map<string, Database.Statement>();
  private clock: Hlc | null;
  private clockDirty = false;

  constructor(
    readonly db: Database.Database,
    readonly path: string,
    readonly node: string,
    readonly install: InstallReport,
    tables: Map<string, LocalTable>,
  ) {
    this.tables = tables;
    const clock = this.getMeta('hlc');
    this.clock = clock ? parseHlc(clock) : null;
    // A statement per table, found by the table's name: these run for every foreign key of
    // every row a batch or a pulled page maps, where building and hashing the SQL text
    // for the statement cache cost about as much as the look-up itself.
    const serverIdOf = new Map<string, Database.Statement>();
    const localIdOf = new Map<string, Database.Statement>();
    const perTable = (cache: Map<string, Database.Statement>, table: string, sql: () => string): Database.Statement | null => {
      let st = cache.get(table);
      if (!st) {
        if (!this.tables.has(table)) return null;
        st = this.stmt(sql());
        cache.set(table, st);
      }
      return st;
    };
    this.fk = {
      serverIdOf: (table, localId) => {
        const st = perTable(serverIdOf, table, () => `SELECT ${q(LOCAL_SERVER_ID)} AS s FROM ${q(table)} WHERE ${q(LOCAL_KEY)} = ?`);
        const r = st?.get(localId) as { s: string | null } | undefined;
        return r?.s ?? null;
      },
      localIdOf: (table, serverId) => {
        const st = perTable(localIdOf, table, () => `SELECT ${q(LOCAL_KEY)} AS id FROM ${q(table)} WHERE ${q(LOCAL_SERVER_ID)} = ?`);
        const r = st?.get(serverId) as { id: number } | undefined;
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

  /** A cached statement that returns rows as arrays of column values (its own cache entry: raw mode is the statement's). */
  rawStmt(sql: string): Database.Statement {
    let s = this.rawStmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql).raw(true);
      this.rawStmts.set(sql, s);
    }
    return s;
  }

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

  /** Writes the clock once, after tick/observe calls with `persist: false` in this transaction. */
  saveClock(): void {
    if (!this.clockDirty || !this.clock) return;
    this.setMeta('hlc', formatHlc(this.clock));
    this.clockDirty = false;
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction with capture switched off for every
   * connection. It does not move the capture log: a caller that reads or settles the
   * outbox drains it first (capture's promoteInline, inside `fn`).
   */
  applying<T>(fn: () => T): T {
    return this.db.transaction(() => {
      this.stmt('UPDATE tillsync_control SET applying = 1 WHERE id = 1').run();
      try {
        return fn();
      } finally {
        this.stmt('UPDATE tillsync_control SET applying = 0 WHERE id = 1').run();
      }
    }).immediate();
  }

  /** Capture off for statements inside an already open transaction (nested: the switch is left as it was). */
  applyingInline<T>(fn: () => T): T {
    const before = (this.stmt('SELECT applying FROM tillsync_control WHERE id = 1').get() as { applying: number } | undefined)?.applying ?? 0;
    this.stmt('UPDATE tillsync_control SET applying = 1 WHERE id = 1').run();
    try {
      return fn();
    } finally {
      this.stmt('UPDATE tillsync_control SET applying = ? WHERE id = 1').run(before);
    }
  }
}
