/**
 * GET /api/sync/pull against a real central server and a real database. Central
 * rows are written the way a back office writes them: plain SQL on the database.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { entryForEntity, type CatalogEntry } from '../../src/shared/catalog/index.js';
import type { PulledChange, PullResponse } from '../../src/shared/protocol.js';
import { useCentral, type ProvisionedTerminal } from '../helpers/central.js';
import { pull, pullAll, pullOk, rowOf, settled } from '../helpers/sync.js';

const c = useCentral();
let storeA: string;
let storeB: string;
let tA: ProvisionedTerminal;
let tB: ProvisionedTerminal;

const uid = () => randomUUID();
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
const entry = (entityType: string) => entryForEntity(entityType) as CatalogEntry;

/** The cursor at the end of the log of this entity type, for this terminal. */
async function endCursor(t: ProvisionedTerminal, entityType: string): Promise<string> {
  return (await pullAll(c, t, entityType)).cursor;
}

async function insertProduct(id: string, name = 'SQL product', price = 2.5): Promise<void> {
  await c.db.query('INSERT INTO products (id, sku, name, price) VALUES ($1, $2, $3, $4)', [id, `SKU-${id.slice(0, 8)}`, name, price]);
}

beforeAll(async () => {
  const tag = uid().slice(0, 6);
  storeA = `pull-a-${tag}`;
  storeB = `pull-b-${tag}`;
  tA = await c.provision(storeA);
  tB = await c.provision(storeB);
});

describe('scope', () => {
  it("a terminal sees its store's rows and global ones, never another store's, and every Product", async () => {
    const ids = {
      invA: uid(),
      invB: uid(),
      poA: uid(),
      poB: uid(),
      discA: uid(),
      discB: uid(),
      discGlobal: uid(),
      product: uid(),
    };
    const productId = uid();
    await c.db.query(
      'INSERT INTO inventory_items (id, store_id, product_id, master_stock_quantity) VALUES ($1, $2, $5, 1), ($3, $4, $5, 2)',
      [ids.invA, storeA, ids.invB, storeB, productId],
    );
    await c.db.query(`INSERT INTO purchase_orders (id, store_id, status) VALUES ($1, $2, 'draft'), ($3, $4, 'draft')`, [ids.poA, storeA, ids.poB, storeB]);
    await c.db.query(
      `INSERT INTO discounts (id, store_id, name, kind, value) VALUES ($1, $2, 'A only', 'percent', 5), ($3, $4, 'B only', 'percent', 6), ($5, NULL, 'Everywhere', 'amount', 1)`,
      [ids.discA, storeA, ids.discB, storeB, ids.discGlobal],
    );
    await insertProduct(ids.product);

    const seen = async (t: ProvisionedTerminal, entityType: string) => new Set((await pullAll(c, t, entityType)).changes.map((x) => x.entityId));
    const a = { inv: await seen(tA, 'InventoryItem'), po: await seen(tA, 'PurchaseOrder'), disc: await seen(tA, 'Discount'), prod: await seen(tA, 'Product') };
    const b = { inv: await seen(tB, 'InventoryItem'), po: await seen(tB, 'PurchaseOrder'), disc: await seen(tB, 'Discount'), prod: await seen(tB, 'Product') };

    expect([a.inv.has(ids.invA), a.inv.has(ids.invB)]).toEqual([true, false]);
    expect([b.inv.has(ids.invA), b.inv.has(ids.invB)]).toEqual([false, true]);
    expect([a.po.has(ids.poA), a.po.has(ids.poB)]).toEqual([true, false]);
    expect([b.po.has(ids.poA), b.po.has(ids.poB)]).toEqual([false, true]);
    expect([a.disc.has(ids.discA), a.disc.has(ids.discB), a.disc.has(ids.discGlobal)]).toEqual([true, false, true]);
    expect([b.disc.has(ids.discA), b.disc.has(ids.discB), b.disc.has(ids.discGlobal)]).toEqual([false, true, true]);
    expect([a.prod.has(ids.product), b.prod.has(ids.product)]).toEqual([true, true]);
    // Nothing of the other store in any page, whatever its id.
    for (const x of (await pullAll(c, tA, 'InventoryItem')).changes) expect(x.data.store_id).toBe(storeA);
    for (const x of (await pullAll(c, tA, 'Discount')).changes) expect([storeA, null]).toContain(x.data.store_id);
  });

  it('the admin token may pull as a terminal, and sees what that terminal sees', async () => {
    const mine = uid();
    const theirs = uid();
    await c.db.query('INSERT INTO inventory_items (id, store_id, product_id) VALUES ($1, $2, $5), ($3, $4, $5)', [mine, storeA, theirs, storeB, uid()]);
    const asAdmin = await pullAll(c, tA, 'InventoryItem', undefined, c.admin);
    const asTerminal = await pullAll(c, tA, 'InventoryItem');
    expect(asAdmin.changes.map((x) => x.entityId)).toEqual(asTerminal.changes.map((x) => x.entityId));
    expect(asAdmin.changes.some((x) => x.entityId === mine)).toBe(true);
    expect(asAdmin.changes.some((x) => x.entityId === theirs)).toBe(false);
    const r = await pull(c.admin, tA.terminalId, 'InventoryItem');
    expect(r.status).toBe(200);
    expect(r.body.terminalId).toBe(tA.terminalId);
    const unknown = await pull(c.admin, 'no-such-terminal', 'InventoryItem');
    expect(unknown.status).toBe(404);
  });

  it('a terminal cannot pull as another terminal (403 WRONG_TERMINAL)', async () => {
    const r = await pull(tA.api, tB.terminalId, 'InventoryItem');
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'WRONG_TERMINAL' });
  });

  it("a row moved to another store by SQL leaves the old store's terminal (pulled as deleted there)", async () => {
    const inv = uid();
    await c.db.query('INSERT INTO inventory_items (id, store_id, product_id, master_stock_quantity) VALUES ($1, $2, $3, 5)', [inv, storeA, uid()]);
    const fromA = await endCursor(tA, 'InventoryItem');
    const fromB = await endCursor(tB, 'InventoryItem');
    await c.db.query('UPDATE inventory_items SET store_id = $2 WHERE id = $1', [inv, storeB]);
    const b = (await pullAll(c, tB, 'InventoryItem', fromB)).changes.filter((x) => x.entityId === inv);
    expect(b).toEqual([expect.objectContaining({ version: 2, deleted: false, data: expect.objectContaining({ store_id: storeB }) })]);
    const a = (await pullAll(c, tA, 'InventoryItem', fromA)).changes.filter((x) => x.entityId === inv);
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ operation: 'DELETE', deleted: true });
  });
});

describe('central writes by SQL', () => {
  it('a row inserted, updated and deleted by plain SQL is pulled each time with its new version; the DELETE is a tombstone', async () => {
    const p = uid();
    let cursor = await endCursor(tA, 'Product');

    await insertProduct(p, 'Back office', 4);
    let page = await pullAll(c, tA, 'Product', cursor);
    expect(page.changes).toEqual([
      expect.objectContaining({ entityId: p, operation: 'CREATE', version: 1, deleted: false, origin: 'central', data: expect.objectContaining({ id: p, name: 'Back office', price: 4 }) }),
    ]);
    expect(page.changes[0]?.hlc).toMatch(/^\d{15}:\d{5}:central$/);
    cursor = page.cursor;

    await c.db.query(`UPDATE products SET price = 4.75, description = 'now described' WHERE id = $1`, [p]);
    page = await pullAll(c, tA, 'Product', cursor);
    expect(page.changes).toEqual([
      expect.objectContaining({ entityId: p, operation: 'UPDATE', version: 2, deleted: false, data: expect.objectContaining({ price: 4.75, description: 'now described', name: 'Back office' }) }),
    ]);
    cursor = page.cursor;

    await c.db.query('DELETE FROM products WHERE id = $1', [p]);
    const row = await rowOf(c, 'products', p);
    expect(row).toMatchObject({ id: p, name: 'Back office', sync_version: 3 });
    expect(row?.sync_deleted_at).not.toBeNull();
    page = await pullAll(c, tA, 'Product', cursor);
    expect(page.changes).toEqual([
      expect.objectContaining({ entityId: p, operation: 'DELETE', version: 3, deleted: true, data: expect.objectContaining({ id: p, name: 'Back office', price: 4.75 }) }),
    ]);
    // And nothing further.
    expect((await pullAll(c, tA, 'Product', page.cursor)).changes).toEqual([]);
  });

  it('a store-scoped row written by SQL reaches its store with the central column names (master_stock_quantity)', async () => {
    const inv = uid();
    const from = await endCursor(tA, 'InventoryItem');
    await c.db.query('INSERT INTO inventory_items (id, store_id, product_id, master_stock_quantity) VALUES ($1, $2, $3, 12)', [inv, storeA, uid()]);
    await c.db.query('UPDATE inventory_items SET master_stock_quantity = master_stock_quantity - 5 WHERE id = $1', [inv]);
    const got = (await pullAll(c, tA, 'InventoryItem', from)).changes;
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ entityId: inv, version: 2, data: { store_id: storeA, master_stock_quantity: 7 } });
    expect(got[0]?.data).not.toHaveProperty('stock_quantity');
  });

  it('a no-op UPDATE by SQL (same values) creates no new version and nothing to pull', async () => {
    const p = uid();
    await insertProduct(p, 'Steady', 3);
    const from = await endCursor(tA, 'Product');
    const before = await rowOf(c, 'products', p);
    const logged = await c.db.query('SELECT count(*)::int AS n FROM sync_changes WHERE entity_id = $1', [p]);

    await c.db.query('UPDATE products SET price = 3, name = $2 WHERE id = $1', [p, 'Steady']);
    await c.db.query('UPDATE products SET price = price WHERE id = $1', [p]);

    expect(await rowOf(c, 'products', p)).toEqual(before);
    expect((await c.db.query('SELECT count(*)::int AS n FROM sync_changes WHERE entity_id = $1', [p])).rows).toEqual(logged.rows);
    expect((await pullAll(c, tA, 'Product', from)).changes).toEqual([]);
  });
});

describe('central writes through the API', () => {
  it('an update pushed by a terminal is one change to pull, an UPDATE at the new version', async () => {
    const p = uid();
    const push = (changes: unknown[]) => tA.api.post('/api/sync/push', { terminalId: tA.terminalId, changes });
    const created = await push([{ changeId: uid(), entityType: 'Product', entityId: p, operation: 'CREATE', data: { sku: p, name: 'Pushed', price: 1 } }]);
    expect(created.status, created.text).toBe(200);
    const from = await endCursor(tB, 'Product');
    const updated = await push([{ changeId: uid(), entityType: 'Product', entityId: p, operation: 'UPDATE', data: { price: 2 }, syncVersion: 1 }]);
    expect(updated.status, updated.text).toBe(200);
    await settled(c);

    const got: PulledChange[] = [];
    let cursor: string | undefined = from;
    for (let guard = 0; guard < 10; guard++) {
      const r = await pullOk(tB, 'Product', { cursor, limit: 1 });
      got.push(...r.changes);
      cursor = r.cursor;
      if (!r.hasMore) break;
    }
    expect(got).toEqual([
      expect.objectContaining({ entityId: p, operation: 'UPDATE', version: 2, origin: tA.terminalId, data: expect.objectContaining({ price: 2 }) }),
    ]);
  });
});

describe('paging', () => {
  it('paging with limit and cursor returns every change exactly once across pages, with hasMore until the last page', async () => {
    const from = await endCursor(tA, 'Product');
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      const id = `page-${String(i).padStart(2, '0')}-${uid()}`;
      ids.push(id);
      if (i < 15) await insertProduct(id, `P${i}`);
    }
    // The last ten in one transaction (one txid, ten entries).
    await c.db.query(
      'INSERT INTO products (id, sku, name, price) SELECT x, x, x, 1 FROM unnest($1::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n',
      [ids.slice(15)],
    );
    await settled(c);

    const pages: PullResponse[] = [];
    let cursor: string | undefined = from;
    for (let guard = 0; guard < 10; guard++) {
      const r = await pullOk(tA, 'Product', { cursor, limit: 7 });
      pages.push(r);
      cursor = r.cursor;
      if (!r.hasMore) break;
    }
    expect(pages.map((p) => p.changes.length)).toEqual([7, 7, 7, 4]);
    expect(pages.map((p) => p.hasMore)).toEqual([true, true, true, false]);
    const got = pages.flatMap((p) => p.changes.map((x) => x.entityId));
    expect(got).toEqual(ids); // each once, in commit order
    // The cursor after the last page is stable: nothing more, same cursor.
    const tail = await pullOk(tA, 'Product', { cursor, limit: 7 });
    expect(tail).toMatchObject({ changes: [], hasMore: false, cursor });
  });

  it('an invalid cursor is 400 INVALID_CURSOR', async () => {
    for (const cursor of ['not-a-cursor', Buffer.from('{"txid":1}').toString('base64url'), Buffer.from('["abc",1]').toString('base64url')]) {
      const r = await pull(tA.api, tA.terminalId, 'Product', { cursor });
      expect(r.status, cursor).toBe(400);
      expect(r.body).toMatchObject({ code: 'INVALID_CURSOR' });
    }
  });

  it('lastSync (an ISO timestamp) starts from that instant', async () => {
    const old = uid();
    const fresh = uid();
    await insertProduct(old, 'Before');
    await sleep(50);
    const since = new Date().toISOString();
    await sleep(50);
    await insertProduct(fresh, 'After');
    await settled(c);

    const changes: PulledChange[] = [];
    let cursor: string | undefined;
    for (let first = true; first || cursor; first = false) {
      const r = await pullOk(tA, 'Product', first ? { lastSync: since, limit: 2 } : { cursor, limit: 2 });
      changes.push(...r.changes);
      cursor = r.hasMore ? r.cursor : undefined;
    }
    const ids = changes.map((x) => x.entityId);
    expect(ids).toContain(fresh);
    expect(ids).not.toContain(old);
    for (const x of changes) expect(Date.parse(x.changedAt)).toBeGreaterThanOrEqual(Date.parse(since));

    const bad = await pull(tA.api, tA.terminalId, 'Product', { lastSync: 'yesterday' });
    expect(bad.status).toBe(400);
  });
});

describe('refusals', () => {
  it('an up-only entity (SaleOrder) is never pulled: 400 NOT_PULLED', async () => {
    await c.db.query(`INSERT INTO orders (id, store_id, order_number, status) VALUES ($1, $2, 'X-1', 'completed')`, [uid(), storeA]);
    for (const entityType of ['SaleOrder', 'Payment']) {
      const r = await pull(tA.api, tA.terminalId, entityType);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ code: 'NOT_PULLED' });
    }
  });

  it('a schema hash mismatch is 409 SCHEMA_MISMATCH; the matching hash pulls', async () => {
    const bad = await pull(tA.api, tA.terminalId, 'Product', { schemaHash: 'ffffffffffffffff' });
    expect(bad.status).toBe(409);
    expect(bad.body).toMatchObject({ code: 'SCHEMA_MISMATCH' });
    const hash = entry('Product').schemaHash;
    const good = await pullOk(tA, 'Product', { schemaHash: hash, limit: 1 });
    expect(good.schemaHash).toBe(hash);
    expect(good.entityType).toBe('Product');
  });
});
