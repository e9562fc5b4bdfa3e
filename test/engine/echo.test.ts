/**
 * No echo (DESIGN.md invariant 2): what the engine applies from pulls is not captured
 * again, while every other connection's writes still are; a change the terminal
 * pushed and then pulls back is skipped by its version. And the outbox collapses
 * (several updates of a row before a push are one change; created and deleted
 * before a push is nothing).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { useCentral } from '../helpers/central.js';
import { closeAll, startEngine, startPosWriter } from '../helpers/engine.js';
import { answersForRows, count, rowOf } from '../helpers/sync.js';

const c = useCentral();
afterAll(closeAll);

const uid = () => randomUUID();
let written = 0;

async function centralProducts(n: number, tag: string): Promise<string[]> {
  const r = await c.db.query<{ id: string }>(
    `INSERT INTO products (id, sku, name, price)
     SELECT gen_random_uuid()::text, $1 || '-' || g, 'Central ' || g, g FROM generate_series(1, $2::int) AS g RETURNING id`,
    [tag, n],
  );
  return r.rows.map((x) => x.id);
}

describe('no echo', () => {
  it('changes applied from pulls create no outbox entry', async () => {
    const e = await startEngine(c, { initialSync: true });
    const tag = `ECHO-${uid().slice(0, 6)}`;
    const ids = await centralProducts(5, tag);
    await c.db.query('UPDATE products SET price = price + 100 WHERE id = $1', [ids[0]]);
    await c.db.query(`INSERT INTO customers (id, name, loyalty_points) VALUES ($1, 'Pulled', 7)`, [uid()]);
    const before = e.outbox().length;

    const r = await e.sync();
    expect(r.errors).toEqual([]);
    for (const id of ids) expect(e.row('products', id)).not.toBeNull();
    expect(e.row('products', ids[0] as string)).toMatchObject({ price: 101 });
    expect(e.outbox()).toHaveLength(before);
    // A second pass finds nothing to push either.
    const again = await e.sync();
    expect(again.pushed).toBe(0);
    expect(e.outbox()).toHaveLength(before);
  });

  it("a central price change made by plain SQL reaches the terminal's products row", async () => {
    const e = await startEngine(c, { initialSync: true });
    const id = uid();
    await c.db.query(`INSERT INTO products (id, sku, name, price, cost) VALUES ($1, $2, 'Mug', 4.99, 2)`, [id, `PRICE-${id.slice(0, 8)}`]);
    await e.sync();
    expect(e.row('products', id)).toMatchObject({ price: 4.99, cost: 2 });
    await c.db.query('UPDATE products SET price = 5.49 WHERE id = $1', [id]);
    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(e.row('products', id)).toMatchObject({ price: 5.49, cost: 2, name: 'Mug' });
    expect(e.store.rows.rowState('products', id)?.version).toBe(2);
    expect(e.outbox({ table: 'products' })).toHaveLength(0);
  });

  it('a row deleted at central (a tombstone) is deleted on the terminal and queues nothing', async () => {
    const e = await startEngine(c, { initialSync: true });
    const id = uid();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'Discontinued', 1)`, [id, `DEL-${id.slice(0, 8)}`]);
    await e.sync();
    expect(e.row('products', id)).not.toBeNull();
    await c.db.query('DELETE FROM products WHERE id = $1', [id]);
    expect(await rowOf(c, 'products', id)).toMatchObject({ sync_version: 2 }); // soft: a tombstone
    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(e.row('products', id)).toBeNull();
    expect(e.outbox()).toHaveLength(0);
    expect((await e.sync()).pushed).toBe(0);
  });

  it('a pulled row pointing at a row pulled later gets its local link once the target arrives', async () => {
    const e = await startEngine(c, { initialSync: true });
    const child = uid();
    const parent = uid();
    // HQ writes the child first, pointing at a parent it creates afterwards.
    await c.db.query(`INSERT INTO categories (id, name, parent_id) VALUES ($1, 'Mugs', $2)`, [child, parent]);
    await c.db.query(`INSERT INTO categories (id, name) VALUES ($1, 'Kitchen')`, [parent]);
    await e.sync();
    const p = e.row('categories', parent) as { id: number };
    expect(e.row('categories', child)).toMatchObject({ name: 'Mugs', parent_id: p.id });
    expect(e.outbox()).toHaveLength(0);
  });

  it('the capture switch is set only inside the apply transaction: another connection sees capture on meanwhile', async () => {
    const e = await startEngine(c);
    const pos = e.pos();
    let seenByPos: unknown;
    let seenByEngine: unknown;
    e.store.base.applying(() => {
      seenByEngine = e.store.base.db.prepare('SELECT applying FROM tillsync_control WHERE id = 1').get();
      seenByPos = pos.prepare('SELECT applying FROM tillsync_control WHERE id = 1').get();
    });
    expect(seenByEngine).toEqual({ applying: 1 });
    expect(seenByPos).toEqual({ applying: 0 });
    expect(e.store.base.db.prepare('SELECT applying FROM tillsync_control WHERE id = 1').get()).toEqual({ applying: 0 });
    // And the POS's write right after the apply is captured.
    pos.prepare(`INSERT INTO customers (name) VALUES ('after apply')`).run();
    expect(e.outbox({ table: 'customers' })).toHaveLength(1);
  });

  it('while the engine applies pulled pages, another process keeps writing and every one of its rows is captured once', async () => {
    const e = await startEngine(c, { initialSync: true, config: { pullPageSize: 20 } });
    const ids = await centralProducts(300, `CONC-${uid().slice(0, 6)}`);
    const writer = startPosWriter(e.path);
    let pages = 0;
    e.service.on('progress', (p) => {
      if (p.table !== 'products') return;
      // After the first page is applied (this pass has pushed already), the POS starts
      // writing and keeps writing between and after the remaining pages.
      if (++pages === 1) {
        writer.go();
        writer.waitStartedSync();
      }
    });
    let r;
    try {
      r = await e.sync();
    } finally {
      await writer.stop().then((n) => (written = n));
    }
    expect(r.errors).toEqual([]);
    expect(pages).toBeGreaterThanOrEqual(15);
    expect(written).toBeGreaterThan(1);

    // Every pulled product is here and none was captured.
    for (const id of [ids[0], ids[150], ids[299]]) expect(e.row('products', id as string)).not.toBeNull();
    expect(e.outbox({ table: 'products' })).toHaveLength(0);
    // Every row the other process wrote was captured, exactly once.
    const rows = e.store.base.db.prepare(`SELECT id FROM customers WHERE name LIKE ? || '-%'`).all(writer.prefix) as { id: number }[];
    expect(rows).toHaveLength(written);
    const perRow = new Map(
      (e.store.base.db.prepare(`SELECT local_id, count(*) AS n FROM tillsync_outbox WHERE table_name = 'customers' GROUP BY local_id`).all() as {
        local_id: number;
        n: number;
      }[]).map((x) => [x.local_id, x.n]),
    );
    for (const row of rows) expect(perRow.get(row.id), `customer ${row.id}`).toBe(1);

    // And they all reach central.
    const pushed = await e.sync();
    expect(pushed.errors).toEqual([]);
    expect(await count(c, `customers WHERE name LIKE $1 || '-%'`, [writer.prefix])).toBe(written);
  });

  it('sync passes succeed while the POS process keeps writing (the engine waits for the POS, it does not fail)', async () => {
    const e = await startEngine(c, { initialSync: true, config: { batchSize: 5 } });
    const writer = startPosWriter(e.path, { go: true });
    writer.waitStartedSync();
    const errors: string[][] = [];
    try {
      for (let i = 0; i < 6; i++) errors.push((await e.sync()).errors);
    } finally {
      written = await writer.stop();
    }
    expect(errors).toEqual([[], [], [], [], [], []]);
    const last = await e.sync();
    expect(last.errors).toEqual([]);
    expect(e.outbox({ status: 'pending' })).toHaveLength(0);
    expect(e.outbox({ status: 'failed' })).toHaveLength(0);
    expect(await count(c, `customers WHERE name LIKE $1 || '-%'`, [writer.prefix])).toBe(written);
  });

});

describe('no echo of our own changes (a central of its own: the products table holds only this test\'s rows)', () => {
  const own = useCentral();
  afterAll(closeAll);

  it('a change the terminal pushed and pulls back is skipped by its version and queues nothing', async () => {
    const e = await startEngine(own, { initialSync: true });
    const sku = `BACK-${uid().slice(0, 6)}`;
    const localId = Number(e.pos().prepare(`INSERT INTO products (sku, name, price) VALUES (?, 'Mine', 4)`).run(sku).lastInsertRowid);
    const sid = e.serverIdOf('products', localId);
    const first = await e.sync();
    expect(first.errors).toEqual([]);
    expect(await rowOf(own, 'products', sid)).toMatchObject({ sku, sync_version: 1, sync_origin: e.terminal.terminalId });
    const entries = e.outbox().length;
    const before = e.store.base.db.prepare('SELECT * FROM products WHERE id = ?').get(localId);

    // Pull the table again from the start: central serves our own change back.
    e.store.cursors.resetCursor('products');
    let appliedPages = 0;
    e.service.on('progress', (p) => {
      if (p.table === 'products') appliedPages++;
    });
    const again = await e.sync();
    expect(again.errors).toEqual([]);
    expect(appliedPages).toBeGreaterThan(0); // the page with our product did come back
    expect(again.pulled).toBe(0); // ... and nothing in it was applied
    expect(e.store.base.db.prepare('SELECT * FROM products WHERE id = ?').get(localId)).toEqual(before);
    expect(e.store.rows.rowState('products', sid)?.version).toBe(1);
    expect(e.outbox()).toHaveLength(entries);
  });
});

describe('outbox collapse', () => {
  it('several updates of one row before a push are one change: central version +1 and one applied change id', async () => {
    const e = await startEngine(c, { initialSync: true });
    const id = uid();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'Kettle', 10)`, [id, `COL-${id.slice(0, 8)}`]);
    await e.sync();
    const local = e.row('products', id);
    expect(local).toMatchObject({ price: 10 });
    const pos = e.pos();
    for (const price of [11, 12, 13]) pos.prepare('UPDATE products SET price = ? WHERE server_id = ?').run(price, id);
    pos.prepare(`UPDATE products SET name = 'Kettle XL' WHERE server_id = ?`).run(id);
    expect(e.outbox({ serverId: id, status: 'pending' })).toHaveLength(4);

    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(await rowOf(c, 'products', id)).toMatchObject({ price: 13, name: 'Kettle XL', sync_version: 2 });
    expect(await answersForRows(c, [id])).toBe(1);
    const sent = e.outbox({ serverId: id });
    expect(sent.map((x) => x.status)).toEqual(['synced', 'synced', 'synced', 'synced']);
    expect(new Set(sent.map((x) => x.sent_as)).size).toBe(1);

    // A new row updated twice before its push is one CREATE with the last values.
    const cid = Number(pos.prepare(`INSERT INTO customers (name, loyalty_points) VALUES ('New', 1)`).run().lastInsertRowid);
    pos.prepare('UPDATE customers SET loyalty_points = 2 WHERE id = ?').run(cid);
    pos.prepare(`UPDATE customers SET loyalty_points = 3, email = 'new@example.com' WHERE id = ?`).run(cid);
    const csid = e.serverIdOf('customers', cid);
    await e.sync();
    expect(await rowOf(c, 'customers', csid)).toMatchObject({ name: 'New', loyalty_points: 3, email: 'new@example.com', sync_version: 1 });
    expect(await answersForRows(c, [csid])).toBe(1);
  });

  it('a row created and deleted before a push sends nothing', async () => {
    const e = await startEngine(c, { initialSync: true });
    const pos = e.pos();
    const id = Number(pos.prepare(`INSERT INTO customers (name) VALUES ('Fleeting')`).run().lastInsertRowid);
    pos.prepare(`UPDATE customers SET phone = '123' WHERE id = ?`).run(id);
    const sid = e.serverIdOf('customers', id);
    pos.prepare('DELETE FROM customers WHERE id = ?').run(id);
    expect(e.outbox({ serverId: sid }).map((x) => x.operation)).toEqual(['CREATE', 'UPDATE', 'DELETE']);

    const r = await e.sync();
    expect(r.errors).toEqual([]);
    expect(r.pushed).toBe(0);
    expect(await rowOf(c, 'customers', sid)).toBeUndefined();
    expect(await answersForRows(c, [sid])).toBe(0);
    expect(await count(c, 'sync_changes WHERE entity_id = $1', [sid])).toBe(0);
    expect(e.outbox({ serverId: sid }).map((x) => x.status)).toEqual(['synced', 'synced', 'synced']);
    expect(e.outbox({ status: 'pending' })).toHaveLength(0);
  });
});
