/**
 * What a heartbeat tells HQ's fleet view about this till beyond its outbox counts:
 * the completed sales not at central yet (how many, and their value), the pull cursor
 * of each table it pulls, and its schema (terminal migrations applied, catalog
 * fingerprint). Reads only.
 */
import { CATALOG, fingerprint, LOCAL_KEY } from '../../../shared/catalog/index.js';
import { q } from '../schema.js';
import type { StoreBase } from './base.js';

/** The catalog's wire shapes in one fingerprint: two tills with the same one send the same rows. */
const CATALOG_FINGERPRINT = fingerprint(CATALOG.map((e) => `${e.entityType}:${e.schemaHash}`).join(',')).slice(0, 8);

export interface UnsyncedSales {
  readonly count: number;
  /** Their totals summed, to the cent. */
  readonly total: number;
}

export class TillFacts {
  constructor(private readonly base: StoreBase) {}

  /**
   * Completed sales whose latest change has not reached central: captured and not yet
   * moved into the outbox, or waiting, failed or in conflict there. A completed sale
   * central holds and the till then edits counts again until the edit is at central (a
   * refund moves it out of `completed`, so it is not counted).
   */
  unsyncedSales(): UnsyncedSales {
    const orders = this.base.tables.get('orders');
    if (!orders) return { count: 0, total: 0 };
    const local = (wire: string) => orders.entry.wireColumns.find((c) => c.name === wire)?.local;
    const status = local('status');
    const total = local('total');
    if (!status || !total || !orders.columns.has(status) || !orders.columns.has(total)) return { count: 0, total: 0 };
    const r = this.base
      .stmt(
        `SELECT count(*) AS n, coalesce(sum(CAST(${q(total)} AS REAL)), 0) AS total FROM ${q(orders.entry.table)}
          WHERE ${q(status)} = 'completed' AND ${q(LOCAL_KEY)} IN (
            SELECT local_id FROM tillsync_outbox WHERE table_name = ? AND status <> 'synced'
            UNION SELECT local_id FROM tillsync_capture WHERE table_name = ?)`,
      )
      .get(orders.entry.table, orders.entry.table) as { n: number; total: number };
    return { count: r.n, total: Math.round(r.total * 100) / 100 };
  }

  /** The pull cursor of each table pulled at least once, by entity type. */
  pullCursors(): Record<string, string> {
    const rows = this.base.stmt('SELECT table_name, cursor FROM tillsync_cursors WHERE cursor IS NOT NULL').all() as { table_name: string; cursor: string }[];
    const out: Record<string, string> = {};
    for (const r of rows) {
      const t = this.base.tables.get(r.table_name);
      if (t && r.cursor.length <= 400) out[t.entry.entityType] = r.cursor;
    }
    return out;
  }

  /** `<terminal migrations applied>/<catalog fingerprint>`, e.g. `3/1a2b3c4d`. */
  schemaVersion(): string {
    let applied = 0;
    try {
      applied = (this.base.db.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n;
    } catch {
      // a file migrated by something else: the fingerprint still says what it sends
    }
    return `${applied}/${CATALOG_FINGERPRINT}`;
  }
}
