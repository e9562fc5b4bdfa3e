/**
 * A legacy POS database (integer keys, no central ids) joins sync: opening it only
 * adds columns, indexes and triggers (no business value changes); bootstrap gives
 * every row a central id and queues it once, resumably; a full sync then brings the
 * orders and their items to central with their links translated to central ids.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../src/main/sync/bootstrap.js';
import { LocalStore } from '../../src/main/sync/store/index.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, startEngine, tempDir, type TerminalEngine } from '../helpers/engine.js';
import { answersForRows, count, rowOf } from '../helpers/sync.js';

const c = useCentral();
afterAll(closeAll);

const LEGACY_TABLES = {
  customers: ['id', 'name', 'email', 'loyalty_points', 'created_at'],
  products: ['id', 'sku', 'name', 'price', 'active'],
  orders: ['id', 'order_number', 'customer_id', 'status', 'total', 'created_at'],
  order_items: ['id', 'order_id', 'product_id', 'quantity', 'unit_price', 'line_total'],
  pos_private: ['k', 'v'],
} as const;

interface LegacyShape {
  customers: number;
  products: number;
  orders: number;
  itemsPerOrder: number;
  /** Give the POS its own stores table, and point every order at its one row. */
  withStores?: boolean;
}

/** A POS database as a legacy POS made it: integer keys, links by local id, nothing of sync. */
function legacyDatabase(shape: LegacyShape): string {
  const path = join(tempDir('tillsync-legacy-'), 'legacy-pos.db');
  const db = new Database(path);
  db.exec(`
    CREATE TABLE customers (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT, loyalty_points INTEGER DEFAULT 0, created_at TEXT);
    CREATE TABLE products (id INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT NOT NULL UNIQUE, name TEXT NOT NULL, price REAL NOT NULL, active INTEGER DEFAULT 1);
    CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, order_number TEXT NOT NULL, customer_id INTEGER REFERENCES customers(id),
                         status TEXT NOT NULL, total REAL, created_at TEXT DEFAULT CURRENT_TIMESTAMP
                         ${shape.withStores ? ', store_id INTEGER REFERENCES stores(id)' : ''});
    CREATE TABLE order_items (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL REFERENCES orders(id),
                              product_id INTEGER REFERENCES products(id), quantity REAL NOT NULL, unit_price REAL, line_total REAL);
    CREATE TABLE pos_private (k TEXT PRIMARY KEY, v TEXT);
    INSERT INTO pos_private VALUES ('printer', 'EPSON TM-T20');
  `);
  if (shape.withStores) {
    db.exec(`CREATE TABLE stores (id INTEGER PRIMARY KEY, name TEXT NOT NULL, code TEXT); INSERT INTO stores VALUES (1, 'Our shop', 'S1');`);
  }
  const fill = db.transaction(() => {
    // Gaps and offsets in the keys, so a local id is never mistaken for a position.
    db.prepare(`INSERT INTO sqlite_sequence (name, seq) VALUES ('customers', 100), ('orders', 1000), ('order_items', 5000)`).run();
    for (let i = 1; i <= shape.customers; i++) {
      db.prepare('INSERT INTO customers (name, email, loyalty_points, created_at) VALUES (?, ?, ?, ?)').run(`Customer ${i}`, `c${i}@example.com`, i * 10, '2023-05-01 09:30:00');
    }
    for (let i = 1; i <= shape.products; i++) {
      db.prepare('INSERT INTO products (sku, name, price, active) VALUES (?, ?, ?, 1)').run(`LEG-${process.pid}-${Date.now()}-${i}`, `Legacy product ${i}`, i + 0.5);
    }
    const customerIds = (db.prepare('SELECT id FROM customers ORDER BY id').all() as { id: number }[]).map((r) => r.id);
    const productIds = (db.prepare('SELECT id FROM products ORDER BY id').all() as { id: number }[]).map((r) => r.id);
    for (let i = 1; i <= shape.orders; i++) {
      const customer = customerIds.length ? (customerIds[i % customerIds.length] as number) : null;
      const order = db
        .prepare(`INSERT INTO orders (order_number, customer_id, status, total, created_at${shape.withStores ? ', store_id' : ''}) VALUES (?, ?, 'completed', ?, '2023-06-0${(i % 9) + 1} 12:00:00'${shape.withStores ? ', 1' : ''})`)
        .run(`L-${i}`, customer, i * 3);
      for (let j = 0; j < shape.itemsPerOrder; j++) {
        const product = productIds.length ? (productIds[(i + j) % productIds.length] as number) : null;
        db.prepare('INSERT INTO order_items (order_id, product_id, quantity, unit_price, line_total) VALUES (?, ?, ?, 1.5, ?)').run(order.lastInsertRowid, product, j + 1, 1.5 * (j + 1));
      }
    }
    if (shape.orders > 2) db.prepare(`DELETE FROM order_items WHERE order_id = (SELECT min(id) FROM orders)`).run(); // an order without items
  });
  fill();
  db.close();
  return path;
}

/** Business columns of the legacy tables, as the POS wrote them. */
function dump(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  const out: Record<string, unknown[]> = {};
  for (const [table, cols] of Object.entries(LEGACY_TABLES)) out[table] = db.prepare(`SELECT ${cols.join(', ')} FROM ${table} ORDER BY rowid`).all();
  out.schema_of_private = db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'pos_private'`).all();
  db.close();
  return out;
}

function columnsOf(path: string): Record<string, { name: string; type: string; notnull: number; dflt_value: unknown; pk: number }[]> {
  const db = new Database(path, { readonly: true });
  const out: Record<string, { name: string; type: string; notnull: number; dflt_value: unknown; pk: number }[]> = {};
  for (const table of Object.keys(LEGACY_TABLES)) out[table] = db.prepare(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)`).all(table) as never;
  db.close();
  return out;
}

/** Outbox entries per (table, local row): every row must be queued exactly once. */
function queuedPerRow(e: TerminalEngine): Map<string, number> {
  const rows = e.store.base.db.prepare('SELECT table_name, local_id, count(*) AS n FROM tillsync_outbox GROUP BY table_name, local_id').all() as {
    table_name: string;
    local_id: number;
    n: number;
  }[];
  return new Map(rows.map((r) => [`${r.table_name}:${r.local_id}`, r.n]));
}

function expectEveryRowQueuedOnce(e: TerminalEngine, tables: string[]): void {
  const queued = queuedPerRow(e);
  let total = 0;
  for (const table of tables) {
    const rows = e.store.base.db.prepare(`SELECT id, server_id FROM ${table}`).all() as { id: number; server_id: string | null }[];
    for (const r of rows) {
      expect(r.server_id, `${table} ${r.id} has a central id`).toMatch(/^[0-9a-f-]{36}$/);
      expect(queued.get(`${table}:${r.id}`), `${table} ${r.id} queued once`).toBe(1);
      const entry = e.store.base.db.prepare('SELECT server_id, operation FROM tillsync_outbox WHERE table_name = ? AND local_id = ?').get(table, r.id);
      expect(entry).toEqual({ server_id: r.server_id, operation: 'CREATE' });
    }
    total += rows.length;
  }
  expect(e.outbox()).toHaveLength(total);
}

async function expectLinkedAtCentral(e: TerminalEngine): Promise<void> {
  const orders = e.store.base.db.prepare('SELECT id, server_id, order_number, customer_id FROM orders').all() as {
    id: number;
    server_id: string;
    order_number: string;
    customer_id: number | null;
  }[];
  for (const o of orders) {
    const central = await rowOf(c, 'orders', o.server_id);
    expect(central, `order ${o.order_number} at central`).toMatchObject({ order_number: o.order_number, store_id: e.terminal.storeId, status: 'completed' });
    expect(central?.customer_id).toBe(o.customer_id === null ? null : e.serverIdOf('customers', o.customer_id));
    const items = e.store.base.db.prepare('SELECT server_id, product_id, quantity FROM order_items WHERE order_id = ?').all(o.id) as {
      server_id: string;
      product_id: number | null;
      quantity: number;
    }[];
    for (const it of items) {
      expect(await rowOf(c, 'order_items', it.server_id)).toMatchObject({
        order_id: o.server_id,
        product_id: it.product_id === null ? null : e.serverIdOf('products', it.product_id),
        quantity: it.quantity,
        store_id: e.terminal.storeId,
      });
    }
    expect(await count(c, 'order_items WHERE order_id = $1', [o.server_id])).toBe(items.length);
  }
}

describe('bootstrap of a legacy integer-key database', () => {
  it('opening it only adds columns and triggers and changes no business value', async () => {
    const path = legacyDatabase({ customers: 3, products: 4, orders: 5, itemsPerOrder: 2 });
    const before = dump(path);
    const colsBefore = columnsOf(path);
    const store = new LocalStore(path, 'legacy-probe', { createMissing: false });
    try {
      expect(store.base.install.createdTables).toEqual([]);
      expect([...store.base.tables.keys()].sort()).toEqual(['customers', 'order_items', 'orders', 'products']);
      expect(store.base.install.skippedTables).toContain('payments');
      expect(store.base.install.addedColumns).toContain('orders.server_id');
      expect((store.base.db.prepare('SELECT count(*) AS n FROM tillsync_outbox').get() as { n: number }).n).toBe(0);
      // No table the POS did not have appears.
      expect(store.base.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('payments', 'stores', 'inventory_items')`).all()).toEqual([]);
    } finally {
      store.close();
    }
    expect(dump(path)).toEqual(before);
    const colsAfter = columnsOf(path);
    for (const [table, cols] of Object.entries(colsBefore)) {
      const after = colsAfter[table] ?? [];
      expect(after.slice(0, cols.length), `${table}: existing columns unchanged`).toEqual(cols);
      for (const added of after.slice(cols.length)) expect(added, `${table}.${added.name} is nullable, no default`).toMatchObject({ notnull: 0, dflt_value: null, pk: 0 });
    }
    expect(colsAfter.pos_private).toEqual(colsBefore.pos_private);
    // Opening it again changes nothing more.
    new LocalStore(path, 'legacy-probe', { createMissing: false }).close();
    expect(dump(path)).toEqual(before);
    expect(columnsOf(path)).toEqual(colsAfter);
  });

  it('bootstrap queues every row once and a full sync brings orders and items to central with order_items.order_id = the order central id', async () => {
    const path = legacyDatabase({ customers: 3, products: 4, orders: 6, itemsPerOrder: 3 });
    const before = dump(path);
    const e = await startEngine(c, { path, storeOptions: { createMissing: false } });
    const report = bootstrap(e.store);
    expect(report.queued).toEqual({ products: 4, customers: 3, orders: 6, order_items: 15 });
    expectEveryRowQueuedOnce(e, ['products', 'customers', 'orders', 'order_items']);
    // An order's items travel in its group.
    const o = e.store.base.db.prepare('SELECT id, server_id FROM orders ORDER BY id DESC LIMIT 1').get() as { id: number; server_id: string };
    const itemIds = new Set((e.store.base.db.prepare('SELECT id FROM order_items WHERE order_id = ?').all(o.id) as { id: number }[]).map((x) => x.id));
    const groups = e.outbox({ table: 'order_items' }).filter((x) => itemIds.has(x.local_id)).map((x) => x.tx_group);
    expect(groups).toEqual([...itemIds].map(() => `orders:${o.server_id}`));
    expect(e.outbox({ table: 'orders' }).find((x) => x.local_id === o.id)?.tx_group).toBe(`orders:${o.server_id}`);

    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(r.failed).toBe(0);
    expect(r.pushed).toBe(28);
    expect(e.outbox({ status: 'pending' })).toHaveLength(0);
    expect(e.outbox({ status: 'failed' })).toHaveLength(0);
    await expectLinkedAtCentral(e);
    const anyCustomer = e.store.base.db.prepare('SELECT server_id, name FROM customers LIMIT 1').get() as { server_id: string; name: string };
    expect(await rowOf(c, 'customers', anyCustomer.server_id)).toMatchObject({ name: anyCustomer.name, created_at: '2023-05-01T09:30:00.000Z' });
    // Bootstrap and sync changed no business value either.
    expect(dump(path)).toEqual(before);
    // Nothing is left to bootstrap; a second run queues nothing.
    expect(bootstrap(e.store).queued).toEqual({});
    expect((await e.sync()).pushed).toBe(0);
  });

  it('bootstrap is resumable: crashing after every chunk and starting again queues every row exactly once', async () => {
    const path = legacyDatabase({ customers: 5, products: 3, orders: 4, itemsPerOrder: 3 });
    const e = await startEngine(c, { path, storeOptions: { createMissing: false } });

    // The first run dies after its first chunk.
    let chunks = 0;
    expect(() =>
      bootstrap(e.store, {
        chunk: 2,
        onProgress: () => {
          chunks++;
          throw new Error('power cut');
        },
      }),
    ).toThrow('power cut');
    expect(chunks).toBe(1);
    expect(e.outbox()).toHaveLength(2);
    expect((e.store.base.db.prepare('SELECT count(*) AS n FROM products WHERE server_id IS NOT NULL').get() as { n: number }).n).toBe(2);

    // Every further run dies after one chunk too, until one finds nothing left.
    let runs = 1;
    for (;;) {
      runs++;
      let progressed = false;
      try {
        bootstrap(e.store, {
          chunk: 2,
          onProgress: () => {
            progressed = true;
            throw new Error('power cut');
          },
        });
        break;
      } catch (err) {
        expect((err as Error).message).toBe('power cut');
        expect(progressed).toBe(true);
      }
      expect(runs).toBeLessThan(50);
    }
    expect(runs).toBeGreaterThan(5);
    expectEveryRowQueuedOnce(e, ['products', 'customers', 'orders', 'order_items']);

    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(r.failed).toBe(0);
    await expectLinkedAtCentral(e);
    const sids = (e.store.base.db.prepare('SELECT server_id FROM order_items').all() as { server_id: string }[]).map((x) => x.server_id);
    expect(await count(c, 'order_items WHERE id = ANY($1::text[])', [sids])).toBe(sids.length);
    expect(await answersForRows(c, sids)).toBe(sids.length);
  });

  it("a legacy POS with its own stores table: its orders reach central under the terminal's store", async () => {
    const path = legacyDatabase({ customers: 1, products: 1, orders: 3, itemsPerOrder: 1, withStores: true });
    const e = await startEngine(c, { path, storeOptions: { createMissing: false } });
    const report = bootstrap(e.store);
    expect(report.queued.orders).toBe(3);
    const r = await e.sync();
    expect(e.outbox({ status: 'failed' }).map((x) => `${x.table_name}: ${x.last_error}`)).toEqual([]);
    expect(r.errors).toEqual([]);
    await expectLinkedAtCentral(e);
  });
});
