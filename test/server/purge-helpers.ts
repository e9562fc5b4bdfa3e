/**
 * Helpers for the purge's tests (purge.test.ts, purge-concurrency.test.ts): a central
 * on a fresh database, products written as the back office writes them, time moved
 * back by SQL, and a terminal that applies what it pulls as a till does.
 */
import { expect } from 'vitest';
import type { ServerConfigInput } from '../../src/server/config.js';
import type { Queryable } from '../../src/server/db/database.js';
import type { PulledChange, PullResponse } from '../../src/shared/protocol.js';
import { startCentral, testDatabase, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';

export const DAY_MS = 86_400_000;
/** The default retention (7 days) and a bit: "longer ago than the retention". */
export const PAST_RETENTION = '8 days';

export interface Fixture {
  readonly td: TestDatabase;
  readonly c: TestCentral;
  close(): Promise<void>;
}

/** A central of its own on a fresh database (its purge sees no other test's terminals). */
export async function freshCentral(config: Partial<ServerConfigInput> = {}): Promise<Fixture> {
  const td = await testDatabase();
  const c = await startCentral({ db: td.db, config: { purgeIntervalSeconds: 0, ...config } });
  return {
    td,
    c,
    async close() {
      await c.close();
      await td.close();
    },
  };
}

/** Back-office inserts: one product per id (price 1). */
export async function insertProducts(db: Queryable, ids: readonly string[]): Promise<void> {
  await db.query(`INSERT INTO products (id, sku, name, price) SELECT id, 'SKU-' || id, 'P ' || id, 1 FROM unnest($1::text[]) AS id`, [ids]);
}

/** Back-office update of every listed product (one statement: one log entry per row). */
export async function bumpPrices(db: Queryable, ids: readonly string[]): Promise<void> {
  await db.query('UPDATE products SET price = price + 1 WHERE id = ANY($1::text[])', [ids]);
}

/** Back-office delete (soft at central: the rows become tombstones). */
export async function deleteProducts(db: Queryable, ids: readonly string[]): Promise<void> {
  await db.query('DELETE FROM products WHERE id = ANY($1::text[])', [ids]);
}

/**
 * Runs `sql` with the catalog's triggers off (session_replication_role = replica, for
 * this transaction only): moves times back without a new version or log entry.
 */
export async function withoutTriggers(db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> }, sql: string, params: unknown[]): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SET LOCAL session_replication_role = replica');
    await tx.query(sql, params);
  });
}

/** The products' deletions happened `ago` (an interval) ago. */
export async function backdateDeletion(
  db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> },
  ids: readonly string[],
  ago = PAST_RETENTION,
): Promise<void> {
  await withoutTriggers(db, `UPDATE products SET sync_deleted_at = now() - $2::interval WHERE id = ANY($1::text[]) AND sync_deleted_at IS NOT NULL`, [
    ids,
    ago,
  ]);
}

/** The terminal was last seen pulling `entityType` `ago` (an interval) ago. */
export async function backdatePosition(db: Queryable, terminalId: string, entityType: string, ago = PAST_RETENTION): Promise<void> {
  await db.query('UPDATE sync_pull_positions SET seen_at = now() - $3::interval WHERE terminal_id = $1 AND entity_type = $2', [
    terminalId,
    entityType,
    ago,
  ]);
}

/** Central's live products (id to version) among `ids`, or with an id starting with `prefix`. */
export async function liveProducts(db: Queryable, prefix: string): Promise<Map<string, number>> {
  const r = await db.query<{ id: string; v: number }>('SELECT id, sync_version AS v FROM products WHERE id LIKE $1 AND sync_deleted_at IS NULL', [
    `${prefix}%`,
  ]);
  return new Map(r.rows.map((x) => [x.id, Number(x.v)]));
}

/** Log entries of products with an id starting with `prefix`. */
export async function logEntries(db: Queryable, prefix: string): Promise<{ entity_id: string; store_id: string | null; op: string; version: number }[]> {
  const r = await db.query<{ entity_id: string; store_id: string | null; op: string; version: number }>(
    `SELECT entity_id, store_id, op, version FROM sync_changes WHERE entity_type = 'Product' AND entity_id LIKE $1 ORDER BY txid, seq`,
    [`${prefix}%`],
  );
  return r.rows.map((x) => ({ ...x, version: Number(x.version) }));
}

/** Rows of `table` (products by default) with these ids, deleted or not. */
export async function rowsThere(db: Queryable, ids: readonly string[], table = 'products'): Promise<string[]> {
  const r = await db.query<{ id: string }>(`SELECT id FROM ${table} WHERE id = ANY($1::text[]) ORDER BY id`, [ids]);
  return r.rows.map((x) => x.id);
}

export interface Failure {
  readonly status: number;
  readonly code: string;
}

/**
 * A terminal's copy of one table, applied as a till applies pulls: a version it has is
 * skipped, a tombstone removes the row, a snapshot read (after CURSOR_EXPIRED) ends by
 * dropping the rows it did not bring.
 */
export class Till {
  readonly held = new Map<string, PulledChange>();
  cursor: string | undefined;
  /** CURSOR_EXPIRED answers seen (each followed by a snapshot read when `resync`). */
  expired = 0;
  snapshots = 0;
  pulls = 0;

  constructor(
    readonly t: ProvisionedTerminal,
    readonly entityType = 'Product',
    readonly limit = 1000,
    /** On CURSOR_EXPIRED: read the table again from a snapshot (else: throw). */
    readonly resync = true,
  ) {}

  async get(q: Record<string, string | number | undefined>) {
    this.pulls++;
    return this.t.api.get<PullResponse>('/api/sync/pull', { terminalId: this.t.terminalId, entityType: this.entityType, ...q });
  }

  /** One page from the cursor (the log's start when there is none). Returns hasMore, or the failure. */
  async page(): Promise<boolean | Failure> {
    const r = await this.get({ cursor: this.cursor, limit: this.limit });
    if (r.status !== 200) {
      const code = (r.body as unknown as { code?: string }).code ?? '';
      if (r.status === 409 && code === 'CURSOR_EXPIRED') {
        this.expired++;
        if (this.resync) {
          await this.readSnapshot();
          return true;
        }
      }
      return { status: r.status, code };
    }
    this.apply(r.body.changes);
    this.cursor = r.body.cursor;
    return r.body.hasMore;
  }

  /** Pages until the end of the log; throws on any failure it cannot handle. */
  async drain(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      const more = await this.page();
      if (typeof more !== 'boolean') throw new Error(`pull failed: ${more.status} ${more.code}`);
      if (!more) return;
    }
    throw new Error('pull never reached the end');
  }

  /** Starts as a new till does: reads the table from a snapshot, then follows the log. */
  async begin(): Promise<void> {
    await this.readSnapshot();
    await this.drain();
  }

  /** Pulls once more from the end (so central records the terminal's position there). */
  async drainAndReport(): Promise<void> {
    await this.drain();
    await this.drain();
  }

  /**
   * Reads the table from a snapshot (start=snapshot) up to the page with snapshotEnd,
   * then drops what the read did not bring. Returns the pages' rows.
   */
  async readSnapshot(): Promise<{ brought: Set<string>; pages: PullResponse[] }> {
    this.snapshots++;
    const brought = new Set<string>();
    const pages: PullResponse[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10_000; i++) {
      const r = await this.get(cursor ? { cursor, limit: this.limit } : { start: 'snapshot', limit: this.limit });
      expect(r.status, r.text).toBe(200);
      pages.push(r.body);
      expect(r.body.snapshot).toBe(true);
      for (const c of r.body.changes) brought.add(c.entityId);
      this.apply(r.body.changes);
      cursor = r.body.cursor;
      if (r.body.snapshotEnd) {
        for (const id of [...this.held.keys()]) if (!brought.has(id)) this.held.delete(id);
        this.cursor = cursor;
        return { brought, pages };
      }
    }
    throw new Error('the snapshot read never ended');
  }

  apply(changes: readonly PulledChange[]): void {
    for (const c of changes) {
      const had = this.held.get(c.entityId);
      if (had && had.version >= c.version) continue;
      if (c.deleted) this.held.delete(c.entityId);
      else this.held.set(c.entityId, c);
    }
  }

  /** What it holds with an id starting with `prefix`: id to version. */
  versions(prefix: string): Map<string, number> {
    return new Map([...this.held].filter(([id]) => id.startsWith(prefix)).map(([id, c]) => [id, c.version]));
  }
}

/** Sorted entries of a map, for an equality that prints well. */
export const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
