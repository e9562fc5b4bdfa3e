/**
 * POST /api/sync/push against a real central server and a real database (PGlite,
 * or PostgreSQL with TEST_DATABASE_URL): every answer a change can get, the batch
 * transaction, idempotent replays, and each refusal with what it leaves untouched.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOG, entryForEntity, type CatalogEntry } from '../../src/shared/catalog/index.js';
import { formatHlc } from '../../src/shared/hlc.js';
import type { PushResponse, PushResult } from '../../src/shared/protocol.js';
import { useCentral, type ProvisionedTerminal } from '../helpers/central.js';
import { answersKept, count, pullAll, push, pushOk, rowOf, type ChangeIn, type Row } from '../helpers/sync.js';

const c = useCentral();
let storeA: string;
let storeB: string;
let tA: ProvisionedTerminal;
let tA2: ProvisionedTerminal;
let tB: ProvisionedTerminal;

const uid = () => randomUUID();
const entry = (entityType: string) => entryForEntity(entityType) as CatalogEntry;
const product = (extra: Row = {}) => ({ sku: `SKU-${uid().slice(0, 8)}`, name: 'Widget', price: 9.5, ...extra });
const order = (extra: Row = {}) => ({ order_number: `ORD-${uid().slice(0, 8)}`, status: 'pending', total: 12.5, ...extra });

function result(res: PushResponse, i: number): PushResult {
  const r = res.results[i];
  if (!r) throw new Error(`no result ${i}`);
  return r;
}

beforeAll(async () => {
  const tag = uid().slice(0, 6);
  storeA = `push-a-${tag}`;
  storeB = `push-b-${tag}`;
  tA = await c.provision(storeA);
  tA2 = await c.provision(storeA);
  tB = await c.provision(storeB);
});

describe('push answers', () => {
  it('a new row is applied at version 1 and an update based on that version is applied at version 2', async () => {
    const id = uid();
    const first = await pushOk(tA, [{ changeId: uid(), entityType: 'Product', entityId: id, operation: 'CREATE', data: product({ name: 'Kettle' }) }]);
    expect(first.terminalId).toBe(tA.terminalId);
    expect(result(first, 0)).toMatchObject({ entityType: 'Product', entityId: id, status: 'applied', version: 1 });
    expect(first.summary).toEqual({ applied: 1, duplicate: 0, conflict: 0, rejected: 0 });
    expect(await rowOf(c, 'products', id)).toMatchObject({ name: 'Kettle', sync_version: 1, sync_origin: tA.terminalId, sync_deleted_at: null });

    const second = await pushOk(tA, [
      { changeId: uid(), entityType: 'Product', entityId: id, operation: 'UPDATE', data: { price: 11 }, syncVersion: 1 },
    ]);
    expect(result(second, 0)).toMatchObject({ status: 'applied', version: 2 });
    expect(await rowOf(c, 'products', id)).toMatchObject({ price: 11, sync_version: 2 });
  });

  it('each status comes back with the row version: applied, duplicate, conflict, rejected', async () => {
    const created = uid();
    const stale = uid();
    const incomplete = uid();
    await pushOk(tA, [{ changeId: uid(), entityType: 'Product', entityId: stale, operation: 'CREATE', data: product() }]);
    await c.db.query('UPDATE products SET price = 42 WHERE id = $1', [stale]); // back office: version 2
    const repeated = uid();
    const createdData = product();
    const res = await pushOk(tA, [
      { changeId: repeated, entityType: 'Product', entityId: created, operation: 'CREATE', data: createdData },
      { changeId: repeated, entityType: 'Product', entityId: created, operation: 'CREATE', data: createdData },
      { changeId: uid(), entityType: 'Product', entityId: stale, operation: 'UPDATE', data: { price: 1 }, syncVersion: 1 },
      { changeId: uid(), entityType: 'Product', entityId: incomplete, operation: 'CREATE', data: { sku: 'X', name: 'no price' } },
    ]);
    expect(result(res, 0)).toMatchObject({ status: 'applied', version: 1 });
    expect(result(res, 1)).toMatchObject({ status: 'duplicate', originalStatus: 'applied', version: 1 });
    expect(result(res, 2)).toMatchObject({ status: 'conflict', resolution: 'CENTRAL_WINS', version: 2 });
    expect(result(res, 3)).toMatchObject({ status: 'rejected', version: null, error: { code: 'MISSING_FIELDS' } });
    expect(res.summary).toEqual({ applied: 1, duplicate: 1, conflict: 1, rejected: 1 });
  });

  it('a batch is applied in one transaction: every row and change log entry it writes share one transaction id; each row holds its answer', async () => {
    const p = uid();
    const cu = uid();
    const o = uid();
    const ids = [uid(), uid(), uid()];
    await pushOk(tA, [
      { changeId: ids[0], entityType: 'Product', entityId: p, operation: 'CREATE', data: product() },
      { changeId: ids[1], entityType: 'Customer', entityId: cu, operation: 'CREATE', data: { name: 'Ada' } },
      { changeId: ids[2], entityType: 'SaleOrder', entityId: o, operation: 'CREATE', data: order() },
    ]);
    const x = await c.db.query<{ x: string }>(
      `SELECT xmin::text AS x FROM products WHERE id = $1
       UNION ALL SELECT xmin::text FROM customers WHERE id = $2
       UNION ALL SELECT xmin::text FROM orders WHERE id = $3`,
      [p, cu, o],
    );
    expect(x.rows).toHaveLength(3);
    expect(new Set(x.rows.map((r) => r.x)).size).toBe(1);
    // Plain applied answers are kept on their rows, nothing in sync_applied.
    const held = await c.db.query<{ c: string }>(
      `SELECT sync_change_id AS c FROM products WHERE id = $1 UNION ALL SELECT sync_change_id FROM customers WHERE id = $2
       UNION ALL SELECT sync_change_id FROM orders WHERE id = $3`,
      [p, cu, o],
    );
    expect(held.rows.map((r) => r.c)).toEqual(ids);
    expect(await count(c, 'sync_applied WHERE change_id = ANY($1::text[])', [ids])).toBe(0);
    const tx = await c.db.query<{ t: string }>('SELECT DISTINCT txid::text AS t FROM sync_changes WHERE entity_id = ANY($1::text[])', [[p, cu, o]]);
    expect(tx.rows).toHaveLength(1);
    expect(String(BigInt(tx.rows[0]?.t ?? '0') % 2n ** 32n)).toBe(x.rows[0]?.x);
  });

  it('a batch that fails at the database writes nothing and claims no change id, so it can be sent again', async () => {
    const first = uid();
    const second = uid();
    const ids = [uid(), uid()];
    const name = `chk_${uid().slice(0, 8)}`;
    // The back office's own rule on its table: the second change breaks it, after the first was written.
    await c.db.query(`ALTER TABLE customers ADD CONSTRAINT ${name} CHECK (name <> 'forbidden by HQ')`);
    const changesBefore = await count(c, 'sync_changes');
    try {
      const bad = await push(tA, [
        { changeId: ids[0], entityType: 'Product', entityId: first, operation: 'CREATE', data: product() },
        { changeId: ids[1], entityType: 'Customer', entityId: second, operation: 'CREATE', data: { name: 'forbidden by HQ' } },
      ]);
      expect(bad.status).not.toBe(200);
      expect(await rowOf(c, 'products', first)).toBeUndefined();
      expect(await rowOf(c, 'customers', second)).toBeUndefined();
      expect(await count(c, 'sync_applied WHERE change_id = ANY($1::text[])', [ids])).toBe(0);
      expect(await count(c, 'sync_changes')).toBe(changesBefore);
    } finally {
      await c.db.query(`ALTER TABLE customers DROP CONSTRAINT ${name}`);
    }
    const again = await pushOk(tA, [
      { changeId: ids[0], entityType: 'Product', entityId: first, operation: 'CREATE', data: product() },
      { changeId: ids[1], entityType: 'Customer', entityId: second, operation: 'CREATE', data: { name: 'forbidden by HQ' } },
    ]);
    expect(again.results.map((r) => [r.status, r.version])).toEqual([
      ['applied', 1],
      ['applied', 1],
    ]);
  });

  it('any safe integer the wire accepts is stored exactly (loyalty_points 2^40), and a bigger one is a 400 that writes nothing', async () => {
    const cu = uid();
    const ok = await push(tA, [
      { changeId: uid(), entityType: 'Customer', entityId: cu, operation: 'CREATE', data: { name: 'Big', loyalty_points: 2 ** 40 } },
    ]);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.results[0]?.status).toBe('applied');
    expect(Number((await rowOf(c, 'customers', cu))?.loyalty_points)).toBe(2 ** 40);

    const cu2 = uid();
    const tooBig = await push(tA, [
      { changeId: uid(), entityType: 'Customer', entityId: cu2, operation: 'CREATE', data: { name: 'Huge', loyalty_points: 2 ** 60 } },
    ]);
    expect(tooBig.status, tooBig.text).toBe(400);
    expect((tooBig.body as unknown as { code: string }).code).toBe('VALIDATION_ERROR');
    expect(await rowOf(c, 'customers', cu2)).toBeUndefined();
  });
});

describe('idempotency', () => {
  async function snapshot(entityIds: string[], changeIds: string[]) {
    const versions = await c.db.query(
      `SELECT id, sync_version, sync_hlc, sync_updated_at, price, name, sync_change_id, sync_change_hash FROM products WHERE id = ANY($1::text[]) ORDER BY id`,
      [entityIds],
    );
    const applied = await c.db.query(
      'SELECT change_id, terminal_id, status, version, result, applied_at FROM sync_applied WHERE change_id = ANY($1::text[]) ORDER BY change_id',
      [changeIds],
    );
    return {
      changes: await count(c, 'sync_changes'),
      conflicts: await count(c, 'sync_conflicts'),
      applied: await count(c, 'sync_applied'),
      versions: versions.rows,
      appliedRows: applied.rows,
    };
  }

  it('a replayed push batch gets the same answers and changes nothing', async () => {
    const fresh = uid();
    const updated = uid();
    const stale = uid();
    const incomplete = uid();
    await pushOk(tA, [
      { changeId: uid(), entityType: 'Product', entityId: updated, operation: 'CREATE', data: product() },
      { changeId: uid(), entityType: 'Product', entityId: stale, operation: 'CREATE', data: product() },
    ]);
    await c.db.query('UPDATE products SET price = 77 WHERE id = $1', [stale]);
    const batch: ChangeIn[] = [
      { changeId: uid(), entityType: 'Product', entityId: fresh, operation: 'CREATE', data: product() },
      { changeId: uid(), entityType: 'Product', entityId: updated, operation: 'UPDATE', data: { price: 3 }, syncVersion: 1 },
      { changeId: uid(), entityType: 'Product', entityId: stale, operation: 'UPDATE', data: { price: 4 }, syncVersion: 1 },
      { changeId: uid(), entityType: 'Product', entityId: incomplete, operation: 'CREATE', data: { sku: 'only-sku' } },
    ];
    const entityIds = [fresh, updated, stale, incomplete];
    const changeIds = batch.map((b) => b.changeId as string);

    const first = await pushOk(tA, batch);
    expect(first.results.map((r) => r.status)).toEqual(['applied', 'applied', 'conflict', 'rejected']);
    expect(first.results.map((r) => r.version)).toEqual([1, 2, 2, null]);
    const before = await snapshot(entityIds, changeIds);
    expect(await answersKept(c, changeIds)).toBe(3); // a refusal is not recorded
    expect(before.appliedRows).toHaveLength(1); // the conflict's; the two applied changes' answers are on their rows

    for (let round = 0; round < 2; round++) {
      const replay = await pushOk(tA, batch);
      expect(replay.summary).toEqual({ applied: 0, duplicate: 3, conflict: 0, rejected: 1 });
      for (let i = 0; i < 3; i++) {
        const was = result(first, i);
        expect(result(replay, i)).toEqual({ ...was, status: 'duplicate', originalStatus: was.status });
      }
      expect(result(replay, 3)).toEqual(result(first, 3));
      expect(await snapshot(entityIds, changeIds)).toEqual(before);
    }
  });

  it('a change without a change id is deduplicated by its content', async () => {
    const id = uid();
    const change: ChangeIn = { entityType: 'Product', entityId: id, operation: 'CREATE', data: product() };
    const first = await pushOk(tA, [change]);
    expect(result(first, 0)).toMatchObject({ status: 'applied', version: 1 });
    const changeId = result(first, 0).changeId;
    expect(changeId.length).toBeGreaterThanOrEqual(8);
    const changes = await count(c, 'sync_changes WHERE entity_id = $1', [id]);

    const again = await pushOk(tA, [change]);
    expect(result(again, 0)).toEqual({ ...result(first, 0), status: 'duplicate', originalStatus: 'applied' });
    expect(await count(c, 'sync_changes WHERE entity_id = $1', [id])).toBe(changes);
    expect(await rowOf(c, 'products', id)).toMatchObject({ sync_version: 1 });

    // Different content is a different change.
    const other = await pushOk(tA, [{ entityType: 'Product', entityId: id, operation: 'UPDATE', data: { price: 1.25 }, syncVersion: 1 }]);
    expect(result(other, 0)).toMatchObject({ status: 'applied', version: 2 });
    expect(result(other, 0).changeId).not.toBe(changeId);
  });

  it('the same change id twice in one batch is applied once and the second answered duplicate', async () => {
    const id = uid();
    const changeId = uid();
    const change: ChangeIn = { changeId, entityType: 'Customer', entityId: id, operation: 'CREATE', data: { name: 'Twice', loyalty_points: 1 } };
    const res = await pushOk(tA, [change, change]);
    expect(result(res, 0)).toMatchObject({ changeId, status: 'applied', version: 1 });
    expect(result(res, 1)).toMatchObject({ changeId, status: 'duplicate', originalStatus: 'applied', version: 1 });
    expect(await count(c, 'sync_changes WHERE entity_id = $1', [id])).toBe(1);
    expect(await answersKept(c, [changeId])).toBe(1);
    expect(await rowOf(c, 'customers', id)).toMatchObject({ loyalty_points: 1, sync_version: 1 });
  });

  it('a change id already used by another terminal is rejected CHANGE_ID_TAKEN and writes nothing', async () => {
    const changeId = uid();
    const mine = uid();
    const theirs = uid();
    await pushOk(tA, [{ changeId, entityType: 'Customer', entityId: mine, operation: 'CREATE', data: { name: 'First' } }]);
    // The row is written again, so its answer moves into sync_applied, where every change id is checked.
    await c.db.query(`UPDATE customers SET notes = 'seen at HQ' WHERE id = $1`, [mine]);
    const appliedBefore = await c.db.query('SELECT * FROM sync_applied WHERE change_id = $1', [changeId]);
    expect(appliedBefore.rows).toMatchObject([{ terminal_id: tA.terminalId, status: 'applied' }]);
    expect(Number(appliedBefore.rows[0]?.version)).toBe(1);

    for (const t of [tA2, tB]) {
      const res = await pushOk(t, [{ changeId, entityType: 'Customer', entityId: theirs, operation: 'CREATE', data: { name: 'Second' } }]);
      expect(result(res, 0)).toMatchObject({ changeId, status: 'rejected', version: null, error: { code: 'CHANGE_ID_TAKEN' } });
    }
    expect(await rowOf(c, 'customers', theirs)).toBeUndefined();
    expect((await c.db.query('SELECT * FROM sync_applied WHERE change_id = $1', [changeId])).rows).toEqual(appliedBefore.rows);
    // The first terminal still gets its own answer back.
    const replay = await pushOk(tA, [{ changeId, entityType: 'Customer', entityId: mine, operation: 'CREATE', data: { name: 'First' } }]);
    expect(result(replay, 0)).toMatchObject({ status: 'duplicate', originalStatus: 'applied', version: 1 });
  });
});

describe('refusals', () => {
  it('a table synced down only (Store, Category) is rejected READ_ONLY_TABLE, while Product (both) applies', async () => {
    const category = uid();
    const p = uid();
    const storeName = (await rowOf(c, 'stores', storeA))?.name;
    const res = await pushOk(tA, [
      { changeId: uid(), entityType: 'Store', entityId: storeA, operation: 'UPDATE', data: { name: 'Hacked' }, syncVersion: 1 },
      { changeId: uid(), entityType: 'Category', entityId: category, operation: 'CREATE', data: { name: 'Tools' } },
      { changeId: uid(), entityType: 'Product', entityId: p, operation: 'CREATE', data: product({ category_id: category }) },
    ]);
    expect(result(res, 0)).toMatchObject({ status: 'rejected', version: null, error: { code: 'READ_ONLY_TABLE' } });
    expect(result(res, 1)).toMatchObject({ status: 'rejected', version: null, error: { code: 'READ_ONLY_TABLE' } });
    expect(result(res, 2)).toMatchObject({ status: 'applied', version: 1 });
    expect((await rowOf(c, 'stores', storeA))?.name).toBe(storeName);
    expect(await rowOf(c, 'categories', category)).toBeUndefined();
  });

  it('a DELETE of an append-only table (SaleOrder, Payment) is rejected APPEND_ONLY and the row stays', async () => {
    const o = uid();
    const pay = uid();
    await pushOk(tA, [
      { changeId: uid(), entityType: 'SaleOrder', entityId: o, operation: 'CREATE', data: order({ status: 'completed' }) },
      { changeId: uid(), entityType: 'Payment', entityId: pay, operation: 'CREATE', data: { order_id: o, method: 'cash', amount: 12.5 } },
    ]);
    const res = await pushOk(tA, [
      { changeId: uid(), entityType: 'SaleOrder', entityId: o, operation: 'DELETE', syncVersion: 1 },
      { changeId: uid(), entityType: 'Payment', entityId: pay, operation: 'DELETE', syncVersion: 1 },
    ]);
    for (const r of res.results) expect(r).toMatchObject({ status: 'rejected', version: null, error: { code: 'APPEND_ONLY' } });
    expect(await rowOf(c, 'orders', o)).toMatchObject({ sync_version: 1, sync_deleted_at: null });
    expect(await rowOf(c, 'payments', pay)).toMatchObject({ sync_version: 1, sync_deleted_at: null });
    // Voiding (an UPDATE) is how a sale goes away.
    const voided = await pushOk(tA, [{ changeId: uid(), entityType: 'SaleOrder', entityId: o, operation: 'UPDATE', data: { status: 'voided' }, syncVersion: 1 }]);
    expect(result(voided, 0)).toMatchObject({ status: 'applied', version: 2 });
  });

  it("a schema hash mismatch rejects that entity type's changes SCHEMA_MISMATCH and writes nothing, other types still apply", async () => {
    const p = uid();
    const p2 = uid();
    const cu = uid();
    const changes = await count(c, 'sync_changes');
    const res = await pushOk(
      tA,
      [
        { changeId: uid(), entityType: 'Product', entityId: p, operation: 'CREATE', data: product() },
        { changeId: uid(), entityType: 'Customer', entityId: cu, operation: 'CREATE', data: { name: 'Unaffected' } },
        { changeId: uid(), entityType: 'Product', entityId: p2, operation: 'CREATE', data: product() },
      ],
      { Product: '0000000000000000', Customer: entry('Customer').schemaHash },
    );
    expect(result(res, 0)).toMatchObject({ status: 'rejected', version: null, error: { code: 'SCHEMA_MISMATCH' } });
    expect(result(res, 2)).toMatchObject({ status: 'rejected', version: null, error: { code: 'SCHEMA_MISMATCH' } });
    expect(result(res, 1)).toMatchObject({ status: 'applied', version: 1 });
    expect(await rowOf(c, 'products', p)).toBeUndefined();
    expect(await rowOf(c, 'products', p2)).toBeUndefined();
    expect(await count(c, 'sync_changes')).toBe(changes + 1);
    expect(await count(c, 'sync_applied WHERE entity_id = ANY($1::text[])', [[p, p2]])).toBe(0);
  });

  it('a matching schema hash applies', async () => {
    const p = uid();
    const hash = entry('Product').schemaHash;
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(CATALOG.find((e) => e.entityType === 'Product')?.schemaHash).toBe(hash);
    const res = await pushOk(tA, [{ changeId: uid(), entityType: 'Product', entityId: p, operation: 'CREATE', data: product() }], { Product: hash });
    expect(result(res, 0)).toMatchObject({ status: 'applied', version: 1 });
    expect(await rowOf(c, 'products', p)).toMatchObject({ sync_version: 1 });
  });

  it('an hlc too far in the future is rejected CLOCK_DRIFT; one within the bound applies', async () => {
    const ahead = uid();
    const near = uid();
    const farHlc = formatHlc({ physical: Date.now() + 10 * 60_000, counter: 0, node: tA.terminalId });
    const nearHlc = formatHlc({ physical: Date.now() + 5_000, counter: 3, node: tA.terminalId });
    const res = await pushOk(tA, [
      { changeId: uid(), entityType: 'Product', entityId: ahead, operation: 'CREATE', data: product(), hlc: farHlc },
      { changeId: uid(), entityType: 'Product', entityId: near, operation: 'CREATE', data: product(), hlc: nearHlc },
    ]);
    expect(result(res, 0)).toMatchObject({ status: 'rejected', version: null, error: { code: 'CLOCK_DRIFT' } });
    expect(result(res, 1)).toMatchObject({ status: 'applied', version: 1 });
    expect(await rowOf(c, 'products', ahead)).toBeUndefined();
    expect(await rowOf(c, 'products', near)).toMatchObject({ sync_hlc: nearHlc });
  });

  it('a CREATE missing required fields is rejected MISSING_FIELDS and writes nothing', async () => {
    const p = uid();
    const o = uid();
    const changes = await count(c, 'sync_changes');
    const res = await pushOk(tA, [
      { changeId: uid(), entityType: 'Product', entityId: p, operation: 'CREATE', data: { sku: 'S', name: 'no price', price: null } },
      { changeId: uid(), entityType: 'SaleOrder', entityId: o, operation: 'CREATE', data: { order_number: 'N-1' } },
    ]);
    expect(result(res, 0)).toMatchObject({ status: 'rejected', version: null, error: { code: 'MISSING_FIELDS' } });
    expect(result(res, 0).error?.message).toContain('price');
    expect(result(res, 1)).toMatchObject({ status: 'rejected', version: null, error: { code: 'MISSING_FIELDS' } });
    expect(result(res, 1).error?.message).toContain('status');
    expect(await rowOf(c, 'products', p)).toBeUndefined();
    expect(await rowOf(c, 'orders', o)).toBeUndefined();
    expect(await count(c, 'sync_changes')).toBe(changes);
    expect(await count(c, 'sync_applied WHERE entity_id = ANY($1::text[])', [[p, o]])).toBe(0);
  });
});

describe('store scoping', () => {
  it("a terminal cannot create a row in another store's scope (FORBIDDEN_STORE)", async () => {
    const o = uid();
    const res = await pushOk(tA, [
      { changeId: uid(), entityType: 'SaleOrder', entityId: o, operation: 'CREATE', data: order({ store_id: storeB }) },
    ]);
    expect(result(res, 0)).toMatchObject({ status: 'rejected', version: null, error: { code: 'FORBIDDEN_STORE' } });
    expect(await rowOf(c, 'orders', o)).toBeUndefined();
  });

  it("a terminal cannot update another store's row, nor move its own row to another store (FORBIDDEN_STORE)", async () => {
    const theirs = uid();
    const mine = uid();
    const productId = uid();
    await c.db.query(
      `INSERT INTO inventory_items (id, store_id, product_id, master_stock_quantity) VALUES ($1, $2, $3, 10), ($4, $5, $3, 20)`,
      [theirs, storeB, productId, mine, storeA],
    );
    const res = await pushOk(tA, [
      { changeId: uid(), entityType: 'InventoryItem', entityId: theirs, operation: 'UPDATE', data: { master_stock_quantity: 0 }, syncVersion: 1 },
      { changeId: uid(), entityType: 'InventoryItem', entityId: mine, operation: 'UPDATE', data: { store_id: storeB }, syncVersion: 1 },
      { changeId: uid(), entityType: 'InventoryItem', entityId: theirs, operation: 'DELETE', syncVersion: 1 },
    ]);
    for (const r of res.results) expect(r).toMatchObject({ status: 'rejected', version: null, error: { code: 'FORBIDDEN_STORE' } });
    expect(await rowOf(c, 'inventory_items', theirs)).toMatchObject({ store_id: storeB, master_stock_quantity: 10, sync_version: 1, sync_deleted_at: null });
    expect(await rowOf(c, 'inventory_items', mine)).toMatchObject({ store_id: storeA, master_stock_quantity: 20, sync_version: 1 });
    // The owner store's terminal may.
    const ok = await pushOk(tB, [
      { changeId: uid(), entityType: 'InventoryItem', entityId: theirs, operation: 'UPDATE', data: { master_stock_quantity: 9 }, syncVersion: 1 },
    ]);
    expect(result(ok, 0)).toMatchObject({ status: 'applied', version: 2 });
  });

  it("a CREATE without store_id gets the terminal's store", async () => {
    const o = uid();
    const s = uid();
    const res = await pushOk(tA, [
      { changeId: uid(), entityType: 'SaleOrder', entityId: o, operation: 'CREATE', data: order() },
      { changeId: uid(), entityType: 'Setting', entityId: s, operation: 'CREATE', data: { key: 'receipt.footer', value: 'thanks' } },
    ]);
    expect(res.results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(await rowOf(c, 'orders', o)).toMatchObject({ store_id: storeA });
    expect(await rowOf(c, 'settings', s)).toMatchObject({ store_id: storeA });
  });

  it('a terminal acts only as itself (403 WRONG_TERMINAL)', async () => {
    const r = await tA.api.post('/api/sync/push', {
      terminalId: tB.terminalId,
      changes: [{ changeId: uid(), entityType: 'Customer', entityId: uid(), operation: 'CREATE', data: { name: 'x' } }],
    });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'WRONG_TERMINAL' });
  });
});

describe('row images', () => {
  it('a DELETE leaves a tombstone: the row stays with sync_deleted_at set and a pull shows it deleted', async () => {
    const p = uid();
    await pushOk(tA, [{ changeId: uid(), entityType: 'Product', entityId: p, operation: 'CREATE', data: product({ name: 'Doomed' }) }]);
    const res = await pushOk(tA, [{ changeId: uid(), entityType: 'Product', entityId: p, operation: 'DELETE', syncVersion: 1 }]);
    expect(result(res, 0)).toMatchObject({ status: 'applied', version: 2 });
    const row = await rowOf(c, 'products', p);
    expect(row).toMatchObject({ name: 'Doomed', sync_version: 2 });
    expect(row?.sync_deleted_at).not.toBeNull();
    const last = await c.db.query<{ op: string; version: number }>(
      'SELECT op, version FROM sync_changes WHERE entity_id = $1 ORDER BY seq DESC LIMIT 1',
      [p],
    );
    expect(last.rows.map((r) => [r.op, Number(r.version)])).toEqual([['DELETE', 2]]);

    for (const t of [tA, tB]) {
      const pulled = (await pullAll(c, t, 'Product')).changes.filter((x) => x.entityId === p);
      expect(pulled).toHaveLength(1);
      expect(pulled[0]).toMatchObject({ operation: 'DELETE', deleted: true, version: 2, data: { id: p, name: 'Doomed' } });
    }
    // Deleting a tombstone again changes nothing.
    const again = await pushOk(tA, [{ changeId: uid(), entityType: 'Product', entityId: p, operation: 'DELETE', syncVersion: 2 }]);
    expect(result(again, 0)).toMatchObject({ status: 'applied', version: 2 });
    expect(await rowOf(c, 'products', p)).toMatchObject({ sync_version: 2 });
  });

  it('each applied change logs exactly one change log entry, at the version the push answered', async () => {
    const p = uid();
    const answers: number[] = [];
    const ops: [string, Row, number][] = [
      ['CREATE', product({ name: 'Logged' }), 0],
      ['UPDATE', { price: 2 }, 1],
      ['UPDATE', { name: 'Logged again' }, 2],
      ['DELETE', {}, 3],
    ];
    for (const [operation, data, syncVersion] of ops) {
      const res = await pushOk(tA, [
        operation === 'DELETE'
          ? { changeId: uid(), entityType: 'Product', entityId: p, operation, syncVersion }
          : { changeId: uid(), entityType: 'Product', entityId: p, operation: operation as 'CREATE' | 'UPDATE', data, syncVersion },
      ]);
      expect(result(res, 0).status).toBe('applied');
      answers.push(result(res, 0).version as number);
    }
    expect(answers).toEqual([1, 2, 3, 4]);
    const log = await c.db.query<{ op: string; version: number }>('SELECT op, version FROM sync_changes WHERE entity_id = $1 ORDER BY seq', [p]);
    expect(log.rows.map((r) => [r.op, Number(r.version)])).toEqual([
      ['CREATE', 1],
      ['UPDATE', 2],
      ['UPDATE', 3],
      ['DELETE', 4],
    ]);
  });

  it('a partial UPDATE keeps the columns it does not name', async () => {
    const p = uid();
    const data = product({ name: 'Full', barcode: '4006381333931', description: 'desc', cost: 4.25, unit: 'pc', active: true });
    await pushOk(tA, [{ changeId: uid(), entityType: 'Product', entityId: p, operation: 'CREATE', data }]);
    const res = await pushOk(tA, [{ changeId: uid(), entityType: 'Product', entityId: p, operation: 'UPDATE', data: { price: 12.75 }, syncVersion: 1 }]);
    expect(result(res, 0)).toMatchObject({ status: 'applied', version: 2 });
    expect(await rowOf(c, 'products', p)).toMatchObject({ ...data, price: 12.75, sync_version: 2 });
  });

  it('stock_quantity travels as master_stock_quantity; the terminal column name is an unknown field (400)', async () => {
    const inv = uid();
    const p = uid();
    await pushOk(tA, [{ changeId: uid(), entityType: 'Product', entityId: p, operation: 'CREATE', data: product() }]);
    const res = await pushOk(tA, [
      { changeId: uid(), entityType: 'InventoryItem', entityId: inv, operation: 'CREATE', data: { product_id: p, master_stock_quantity: 17 } },
    ]);
    expect(result(res, 0)).toMatchObject({ status: 'applied', version: 1 });
    expect(await rowOf(c, 'inventory_items', inv)).toMatchObject({ master_stock_quantity: 17, store_id: storeA });
    const pulled = (await pullAll(c, tA, 'InventoryItem')).changes.find((x) => x.entityId === inv);
    expect(pulled?.data).toMatchObject({ master_stock_quantity: 17 });
    expect(pulled?.data).not.toHaveProperty('stock_quantity');

    const changes = await count(c, 'sync_changes');
    const bad = await push(tA, [
      { changeId: uid(), entityType: 'InventoryItem', entityId: inv, operation: 'UPDATE', data: { stock_quantity: 3 }, syncVersion: 1 },
    ]);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(bad.text).toContain('stock_quantity');
    expect(await rowOf(c, 'inventory_items', inv)).toMatchObject({ master_stock_quantity: 17, sync_version: 1 });
    expect(await count(c, 'sync_changes')).toBe(changes);
  });
});
