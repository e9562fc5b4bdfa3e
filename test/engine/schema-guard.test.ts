/**
 * Schema drift (DESIGN.md invariant 9): pushes and pulls carry a schema hash per
 * table; on a mismatch central refuses with a clear error, the engine pauses that
 * table (its pending changes wait, unchanged), other tables keep syncing, and no
 * data is touched on either side. Once both run the same catalog again, a full sync
 * resumes the table.
 *
 * The drift is made real on the terminal only: the engine's view of one catalog
 * entry (store.base.tables) gets a different hash, as an engine built from another
 * catalog version would send; central keeps its own catalog.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { entryForEntity, type CatalogEntry } from '../../src/shared/catalog/index.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, startEngine, type TerminalEngine } from '../helpers/engine.js';
import { answersForRows, pull, push, rowOf } from '../helpers/sync.js';

const c = useCentral();
afterAll(closeAll);

const uid = () => randomUUID();
const OTHER_HASH = 'ffffffffffffffff';

/** Gives the engine's entry of `table` another schema hash; returns the function that restores it. */
function drift(e: TerminalEngine, table: string): () => void {
  const t = e.store.base.tables.get(table);
  if (!t) throw new Error(`${table} is not synced here`);
  const original = t.entry;
  const drifted: CatalogEntry = { ...original, schemaHash: OTHER_HASH };
  e.store.base.tables.set(table, { ...t, entry: drifted });
  return () => e.store.base.tables.set(table, { ...t, entry: original });
}

const dumpTable = (e: TerminalEngine, table: string) => e.store.base.db.prepare(`SELECT * FROM ${table} ORDER BY id`).all();

describe('schema guard', () => {
  it('central refuses a pull with another schema hash (409 SCHEMA_MISMATCH) and rejects such a push without writing it', async () => {
    const t = await c.provision(`guard-${uid().slice(0, 8)}`);
    const r = await pull(t.api, t.terminalId, 'Product', { schemaHash: OTHER_HASH, limit: 10 });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ code: 'SCHEMA_MISMATCH' });
    expect(JSON.stringify(r.body)).toMatch(/schema/i);

    const id = uid();
    const p = await push(t, [{ changeId: uid(), entityType: 'Product', entityId: id, operation: 'CREATE', data: { sku: 'G-1', name: 'Guarded', price: 1 } }], {
      Product: OTHER_HASH,
    });
    expect(p.status).toBe(200);
    expect(p.body.results[0]).toMatchObject({ status: 'rejected', error: { code: 'SCHEMA_MISMATCH' } });
    expect(await rowOf(c, 'products', id)).toBeUndefined();
    expect((entryForEntity('Product') as CatalogEntry).schemaHash).not.toBe(OTHER_HASH);
  });

  it('a push and a pull under a drifted catalog pause those tables with a clear error; pending changes stay pending and no data is touched', async () => {
    const e = await startEngine(c, { initialSync: true });
    const restoreProducts = drift(e, 'products'); // pushed and pulled: the push meets the mismatch
    const restoreBrands = drift(e, 'brands'); // pulled only: the pull meets it

    // Waiting on the terminal: a new product (drifted table) and a customer (fine).
    const pos = e.pos();
    const localProduct = Number(pos.prepare(`INSERT INTO products (sku, name, price) VALUES (?, 'Till product', 2)`).run(`GT-${uid().slice(0, 8)}`).lastInsertRowid);
    const productSid = e.serverIdOf('products', localProduct);
    const customerSid = e.serverIdOf('customers', pos.prepare(`INSERT INTO customers (name) VALUES ('Unaffected')`).run().lastInsertRowid);
    // Waiting at central: a product and a brand.
    const centralProduct = uid();
    const centralBrand = uid();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'HQ product', 9)`, [centralProduct, `GC-${centralProduct.slice(0, 8)}`]);
    await c.db.query(`INSERT INTO brands (id, name) VALUES ($1, 'HQ brand')`, [centralBrand]);

    const products = dumpTable(e, 'products');
    const brands = dumpTable(e, 'brands');
    const cursors = { products: e.store.cursors.cursor('products'), brands: e.store.cursors.cursor('brands') };
    const pendingBefore = e.outbox({ table: 'products', status: 'pending' });
    expect(pendingBefore).toHaveLength(1);

    const r = await e.sync();
    expect(r.errors.join('\n')).toMatch(/products.*schema/i);
    expect(r.errors.join('\n')).toMatch(/Brand.*schema/i);

    const status = e.service.status();
    expect(status.tables.Product?.paused).toMatch(/schema/i);
    expect(status.tables.Brand?.paused).toMatch(/schema/i);
    expect(status.tables.Customer?.paused).toBeNull();
    expect(status.tables.Product?.pending).toBe(1);

    // The drifted tables' data is untouched on both sides; their pending change waits, unchanged.
    expect(e.outbox({ table: 'products', status: 'pending' }).map((x) => [x.id, x.change_id, x.attempts, x.status])).toEqual(
      pendingBefore.map((x) => [x.id, x.change_id, x.attempts, x.status]),
    );
    expect(dumpTable(e, 'products')).toEqual(products);
    expect(dumpTable(e, 'brands')).toEqual(brands);
    expect(e.store.cursors.cursor('products')).toBe(cursors.products);
    expect(e.store.cursors.cursor('brands')).toBe(cursors.brands);
    expect(await rowOf(c, 'products', productSid)).toBeUndefined();
    expect(await answersForRows(c, [productSid])).toBe(0);
    // Other tables went on.
    expect(await rowOf(c, 'customers', customerSid)).toMatchObject({ name: 'Unaffected' });

    // An incremental pass leaves paused tables alone.
    await e.service.performIncrementalSync('test');
    await e.service.performIncrementalSync('test');
    expect(e.service.status().tables.Product?.paused).toMatch(/schema/i);
    expect(dumpTable(e, 'products')).toEqual(products);
    expect(await rowOf(c, 'products', productSid)).toBeUndefined();

    // Same catalog again: the next full sync resumes both tables.
    restoreProducts();
    restoreBrands();
    const resumed = await e.sync();
    expect(resumed.errors).toEqual([]);
    expect(e.service.status().tables.Product?.paused).toBeNull();
    expect(e.service.status().tables.Brand?.paused).toBeNull();
    expect(await rowOf(c, 'products', productSid)).toMatchObject({ name: 'Till product', sync_version: 1 });
    expect(e.row('products', centralProduct)).toMatchObject({ name: 'HQ product', price: 9 });
    expect(e.row('brands', centralBrand)).toMatchObject({ name: 'HQ brand' });
    expect(e.outbox({ status: 'pending' })).toHaveLength(0);
  });

  it('a paused table does not hold back the other tables, even when it has more changes waiting than a batch holds', async () => {
    const e = await startEngine(c, { initialSync: true, config: { batchSize: 2 } });
    const restore = drift(e, 'orders');
    const pos = e.pos();
    for (let i = 0; i < 3; i++) pos.prepare(`INSERT INTO orders (order_number, status, total) VALUES (?, 'completed', 1)`).run(`GUARD-${uid().slice(0, 8)}`);
    const customer = e.serverIdOf('customers', pos.prepare(`INSERT INTO customers (name) VALUES ('behind the orders')`).run().lastInsertRowid);
    const product = e.serverIdOf('products', pos.prepare(`INSERT INTO products (sku, name, price) VALUES (?, 'behind too', 1)`).run(`GB-${uid().slice(0, 8)}`).lastInsertRowid);

    const r = await e.sync();
    expect(r.errors.join('\n')).toMatch(/orders.*schema/i);
    expect(e.service.status().tables.SaleOrder?.paused).toMatch(/schema/i);
    expect(e.outbox({ table: 'orders', status: 'pending' })).toHaveLength(3);
    expect(await rowOf(c, 'customers', customer)).toMatchObject({ name: 'behind the orders' });
    expect(await rowOf(c, 'products', product)).toMatchObject({ name: 'behind too' });
    restore();
    const resumed = await e.sync();
    expect(resumed.errors).toEqual([]);
    expect(e.outbox({ status: 'pending' })).toHaveLength(0);
  });
});
