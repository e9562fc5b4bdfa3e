/**
 * What the fault campaign checks, as pure functions over rows read from the till's
 * SQLite (the truth for sales: what the POS wrote) and from central's database (the
 * truth for HQ's writes), plus the reads that produce those rows.
 *
 * Sales are matched by order number (the simulator's `SIM-<store>-<tag>-NNNNNN`,
 * unique on the till): an order missing at central is lost, one there twice is
 * duplicated, and per order the items, payments and stock movements are counted on
 * both sides (fewer at central: lost; more: duplicated).
 */
import type Database from 'better-sqlite3';
import type { Queryable } from '../../src/server/db/database.js';

/** One order and what hangs off it, on either side. */
export interface SaleRow {
  readonly orderNumber: string;
  readonly status: string;
  readonly totalCents: number;
  readonly items: number;
  readonly payments: number;
  readonly movements: number;
}

export interface PartCounts {
  readonly orders: number;
  readonly items: number;
  readonly payments: number;
  readonly movements: number;
}

export interface SalesAudit {
  /** What the POS wrote. */
  readonly written: PartCounts;
  /** Rows at central (duplicates included). */
  readonly atCentral: PartCounts;
  readonly lost: PartCounts;
  readonly duplicated: PartCounts;
  /** Orders at central whose status or total differs from the POS's. */
  readonly mismatched: number;
  /** Orders at central of this store that the POS never wrote. */
  readonly unknown: number;
  /** A few order numbers per problem, for the report. */
  readonly examples: readonly string[];
  /** Central holds exactly what the POS wrote. */
  readonly converged: boolean;
}

const sum = (rows: readonly SaleRow[]): PartCounts => ({
  orders: rows.length,
  items: rows.reduce((s, r) => s + r.items, 0),
  payments: rows.reduce((s, r) => s + r.payments, 0),
  movements: rows.reduce((s, r) => s + r.movements, 0),
});

const PARTS = ['items', 'payments', 'movements'] as const;

export function auditSales(pos: readonly SaleRow[], central: readonly SaleRow[]): SalesAudit {
  const atCentral = new Map<string, SaleRow[]>();
  for (const r of central) {
    const list = atCentral.get(r.orderNumber);
    if (list) list.push(r);
    else atCentral.set(r.orderNumber, [r]);
  }
  const lost = { orders: 0, items: 0, payments: 0, movements: 0 };
  const duplicated = { orders: 0, items: 0, payments: 0, movements: 0 };
  let mismatched = 0;
  const examples: string[] = [];
  const example = (what: string) => {
    if (examples.length < 12) examples.push(what);
  };
  const posNumbers = new Set<string>();
  for (const p of pos) {
    posNumbers.add(p.orderNumber);
    const there = atCentral.get(p.orderNumber) ?? [];
    if (there.length === 0) {
      lost.orders++;
      for (const part of PARTS) lost[part] += p[part];
      example(`lost ${p.orderNumber}`);
      continue;
    }
    if (there.length > 1) {
      duplicated.orders += there.length - 1;
      example(`${p.orderNumber} at central ${there.length} times`);
    }
    for (const part of PARTS) {
      const n = there.reduce((s, r) => s + r[part], 0);
      if (n < p[part]) {
        lost[part] += p[part] - n;
        example(`${p.orderNumber}: ${n} of ${p[part]} ${part} at central`);
      } else if (n > p[part]) {
        duplicated[part] += n - p[part];
        example(`${p.orderNumber}: ${n} ${part} at central, ${p[part]} on the till`);
      }
    }
    const first = there[0] as SaleRow;
    if (first.status !== p.status || first.totalCents !== p.totalCents) {
      mismatched++;
      example(`${p.orderNumber}: central ${first.status} ${first.totalCents}, till ${p.status} ${p.totalCents}`);
    }
  }
  let unknown = 0;
  for (const [n, rows] of atCentral) {
    if (posNumbers.has(n)) continue;
    unknown += rows.length;
    example(`${n} at central, never written on the till`);
  }
  const clean = (c: PartCounts) => c.orders === 0 && c.items === 0 && c.payments === 0 && c.movements === 0;
  return {
    written: sum(pos),
    atCentral: sum(central),
    lost,
    duplicated,
    mismatched,
    unknown,
    examples,
    converged: clean(lost) && clean(duplicated) && mismatched === 0 && unknown === 0,
  };
}

/** A row of a both-ways table reduced to the values that must agree, by central id. */
export type Fingerprints = ReadonlyMap<string, string>;

/** Ids whose values differ, or that one side lacks (only ids the till holds are compared). */
export function divergent(till: Fingerprints, central: Fingerprints): string[] {
  const out: string[] = [];
  for (const [id, v] of till) if (central.get(id) !== v) out.push(`${id}: till ${v}, central ${central.get(id) ?? 'missing'}`);
  return out;
}

/** HQ's last write per product: the price and a marker written with it. */
export interface HqWrite {
  readonly productId: string;
  readonly priceCents: number;
  readonly marker: string;
}

export interface HqAudit {
  /** Products HQ changed. */
  readonly changed: number;
  /** Of those, how many the till holds at HQ's last price and marker. */
  readonly applied: number;
  readonly missing: readonly string[];
}

export function auditHq(last: ReadonlyMap<string, HqWrite>, till: ReadonlyMap<string, { priceCents: number; marker: string | null }>): HqAudit {
  const missing: string[] = [];
  for (const w of last.values()) {
    const t = till.get(w.productId);
    if (!t || t.priceCents !== w.priceCents || t.marker !== w.marker) {
      missing.push(`${w.productId}: HQ ${w.priceCents} "${w.marker}", till ${t ? `${t.priceCents} "${t.marker ?? ''}"` : 'missing'}`);
    }
  }
  return { changed: last.size, applied: last.size - missing.length, missing };
}

// ------------------------------------------------------------------ reads

const cents = (v: unknown): number => Math.round(Number(v) * 100);

/** The POS's sales: every order on the till with its parts. */
export function tillSales(db: Database.Database): SaleRow[] {
  const rows = db
    .prepare(
      `SELECT o.order_number AS n, o.status AS status, o.total AS total,
              (SELECT count(*) FROM order_items i WHERE i.order_id = o.id) AS items,
              (SELECT count(*) FROM payments p WHERE p.order_id = o.id) AS payments,
              (SELECT count(*) FROM inventory_transactions m WHERE m.order_id = o.id) AS movements
       FROM orders o`,
    )
    .all() as { n: string; status: string; total: number | null; items: number; payments: number; movements: number }[];
  return rows.map((r) => ({ orderNumber: r.n, status: r.status, totalCents: cents(r.total), items: r.items, payments: r.payments, movements: r.movements }));
}

/** Central's sales of the store, one row per order row (duplicates show as several). */
export async function centralSales(db: Queryable, storeId: string): Promise<SaleRow[]> {
  const r = await db.query<{ n: string; status: string; total: number | null; items: number; payments: number; movements: number }>(
    `SELECT o.order_number AS n, o.status, o.total,
            (SELECT count(*)::int FROM order_items i WHERE i.order_id = o.id) AS items,
            (SELECT count(*)::int FROM payments p WHERE p.order_id = o.id) AS payments,
            (SELECT count(*)::int FROM inventory_transactions m WHERE m.order_id = o.id) AS movements
     FROM orders o WHERE o.store_id = $1`,
    [storeId],
  );
  return r.rows.map((x) => ({ orderNumber: x.n, status: x.status, totalCents: cents(x.total), items: x.items, payments: x.payments, movements: x.movements }));
}

/** When the POS last wrote a sale (ms since epoch), or null before the first. */
export function lastSaleAt(db: Database.Database): number | null {
  const r = db.prepare('SELECT max(max(coalesce(created_at, \'\')), max(coalesce(updated_at, \'\'))) AS at FROM orders').get() as { at: string | null };
  const t = r.at ? Date.parse(r.at) : NaN;
  return Number.isNaN(t) ? null : t;
}

/** Loyalty counters of the till's customers, by central id. */
export function tillCustomers(db: Database.Database): Map<string, string> {
  const rows = db.prepare('SELECT server_id AS id, loyalty_points AS p, total_spent AS s, visit_count AS v FROM customers WHERE server_id IS NOT NULL').all() as {
    id: string;
    p: number | null;
    s: number | null;
    v: number | null;
  }[];
  return new Map(rows.map((r) => [r.id, `${Number(r.p ?? 0)}/${cents(r.s ?? 0)}/${Number(r.v ?? 0)}`]));
}

export async function centralCustomers(db: Queryable): Promise<Map<string, string>> {
  const r = await db.query<{ id: string; p: number | null; s: number | null; v: number | null }>('SELECT id, loyalty_points AS p, total_spent AS s, visit_count AS v FROM customers');
  return new Map(r.rows.map((x) => [x.id, `${Number(x.p ?? 0)}/${cents(x.s ?? 0)}/${Number(x.v ?? 0)}`]));
}

/** Stock of the till's store, by central id. */
export function tillStock(db: Database.Database): Map<string, string> {
  const rows = db.prepare('SELECT server_id AS id, stock_quantity AS q FROM inventory_items WHERE server_id IS NOT NULL').all() as { id: string; q: number | null }[];
  return new Map(rows.map((r) => [r.id, String(Number(r.q ?? 0))]));
}

export async function centralStock(db: Queryable, storeId: string): Promise<Map<string, string>> {
  const r = await db.query<{ id: string; q: number | null }>('SELECT id, master_stock_quantity AS q FROM inventory_items WHERE store_id = $1 AND sync_deleted_at IS NULL', [storeId]);
  return new Map(r.rows.map((x) => [x.id, String(Number(x.q ?? 0))]));
}

/** The till's products: price and the marker HQ writes into `description`. */
export function tillProducts(db: Database.Database): Map<string, { priceCents: number; marker: string | null }> {
  const rows = db.prepare('SELECT server_id AS id, price, description FROM products WHERE server_id IS NOT NULL').all() as {
    id: string;
    price: number | null;
    description: string | null;
  }[];
  return new Map(rows.map((r) => [r.id, { priceCents: cents(r.price), marker: r.description }]));
}

export interface OutboxState {
  /** A few entries not synced (table, central id, status, attempts, what decides when they go, last error), for the report. */
  readonly stuck: readonly string[];
  /** Captured writes not yet moved into the outbox. */
  readonly captured: number;
  readonly pending: number;
  readonly failed: number;
  readonly conflict: number;
  readonly synced: number;
}

/** The till's outbox by status (what the engine believes is at central). */
export function outboxState(db: Database.Database): OutboxState {
  const by = new Map(
    (db.prepare('SELECT status, count(*) AS n FROM tillsync_outbox GROUP BY status').all() as { status: string; n: number }[]).map((r) => [r.status, r.n]),
  );
  const captured = (db.prepare('SELECT count(*) AS n FROM tillsync_capture').get() as { n: number }).n;
  const now = Date.now();
  const last = (db.prepare('SELECT max(id) AS id FROM tillsync_outbox').get() as { id: number | null }).id;
  const stuck = (
    db
      .prepare(
        `SELECT id, table_name AS t, server_id AS sid, status, attempts, last_error AS e, sent_as, next_attempt_at AS due, priority, tx_group
         FROM tillsync_outbox WHERE status <> 'synced' ORDER BY id LIMIT 8`,
      )
      .all() as { id: number; t: string; sid: string; status: string; attempts: number; e: string | null; sent_as: string | null; due: number | null; priority: number; tx_group: string | null }[]
  ).map((r) => {
    // What decides whether the engine sends it: sent before (frozen, goes again alone), a pause, its priority and group.
    const how = [
      `#${r.id} of ${last ?? 0}`,
      r.sent_as ? `sent before as ${r.sent_as.slice(0, 13)}` : 'never sent',
      r.due === null ? 'no pause' : `due ${r.due <= now ? `${((now - r.due) / 1000).toFixed(1)} s ago` : `in ${((r.due - now) / 1000).toFixed(1)} s`}`,
      `priority ${r.priority}`,
      r.tx_group ? `group ${r.tx_group.slice(0, 13)}` : 'own group',
    ].join(', ');
    return `${r.t} ${r.sid} ${r.status} after ${r.attempts} attempt(s) (${how}): ${(r.e ?? '').slice(0, 240)}`;
  });
  return { stuck, captured, pending: by.get('pending') ?? 0, failed: by.get('failed') ?? 0, conflict: by.get('conflict') ?? 0, synced: by.get('synced') ?? 0 };
}
