/**
 * Capture on the terminal (DESIGN.md invariants 1, 2, 8): sales written by the POS's
 * own process are captured by triggers in the POS's transaction and reach a real
 * central once, with central ids in their foreign keys; an order travels with its
 * items and payments; rows written without triggers can be queued by hand.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCentral } from '../helpers/central.js';
import { closeAll, runFixture, startEngine, type TerminalEngine } from '../helpers/engine.js';
import { answersForRows, answersKept, count, rowOf } from '../helpers/sync.js';

const c = useCentral();

/** The central transactions that last wrote these rows of a sale (orders, their lines, payments): each row's xmin. */
async function writers(ids: readonly string[]): Promise<string[]> {
  const r = await c.db.query<{ t: string }>(
    `SELECT DISTINCT t FROM (SELECT xmin::text AS t FROM orders WHERE id = ANY($1::text[])
       UNION ALL SELECT xmin::text FROM order_items WHERE id = ANY($1::text[])
       UNION ALL SELECT xmin::text FROM payments WHERE id = ANY($1::text[])) x`,
    [ids],
  );
  return r.rows.map((x) => x.t);
}
afterAll(closeAll);

interface Sale {
  orderId: number;
  itemIds: number[];
  paymentIds: number[];
  orderNumber: string;
}

const sellFromAnotherProcess = async (e: TerminalEngine, opts: Record<string, unknown> = {}): Promise<Sale> =>
  JSON.parse(await runFixture('engine-pos-sale.ts', [e.path, JSON.stringify(opts)])) as Sale;

describe('capture of sales written by another process', () => {
  let e: TerminalEngine;
  beforeAll(async () => {
    e = await startEngine(c, { initialSync: true });
  });

  it('a sale written by another process in one transaction is captured, pushed once, with central ids in its foreign keys and its store filled', async () => {
    const sale = await sellFromAnotherProcess(e, { items: 2, payments: 1 });
    const orderSid = e.serverIdOf('orders', sale.orderId);
    const itemSids = sale.itemIds.map((id) => e.serverIdOf('order_items', id));
    const paymentSids = sale.paymentIds.map((id) => e.serverIdOf('payments', id));

    // Captured by the triggers, in the POS's transaction: one CREATE per row, one group.
    const captured = e.outbox({ status: 'pending' });
    expect(captured.map((o) => [o.table_name, o.operation])).toEqual([
      ['orders', 'CREATE'],
      ['order_items', 'CREATE'],
      ['order_items', 'CREATE'],
      ['payments', 'CREATE'],
    ]);
    expect(new Set(captured.map((o) => o.tx_group))).toEqual(new Set([`orders:${orderSid}`]));
    const orderImage = JSON.parse(captured[0]?.new_image ?? '{}') as Record<string, unknown>;
    expect(orderImage).toMatchObject({ id: sale.orderId, order_number: sale.orderNumber, status: 'completed' });

    // The CRITICAL fast path takes the whole sale (its items are HIGH, they travel with it).
    const r = await e.service.pushCritical();
    expect(r.errors).toEqual([]);
    expect(r.pushed).toBe(4);
    expect(e.outbox({ status: 'pending' })).toHaveLength(0);

    const order = await rowOf(c, 'orders', orderSid);
    expect(order).toMatchObject({ order_number: sale.orderNumber, status: 'completed', store_id: e.terminal.storeId, sync_version: 1 });
    for (const id of itemSids) {
      expect(await rowOf(c, 'order_items', id)).toMatchObject({ order_id: orderSid, store_id: e.terminal.storeId, quantity: 1 });
    }
    for (const id of paymentSids) {
      expect(await rowOf(c, 'payments', id)).toMatchObject({ order_id: orderSid, store_id: e.terminal.storeId, method: 'card', amount: 20 });
    }
    expect(await count(c, 'order_items WHERE order_id = $1', [orderSid])).toBe(2);
    expect(await count(c, 'payments WHERE order_id = $1', [orderSid])).toBe(1);

    // Once: further passes send nothing, and central applied each change exactly once.
    const again = await e.sync();
    expect(again.errors).toEqual([]);
    expect(again.pushed).toBe(0);
    const all = [orderSid, ...itemSids, ...paymentSids];
    expect(await answersForRows(c, all)).toBe(4);
    expect(await count(c, 'orders WHERE order_number = $1', [sale.orderNumber])).toBe(1);
    // Each row was written once (a sale's tables keep no change log at central: up-only).
    expect(await writers(all)).toHaveLength(1);
    expect(await count(c, 'orders WHERE id = $1 AND sync_version = 1', [orderSid])).toBe(1);
  });

  it('a POS transaction that rolls back leaves no outbox entry (capture is inside the POS transaction)', async () => {
    const before = e.outbox().length;
    const ordersBefore = (e.store.base.db.prepare('SELECT count(*) AS n FROM orders').get() as { n: number }).n;

    // On a connection of the POS: inside its transaction the entries exist; after the rollback they do not.
    const pos = e.pos();
    let seenInside = -1;
    expect(() =>
      pos.transaction(() => {
        const o = pos.prepare(`INSERT INTO orders (order_number, status, total) VALUES ('RB-1', 'completed', 5)`).run();
        pos.prepare('INSERT INTO order_items (order_id, quantity) VALUES (?, 1)').run(o.lastInsertRowid);
        // The triggers write the capture log; the engine moves it into the outbox later.
        seenInside = before + (pos.prepare('SELECT count(*) AS n FROM tillsync_capture').get() as { n: number }).n;
        throw new Error('the cashier cancels');
      })(),
    ).toThrow('the cashier cancels');
    expect(seenInside).toBe(before + 2);
    expect(e.outbox()).toHaveLength(before);

    // From another process too.
    await sellFromAnotherProcess(e, { items: 3, payments: 2, rollback: true });
    expect(e.outbox()).toHaveLength(before);
    expect((e.store.base.db.prepare('SELECT count(*) AS n FROM orders').get() as { n: number }).n).toBe(ordersBefore);
    const r = await e.sync();
    expect(r.pushed).toBe(0);
  });

  it('an order, its items and its payments travel in one push request even when the batch size would split them', async () => {
    await e.restart({ batchSize: 2 });
    const a = await sellFromAnotherProcess(e, { items: 3, payments: 2 });
    const b = await sellFromAnotherProcess(e, { items: 3, payments: 2, status: 'pending' });
    const ids = (s: Sale) => [
      e.serverIdOf('orders', s.orderId),
      ...s.itemIds.map((id) => e.serverIdOf('order_items', id)),
      ...s.paymentIds.map((id) => e.serverIdOf('payments', id)),
    ];
    const aIds = ids(a);
    const bIds = ids(b);
    // A pending order is HIGH; its payments are CRITICAL: the whole group goes at CRITICAL.
    const r = await e.service.pushCritical();
    expect(r.errors).toEqual([]);
    expect(r.pushed).toBe(12);

    // Every row of one sale was written by one central transaction (one push request).
    const txids = writers;
    expect(await txids(aIds)).toHaveLength(1);
    expect(await txids(bIds)).toHaveLength(1);
    // ... and the batch size did split the two sales into two requests.
    expect(await txids([...aIds, ...bIds])).toHaveLength(2);
    expect(await count(c, 'order_items WHERE order_id = $1', [aIds[0]])).toBe(3);
    expect(await count(c, 'payments WHERE order_id = $1', [bIds[0]])).toBe(2);
    await e.restart({ batchSize: 500 });
  });
});

describe('explicit enqueue', () => {
  it('store.capture.enqueue queues a row written without the triggers, and it reaches central', async () => {
    const e = await startEngine(c, { initialSync: true });
    const sku = `ENQ-${randomUUID().slice(0, 8)}`;
    // Written with capture switched off (as a bulk import around the triggers would be).
    const localId = e.store.base.applying(() =>
      Number(e.store.base.db.prepare(`INSERT INTO products (sku, name, price) VALUES (?, 'Imported', 3.5)`).run(sku).lastInsertRowid),
    );
    expect(e.outbox({ table: 'products' })).toHaveLength(0);
    expect(e.store.base.db.prepare('SELECT server_id FROM products WHERE id = ?').get(localId)).toEqual({ server_id: null });

    const changeId = e.store.capture.enqueue('products', localId, 'CREATE');
    const queued = e.outbox({ table: 'products' });
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ change_id: changeId, operation: 'CREATE', status: 'pending', local_id: localId });
    const sid = e.serverIdOf('products', localId);
    expect(queued[0]?.server_id).toBe(sid);

    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(await rowOf(c, 'products', sid)).toMatchObject({ sku, name: 'Imported', price: 3.5, sync_version: 1 });
    expect(await answersKept(c, [changeId])).toBe(1);
    expect(e.outbox({ status: 'pending' })).toHaveLength(0);
  });
});

describe('orders whose store the POS leaves empty', () => {
  it('an order captured pending (store left empty) and completed later reaches central completed', async () => {
    const e = await startEngine(c, { initialSync: true });
    const pos = e.pos();
    const localId = Number(pos.prepare(`INSERT INTO orders (order_number, status, total) VALUES (?, 'pending', 10)`).run(`LATER-${randomUUID().slice(0, 8)}`).lastInsertRowid);
    const sid = e.serverIdOf('orders', localId);
    await e.sync();
    expect(await rowOf(c, 'orders', sid)).toMatchObject({ status: 'pending', store_id: e.terminal.storeId });

    pos.prepare(`UPDATE orders SET status = 'completed', total = 11 WHERE id = ?`).run(localId);
    const r = await e.service.pushCritical();
    expect(e.outbox({ serverId: sid }).map((x) => [x.status, x.last_error])).toEqual([
      ['synced', null],
      ['synced', null],
    ]);
    expect(r.failed).toBe(0);
    expect(await rowOf(c, 'orders', sid)).toMatchObject({ status: 'completed', total: 11, store_id: e.terminal.storeId, sync_version: 2 });
  });
});

describe('a sale that cannot be sent yet', () => {
  it('an order the engine cannot send (invalid status) does not let its items and payments go without it; corrected, the sale arrives whole', async () => {
    const e = await startEngine(c, { initialSync: true });
    const pos = e.pos();
    let orderId = 0;
    pos.transaction(() => {
      orderId = Number(pos.prepare(`INSERT INTO orders (order_number, status, total) VALUES (?, 'open', 20)`).run(`BAD-${randomUUID().slice(0, 8)}`).lastInsertRowid);
      pos.prepare('INSERT INTO order_items (order_id, quantity, unit_price, line_total) VALUES (?, 2, 10, 20)').run(orderId);
      pos.prepare(`INSERT INTO payments (order_id, method, amount) VALUES (?, 'cash', 20)`).run(orderId);
    })();
    const orderSid = e.serverIdOf('orders', orderId);
    const group = e.outbox().filter((x) => x.tx_group === `orders:${orderSid}`);
    expect(group).toHaveLength(3);
    const members = group.map((x) => x.server_id);

    await e.sync();
    expect(e.outbox({ table: 'orders' }).map((x) => x.status)).not.toContain('synced');
    expect(await count(c, 'order_items WHERE order_id = $1', [orderSid])).toBe(0);
    expect(await count(c, 'payments WHERE order_id = $1', [orderSid])).toBe(0);

    // The POS fixes the sale; the whole group goes in one request.
    pos.prepare(`UPDATE orders SET status = 'completed' WHERE id = ?`).run(orderId);
    e.service.retryFailed();
    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(await rowOf(c, 'orders', orderSid)).toMatchObject({ status: 'completed' });
    expect(await count(c, 'order_items WHERE order_id = $1', [orderSid])).toBe(1);
    expect(await count(c, 'payments WHERE order_id = $1', [orderSid])).toBe(1);
    expect(await writers(members)).toHaveLength(1);
  });

  it('a failed change of a row is superseded once a later change of that row is accepted (no retry needed)', async () => {
    const e = await startEngine(c, { initialSync: true });
    const pos = e.pos();
    const id = Number(pos.prepare(`INSERT INTO customers (name, email) VALUES (NULL, 'nameless@example.com')`).run().lastInsertRowid);
    const sid = e.serverIdOf('customers', id);
    await e.sync();
    expect(e.outbox({ serverId: sid }).map((x) => [x.operation, x.status])).toEqual([['CREATE', 'failed']]);

    pos.prepare(`UPDATE customers SET name = 'Named later' WHERE id = ?`).run(id);
    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(await rowOf(c, 'customers', sid)).toMatchObject({ name: 'Named later', email: 'nameless@example.com' });
    expect(e.outbox({ serverId: sid }).map((x) => [x.operation, x.status, x.last_error])).toEqual([
      ['CREATE', 'synced', 'superseded by a later change'],
      ['UPDATE', 'synced', null],
    ]);
  });
});
