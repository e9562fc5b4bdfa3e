/**
 * The default conflict strategies end to end (DESIGN.md invariants 5, 6): a terminal
 * edits a row while central edits the same row before the terminal's push; the
 * table's strategy decides, on both sides alike. Products and inventory: central
 * wins; sales: the terminal wins; customers: merged per field, counters as deltas
 * (loyalty points added on two terminals at once both count).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { entryForTable, type CatalogEntry } from '../../src/shared/catalog/index.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, startEngine, startProxy, type TerminalEngine } from '../helpers/engine.js';
import { count, rowOf, settled } from '../helpers/sync.js';

const c = useCentral();
afterAll(closeAll);

const uid = () => randomUUID();
const entry = (table: string) => entryForTable(table) as CatalogEntry;

async function centralConflict(entityId: string) {
  const r = await c.db.query<{ status: string; resolution: string | null; strategy: string }>(
    'SELECT status, resolution, strategy FROM sync_conflicts WHERE entity_id = $1 ORDER BY created_at',
    [entityId],
  );
  return r.rows;
}

async function newCustomer(values: { name: string; email?: string; loyalty_points: number; total_spent: number; visit_count: number }): Promise<string> {
  const id = uid();
  await c.db.query(`INSERT INTO customers (id, name, email, loyalty_points, total_spent, visit_count) VALUES ($1, $2, $3, $4, $5, $6)`, [
    id,
    values.name,
    values.email ?? null,
    values.loyalty_points,
    values.total_spent,
    values.visit_count,
  ]);
  return id;
}

describe('default strategies, terminal and central editing the same row before the push', () => {
  it('products: CENTRAL_WINS, the terminal ends with central price and row', async () => {
    const e = await startEngine(c, { initialSync: true });
    const id = uid();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'Kettle', 10)`, [id, `CW-${id.slice(0, 8)}`]);
    await e.sync();
    expect(e.row('products', id)).toMatchObject({ price: 10, name: 'Kettle' });

    e.pos().prepare(`UPDATE products SET price = 12, name = 'Kettle (till)' WHERE server_id = ?`).run(id);
    await c.db.query('UPDATE products SET price = 15 WHERE id = $1', [id]);
    const entries = e.outbox().length;

    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(r.conflicts).toBeGreaterThanOrEqual(1);
    expect(await rowOf(c, 'products', id)).toMatchObject({ price: 15, name: 'Kettle', sync_version: 2 });
    expect(e.row('products', id)).toMatchObject({ price: 15, name: 'Kettle' });
    expect(await centralConflict(id)).toEqual([{ status: 'resolved', resolution: 'CENTRAL_WINS', strategy: 'CENTRAL_WINS' }]);
    // Taking central's row queued nothing; the terminal's change is settled, not retried.
    expect(e.outbox()).toHaveLength(entries);
    expect(e.outbox({ serverId: id }).map((x) => x.status)).toEqual(['synced']);
    const again = await e.sync();
    expect(again.pushed).toBe(0);
    expect(e.row('products', id)).toMatchObject({ price: 15 });
    expect(e.store.rows.rowState('products', id)?.version).toBe(2);
  });

  it('orders (SaleOrder): TERMINAL_WINS, central ends with the terminal row', async () => {
    const e = await startEngine(c, { initialSync: true });
    const pos = e.pos();
    const localStore = e.row('stores', e.terminal.storeId) as { id: number };
    const localId = Number(
      pos
        .prepare(`INSERT INTO orders (store_id, order_number, status, total, notes) VALUES (?, ?, 'pending', 10, 'till note')`)
        .run(localStore.id, `TW-${uid().slice(0, 8)}`).lastInsertRowid,
    );
    const id = e.serverIdOf('orders', localId);
    await e.sync();
    expect(await rowOf(c, 'orders', id)).toMatchObject({ status: 'pending', total: 10, sync_version: 1 });

    await c.db.query(`UPDATE orders SET notes = 'HQ note', total = 99, currency = 'USD' WHERE id = $1`, [id]);
    pos.prepare(`UPDATE orders SET status = 'completed', total = 12, completed_at = '2026-03-01 10:00:00' WHERE id = ?`).run(localId);

    const r = await e.sync();
    expect(r.errors).toEqual([]);
    const local = e.store.base.db.prepare('SELECT * FROM orders WHERE id = ?').get(localId) as Record<string, unknown>;
    const central = await rowOf(c, 'orders', id);
    expect(central).toMatchObject({
      status: 'completed',
      total: 12,
      notes: 'till note',
      currency: local.currency,
      completed_at: '2026-03-01T10:00:00.000Z',
      store_id: e.terminal.storeId,
      sync_version: 3,
    });
    expect(local).toMatchObject({ status: 'completed', total: 12, notes: 'till note' });
    expect(await centralConflict(id)).toEqual([{ status: 'resolved', resolution: 'TERMINAL_WINS', strategy: 'TERMINAL_WINS' }]);
    expect(e.outbox({ status: 'pending' })).toHaveLength(0);
  });

  it('inventory_items (InventoryItem): CENTRAL_WINS, the terminal ends with central stock (stock_quantity <- master_stock_quantity)', async () => {
    const e = await startEngine(c, { initialSync: true });
    const product = uid();
    const item = uid();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'Stocked', 3)`, [product, `INV-${product.slice(0, 8)}`]);
    await c.db.query(`INSERT INTO inventory_items (id, store_id, product_id, master_stock_quantity, reorder_level) VALUES ($1, $2, $3, 10, 2)`, [
      item,
      e.terminal.storeId,
      product,
    ]);
    await e.sync();
    const localProduct = e.row('products', product) as { id: number };
    expect(e.row('inventory_items', item)).toMatchObject({ stock_quantity: 10, reorder_level: 2, product_id: localProduct.id });

    e.pos().prepare('UPDATE inventory_items SET stock_quantity = 7, location = ? WHERE server_id = ?').run('aisle 3', item);
    await c.db.query('UPDATE inventory_items SET master_stock_quantity = 50 WHERE id = $1', [item]);

    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(await rowOf(c, 'inventory_items', item)).toMatchObject({ master_stock_quantity: 50, location: null, sync_version: 2 });
    expect(e.row('inventory_items', item)).toMatchObject({ stock_quantity: 50, location: null, product_id: localProduct.id });
    expect(await centralConflict(item)).toEqual([{ status: 'resolved', resolution: 'CENTRAL_WINS', strategy: 'CENTRAL_WINS' }]);
    expect(e.outbox({ status: 'pending' })).toHaveLength(0);
  });

  it('customers (Customer): MERGE, fields each side changed are kept and counters add both deltas', async () => {
    const e = await startEngine(c, { initialSync: true });
    const id = await newCustomer({ name: 'Ann', email: 'ann@old.example', loyalty_points: 100, total_spent: 50, visit_count: 3 });
    await e.sync();
    expect(e.row('customers', id)).toMatchObject({ loyalty_points: 100, total_spent: 50, visit_count: 3 });

    e.pos()
      .prepare(`UPDATE customers SET loyalty_points = loyalty_points + 10, total_spent = total_spent + 20.5, visit_count = visit_count + 1, phone = '555-0101' WHERE server_id = ?`)
      .run(id);
    await c.db.query(`UPDATE customers SET loyalty_points = loyalty_points + 5, total_spent = total_spent + 4.5, email = 'ann@hq.example' WHERE id = $1`, [id]);

    const r = await e.sync();
    expect(r.errors).toEqual([]);
    const merged = { name: 'Ann', email: 'ann@hq.example', phone: '555-0101', loyalty_points: 115, total_spent: 75, visit_count: 4 };
    expect(await rowOf(c, 'customers', id)).toMatchObject(merged);
    expect(e.row('customers', id)).toMatchObject(merged);
    expect(await centralConflict(id)).toEqual([{ status: 'resolved', resolution: 'MERGED', strategy: 'MERGE' }]);

    // The merged row is what both sides have: nothing more to push or pull.
    const again = await e.sync();
    expect(again.pushed).toBe(0);
    expect(e.row('customers', id)).toMatchObject(merged);
    expect(e.outbox({ status: 'pending' })).toHaveLength(0);
  });
});

describe('strategies when a pull meets a row with changes not pushed yet', () => {
  /** Pulls one table's pages from central and applies them, as a pass does (while the local change waits). */
  async function pullInto(e: TerminalEngine, table: string) {
    await settled(c);
    const en = entry(table);
    const page = await e.service.client.pull({
      terminalId: e.terminal.terminalId,
      entityType: en.entityType,
      cursor: e.store.cursors.cursor(table),
      limit: 500,
      schemaHash: en.schemaHash,
    });
    return e.store.pages.applyPage(en, page.changes, page.cursor, 60_000);
  }

  it('products: central wins, the pending terminal change is superseded', async () => {
    const e = await startEngine(c, { initialSync: true });
    const id = uid();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'Toaster', 20)`, [id, `PCW-${id.slice(0, 8)}`]);
    await e.sync();
    e.pos().prepare('UPDATE products SET price = 21 WHERE server_id = ?').run(id);
    await c.db.query('UPDATE products SET price = 25 WHERE id = $1', [id]);

    const r = await pullInto(e, 'products');
    expect(r.conflicts).toBe(1);
    expect(e.row('products', id)).toMatchObject({ price: 25 });
    expect(e.outbox({ serverId: id, status: 'pending' })).toHaveLength(0);
    const s = await e.sync();
    expect(s.errors).toEqual([]);
    expect(await rowOf(c, 'products', id)).toMatchObject({ price: 25, sync_version: 2 });
    expect(e.row('products', id)).toMatchObject({ price: 25 });
  });

  it('its own change, committed at central before the answer came back, is left to that answer: no conflict, and a newer edit is kept', async () => {
    const e = await startEngine(c, { initialSync: true });
    const id = uid();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'Kettle', 20)`, [id, `OWN-${id.slice(0, 8)}`]);
    await e.sync();
    e.pos().prepare(`UPDATE products SET name = 'Kettle 2' WHERE server_id = ?`).run(id);
    // The push goes and central commits it (version 2, written by this till), but its answer
    // is not in yet: a pull beside the push (a hint) meets the till's own row.
    const batch = e.store.batches.nextBatch({ limit: 50, minPriority: 0, now: Date.now(), pausedTables: new Set() });
    const answer = await e.service.client.push({ terminalId: e.terminal.terminalId, changes: batch.changes.map((x) => x.change) });
    expect(await rowOf(c, 'products', id)).toMatchObject({ name: 'Kettle 2', sync_version: 2 });
    e.pos().prepare('UPDATE products SET price = 30 WHERE server_id = ?').run(id); // the POS edits on

    const r = await pullInto(e, 'products');
    expect(r.conflicts).toBe(0);
    expect(e.row('products', id)).toMatchObject({ name: 'Kettle 2', price: 30 });
    expect(e.outbox({ serverId: id, status: 'pending' })).toHaveLength(2);

    e.store.answers.recordPush(batch, answer, 60_000); // the answer arrives
    const s = await e.sync();
    expect(s.errors).toEqual([]);
    expect(s.conflicts).toBe(0);
    expect(await rowOf(c, 'products', id)).toMatchObject({ name: 'Kettle 2', price: 30, sync_version: 3 });
    expect(e.row('products', id)).toMatchObject({ name: 'Kettle 2', price: 30 });
    expect(await centralConflict(id)).toEqual([]);
  });

  it('customers: merged locally, and the merged row reaches central without a second conflict', async () => {
    const e = await startEngine(c, { initialSync: true });
    const id = await newCustomer({ name: 'Bo', loyalty_points: 100, total_spent: 0, visit_count: 0 });
    await e.sync();
    e.pos().prepare(`UPDATE customers SET loyalty_points = loyalty_points + 10, phone = '555-0199' WHERE server_id = ?`).run(id);
    await c.db.query(`UPDATE customers SET loyalty_points = loyalty_points + 5, notes = 'vip' WHERE id = $1`, [id]);

    const r = await pullInto(e, 'customers');
    expect(r.conflicts).toBe(1);
    const merged = { loyalty_points: 115, phone: '555-0199', notes: 'vip' };
    expect(e.row('customers', id)).toMatchObject(merged);

    const s = await e.sync();
    expect(s.errors).toEqual([]);
    expect(await rowOf(c, 'customers', id)).toMatchObject({ ...merged, sync_version: 3 });
    expect(await centralConflict(id)).toEqual([]);
    await e.sync();
    expect(e.row('customers', id)).toMatchObject(merged);
    expect(e.outbox({ status: 'pending' })).toHaveLength(0);
  });
});

describe('loyalty points changed on two terminals at once', () => {
  const both = async (a: TerminalEngine, b: TerminalEngine, id: string) => [
    (a.row('customers', id) as { loyalty_points: number }).loyalty_points,
    (b.row('customers', id) as { loyalty_points: number }).loyalty_points,
  ];

  it('two terminals of one store each add points offline; central ends with base + both deltas and both terminals show it', async () => {
    const store = `loyal-${uid().slice(0, 8)}`;
    const t1 = await startEngine(c, { storeId: store, initialSync: true });
    const t2 = await startEngine(c, { storeId: store, initialSync: true });
    const id = await newCustomer({ name: 'Cy', loyalty_points: 100, total_spent: 10, visit_count: 1 });
    await t1.sync();
    await t2.sync();
    expect(await both(t1, t2, id)).toEqual([100, 100]);

    // Offline, each till adds points for a purchase (twice on the first one).
    t1.pos().prepare('UPDATE customers SET loyalty_points = loyalty_points + 10, total_spent = total_spent + 5 WHERE server_id = ?').run(id);
    t1.pos().prepare('UPDATE customers SET loyalty_points = loyalty_points + 3 WHERE server_id = ?').run(id);
    t2.pos().prepare('UPDATE customers SET loyalty_points = loyalty_points + 25, total_spent = total_spent + 7.25 WHERE server_id = ?').run(id);

    // Back online at the same moment.
    const [r1, r2] = await Promise.all([t1.sync(), t2.sync()]);
    expect(r1.errors).toEqual([]);
    expect(r2.errors).toEqual([]);
    expect(await rowOf(c, 'customers', id)).toMatchObject({ loyalty_points: 138, total_spent: 22.25, visit_count: 1 });

    await t1.sync();
    await t2.sync();
    expect(await both(t1, t2, id)).toEqual([138, 138]);
    expect(await rowOf(c, 'customers', id)).toMatchObject({ loyalty_points: 138, total_spent: 22.25 });
    expect(t1.outbox({ status: 'pending' })).toHaveLength(0);
    expect(t2.outbox({ status: 'pending' })).toHaveLength(0);
    expect(await count(c, `sync_conflicts WHERE entity_id = $1 AND resolution = 'MERGED'`, [id])).toBe(1);
  });

  it('the same, one terminal after the other', async () => {
    const store = `loyal-${uid().slice(0, 8)}`;
    const t1 = await startEngine(c, { storeId: store, initialSync: true });
    const t2 = await startEngine(c, { storeId: store, initialSync: true });
    const id = await newCustomer({ name: 'Di', loyalty_points: 40, total_spent: 0, visit_count: 0 });
    await t1.sync();
    await t2.sync();
    t1.pos().prepare('UPDATE customers SET loyalty_points = loyalty_points + 7 WHERE server_id = ?').run(id);
    t2.pos().prepare('UPDATE customers SET loyalty_points = loyalty_points - 15 WHERE server_id = ?').run(id); // points redeemed
    await t1.sync();
    await t2.sync();
    expect(await rowOf(c, 'customers', id)).toMatchObject({ loyalty_points: 32 });
    await t1.sync();
    expect(await both(t1, t2, id)).toEqual([32, 32]);
  });
});

describe('a POS write while the conflicting push is in flight', () => {
  const business = (row: Record<string, unknown> | null | undefined, cols: string[]) => Object.fromEntries(cols.map((k) => [k, row?.[k] ?? null]));

  it('customers: loyalty points added during the push still count, and terminal and central agree', async () => {
    const id = await newCustomer({ name: 'Ed', loyalty_points: 100, total_spent: 0, visit_count: 0 });
    let e: TerminalEngine | undefined;
    let wrote = false;
    const proxy = await startProxy(c.url, (r) => {
      if (!wrote && e && r.path === '/api/sync/push' && r.body.includes(id)) {
        wrote = true; // the cashier adds 3 points while the till's push is on its way
        e.pos().prepare('UPDATE customers SET loyalty_points = loyalty_points + 3 WHERE server_id = ?').run(id);
      }
    });
    try {
      e = await startEngine(c, { config: { centralUrl: proxy.url }, initialSync: true });
      expect(e.row('customers', id)).toMatchObject({ loyalty_points: 100 });
      e.pos().prepare('UPDATE customers SET loyalty_points = loyalty_points + 10 WHERE server_id = ?').run(id);
      await c.db.query('UPDATE customers SET loyalty_points = loyalty_points + 5 WHERE id = $1', [id]);

      await e.sync();
      expect(wrote).toBe(true);
      await e.sync();
      await e.sync();
      expect(await rowOf(c, 'customers', id)).toMatchObject({ loyalty_points: 118 });
      expect(e.row('customers', id)).toMatchObject({ loyalty_points: 118 });
    } finally {
      await proxy.close();
    }
  });

  it('products: an edit made during the push does not undo central pricing, and terminal and central agree', async () => {
    const id = uid();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'Lamp', 30)`, [id, `FLY-${id.slice(0, 8)}`]);
    let e: TerminalEngine | undefined;
    let wrote = false;
    const proxy = await startProxy(c.url, (r) => {
      if (!wrote && e && r.path === '/api/sync/push' && r.body.includes(id)) {
        wrote = true; // someone renames the product on the till while the price change is on its way
        e.pos().prepare(`UPDATE products SET description = 'desk lamp' WHERE server_id = ?`).run(id);
      }
    });
    try {
      e = await startEngine(c, { config: { centralUrl: proxy.url }, initialSync: true });
      e.pos().prepare('UPDATE products SET price = 25 WHERE server_id = ?').run(id);
      await c.db.query('UPDATE products SET price = 35 WHERE id = $1', [id]);

      await e.sync();
      expect(wrote).toBe(true);
      await e.sync();
      await e.sync();
      const cols = ['sku', 'name', 'description', 'price'];
      const central = await rowOf(c, 'products', id);
      expect(central).toMatchObject({ price: 35 });
      expect(business(e.row('products', id), cols)).toEqual(business(central, cols));
    } finally {
      await proxy.close();
    }
  });
});
