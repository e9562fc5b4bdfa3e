/**
 * A first sync reads each table from a snapshot (the live rows in key order, then the
 * change log from where the read began), and writes a page's new rows in one
 * statement. What the terminal ends up with is what the change log would have given
 * it: every live row, no tombstone, foreign keys resolved (also within one page and
 * towards rows that arrive later), values as the row-by-row write stores them.
 * A table the terminal already holds rows of always follows the change log, so a
 * delete made while its cursor was lost still reaches it.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CentralClient } from '../../src/main/sync/central-client.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, startEngine } from '../helpers/engine.js';

afterAll(closeAll);

/** The engine's pull requests, as it sends them (a spy on the real client, which still does the work). */
const calls: { entityType: string; start?: string | undefined; cursor?: string | undefined; limit: number }[] = [];
const originalPull = CentralClient.prototype.pull;
beforeEach(() => {
  calls.length = 0;
  CentralClient.prototype.pull = function (this: CentralClient, q) {
    calls.push({ entityType: q.entityType, start: q.start, cursor: q.cursor, limit: q.limit });
    return originalPull.call(this, q);
  };
});
afterEach(() => {
  CentralClient.prototype.pull = originalPull;
});

const productPulls = () => calls.filter((x) => x.entityType === 'Product');

describe('first sync from a snapshot', () => {
  const c = useCentral();
  afterAll(closeAll);

  it('brings every live row, no tombstone, with foreign keys resolved within a page and across pages; later passes follow the log', async () => {
    // A child category whose key sorts before its parent's: in a key-order read it comes first.
    await c.db.query(`INSERT INTO categories (id, name, parent_id) VALUES ('cat-b-parent', 'Parent', NULL), ('cat-a-child', 'Child', 'cat-b-parent')`);
    await c.db.query(`INSERT INTO brands (id, name) VALUES ('brand-1', 'Brand')`);
    await c.db.query(
      `INSERT INTO products (id, sku, name, price, cost, active, category_id, brand_id, description)
       SELECT 'fs-' || lpad(g::text, 3, '0'), 'FS-' || g, 'First ' || g, g / 4.0, CASE WHEN g % 2 = 0 THEN 1.25 END, g % 3 <> 0,
              'cat-a-child', CASE WHEN g = 5 THEN 'brand-later' ELSE 'brand-1' END, CASE WHEN g % 2 = 1 THEN 'odd' END
       FROM generate_series(1, 30) g`,
    );
    await c.db.query(`DELETE FROM products WHERE id IN ('fs-004', 'fs-017')`);

    const e = await startEngine(c, { config: { snapshotPageSize: 7 } });
    const r = await e.sync();
    expect(r.errors).toEqual([]);

    const pulls = productPulls();
    expect(pulls[0]).toMatchObject({ start: 'snapshot', cursor: undefined, limit: 7 });
    expect(pulls.slice(1).every((p) => p.cursor !== undefined && p.start === undefined)).toBe(true);

    const central = (await c.db.query<{ id: string }>(`SELECT id FROM products WHERE sync_deleted_at IS NULL ORDER BY id`)).rows.map((x) => x.id);
    const local = (e.store.base.db.prepare('SELECT server_id FROM products ORDER BY server_id').all() as { server_id: string }[]).map((x) => x.server_id);
    expect(local).toEqual(central);
    expect(local).toHaveLength(28);
    expect(e.row('products', 'fs-004')).toBeNull();

    const parent = e.row('categories', 'cat-b-parent');
    const child = e.row('categories', 'cat-a-child');
    expect(child?.parent_id).toBe(parent?.id);
    const brand = e.row('brands', 'brand-1');
    for (const id of local) expect(e.row('products', id)?.category_id).toBe(child?.id);
    expect(e.row('products', 'fs-001')?.brand_id).toBe(brand?.id);
    // A brand that does not exist yet: the product waits for it, then points at it once it is pulled.
    expect(e.row('products', 'fs-005')?.brand_id).toBeNull();
    await c.db.query(`INSERT INTO brands (id, name) VALUES ('brand-later', 'Later')`);
    expect((await e.sync()).errors).toEqual([]);
    expect(e.row('products', 'fs-005')?.brand_id).toBe(e.row('brands', 'brand-later')?.id);
    expect(e.store.base.db.prepare('SELECT count(*) AS n FROM tillsync_unresolved').get()).toEqual({ n: 0 });

    // Rows written in one statement hold the values the row-by-row write gives (fs-005
    // waited for its brand and was written alone): same types, column by column.
    const types = (row: Record<string, unknown> | null) => Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, v === null ? 'null' : typeof v]));
    const alone = e.row('products', 'fs-005');
    const together = e.row('products', 'fs-007');
    expect(types(together)).toEqual(types(alone));
    expect(together).toMatchObject({ sku: 'FS-7', name: 'First 7', price: 1.75, cost: null, active: 1, description: 'odd', terminal_id: alone?.terminal_id });
    expect(e.row('products', 'fs-006')).toMatchObject({ price: 1.5, cost: 1.25, active: 0, description: null });
    expect(e.outbox()).toHaveLength(0); // nothing pulled was captured

    // The next pass follows the change log from the read's handover.
    calls.length = 0;
    await c.db.query(`UPDATE products SET price = 99 WHERE id = 'fs-010'`);
    const next = await e.sync();
    expect(next.pulled).toBeGreaterThanOrEqual(1);
    expect(productPulls().every((p) => p.start === undefined && p.cursor !== undefined)).toBe(true);
    expect(e.row('products', 'fs-010')?.price).toBe(99);
  });

  it('a table the terminal holds rows of, with its cursor gone, follows the change log from the start: a delete made meanwhile reaches it', async () => {
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ('keep-1', 'K1', 'Keep', 1), ('gone-1', 'G1', 'Gone', 1)`);
    const e = await startEngine(c);
    expect((await e.sync()).errors).toEqual([]);
    expect(e.row('products', 'gone-1')).not.toBeNull();

    await c.db.query(`DELETE FROM products WHERE id = 'gone-1'`);
    e.store.cursors.resetCursor('products'); // as after CURSOR_AHEAD (central restored from a backup)
    calls.length = 0;
    expect((await e.sync()).errors).toEqual([]);
    expect(productPulls()[0]).toMatchObject({ start: undefined, cursor: undefined });
    expect(e.row('products', 'gone-1')).toBeNull();
    expect(e.row('products', 'keep-1')).not.toBeNull();
  });
});
