/**
 * Central's change log (sync_changes) as the capture triggers write it: once per
 * statement, from the statement's transition tables, with the semantics the row-level
 * trigger had. Every write to a synced table, by a push or by anyone's SQL, logs one
 * entry per row it changed (two for a row moved to another store), in the order the
 * statement wrote them, with the row's new version and writer; a write that changed
 * nothing logs nothing.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHANGES_CHANNEL, installCaptureTriggers } from '../../src/server/db/migrate.js';
import { useCentral, type ProvisionedTerminal } from '../helpers/central.js';
import { pushOk } from '../helpers/sync.js';

const c = useCentral();
let storeA: string;
let storeB: string;
let tA: ProvisionedTerminal;

const uid = () => randomUUID();

interface Logged {
  seq: number;
  entity_type: string;
  entity_id: string;
  store_id: string | null;
  op: string;
  version: number;
  origin: string | null;
}

/** The log's entries after `seq`, in log order. */
async function loggedAfter(seq: number, entityType?: string): Promise<Omit<Logged, 'seq'>[]> {
  const r = await c.db.query<Logged>(
    `SELECT seq, entity_type, entity_id, store_id, op, version::int AS version, origin FROM sync_changes
     WHERE seq > $1 AND ($2::text IS NULL OR entity_type = $2) ORDER BY seq`,
    [seq, entityType ?? null],
  );
  return r.rows.map(({ entity_type, entity_id, store_id, op, version, origin }) => ({ entity_type, entity_id, store_id, op, version, origin }));
}

async function lastSeq(): Promise<number> {
  const r = await c.db.query<{ s: number }>('SELECT coalesce(max(seq), 0)::int AS s FROM sync_changes');
  return Number(r.rows[0]?.s);
}

/** How often the statement's change-log triggers ran, from EXPLAIN ANALYZE (rolled back). */
async function logTriggerCalls(sql: string, params: unknown[] = []): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  try {
    await c.db.transaction(async (tx) => {
      const r = await tx.query<Record<string, unknown>>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
      const raw = Object.values(r.rows[0] as object)[0];
      const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Triggers?: { 'Trigger Name': string; Calls: number }[] }[];
      for (const t of plan[0]?.Triggers ?? []) calls[t['Trigger Name']] = (calls[t['Trigger Name']] ?? 0) + t.Calls;
      throw new Error('rollback');
    });
  } catch (err) {
    if ((err as Error).message !== 'rollback') throw err;
  }
  return calls;
}

beforeAll(async () => {
  const tag = uid().slice(0, 6);
  storeA = `log-a-${tag}`;
  storeB = `log-b-${tag}`;
  tA = await c.provision(storeA);
  await c.provision(storeB);
});

describe('the change log is written per statement', () => {
  it('a 300-row back-office insert and a 300-row update each run the log trigger once, not once per row', async () => {
    const prefix = `bulk-${uid().slice(0, 8)}-`;
    const insert = `INSERT INTO products (id, sku, name, price) SELECT $1 || i, 'SKU-' || i, 'P' || i, 1 FROM generate_series(1, 300) i`;
    const calls = await logTriggerCalls(insert, [prefix]);
    expect(calls).toMatchObject({ tillsync_log_insert: 1, tillsync_stamp: 300 });
    expect(calls).not.toHaveProperty('tillsync_log');

    await c.db.query(insert, [prefix]);
    expect(await logTriggerCalls(`UPDATE products SET price = 2 WHERE id LIKE $1`, [`${prefix}%`])).toMatchObject({ tillsync_log_update: 1 });
    const r = await c.db.query<{ tgname: string }>(
      `SELECT tgname FROM pg_trigger WHERE tgrelid = 'products'::regclass AND tgname LIKE 'tillsync_log%' ORDER BY tgname`,
    );
    expect(r.rows.map((x) => x.tgname)).toEqual(['tillsync_log_insert', 'tillsync_log_update']);
  });

});

describe('what is logged', () => {
  it('a back-office multi-row UPDATE by plain SQL logs each row once: UPDATE, CREATE for a revived tombstone, DELETE for a new one', async () => {
    const [live, dead, dying] = [uid(), uid(), uid()];
    await c.db.query(
      `INSERT INTO products (id, sku, name, price, sync_deleted_at) VALUES ($1, 'A', 'live', 1, NULL), ($2, 'B', 'dead', 1, now()), ($3, 'C', 'dying', 1, NULL)`,
      [live, dead, dying],
    );
    await c.db.query(`UPDATE products SET price = 5 WHERE id = $1`, [dying]); // version 2: versions differ row to row
    const from = await lastSeq();
    await c.db.query(
      `UPDATE products SET price = 9, sync_deleted_at = CASE id WHEN $2 THEN NULL WHEN $3 THEN now() ELSE sync_deleted_at END WHERE id = ANY($1::text[])`,
      [[live, dead, dying], dead, dying],
    );
    const logged = await loggedAfter(from);
    expect(logged).toHaveLength(3);
    expect(logged).toEqual(
      expect.arrayContaining([
        { entity_type: 'Product', entity_id: live, store_id: null, op: 'UPDATE', version: 2, origin: 'central' },
        { entity_type: 'Product', entity_id: dead, store_id: null, op: 'CREATE', version: 2, origin: 'central' },
        { entity_type: 'Product', entity_id: dying, store_id: null, op: 'DELETE', version: 3, origin: 'central' },
      ]),
    );
  });

  it('an UPDATE that changes nothing logs nothing and keeps the version, also among rows that did change', async () => {
    const [same, changed] = [uid(), uid()];
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, 'S', 'same', 1), ($2, 'C', 'changed', 1)`, [same, changed]);
    const from = await lastSeq();
    await c.db.query(`UPDATE products SET name = name WHERE id = $1`, [same]);
    expect(await loggedAfter(from)).toEqual([]);
    await c.db.query(`UPDATE products SET price = CASE id WHEN $1 THEN price ELSE 2 END WHERE id IN ($1, $2)`, [same, changed]);
    expect(await loggedAfter(from)).toEqual([{ entity_type: 'Product', entity_id: changed, store_id: null, op: 'UPDATE', version: 2, origin: 'central' }]);
    const v = await c.db.query<{ id: string; v: number }>(`SELECT id, sync_version::int AS v FROM products WHERE id IN ($1, $2)`, [same, changed]);
    expect(Object.fromEntries(v.rows.map((r) => [r.id, r.v]))).toEqual({ [same]: 1, [changed]: 2 });
  });

  it('a row moved to another store logs a DELETE for the old store, then the change for the new one; a move to no store too', async () => {
    const [inv, stays, disc] = [uid(), uid(), uid()];
    await c.db.query(
      `INSERT INTO inventory_items (id, store_id, product_id, master_stock_quantity) VALUES ($1, $3, 'p', 1), ($2, $3, 'p', 1)`,
      [inv, stays, storeA],
    );
    await c.db.query(`INSERT INTO discounts (id, store_id, name, kind, value) VALUES ($1, $2, 'A only', 'percent', 5)`, [disc, storeA]);
    let from = await lastSeq();
    // One statement: one row moves, one only changes.
    await c.db.query(
      `UPDATE inventory_items SET store_id = CASE id WHEN $1 THEN $3 ELSE store_id END, master_stock_quantity = 7 WHERE id IN ($1, $2)`,
      [inv, stays, storeB],
    );
    const logged = await loggedAfter(from);
    const mine = logged.filter((x) => x.entity_id === inv);
    expect(mine).toEqual([
      { entity_type: 'InventoryItem', entity_id: inv, store_id: storeA, op: 'DELETE', version: 2, origin: 'central' },
      { entity_type: 'InventoryItem', entity_id: inv, store_id: storeB, op: 'UPDATE', version: 2, origin: 'central' },
    ]);
    expect(logged.filter((x) => x.entity_id === stays)).toEqual([
      { entity_type: 'InventoryItem', entity_id: stays, store_id: storeA, op: 'UPDATE', version: 2, origin: 'central' },
    ]);

    from = await lastSeq();
    await c.db.query(`UPDATE discounts SET store_id = NULL WHERE id = $1`, [disc]);
    // Store A's terminals see both (their store's and global entries): the DELETE comes first, so the row stays.
    expect(await loggedAfter(from)).toEqual([
      { entity_type: 'Discount', entity_id: disc, store_id: storeA, op: 'DELETE', version: 2, origin: 'central' },
      { entity_type: 'Discount', entity_id: disc, store_id: null, op: 'UPDATE', version: 2, origin: 'central' },
    ]);
    from = await lastSeq();
    await c.db.query(`UPDATE discounts SET store_id = $2 WHERE id = $1`, [disc, storeB]); // from no store: nothing to leave
    expect(await loggedAfter(from)).toEqual([
      { entity_type: 'Discount', entity_id: disc, store_id: storeB, op: 'UPDATE', version: 3, origin: 'central' },
    ]);
  });

  it("one statement carrying two terminals' rows (group commit) announces each store with its own rows' writer only; a move announces the old store with the mover", async () => {
    const [sa, sb] = [uid(), uid()];
    const heard: { t: string; s: string | null; o: string; x: string }[] = [];
    const stop = await c.db.listen(CHANGES_CHANNEL, (p) => heard.push(JSON.parse(p) as { t: string; s: string | null; o: string; x: string }));
    try {
      const settled = async (n: number) => {
        for (let i = 0; i < 100 && heard.length < n; i++) await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, 100));
      };
      // The rows, by HQ; once its announcements are heard, what follows is the statement's.
      await c.db.query(`INSERT INTO settings (id, store_id, key, value) VALUES ($1, $3, 'k', '1'), ($2, $4, 'k', '1')`, [sa, sb, storeA, storeB]);
      for (let i = 0; i < 200 && heard.filter((h) => h.t === 'Setting' && h.o === 'central').length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      await settled(0);
      const start = heard.length;
      await c.db.transaction(async (tx) => {
        await tx.query(`SELECT set_config('tillsync.origin', '*row*', true)`);
        await tx.query(
          `INSERT INTO settings (id, store_id, key, value, sync_origin) VALUES ($1, $3, 'k', '2', 'till-a'), ($2, $4, 'k', '2', 'till-b')
           ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value, sync_origin = EXCLUDED.sync_origin`,
          [sa, sb, storeA, storeB],
        );
      });
      await settled(start + 2);
      const pairs = (from: number) => [...new Set(heard.slice(from).filter((h) => h.t === 'Setting').map((h) => `${h.s}/${h.o}`))].sort();
      expect(pairs(start)).toEqual([`${storeA}/till-a`, `${storeB}/till-b`].sort());
      // HQ moves A's row to store B: store A hears of it too (its terminals drop the row), from HQ.
      const before = heard.length;
      await c.db.query(`UPDATE settings SET store_id = $2 WHERE id = $1`, [sa, storeB]);
      await settled(before + 2);
      expect(pairs(before)).toEqual([`${storeA}/central`, `${storeB}/central`].sort());
    } finally {
      await stop();
    }
  });

  it('an UPDATE that changes keys pairs each row with its own old image (by position, not by the new key)', async () => {
    const [a, b] = [`k-${uid()}`, `k-${uid()}`];
    await c.db.query(`INSERT INTO products (id, sku, name, price, sync_deleted_at) VALUES ($1, 'A', 'a', 1, now()), ($2, 'B', 'b', 1, NULL)`, [a, b]);
    await c.db.query(`UPDATE products SET price = 2 WHERE id = $1`, [b]); // b at version 2
    const from = await lastSeq();
    await c.db.query(`UPDATE products SET id = id || '-x', sync_deleted_at = NULL WHERE id IN ($1, $2)`, [a, b]);
    expect(await loggedAfter(from)).toEqual(
      expect.arrayContaining([
        { entity_type: 'Product', entity_id: `${a}-x`, store_id: null, op: 'CREATE', version: 2, origin: 'central' },
        { entity_type: 'Product', entity_id: `${b}-x`, store_id: null, op: 'UPDATE', version: 3, origin: 'central' },
      ]),
    );
    expect(await loggedAfter(from)).toHaveLength(2);
  });

  it('an INSERT ... ON CONFLICT DO UPDATE mixing new, changed and unchanged rows logs one change per changed row, with its op', async () => {
    const [old1, old2, same, new1, new2] = [uid(), uid(), uid(), uid(), uid()];
    await c.db.query(
      `INSERT INTO customers (id, name, loyalty_points, sync_deleted_at) VALUES ($1, 'old1', 1, NULL), ($2, 'old2', 1, now()), ($3, 'same', 1, NULL)`,
      [old1, old2, same],
    );
    const from = await lastSeq();
    await c.db.query(
      `INSERT INTO customers (id, name, loyalty_points, sync_deleted_at)
       SELECT * FROM (VALUES ($1, 'new1', 0, NULL::timestamptz), ($2, 'old1', 5, NULL), ($3, 'old2 back', 1, NULL), ($4, 'same', 1, NULL), ($5, 'new2', 0, now())) v
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, loyalty_points = EXCLUDED.loyalty_points, sync_deleted_at = EXCLUDED.sync_deleted_at`,
      [new1, old1, old2, same, new2],
    );
    const logged = await loggedAfter(from);
    expect(logged).toHaveLength(4);
    expect(logged).toEqual(
      expect.arrayContaining([
        { entity_type: 'Customer', entity_id: new1, store_id: null, op: 'CREATE', version: 1, origin: 'central' },
        { entity_type: 'Customer', entity_id: new2, store_id: null, op: 'DELETE', version: 1, origin: 'central' },
        { entity_type: 'Customer', entity_id: old1, store_id: null, op: 'UPDATE', version: 2, origin: 'central' },
        { entity_type: 'Customer', entity_id: old2, store_id: null, op: 'CREATE', version: 2, origin: 'central' },
      ]),
    );
  });

  it('a back-office MERGE (PostgreSQL 15+) logs its updated rows and its inserted rows, each once', async () => {
    const [had, added] = [uid(), uid()];
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, 'H', 'had', 1)`, [had]);
    const from = await lastSeq();
    await c.db.query(
      `MERGE INTO products p USING (VALUES ($1::text, 7::numeric), ($2::text, 8::numeric)) v(id, price) ON p.id = v.id
       WHEN MATCHED THEN UPDATE SET price = v.price
       WHEN NOT MATCHED THEN INSERT (id, sku, name, price) VALUES (v.id, 'M', 'merged', v.price)`,
      [had, added],
    );
    const logged = await loggedAfter(from);
    expect(logged).toHaveLength(2);
    expect(logged).toEqual(
      expect.arrayContaining([
        { entity_type: 'Product', entity_id: had, store_id: null, op: 'UPDATE', version: 2, origin: 'central' },
        { entity_type: 'Product', entity_id: added, store_id: null, op: 'CREATE', version: 1, origin: 'central' },
      ]),
    );
  });

  it("a push's upsert batch (new and existing rows) logs each row of a pulled table once, as the terminal's write, and an up-only table's rows not at all", async () => {
    const [existing, fresh] = [uid(), uid()];
    const [orderOld, orderNew] = [uid(), uid()];
    await pushOk(tA, [
      { changeId: uid(), entityType: 'Customer', entityId: existing, operation: 'CREATE', data: { name: 'Before' } },
      { changeId: uid(), entityType: 'SaleOrder', entityId: orderOld, operation: 'CREATE', data: { order_number: 'O-1', status: 'pending' } },
    ]);
    const from = await lastSeq();
    const res = await pushOk(tA, [
      { changeId: uid(), entityType: 'Customer', entityId: existing, operation: 'UPDATE', syncVersion: 1, data: { name: 'After' } },
      { changeId: uid(), entityType: 'Customer', entityId: fresh, operation: 'CREATE', data: { name: 'New' } },
      { changeId: uid(), entityType: 'SaleOrder', entityId: orderOld, operation: 'UPDATE', syncVersion: 1, data: { status: 'completed' } },
      { changeId: uid(), entityType: 'SaleOrder', entityId: orderNew, operation: 'CREATE', data: { order_number: 'O-2', status: 'completed' } },
    ]);
    expect(res.results.map((r) => [r.status, r.version])).toEqual([
      ['applied', 2],
      ['applied', 1],
      ['applied', 2],
      ['applied', 1],
    ]);
    const logged = await loggedAfter(from);
    // Orders are up-only: no terminal pulls them, so they are not logged (nor stamped any less).
    expect(logged).toHaveLength(2);
    expect(logged).toEqual(
      expect.arrayContaining([
        { entity_type: 'Customer', entity_id: existing, store_id: null, op: 'UPDATE', version: 2, origin: tA.terminalId },
        { entity_type: 'Customer', entity_id: fresh, store_id: null, op: 'CREATE', version: 1, origin: tA.terminalId },
      ]),
    );
    const tx = await c.db.query<{ n: number }>('SELECT count(DISTINCT txid)::int AS n FROM sync_changes WHERE seq > $1', [from]);
    expect(tx.rows[0]?.n).toBe(1);
  });

  it('up-only tables (sales) keep no log, however they are written; their rows are still stamped', async () => {
    const [order, payment] = [uid(), uid()];
    const from = await lastSeq();
    await c.db.query(`INSERT INTO orders (id, store_id, order_number, status) VALUES ($1, $2, 'BO-1', 'pending')`, [order, storeA]);
    await c.db.query(`INSERT INTO payments (id, store_id, order_id, method, amount) VALUES ($1, $2, $3, 'cash', 5)`, [payment, storeA, order]);
    await c.db.query(`UPDATE orders SET status = 'completed', store_id = $2 WHERE id = $1`, [order, storeB]);
    await c.db.query('DELETE FROM payments WHERE id = $1', [payment]);
    expect(await loggedAfter(from)).toEqual([]);
    const rows = await c.db.query<{ v: number; deleted: boolean }>(
      `SELECT sync_version::int AS v, sync_deleted_at IS NOT NULL AS deleted FROM orders WHERE id = $1
       UNION ALL SELECT sync_version::int, sync_deleted_at IS NOT NULL FROM payments WHERE id = $2`,
      [order, payment],
    );
    expect(rows.rows).toEqual([
      { v: 2, deleted: false },
      { v: 2, deleted: true },
    ]);
  });

  it('a soft DELETE of several rows logs a DELETE for each; deleting a tombstone again logs nothing', async () => {
    const [x, y] = [uid(), uid()];
    await c.db.query(`INSERT INTO customers (id, name) VALUES ($1, 'x'), ($2, 'y')`, [x, y]);
    let from = await lastSeq();
    await c.db.query('DELETE FROM customers WHERE id IN ($1, $2)', [x, y]);
    expect(await loggedAfter(from)).toEqual(
      expect.arrayContaining([
        { entity_type: 'Customer', entity_id: x, store_id: null, op: 'DELETE', version: 2, origin: 'central' },
        { entity_type: 'Customer', entity_id: y, store_id: null, op: 'DELETE', version: 2, origin: 'central' },
      ]),
    );
    expect(await loggedAfter(from)).toHaveLength(2);
    from = await lastSeq();
    await c.db.query('DELETE FROM customers WHERE id IN ($1, $2)', [x, y]);
    expect(await loggedAfter(from)).toEqual([]);
  });
});

describe('installed on every start', () => {
  it('an instance of the version before, restarting during a rolling upgrade, attaches its row-level trigger again: it starts, and nothing is logged twice', async () => {
    // What that instance's start does for every table: the row-level trigger on the function it knows.
    await c.db.query(`CREATE OR REPLACE TRIGGER tillsync_log AFTER INSERT OR UPDATE ON products FOR EACH ROW EXECUTE FUNCTION tillsync_log('Product', '')`);
    const id = uid();
    const from = await lastSeq();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, 'S', 'Mixed fleet', 1)`, [id]);
    await c.db.query(`UPDATE products SET price = 3 WHERE id = $1`, [id]);
    expect(await loggedAfter(from)).toEqual([
      { entity_type: 'Product', entity_id: id, store_id: null, op: 'CREATE', version: 1, origin: 'central' },
      { entity_type: 'Product', entity_id: id, store_id: null, op: 'UPDATE', version: 2, origin: 'central' },
    ]);
    // This version's next start takes the old trigger away again.
    await c.db.transaction((tx) => installCaptureTriggers(tx));
    expect((await c.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'tillsync_log'`)).rows[0]?.n).toBe(0);
  });

  it("an up-only table's log triggers left by an earlier version are dropped at start, with their function", async () => {
    // What the version before issue 17 installed on orders (a statement-level log like any table's).
    await c.db.query(`CREATE OR REPLACE FUNCTION tillsync_log_orders() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO sync_changes (entity_type, entity_id, store_id, op, version, origin)
            SELECT 'SaleOrder', n.id, n.store_id, 'CREATE', n.sync_version, n.sync_origin FROM tillsync_new n; RETURN NULL; END $$`);
    await c.db.query(`CREATE OR REPLACE TRIGGER tillsync_log_insert AFTER INSERT ON orders REFERENCING NEW TABLE AS tillsync_new
      FOR EACH STATEMENT EXECUTE FUNCTION tillsync_log_orders()`);
    const before = uid();
    let from = await lastSeq();
    await c.db.query(`INSERT INTO orders (id, store_id, order_number, status) VALUES ($1, $2, 'BO-2', 'pending')`, [before, storeA]);
    expect(await loggedAfter(from)).toHaveLength(1); // the old trigger is really there
    await c.db.transaction((tx) => installCaptureTriggers(tx));
    const left = await c.db.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'orders'::regclass AND tgname LIKE 'tillsync_log%')
            + (SELECT count(*) FROM pg_proc WHERE proname = 'tillsync_log_orders') AS n`,
    );
    expect(Number(left.rows[0]?.n)).toBe(0);
    from = await lastSeq();
    await c.db.query(`INSERT INTO orders (id, store_id, order_number, status) VALUES ($1, $2, 'BO-3', 'pending')`, [uid(), storeA]);
    expect(await loggedAfter(from)).toEqual([]);
  });

  it('installing the triggers again (every start) logs each change once; an old row-level log trigger left behind is dropped', async () => {
    // A database as an instance from before the statement-level log left it.
    await c.db.query(`CREATE OR REPLACE FUNCTION tillsync_log() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO sync_changes (entity_type, entity_id, store_id, op, version, origin)
            VALUES (TG_ARGV[0], NEW.id, NULL, 'UPDATE', NEW.sync_version, NEW.sync_origin); RETURN NULL; END $$`);
    await c.db.query(`CREATE TRIGGER tillsync_log AFTER INSERT OR UPDATE ON products FOR EACH ROW EXECUTE FUNCTION tillsync_log('Product', '')`);
    await c.db.transaction((tx) => installCaptureTriggers(tx));
    await c.db.transaction((tx) => installCaptureTriggers(tx));
    await c.db.query('DROP FUNCTION tillsync_log()'); // nothing uses it any more

    const id = uid();
    const from = await lastSeq();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, 'S', 'Twice installed', 1)`, [id]);
    await c.db.query(`UPDATE products SET price = 3 WHERE id = $1`, [id]);
    expect(await loggedAfter(from)).toEqual([
      { entity_type: 'Product', entity_id: id, store_id: null, op: 'CREATE', version: 1, origin: 'central' },
      { entity_type: 'Product', entity_id: id, store_id: null, op: 'UPDATE', version: 2, origin: 'central' },
    ]);
  });
});
