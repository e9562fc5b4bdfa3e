/**
 * Trust at the edges of a push (DESIGN invariants 3 and 12), on PGlite and PostgreSQL:
 * - no store crossing: for every foreign key of every table terminals push, a row
 *   pointing at another store's row is refused (FORBIDDEN_STORE), and a required
 *   parent that exists nowhere is refused (MISSING_PARENT) unless the batch creates
 *   it; a refused change writes nothing. A parent moved to another store while the
 *   push runs is seen (PostgreSQL: the move commits while the push waits on it).
 *   A supervisor at a till resolves a conflict only within its store.
 * - idempotency keys checked: a change id reused with other content is refused
 *   (CHANGE_ID_REUSED), in a later batch or in the same one; a true replay still gets
 *   the same answer.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/server/db/database.js';
import { checkedForeignKeys } from '../../src/server/services/parents.js';
import { CATALOG, pushable, type CatalogEntry, type ColumnDef } from '../../src/shared/catalog/index.js';
import { onPostgres, useCentral, type ProvisionedTerminal } from '../helpers/central.js';
import { holdOpen, lockWaits } from '../helpers/locks.js';
import { waitUntil } from '../helpers/processes.js';
import { count, push, pushOk, rowOf, type ChangeIn, type Row } from '../helpers/sync.js';

const c = useCentral();
const uid = () => randomUUID();
let storeA: string;
let storeB: string;
let tA: ProvisionedTerminal;
let tB: ProvisionedTerminal;

beforeAll(async () => {
  const tag = uid().slice(0, 6);
  storeA = `trust-a-${tag}`;
  storeB = `trust-b-${tag}`;
  tA = await c.provision(storeA);
  tB = await c.provision(storeB);
});

/** A value a required column of this type accepts. */
function sample(def: ColumnDef): unknown {
  if (def.oneOf) return def.oneOf[0];
  switch (def.type) {
    case 'text':
      return `v-${uid().slice(0, 8)}`;
    case 'integer':
    case 'numeric':
      return 1;
    case 'boolean':
      return true;
    case 'timestamp':
      return new Date().toISOString();
    case 'json':
      return {};
  }
}

const byTable = (table: string) => CATALOG.find((e) => e.table === table) as CatalogEntry;

/**
 * Writes a row of `entry` straight into central's database, as the back office would,
 * with every required column filled: its store `storeId` (if scoped) and its required
 * parents created the same way in that store. Returns its id.
 */
async function officeRow(db: Database, entry: CatalogEntry, storeId: string | null, extra: Row = {}): Promise<string> {
  if (entry.table === 'stores') return storeId ?? storeA;
  const id = uid();
  const row: Row = { id };
  for (const col of entry.wireColumns) {
    if (col.name in extra) row[col.name] = extra[col.name];
    else if (col.name === entry.centralStoreColumn) row[col.name] = storeId;
    else if (col.def.required && col.def.references) row[col.name] = await officeRow(db, byTable(col.def.references), storeId);
    else if (col.def.required) row[col.name] = sample(col.def);
  }
  const cols = Object.keys(row);
  await db.query(
    `INSERT INTO ${entry.centralName} (${cols.join(', ')}) SELECT ${cols.join(', ')} FROM jsonb_populate_record(NULL::${entry.centralName}, $1::jsonb)`,
    [JSON.stringify(row)],
  );
  return id;
}

/**
 * A CREATE of `entry` by terminal `t` with every required column filled: required
 * parents are the terminal's own rows (made by the back office in its store), so the
 * only foreign key that can be wrong is the one the test sets in `data`.
 */
async function createFor(t: ProvisionedTerminal, entry: CatalogEntry, data: Row): Promise<ChangeIn> {
  const full: Row = {};
  for (const col of entry.wireColumns) {
    if (col.name in data || col.name === entry.centralStoreColumn) continue;
    if (col.def.required && col.def.references) full[col.name] = await officeRow(c.db, byTable(col.def.references), t.storeId);
    else if (col.def.required) full[col.name] = sample(col.def);
  }
  return { changeId: uid(), entityType: entry.entityType, entityId: uid(), operation: 'CREATE', data: { ...full, ...data } };
}

/** Every (table, foreign key) a terminal can push that the store rules look at. */
const CHECKED = CATALOG.filter(pushable).flatMap((entry) => checkedForeignKeys(entry).map((fk) => ({ entry, ...fk })));

describe('no store crossing on push', () => {
  it('the catalog has foreign keys of both kinds to check (into store-scoped tables, and required ones)', () => {
    expect(CHECKED.some((k) => k.parent.centralStoreColumn !== undefined)).toBe(true);
    expect(CHECKED.some((k) => k.required)).toBe(true);
    // The sale's own: an item and a payment point at their order.
    expect(CHECKED.map((k) => `${k.entry.entityType}.${k.column}`)).toEqual(expect.arrayContaining(['SaleOrderItem.order_id', 'Payment.order_id']));
  });

  for (const { entry, column, parent, required } of CHECKED.filter((k) => k.parent.centralStoreColumn !== undefined)) {
    it(`${entry.entityType}.${column} pointing at another store's ${parent.entityType} is refused FORBIDDEN_STORE and writes nothing; its own store's is applied`, async () => {
      const theirs = await officeRow(c.db, parent, storeA);
      const crossing = await createFor(tB, entry, { [column]: theirs });
      const changesBefore = await count(c, 'sync_changes');
      const res = await pushOk(tB, [crossing]);
      expect(res.results[0]).toMatchObject({ status: 'rejected', error: { code: 'FORBIDDEN_STORE' } });
      expect(res.results[0]?.error?.message).toContain(column);
      expect(await rowOf(c, entry.centralName, crossing.entityId)).toBeUndefined();
      expect(await count(c, 'sync_changes')).toBe(changesBefore);
      expect(await count(c, 'sync_applied WHERE change_id = $1', [crossing.changeId])).toBe(0);

      // The same change from the parent's own store goes through: the store was the reason.
      const own = await createFor(tA, entry, { [column]: theirs });
      const ok = await pushOk(tA, [own]);
      expect(ok.results[0], JSON.stringify(ok.results[0])).toMatchObject({ status: 'applied' });
      void required;
    });
  }

  for (const { entry, column, parent } of CHECKED.filter((k) => k.required)) {
    it(`${entry.entityType}.${column} (required) pointing at a ${parent.entityType} that exists nowhere is refused MISSING_PARENT; created in the same batch, before or after, it is applied`, async () => {
      const nowhere = await createFor(tA, entry, { [column]: uid() });
      const res = await pushOk(tA, [nowhere]);
      expect(res.results[0]).toMatchObject({ status: 'rejected', error: { code: 'MISSING_PARENT' } });
      expect(await rowOf(c, entry.centralName, nowhere.entityId)).toBeUndefined();

      // The parent created by the same batch: after the child in the batch, and before it.
      for (const parentFirst of [false, true]) {
        const parentChange = await createFor(tA, parent, {});
        const child = await createFor(tA, entry, { [column]: parentChange.entityId });
        const batch = parentFirst ? [parentChange, child] : [child, parentChange];
        const both = await pushOk(tA, batch);
        expect(both.results.map((r) => r.status), JSON.stringify(both.results)).toEqual(['applied', 'applied']);
        expect(await rowOf(c, entry.centralName, child.entityId)).toMatchObject({ [column]: parentChange.entityId });
      }
    });
  }

  it('a required parent whose own change in the batch is refused leaves its child refused too (MISSING_PARENT)', async () => {
    const order = { changeId: uid(), entityType: 'SaleOrder', entityId: uid(), operation: 'CREATE' as const, data: { order_number: 'X-1' } }; // no status: MISSING_FIELDS
    const pay = await createFor(tA, byTable('payments'), { order_id: order.entityId });
    const res = await pushOk(tA, [pay, order]);
    expect(res.results[1]).toMatchObject({ status: 'rejected', error: { code: 'MISSING_FIELDS' } });
    expect(res.results[0]).toMatchObject({ status: 'rejected', error: { code: 'MISSING_PARENT' } });
  });

  it('a global parent (a user without a store) may be pointed at by any store; an optional parent not at central yet is accepted', async () => {
    const hqUser = await officeRow(c.db, byTable('users'), null);
    const order = await createFor(tB, byTable('orders'), { user_id: hqUser, customer_id: uid() });
    const res = await pushOk(tB, [order]);
    expect(res.results[0]).toMatchObject({ status: 'applied' });
  });

  it("an update that moves a row's foreign key to another store's row is refused, and the row keeps its parent", async () => {
    const mine = await officeRow(c.db, byTable('orders'), storeB);
    const theirs = await officeRow(c.db, byTable('orders'), storeA);
    const pay = await createFor(tB, byTable('payments'), { order_id: mine });
    expect((await pushOk(tB, [pay])).results[0]).toMatchObject({ status: 'applied', version: 1 });
    const move = await pushOk(tB, [{ changeId: uid(), entityType: 'Payment', entityId: pay.entityId, operation: 'UPDATE', data: { order_id: theirs }, syncVersion: 1 }]);
    expect(move.results[0]).toMatchObject({ status: 'rejected', error: { code: 'FORBIDDEN_STORE' } });
    expect(await rowOf(c, 'payments', pay.entityId)).toMatchObject({ order_id: mine, sync_version: 1 });
  });

  it('a parent moved to another store while the push runs is seen: the push waits for the move and refuses', async () => {
    const order = await officeRow(c.db, byTable('orders'), storeA);
    const pay = await createFor(tA, byTable('payments'), { order_id: order });
    let res: Awaited<ReturnType<typeof push>>;
    if (onPostgres) {
      // The back office moves the order and holds its transaction open; the push reads
      // the order FOR SHARE, waits on the uncommitted move, then sees it.
      const office = await holdOpen(c.db, (tx) => tx.query('UPDATE orders SET store_id = $2 WHERE id = $1', [order, storeB]));
      const waitingBefore = await lockWaits(c.db);
      const pushing = push(tA, [pay]);
      await waitUntil('the push to wait on the uncommitted move', async () => (await lockWaits(c.db)) > waitingBefore, { timeout: 10_000 });
      office.release();
      await office.done;
      res = await pushing;
    } else {
      // PGlite runs one transaction at a time: the move has committed before the push reads.
      await c.db.query('UPDATE orders SET store_id = $2 WHERE id = $1', [order, storeB]);
      res = await push(tA, [pay]);
    }
    expect(res.status, res.text).toBe(200);
    expect(res.body.results[0]).toMatchObject({ status: 'rejected', error: { code: 'FORBIDDEN_STORE' } });
    expect(await rowOf(c, 'payments', pay.entityId)).toBeUndefined();
  });

  it('a supervisor at a till resolves a conflict only within its store: resolvedData pointing at another store is refused 403', async () => {
    const po = await officeRow(c.db, byTable('purchase_orders'), storeB, { notes: 'office' });
    await c.db.query('UPDATE purchase_orders SET notes = $2 WHERE id = $1', [po, 'office again']); // version 2
    const item = await officeRow(c.db, byTable('purchase_order_items'), storeB, { purchase_order_id: po });
    await c.db.query('UPDATE purchase_order_items SET quantity_ordered = 5 WHERE id = $1', [item]); // version 2
    const parked = await pushOk(tB, [{ changeId: uid(), entityType: 'PurchaseOrderItem', entityId: item, operation: 'UPDATE', data: { quantity_ordered: 7 }, syncVersion: 1 }]);
    expect(parked.results[0]).toMatchObject({ status: 'conflict', resolution: 'PARKED' });
    const conflictId = parked.results[0]?.conflictId as string;
    const theirPo = await officeRow(c.db, byTable('purchase_orders'), storeA);

    const crossing = await tB.api.post('/api/sync/resolve', { conflictId, resolution: 'MANUAL_MERGE', resolvedData: { purchase_order_id: theirPo } });
    expect(crossing.status, crossing.text).toBe(403);
    expect(crossing.body).toMatchObject({ code: 'FORBIDDEN_STORE' });
    const moving = await tB.api.post('/api/sync/resolve', { conflictId, resolution: 'MANUAL_MERGE', resolvedData: { store_id: storeA } });
    expect(moving.status, moving.text).toBe(403);
    expect(await rowOf(c, 'purchase_order_items', item)).toMatchObject({ purchase_order_id: po, store_id: storeB, quantity_ordered: 5 });
    expect(await count(c, "sync_conflicts WHERE id = $1 AND status = 'open'", [conflictId])).toBe(1);

    const fine = await tB.api.post('/api/sync/resolve', { conflictId, resolution: 'MANUAL_MERGE', resolvedData: { quantity_ordered: 6 } });
    expect(fine.status, fine.text).toBe(200);
  });
});

describe('required columns', () => {
  it('an update that clears a required column is refused MISSING_FIELDS (not a 500 from the database) and changes nothing', async () => {
    const order = { changeId: uid(), entityType: 'SaleOrder', entityId: uid(), operation: 'CREATE' as const, data: { order_number: 'REQ-1', status: 'completed' } };
    expect((await pushOk(tA, [order])).results[0]).toMatchObject({ status: 'applied', version: 1 });
    const cleared = await pushOk(tA, [{ changeId: uid(), entityType: 'SaleOrder', entityId: order.entityId, operation: 'UPDATE', data: { status: null }, syncVersion: 1 }]);
    expect(cleared.results[0]).toMatchObject({ status: 'rejected', error: { code: 'MISSING_FIELDS' } });
    expect(await rowOf(c, 'orders', order.entityId)).toMatchObject({ status: 'completed', sync_version: 1 });
  });
});

describe('idempotency keys are checked', () => {
  const customer = (name: string) => ({ name, loyalty_points: 1 });

  it('a change id reused with other content in a later batch is refused CHANGE_ID_REUSED; the row keeps the first change', async () => {
    const changeId = uid();
    const first = { changeId, entityType: 'Customer', entityId: uid(), operation: 'CREATE' as const, data: customer('First') };
    expect((await pushOk(tA, [first])).results[0]).toMatchObject({ status: 'applied', version: 1 });

    // The answer is on the row: the same row with other data is refused.
    const sameRowOtherData = await pushOk(tA, [{ ...first, data: customer('Changed') }]);
    expect(sameRowOtherData.results[0]).toMatchObject({ status: 'rejected', error: { code: 'CHANGE_ID_REUSED' } });
    expect(await rowOf(c, 'customers', first.entityId)).toMatchObject({ name: 'First', sync_version: 1, sync_change_id: changeId });

    // Written again since, the row's answer moved into sync_applied: another row with that id is refused too.
    await c.db.query(`UPDATE customers SET notes = 'seen at HQ' WHERE id = $1`, [first.entityId]);
    const other = { ...first, entityId: uid(), data: customer('Second') };
    const res = await pushOk(tA, [other]);
    expect(res.results[0]).toMatchObject({ changeId, status: 'rejected', error: { code: 'CHANGE_ID_REUSED' } });
    expect(await rowOf(c, 'customers', other.entityId)).toBeUndefined();
    expect((await pushOk(tA, [{ ...first, data: customer('Changed') }])).results[0]).toMatchObject({ error: { code: 'CHANGE_ID_REUSED' } });
    expect(await rowOf(c, 'customers', first.entityId)).toMatchObject({ name: 'First', sync_version: 2, sync_change_id: null });
    // A true replay still gets the first answer, from where it moved.
    expect((await pushOk(tA, [first])).results[0]).toMatchObject({ status: 'duplicate', originalStatus: 'applied', version: 1 });
  });

  it("while a change's answer is on its row, its id sent for another row is taken as a change of that row (a change id names one change of one row)", async () => {
    const changeId = uid();
    const first = { changeId, entityType: 'Customer', entityId: uid(), operation: 'CREATE' as const, data: customer('First') };
    expect((await pushOk(tA, [first])).results[0]).toMatchObject({ status: 'applied', version: 1 });
    const other = { ...first, entityId: uid(), data: customer('Second') };
    expect((await pushOk(tA, [other])).results[0]).toMatchObject({ changeId, status: 'applied', version: 1 });
    // Each row's replay is answered from its own row, and neither is applied twice.
    for (const c0 of [first, other]) expect((await pushOk(tA, [c0])).results[0]).toMatchObject({ status: 'duplicate', version: 1 });
    expect(await rowOf(c, 'customers', first.entityId)).toMatchObject({ name: 'First', sync_version: 1 });
    expect(await rowOf(c, 'customers', other.entityId)).toMatchObject({ name: 'Second', sync_version: 1 });
  });

  it('a true replay (same id, same content, keys in another order) gets the same answer as a duplicate', async () => {
    const change = { changeId: uid(), entityType: 'Customer', entityId: uid(), operation: 'CREATE' as const, data: { name: 'Replay', loyalty_points: 3 } };
    const first = await pushOk(tA, [change]);
    const replay = await pushOk(tA, [{ ...change, data: { loyalty_points: 3, name: 'Replay' } }]);
    expect(replay.results[0]).toMatchObject({ ...first.results[0], status: 'duplicate', originalStatus: 'applied' });
  });

  it('a change id used twice in one batch for different content: the second is refused, the first applied', async () => {
    const changeId = uid();
    const a = { changeId, entityType: 'Customer', entityId: uid(), operation: 'CREATE' as const, data: customer('A') };
    const b = { ...a, entityId: uid(), data: customer('B') };
    const res = await pushOk(tA, [a, b, a]);
    expect(res.results.map((r) => r.status)).toEqual(['applied', 'rejected', 'duplicate']);
    expect(res.results[1]).toMatchObject({ error: { code: 'CHANGE_ID_REUSED' } });
    expect(await rowOf(c, 'customers', b.entityId)).toBeUndefined();
  });
});

