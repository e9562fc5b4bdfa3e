/**
 * The POS simulator against real SQLite files: the terminal database is the
 * engine's (LocalStore: POS tables and capture triggers), the simulator writes to
 * it from another process, and the engine's triggers capture every sale.
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentConfigError } from '../../src/main/engine-settings.js';
import { LocalStore } from '../../src/main/sync/store/index.js';
import { simulateCommand } from '../../src/agent/commands/simulate.js';
import { PosSimulator } from '../../src/agent/simulator.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/simulate-command.ts', import.meta.url));

type Row = Record<string, unknown>;
interface Summary {
  sales: number;
  completed: number;
  pending: number;
  voided: number;
  newCustomers: number;
}

let dir: string;
let store: LocalStore;
const open: { close(): void }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tillsync-sim-'));
  store = new LocalStore(join(dir, 'pos.db'), 'terminal-x', { create: true });
  open.push(store);
});

afterEach(() => {
  for (const o of open.splice(0)) o.close();
  rmSync(dir, { recursive: true, force: true });
});

const now = () => new Date().toISOString();
const cents = (v: unknown) => Math.round(Number(v) * 100);

/** Rows as the engine would have pulled them: with central ids, and not captured. */
function seedStore(): number {
  return store.base.applying(() => {
    const r = store.base.db
      .prepare(`INSERT INTO stores (server_id, name, code, currency, created_at, updated_at) VALUES (?, 'Main street', 'S001', 'EUR', ?, ?)`)
      .run(randomUUID(), now(), now());
    return Number(r.lastInsertRowid);
  });
}

interface Seeded {
  storeId: number;
  products: number[];
  stock: Map<number, number>;
  customers: Map<number, { points: number; spent: number; visits: number }>;
}

function seedCatalog(storeId: number): Seeded {
  return store.base.applying(() => {
    const db = store.base.db;
    const tax = (name: string, rate: number, inclusive: number) =>
      Number(db.prepare(`INSERT INTO taxes (server_id, name, rate, inclusive, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`).run(randomUUID(), name, rate, inclusive, now(), now()).lastInsertRowid);
    const vat = tax('VAT 20%', 0.2, 0);
    const reduced = tax('Reduced 10% (inclusive)', 0.1, 1);
    db.prepare(`INSERT INTO users (server_id, store_id, username, full_name, role, active) VALUES (?, ?, 'ana', 'Ana Cashier', 'cashier', 1)`).run(randomUUID(), storeId);
    const products: number[] = [];
    const stock = new Map<number, number>();
    const prices = [1.99, 3.5, 12, 0.89, 24.95, 7.25, 2.4, 99.99];
    prices.forEach((price, i) => {
      const taxId = i % 3 === 0 ? vat : i % 3 === 1 ? reduced : null;
      const id = Number(
        db
          .prepare(`INSERT INTO products (server_id, sku, name, price, cost, tax_id, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)`)
          .run(randomUUID(), `SKU-${i}`, `Product ${i}`, price, price / 2, taxId, now(), now()).lastInsertRowid,
      );
      products.push(id);
      if (i < 6) {
        // Two products are not stocked by this store: no inventory row to decrease.
        db.prepare(`INSERT INTO inventory_items (server_id, store_id, product_id, stock_quantity, reorder_level, created_at, updated_at) VALUES (?, ?, ?, 500, 10, ?, ?)`).run(
          randomUUID(),
          storeId,
          id,
          now(),
          now(),
        );
        stock.set(id, 500);
      }
    });
    const customers = new Map<number, { points: number; spent: number; visits: number }>();
    for (let i = 0; i < 5; i++) {
      const id = Number(
        db
          .prepare(`INSERT INTO customers (server_id, name, email, loyalty_points, total_spent, visit_count, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(randomUUID(), `Customer ${i}`, `c${i}@example.com`, 10 * i, 5.5 * i, i, now(), now()).lastInsertRowid,
      );
      customers.set(id, { points: 10 * i, spent: 5.5 * i, visits: i });
    }
    return { storeId, products, stock, customers };
  });
}

function runFixture(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Reads the file as the engine sees it: captured writes moved into the outbox first (central ids given). */
const all = (sql: string, ...params: unknown[]) => {
  store.capture.promote();
  return store.base.db.prepare(sql).all(...params) as Row[];
};

describe('PosSimulator', () => {
  it('rings up sales from another process; the engine captures them whole', async () => {
    const seeded = seedCatalog(seedStore());
    const before = all('SELECT count(*) AS n FROM tillsync_outbox')[0];
    expect(before?.n).toBe(0); // the seeding was not captured

    const r = await runFixture(['--database', join(dir, 'pos.db'), '--count', '40', '--rate', '200', '--seed', '7', '--log-level', 'warn']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Summary;
    expect(summary.sales).toBe(40);
    expect(summary.completed + summary.pending + summary.voided).toBe(40);

    const orders = all('SELECT * FROM orders ORDER BY id');
    expect(orders).toHaveLength(40);
    expect(new Set(orders.map((o) => o.order_number)).size).toBe(40);
    const completed = orders.filter((o) => o.status === 'completed');
    expect(completed.length).toBe(summary.completed);
    expect(completed.length).toBeGreaterThan(30);

    const soldPerProduct = new Map<number, number>();
    const pointsPerCustomer = new Map<number, { points: number; spent: number; visits: number }>();
    for (const o of orders) {
      expect(o.store_id).toBe(seeded.storeId);
      expect(typeof o.server_id).toBe('string'); // given by the engine from the capture log, not the simulator
      expect(['completed', 'pending', 'voided']).toContain(o.status);
      const items = all('SELECT * FROM order_items WHERE order_id = ?', o.id);
      expect(items.length).toBeGreaterThanOrEqual(1);
      expect(items.length).toBeLessThanOrEqual(4);
      expect(new Set(items.map((i) => i.product_id)).size).toBe(items.length);
      for (const i of items) {
        expect(seeded.products).toContain(i.product_id);
        expect(i.store_id).toBe(seeded.storeId);
        const product = all('SELECT price FROM products WHERE id = ?', i.product_id)[0] as Row;
        expect(i.unit_price).toBe(product.price);
      }
      // Totals are consistent, to the cent.
      expect(items.reduce((s, i) => s + cents(i.line_total), 0)).toBe(cents(o.total));
      expect(items.reduce((s, i) => s + cents(i.tax), 0)).toBe(cents(o.tax_total));
      expect(cents(o.subtotal) + cents(o.tax_total)).toBe(cents(o.total));

      const payments = all('SELECT * FROM payments WHERE order_id = ?', o.id);
      const movements = all('SELECT * FROM inventory_transactions WHERE order_id = ?', o.id);
      if (o.status === 'completed') {
        expect(o.completed_at).toEqual(expect.any(String));
        expect(payments.length).toBeGreaterThanOrEqual(1);
        expect(payments.length).toBeLessThanOrEqual(2);
        expect(payments.reduce((s, p) => s + cents(p.amount), 0)).toBe(cents(o.total));
        for (const p of payments) expect(['cash', 'card']).toContain(p.method);
        expect(movements).toHaveLength(items.length);
        for (const i of items) {
          const m = movements.find((x) => x.product_id === i.product_id) as Row;
          expect(m.reason).toBe('sale');
          expect(m.quantity_change).toBe(-Number(i.quantity));
          soldPerProduct.set(i.product_id as number, (soldPerProduct.get(i.product_id as number) ?? 0) + Number(i.quantity));
        }
        if (o.customer_id !== null) {
          const c = pointsPerCustomer.get(o.customer_id as number) ?? { points: 0, spent: 0, visits: 0 };
          pointsPerCustomer.set(o.customer_id as number, { points: c.points + Math.floor(Number(o.total)), spent: c.spent + cents(o.total), visits: c.visits + 1 });
        }
      } else {
        // A parked cart or a voided sale: not paid, nothing left the shelf.
        expect(o.completed_at).toBeNull();
        expect(payments).toHaveLength(0);
        expect(movements).toHaveLength(0);
      }
    }

    // Stock decreased by exactly what was sold; unstocked products have no row.
    for (const [productId, initial] of seeded.stock) {
      const row = all('SELECT stock_quantity FROM inventory_items WHERE product_id = ?', productId)[0] as Row;
      expect(initial - Number(row.stock_quantity)).toBe(soldPerProduct.get(productId) ?? 0);
    }
    expect([...soldPerProduct.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(all('SELECT count(*) AS n FROM inventory_items')[0]?.n).toBe(6);

    // Loyalty: points, spending and visits grew by exactly the customers' completed sales.
    expect(pointsPerCustomer.size).toBeGreaterThan(0);
    const customers = all('SELECT * FROM customers ORDER BY id');
    const created = customers.filter((c) => !seeded.customers.has(c.id as number));
    expect(created.length).toBe(summary.newCustomers);
    for (const c of customers) {
      const start = seeded.customers.get(c.id as number) ?? { points: 0, spent: 0, visits: 0 };
      const earned = pointsPerCustomer.get(c.id as number) ?? { points: 0, spent: 0, visits: 0 };
      expect(c.loyalty_points).toBe(start.points + earned.points);
      expect(cents(c.total_spent)).toBe(cents(start.spent) + earned.spent);
      expect(c.visit_count).toBe(start.visits + earned.visits);
    }
    expect([...pointsPerCustomer.values()].some((p) => p.points > 0)).toBe(true);

    // The capture triggers recorded every write of the sales, and nothing else.
    const outbox = all('SELECT * FROM tillsync_outbox ORDER BY id');
    const tables = new Set(outbox.map((e) => e.table_name));
    for (const t of ['orders', 'order_items', 'payments', 'inventory_transactions', 'inventory_items', 'customers']) expect(tables).toContain(t);
    for (const t of ['stores', 'products', 'taxes', 'users']) expect(tables).not.toContain(t);

    const entriesOf = (table: string, localId: unknown) => outbox.filter((e) => e.table_name === table && e.local_id === localId);
    for (const o of orders) {
      const group = `orders:${o.server_id as string}`;
      const own = entriesOf('orders', o.id);
      expect(own[0]?.operation).toBe('CREATE');
      for (const e of own) {
        expect(e.tx_group).toBe(group);
        expect(e.server_id).toBe(o.server_id);
      }
      for (const i of all('SELECT id FROM order_items WHERE order_id = ?', o.id)) {
        const e = entriesOf('order_items', i.id);
        expect(e.map((x) => x.operation)).toEqual(['CREATE']);
        expect(e[0]?.tx_group).toBe(group);
      }
      for (const p of all('SELECT id FROM payments WHERE order_id = ?', o.id)) {
        const e = entriesOf('payments', p.id);
        expect(e.map((x) => x.operation)).toEqual(['CREATE']);
        expect(e[0]?.tx_group).toBe(group);
        expect(e[0]?.priority).toBe(10);
      }
      const groupPriority = Math.max(...outbox.filter((e) => e.tx_group === group).map((e) => e.priority as number));
      if (o.status === 'completed') {
        // Rung up pending, completed after payment: the completing update is CRITICAL.
        expect(own.map((e) => e.operation)).toEqual(['CREATE', 'UPDATE']);
        expect(JSON.parse(own[1]?.new_image as string)).toMatchObject({ status: 'completed' });
        expect(own[1]?.priority).toBe(10);
        expect(groupPriority).toBe(10);
      } else {
        expect(groupPriority).toBe(8);
      }
    }
    const completedItems = completed.flatMap((o) => all('SELECT product_id FROM order_items WHERE order_id = ?', o.id));
    expect(outbox.filter((e) => e.table_name === 'inventory_transactions' && e.operation === 'CREATE')).toHaveLength(completedItems.length);
    const stockUpdates = outbox.filter((e) => e.table_name === 'inventory_items');
    expect(stockUpdates.every((e) => e.operation === 'UPDATE')).toBe(true);
    expect(stockUpdates).toHaveLength(completedItems.filter((i) => seeded.stock.has(i.product_id as number)).length);
    const customerEntries = outbox.filter((e) => e.table_name === 'customers');
    expect(customerEntries.filter((e) => e.operation === 'UPDATE')).toHaveLength([...pointsPerCustomer.values()].reduce((s, p) => s + p.visits, 0));
    expect(customerEntries.filter((e) => e.operation === 'CREATE')).toHaveLength(created.length);
    expect(outbox.every((e) => e.status === 'pending')).toBe(true);
  });

  it('returns null while the terminal has nothing to sell, and sells once it has', () => {
    const sim = new PosSimulator(join(dir, 'pos.db'), { seed: 1 });
    open.push(sim);
    expect(sim.saleOnce()).toBeNull(); // no store, no products
    const storeId = seedStore();
    expect(sim.saleOnce()).toBeNull(); // a store, still no products
    expect(all('SELECT count(*) AS n FROM orders')[0]?.n).toBe(0);
    expect(all('SELECT count(*) AS n FROM tillsync_outbox')[0]?.n).toBe(0);

    seedCatalog(storeId);
    const sale = sim.saleOnce();
    expect(sale).not.toBeNull();
    expect(sale?.storeId).toBe(storeId);
    const order = all('SELECT * FROM orders WHERE id = ?', sale?.orderId)[0] as Row;
    expect(order.order_number).toBe(sale?.orderNumber);
    expect(cents(order.total)).toBe(cents(sale?.total));
    expect(all('SELECT count(*) AS n FROM order_items WHERE order_id = ?', sale?.orderId)[0]?.n).toBe(sale?.items.length);
  });

  it('waits for products, then rings up at its rate until the count', async () => {
    const storeId = seedStore();
    const sim = new PosSimulator(join(dir, 'pos.db'), { seed: 3 });
    open.push(sim);
    const sales: number[] = [];
    const done = sim.run({ ratePerSecond: 100, count: 3, onSale: (s) => sales.push(s.orderId) });
    // The first try is immediate and finds nothing; the products arrive afterwards.
    seedCatalog(storeId);
    const result = await done;
    expect(result.sales).toBe(3);
    expect(result.skipped).toBeGreaterThanOrEqual(1);
    expect(result.failed).toBe(0);
    expect(sales).toHaveLength(3);
    expect(all('SELECT count(*) AS n FROM orders')[0]?.n).toBe(3);
  });

  it('parks carts and voids sales without payment, stock movement or points', () => {
    const seeded = seedCatalog(seedStore());
    const parked = new PosSimulator(join(dir, 'pos.db'), { seed: 11, pendingShare: 1, customerShare: 1, newCustomerShare: 0 });
    const voided = new PosSimulator(join(dir, 'pos.db'), { seed: 12, pendingShare: 0, voidedShare: 1, customerShare: 1, newCustomerShare: 0 });
    open.push(parked, voided);
    const a = parked.saleOnce();
    const b = voided.saleOnce();
    expect(a?.status).toBe('pending');
    expect(b?.status).toBe('voided');
    expect(a?.customer?.pointsEarned).toBe(0);
    expect(a?.orderNumber).not.toBe(b?.orderNumber);
    for (const sale of [a, b]) {
      const order = all('SELECT * FROM orders WHERE id = ?', sale?.orderId)[0] as Row;
      expect(order.status).toBe(sale?.status);
      expect(order.completed_at).toBeNull();
      expect(order.customer_id).toBe(sale?.customer?.id);
      const own = all(`SELECT * FROM tillsync_outbox WHERE table_name = 'orders' AND local_id = ? ORDER BY id`, sale?.orderId);
      expect(own.map((e) => e.operation)).toEqual(sale?.status === 'voided' ? ['CREATE', 'UPDATE'] : ['CREATE']);
      expect(own.every((e) => e.priority === 8)).toBe(true);
    }
    for (const t of ['payments', 'inventory_transactions']) expect(all(`SELECT count(*) AS n FROM ${t}`)[0]?.n).toBe(0);
    expect(all(`SELECT count(*) AS n FROM tillsync_outbox WHERE table_name IN ('inventory_items', 'customers', 'payments')`)[0]?.n).toBe(0);
    for (const [productId, qty] of seeded.stock) {
      expect(all('SELECT stock_quantity FROM inventory_items WHERE product_id = ?', productId)[0]?.stock_quantity).toBe(qty);
    }
    for (const [id, c] of seeded.customers) expect(all('SELECT loyalty_points FROM customers WHERE id = ?', id)[0]?.loyalty_points).toBe(c.points);
  });

  it('runs until SIGINT, then prints its summary (exit code 0)', async () => {
    seedCatalog(seedStore());
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, '--database', join(dir, 'pos.db'), '--rate', '20'], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const started = new Promise<void>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('simulator started')) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await started;
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(0);
    const summary = JSON.parse(stdout.trim()) as Summary;
    expect(summary.sales).toBeGreaterThanOrEqual(1);
    expect(all('SELECT count(*) AS n FROM orders')[0]?.n).toBe(summary.sales);
  });

  it("waits out the engine's write transaction instead of failing", async () => {
    seedCatalog(seedStore());
    store.base.db.exec('BEGIN IMMEDIATE'); // the engine applying a pulled page, say
    const child = runFixture(['--database', join(dir, 'pos.db'), '--count', '5', '--rate', '100', '--seed', '2']);
    await new Promise((res) => setTimeout(res, 700));
    expect(all('SELECT count(*) AS n FROM orders')[0]?.n).toBe(0);
    store.base.db.exec('COMMIT');
    const r = await child;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ sales: 5, failed: 0 });
    expect(all('SELECT count(*) AS n FROM orders')[0]?.n).toBe(5);
  });

  it('stops on abort', async () => {
    seedCatalog(seedStore());
    const sim = new PosSimulator(join(dir, 'pos.db'), { seed: 5 });
    open.push(sim);
    const controller = new AbortController();
    const result = await sim.run({
      ratePerSecond: 1000,
      signal: controller.signal,
      onSale: (s) => {
        if (s.orderId >= 5) controller.abort();
      },
    });
    expect(result.sales).toBe(5);
  });

  it('refuses bad flags, naming the flag (exit code 2)', async () => {
    const database = join(dir, 'pos.db');
    const run = (flags: Record<string, string>) => simulateCommand.run({ flags: { database, ...flags }, env: {} });
    await expect(run({ rate: '0' })).rejects.toThrow(AgentConfigError);
    await expect(run({ rate: '0' })).rejects.toThrow(/--rate/);
    await expect(run({ rate: '-2' })).rejects.toThrow(/--rate/);
    await expect(run({ rate: 'fast' })).rejects.toThrow(/--rate/);
    await expect(run({ duration: 'abc' })).rejects.toThrow(/--duration/);
    await expect(run({ count: '2.5' })).rejects.toThrow(/--count/);
    await expect(run({ seed: 'x' })).rejects.toThrow(/--seed/);
    await expect(simulateCommand.run({ flags: {}, env: {} })).rejects.toThrow(/DATABASE_URL/);
    await expect(simulateCommand.run({ flags: { database: join(dir, 'nope.db') }, env: {} })).rejects.toThrow(/does not exist/);

    const r = await runFixture(['--database', database, '--rate', 'abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--rate/);
  });
});
