/**
 * `tillsync simulate`: a POS simulator. As its own process with its own SQLite
 * connection, it rings up sales into a terminal's database the way a POS app does:
 * plain SQL on the POS tables, one transaction per sale, never touching the
 * engine's tillsync_* tables and never setting `server_id` (the capture triggers
 * do that). Foreign keys hold LOCAL integer ids, as everywhere on the terminal.
 *
 * A sale: an order (pending, then completed after payment; about 5% stay pending as
 * parked carts and 2% are voided), 1-4 lines of distinct products with tax, one or
 * two payments summing to the total, a stock movement per line ('sale', negative)
 * and the store's stock decreased, and for about 40% of sales a loyalty customer
 * (a new one about 10% of the time) credited with points, spending and a visit.
 * `tillsync simulate` (./commands/simulate.ts) runs it as a process of its own.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mulberry32 } from '../shared/prng.js';

export interface SaleItem {
  /** Local id of the order_items row. */
  readonly id: number;
  readonly productId: number;
  readonly quantity: number;
  readonly unitPrice: number;
  readonly tax: number;
  readonly lineTotal: number;
}

export interface SalePayment {
  readonly id: number;
  readonly method: 'cash' | 'card';
  readonly amount: number;
}

export type SaleStatus = 'completed' | 'pending' | 'voided';

/** What one `saleOnce` wrote (all ids are local). */
export interface SaleRecord {
  readonly orderId: number;
  readonly orderNumber: string;
  readonly storeId: number;
  readonly status: SaleStatus;
  readonly subtotal: number;
  readonly taxTotal: number;
  readonly total: number;
  readonly items: readonly SaleItem[];
  /** Only completed sales are paid. */
  readonly payments: readonly SalePayment[];
  /** Stock rows decreased (completed sales of products the store stocks). */
  readonly stockUpdates: number;
  readonly customer?: { readonly id: number; readonly created: boolean; readonly pointsEarned: number };
}

export interface SimulatorOptions {
  /** A seed for the random choices (repeatable runs); default: random. */
  readonly seed?: number;
  /** Prefix of order numbers; default `SIM-<store code or id>-<random tag>`. */
  readonly orderPrefix?: string;
  /** SQLite busy timeout, ms (default 5000: waits out the engine's short transactions). */
  readonly busyTimeoutMs?: number;
  /** Share of sales (0..1) that stay pending (parked carts). Default 0.05. */
  readonly pendingShare?: number;
  /** Share of sales (0..1) that are voided. Default 0.02. */
  readonly voidedShare?: number;
  /** Share of sales (0..1) with a loyalty customer. Default 0.4. */
  readonly customerShare?: number;
  /** Share of customer sales (0..1) that sign up a new customer. Default 0.1. */
  readonly newCustomerShare?: number;
}

export interface RunOptions {
  readonly ratePerSecond: number;
  /** Stop after this many seconds (waiting for products included). */
  readonly durationSeconds?: number;
  /** Stop after this many sales. */
  readonly count?: number;
  readonly signal?: AbortSignal;
  readonly onSale?: (s: SaleRecord) => void;
  /** A tick found nothing to sell (no products or no store yet); the next try is in a second. */
  readonly onSkip?: (skipped: number) => void;
  /** A sale failed (rolled back) and the run goes on; after 10 failures in a row the run throws. */
  readonly onError?: (err: unknown) => void;
}

/** A purchase order the till drafted (`tillsync simulate --conflict` follows it to a conflict). */
export interface PurchaseOrderRecord {
  /** Local id of the purchase_orders row. */
  readonly id: number;
  readonly poNumber: string;
}

/**
 * Where the engine has a row, as a POS may ask (README: a row's sync state is its
 * latest outbox entry): its central id once given, and that entry's status (none while
 * the engine has not taken the write from the capture log yet).
 */
export interface RowSyncState {
  readonly serverId: string | null;
  readonly outboxStatus: string | null;
  /** Central's conflict, when central parked the entry for a supervisor. */
  readonly conflictId: string | null;
}

export interface RunResult {
  readonly sales: number;
  readonly skipped: number;
  readonly failed: number;
}

/** Tables a sale cannot do without. */
const REQUIRED_TABLES = ['stores', 'products', 'orders', 'order_items', 'payments'] as const;
const OPTIONAL_TABLES = ['taxes', 'users', 'customers', 'inventory_items', 'inventory_transactions'] as const;
type OptionalTable = (typeof OPTIONAL_TABLES)[number];

const MAX_CONSECUTIVE_FAILURES = 10;
const NO_PRODUCTS_RETRY_MS = 1000;

const FIRST_NAMES = ['Ana', 'Ben', 'Chloé', 'David', 'Emma', 'Farid', 'Greta', 'Hugo', 'Inès', 'Jonas', 'Keiko', 'Lucas', 'Maya', 'Nora', 'Omar', 'Paula'];
const LAST_NAMES = ['Silva', 'Martin', 'Dubois', 'Müller', 'Rossi', 'Kowalski', 'Nguyen', 'García', 'Smith', 'Jensen', 'Novak', 'Haddad'];


export const toCents = (v: number): number => Math.round(v * 100);
export const fromCents = (c: number): number => c / 100;

interface ProductRow {
  id: number;
  price: number | string | null;
  rate: number | string | null;
  inclusive: number | null;
}

interface StoreRow {
  id: number;
  code: string | null;
  currency: string | null;
}

export class PosSimulator {
  readonly db: Database.Database;
  private readonly random: () => number;
  private readonly has: Record<OptionalTable, boolean>;
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly tag: string;
  private sequence = 0;
  private prefix: string | null = null;

  constructor(
    readonly path: string,
    private readonly opts: SimulatorOptions = {},
  ) {
    if (!existsSync(path)) throw new Error(`${path} does not exist (make it first: \`tillsync status --create --database ${path}\` creates the POS tables)`);
    // The POS's own connection. The engine has already put the file in WAL mode.
    this.db = new Database(path, { fileMustExist: true });
    this.db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    const present = new Set(
      (this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name),
    );
    const missing = REQUIRED_TABLES.filter((t) => !present.has(t));
    if (missing.length > 0) {
      this.db.close();
      throw new Error(`${path} is not a POS database: missing table(s) ${missing.join(', ')}`);
    }
    this.has = Object.fromEntries(OPTIONAL_TABLES.map((t) => [t, present.has(t)])) as Record<OptionalTable, boolean>;
    this.random = mulberry32(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
    // Not from the seed: two runs with one seed on one file must not share numbers.
    this.tag = randomBytes(4).readUInt32BE(0).toString(36).toUpperCase();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)] as T;
  }

  /**
   * A random row id of a table matching `where`, without scanning it (the table may
   * hold a million products): a random point in the id range, the next match.
   */
  private randomId(table: string, where: string, params: unknown[] = []): number | null {
    const range = this.stmt(`SELECT min(id) AS lo, max(id) AS hi FROM "${table}"`).get() as { lo: number | null; hi: number | null };
    if (range.lo === null || range.hi === null) return null;
    const at = this.int(range.lo, range.hi);
    const next = this.stmt(`SELECT id FROM "${table}" WHERE id >= ? AND (${where}) ORDER BY id LIMIT 1`).get(at, ...params) as { id: number } | undefined;
    if (next) return next.id;
    const first = this.stmt(`SELECT id FROM "${table}" WHERE (${where}) ORDER BY id LIMIT 1`).get(...params) as { id: number } | undefined;
    return first?.id ?? null;
  }

  private store(): StoreRow | undefined {
    return this.stmt('SELECT id, code, currency FROM stores ORDER BY id LIMIT 1').get() as StoreRow | undefined;
  }

  private product(id: number): ProductRow | undefined {
    return this.has.taxes
      ? (this.stmt('SELECT p.id, p.price, t.rate, t.inclusive FROM products p LEFT JOIN taxes t ON t.id = p.tax_id WHERE p.id = ?').get(id) as ProductRow | undefined)
      : (this.stmt('SELECT id, price, NULL AS rate, NULL AS inclusive FROM products WHERE id = ?').get(id) as ProductRow | undefined);
  }

  /**
   * `<prefix>-000001`, `-000002`, ...: unique on this file. The prefix carries a
   * random tag; on the first sale the sequence continues after any number already
   * rung with the same prefix (one scan, then none: order_number has no index).
   */
  private nextOrderNumber(store: StoreRow): string {
    const prefix = this.opts.orderPrefix ?? `SIM-${store.code ?? store.id}-${this.tag}`;
    if (this.prefix !== prefix) {
      const last = this.db
        .prepare(`SELECT max(order_number) AS n FROM orders WHERE substr(order_number, 1, ?) = ?`)
        .get(prefix.length + 1, `${prefix}-`) as { n: string | null };
      const seq = last.n ? Number(/(\d+)$/.exec(last.n)?.[1] ?? 0) : 0;
      this.prefix = prefix;
      this.sequence = Number.isSafeInteger(seq) ? seq : 0;
    }
    this.sequence++;
    return `${prefix}-${String(this.sequence).padStart(6, '0')}`;
  }

  /**
   * Rings up one sale in one transaction. Null when there is nothing to sell yet
   * (no store row or no sellable product: the terminal has not pulled them).
   */
  saleOnce(): SaleRecord | null {
    // IMMEDIATE: take the write lock up front, so waiting for the engine is a busy
    // wait at BEGIN and never a failed lock upgrade halfway through the sale.
    return this.db.transaction(() => this.ringUp()).immediate();
  }

  private ringUp(): SaleRecord | null {
    const store = this.store();
    if (!store) return null;
    const sellable = 'price IS NOT NULL AND coalesce(active, 1) != 0';
    const firstProduct = this.randomId('products', sellable);
    if (firstProduct === null) return null;

    const now = new Date();
    const nowIso = now.toISOString();
    const orderedAt = new Date(now.getTime() - this.int(15, 180) * 1000).toISOString();
    const roll = this.random();
    const pendingShare = this.opts.pendingShare ?? 0.05;
    const voidedShare = this.opts.voidedShare ?? 0.02;
    const status: SaleStatus = roll < pendingShare ? 'pending' : roll < pendingShare + voidedShare ? 'voided' : 'completed';

    // The basket: 1-4 distinct products (scanning one again raises its quantity).
    const wanted = this.int(1, 4);
    const productIds = new Set<number>([firstProduct]);
    for (let tries = 0; productIds.size < wanted && tries < wanted * 4; tries++) {
      const id = this.randomId('products', sellable);
      if (id !== null) productIds.add(id);
    }
    const lines = [...productIds].map((id) => {
      const p = this.product(id) as ProductRow;
      const quantity = this.chance(0.75) ? 1 : this.int(2, 3);
      const unitCents = toCents(Number(p.price));
      const rate = p.rate === null ? 0 : Number(p.rate);
      const inclusive = p.inclusive !== null && Number(p.inclusive) !== 0;
      const gross = unitCents * quantity;
      // Inclusive tax is inside the price; exclusive tax is added to it.
      const taxCents = rate > 0 ? (inclusive ? Math.round(gross - gross / (1 + rate)) : Math.round(gross * rate)) : 0;
      const lineCents = inclusive ? gross : gross + taxCents;
      return { productId: id, quantity, unitCents, taxCents, lineCents, netCents: lineCents - taxCents };
    });
    const totalCents = lines.reduce((s, l) => s + l.lineCents, 0);
    const taxCents = lines.reduce((s, l) => s + l.taxCents, 0);
    const subtotalCents = totalCents - taxCents;

    // The loyalty customer, when the cashier scans a card (or signs one up).
    let customer: { id: number; created: boolean } | undefined;
    if (this.has.customers && this.chance(this.opts.customerShare ?? 0.4)) {
      const existing = this.chance(this.opts.newCustomerShare ?? 0.1) ? null : this.randomId('customers', '1');
      if (existing !== null) {
        customer = { id: existing, created: false };
      } else {
        const first = this.pick(FIRST_NAMES);
        const last = this.pick(LAST_NAMES);
        const handle = `${first}.${last}.${this.int(100, 99999)}`.toLowerCase().normalize('NFD').replace(/[^a-z0-9.]/g, '');
        const r = this.stmt(
          `INSERT INTO customers (name, email, phone, loyalty_points, total_spent, visit_count, notes, created_at, updated_at)
           VALUES (?, ?, ?, 0, 0, 0, ?, ?, ?)`,
        ).run(`${first} ${last}`, `${handle}@example.com`, `+1555${String(this.int(0, 9999999)).padStart(7, '0')}`, 'signed up at the till', nowIso, nowIso);
        customer = { id: Number(r.lastInsertRowid), created: true };
      }
    }
    const user = this.has.users
      ? this.randomId('users', '(store_id = ? OR store_id IS NULL) AND coalesce(active, 1) != 0', [store.id])
      : null;

    const orderNumber = this.nextOrderNumber(store);
    const order = this.stmt(
      `INSERT INTO orders (store_id, order_number, customer_id, user_id, status, subtotal, tax_total, discount_total, total, currency, notes, ordered_at, completed_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'pending', ?, ?, 0, ?, ?, NULL, ?, NULL, ?, ?)`,
    ).run(store.id, orderNumber, customer?.id ?? null, user, fromCents(subtotalCents), fromCents(taxCents), fromCents(totalCents), store.currency, orderedAt, nowIso, nowIso);
    const orderId = Number(order.lastInsertRowid);

    const items: SaleItem[] = lines.map((l) => {
      const r = this.stmt(
        `INSERT INTO order_items (store_id, order_id, product_id, variant_id, description, quantity, unit_price, discount, tax, line_total, created_at, updated_at)
         VALUES (?, ?, ?, NULL, (SELECT name FROM products WHERE id = ?), ?, ?, 0, ?, ?, ?, ?)`,
      ).run(store.id, orderId, l.productId, l.productId, l.quantity, fromCents(l.unitCents), fromCents(l.taxCents), fromCents(l.lineCents), nowIso, nowIso);
      return { id: Number(r.lastInsertRowid), productId: l.productId, quantity: l.quantity, unitPrice: fromCents(l.unitCents), tax: fromCents(l.taxCents), lineTotal: fromCents(l.lineCents) };
    });

    const base = { orderId, orderNumber, storeId: store.id, subtotal: fromCents(subtotalCents), taxTotal: fromCents(taxCents), total: fromCents(totalCents), items };
    if (status === 'pending') {
      // A parked cart: no payment, no stock movement, no points yet.
      return { ...base, status, payments: [], stockUpdates: 0, ...(customer ? { customer: { ...customer, pointsEarned: 0 } } : {}) };
    }
    if (status === 'voided') {
      this.stmt(`UPDATE orders SET status = 'voided', notes = 'voided at the till', updated_at = ? WHERE id = ?`).run(nowIso, orderId);
      return { ...base, status, payments: [], stockUpdates: 0, ...(customer ? { customer: { ...customer, pointsEarned: 0 } } : {}) };
    }

    // Payment: card, cash, or (about one sale in five) part card, the rest cash.
    const split = totalCents >= 200 && this.chance(0.2);
    const tenders: { method: 'cash' | 'card'; cents: number }[] = split
      ? (() => {
          const card = this.int(1, totalCents - 1);
          return [
            { method: 'card', cents: card },
            { method: 'cash', cents: totalCents - card },
          ];
        })()
      : [{ method: this.chance(0.6) ? 'card' : 'cash', cents: totalCents }];
    const payments: SalePayment[] = tenders.map((t) => {
      const r = this.stmt(
        `INSERT INTO payments (store_id, order_id, method, amount, currency, reference, status, paid_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'captured', ?, ?, ?)`,
      ).run(store.id, orderId, t.method, fromCents(t.cents), store.currency, t.method === 'card' ? `AUTH-${this.int(100000, 999999)}` : null, nowIso, nowIso, nowIso);
      return { id: Number(r.lastInsertRowid), method: t.method, amount: fromCents(t.cents) };
    });

    // Stock leaves the shelf.
    let stockUpdates = 0;
    for (const l of lines) {
      if (this.has.inventory_transactions) {
        this.stmt(
          `INSERT INTO inventory_transactions (store_id, product_id, variant_id, order_id, quantity_change, reason, note, occurred_at, created_at, updated_at)
           VALUES (?, ?, NULL, ?, ?, 'sale', ?, ?, ?, ?)`,
        ).run(store.id, l.productId, orderId, -l.quantity, `order ${orderNumber}`, nowIso, nowIso, nowIso);
      }
      if (this.has.inventory_items) {
        const r = this.stmt(
          `UPDATE inventory_items SET stock_quantity = coalesce(stock_quantity, 0) - ?, updated_at = ?
           WHERE id = (SELECT id FROM inventory_items WHERE store_id = ? AND product_id = ? ORDER BY variant_id IS NOT NULL, id LIMIT 1)`,
        ).run(l.quantity, nowIso, store.id, l.productId);
        stockUpdates += r.changes;
      }
    }

    // Paid: the sale is complete.
    this.stmt(`UPDATE orders SET status = 'completed', completed_at = ?, updated_at = ? WHERE id = ?`).run(nowIso, nowIso, orderId);

    let pointsEarned = 0;
    if (customer) {
      pointsEarned = Math.floor(fromCents(totalCents));
      this.stmt(
        `UPDATE customers SET loyalty_points = coalesce(loyalty_points, 0) + ?, total_spent = round(coalesce(total_spent, 0) + ?, 2),
           visit_count = coalesce(visit_count, 0) + 1, updated_at = ? WHERE id = ?`,
      ).run(pointsEarned, fromCents(totalCents), nowIso, customer.id);
    }
    return { ...base, status, payments, stockUpdates, ...(customer ? { customer: { ...customer, pointsEarned } } : {}) };
  }

  /**
   * Drafts a purchase order at the till, in one transaction. Null when there is no
   * store row yet (the terminal has not pulled it).
   */
  draftPurchaseOrder(): PurchaseOrderRecord | null {
    return this.db
      .transaction((): PurchaseOrderRecord | null => {
        const store = this.store();
        if (!store) return null;
        const nowIso = new Date().toISOString();
        const poNumber = `PO-${store.code ?? store.id}-${this.tag}-${String(this.int(1, 999_999)).padStart(6, '0')}`;
        const r = this.stmt(
          `INSERT INTO purchase_orders (store_id, po_number, status, total, notes, created_at, updated_at) VALUES (?, ?, 'draft', ?, ?, ?, ?)`,
        ).run(store.id, poNumber, fromCents(this.int(5_000, 50_000)), 'drafted at the till', nowIso, nowIso);
        return { id: Number(r.lastInsertRowid), poNumber };
      })
      .immediate();
  }

  /** The sync state of a row of this database (see RowSyncState). */
  syncState(table: 'purchase_orders', id: number): RowSyncState {
    const row = this.stmt(`SELECT server_id FROM "${table}" WHERE id = ?`).get(id) as { server_id: string | null } | undefined;
    const entry = this.stmt(`SELECT status, conflict_id FROM tillsync_outbox WHERE table_name = ? AND local_id = ? ORDER BY id DESC LIMIT 1`).get(table, id) as
      | { status: string; conflict_id: string | null }
      | undefined;
    return { serverId: row?.server_id ?? null, outboxStatus: entry?.status ?? null, conflictId: entry?.conflict_id ?? null };
  }

  /**
   * Edits a purchase order's notes and status as a cashier does, holding the
   * database's write lock from before the edit until `meanwhile` has finished: the
   * engine can neither push the edit nor apply anything pulled until then, so what
   * happens at central meanwhile happened before the till's edit reached it. Rolled
   * back if `meanwhile` fails.
   */
  async editPurchaseOrderWhile(id: number, notes: string, meanwhile: () => Promise<void>): Promise<void> {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const r = this.stmt(`UPDATE purchase_orders SET notes = ?, status = 'ordered', ordered_at = ?, updated_at = ? WHERE id = ?`).run(
        notes,
        new Date().toISOString(),
        new Date().toISOString(),
        id,
      );
      if (r.changes !== 1) throw new Error(`purchase order ${id} is not in this database`);
      await meanwhile();
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /**
   * Rings up sales at a steady rate until `count` sales, `durationSeconds` or the
   * signal. The first try is at once. While there is nothing to sell it waits and
   * tries again every second. A failed sale (rolled back) is reported and the run
   * goes on; ten failures in a row end it with the last error.
   */
  async run(opts: RunOptions): Promise<RunResult> {
    if (!(opts.ratePerSecond > 0) || !Number.isFinite(opts.ratePerSecond)) throw new RangeError(`ratePerSecond must be a positive number (got ${opts.ratePerSecond})`);
    const interval = 1000 / opts.ratePerSecond;
    const started = Date.now();
    const deadline = opts.durationSeconds === undefined ? Infinity : started + opts.durationSeconds * 1000;
    let sales = 0;
    let skipped = 0;
    let failed = 0;
    let failuresInARow = 0;
    let due = started;
    const done = () => opts.signal?.aborted === true || (opts.count !== undefined && sales >= opts.count) || Date.now() >= deadline;

    while (!done()) {
      let record: SaleRecord | null = null;
      try {
        record = this.saleOnce();
        failuresInARow = 0;
      } catch (err) {
        failed++;
        failuresInARow++;
        opts.onError?.(err);
        if (failuresInARow >= MAX_CONSECUTIVE_FAILURES) throw err;
      }
      if (record) {
        sales++;
        opts.onSale?.(record);
        due += interval;
        // Fell far behind (a long lock, a paused process)? Resume the pace; no burst.
        if (Date.now() - due > 1000) due = Date.now();
      } else if (failuresInARow === 0) {
        skipped++;
        opts.onSkip?.(skipped);
        due = Date.now() + NO_PRODUCTS_RETRY_MS;
      } else {
        due = Date.now() + Math.max(interval, 100);
      }
      if (done()) break;
      await sleep(Math.min(Math.max(0, due - Date.now()), deadline - Date.now()), opts.signal);
    }
    return { sales, skipped, failed };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
