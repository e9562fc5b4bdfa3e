/**
 * Conflicts at central, one strategy at a time: the back office changes a row by
 * plain SQL, then a terminal pushes a change based on the version before it. Then
 * the supervisor's side: listing parked conflicts and resolving them.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatHlc } from '../../src/shared/hlc.js';
import type { ConflictRecord, PushResult, ResolveResponse } from '../../src/shared/protocol.js';
import { useCentral, type ApiClient, type ProvisionedTerminal } from '../helpers/central.js';
import { pullAll, pushOk, rowOf, type ChangeIn, type Row } from '../helpers/sync.js';

const c = useCentral();
let storeA: string;
let storeB: string;
let tA: ProvisionedTerminal;
let tA2: ProvisionedTerminal;
let tB: ProvisionedTerminal;

const uid = () => randomUUID();
const hlcAt = (ms: number, node: string) => formatHlc({ physical: ms, counter: 0, node });

async function pushOne(t: ProvisionedTerminal, change: ChangeIn): Promise<PushResult> {
  const res = await pushOk(t, [{ changeId: uid(), ...change }]);
  return res.results[0] as PushResult;
}

async function conflictRow(id: string): Promise<Row | undefined> {
  const r = await c.db.query<Row>('SELECT * FROM sync_conflicts WHERE id = $1', [id]);
  return r.rows[0];
}

beforeAll(async () => {
  const tag = uid().slice(0, 6);
  storeA = `cf-a-${tag}`;
  storeB = `cf-b-${tag}`;
  tA = await c.provision(storeA);
  tA2 = await c.provision(storeA);
  tB = await c.provision(storeB);
});

describe('strategies', () => {
  it('CENTRAL_WINS (Product): a stale terminal edit gets status conflict with the central row, and central is unchanged', async () => {
    const p = uid();
    await pushOne(tA, { entityType: 'Product', entityId: p, operation: 'CREATE', data: { sku: 'CW-1', name: 'Tea', price: 3 } });
    await c.db.query(`UPDATE products SET price = 3.5, name = 'Green tea' WHERE id = $1`, [p]);
    const before = await rowOf(c, 'products', p);
    expect(before).toMatchObject({ sync_version: 2, sync_origin: 'central' });

    const r = await pushOne(tA, { entityType: 'Product', entityId: p, operation: 'UPDATE', data: { price: 2.5, unit: 'box' }, syncVersion: 1 });
    expect(r).toMatchObject({ status: 'conflict', resolution: 'CENTRAL_WINS', version: 2 });
    expect(r.conflictId).toEqual(expect.any(String));
    expect(r.data).toMatchObject({ id: p, sku: 'CW-1', name: 'Green tea', price: 3.5, unit: null });
    expect(await rowOf(c, 'products', p)).toEqual(before);
    // The decision is recorded, already settled.
    expect(await conflictRow(r.conflictId as string)).toMatchObject({
      status: 'resolved',
      resolution: 'CENTRAL_WINS',
      strategy: 'CENTRAL_WINS',
      terminal_id: tA.terminalId,
      entity_id: p,
    });
  });

  it('CENTRAL_WINS (InventoryItem): central stock stays, the terminal gets it back', async () => {
    const inv = uid();
    const productId = uid();
    await pushOne(tA, { entityType: 'Product', entityId: productId, operation: 'CREATE', data: { sku: 'CW-INV', name: 'Stocked', price: 1 } });
    await pushOne(tA, { entityType: 'InventoryItem', entityId: inv, operation: 'CREATE', data: { product_id: productId, master_stock_quantity: 10 } });
    await c.db.query('UPDATE inventory_items SET master_stock_quantity = 4 WHERE id = $1', [inv]);
    const before = await rowOf(c, 'inventory_items', inv);

    const r = await pushOne(tA, { entityType: 'InventoryItem', entityId: inv, operation: 'UPDATE', data: { master_stock_quantity: 9 }, syncVersion: 1 });
    expect(r).toMatchObject({ status: 'conflict', resolution: 'CENTRAL_WINS', version: 2 });
    expect(r.data).toMatchObject({ id: inv, store_id: storeA, product_id: productId, master_stock_quantity: 4 });
    expect(await rowOf(c, 'inventory_items', inv)).toEqual(before);
  });

  it('TERMINAL_WINS (SaleOrder): the terminal fields overwrite central, central-only fields stay', async () => {
    const o = uid();
    await pushOne(tA, { entityType: 'SaleOrder', entityId: o, operation: 'CREATE', data: { order_number: 'TW-1', status: 'pending', total: 10 } });
    await c.db.query(`UPDATE orders SET notes = 'hq note', currency = 'EUR' WHERE id = $1`, [o]);

    const r = await pushOne(tA, {
      entityType: 'SaleOrder',
      entityId: o,
      operation: 'UPDATE',
      data: { status: 'completed', notes: 'till note', total: 12 },
      syncVersion: 1,
    });
    expect(r).toMatchObject({ status: 'conflict', resolution: 'TERMINAL_WINS', version: 3 });
    expect(await rowOf(c, 'orders', o)).toMatchObject({
      status: 'completed',
      notes: 'till note',
      total: 12,
      currency: 'EUR',
      order_number: 'TW-1',
      store_id: storeA,
      sync_version: 3,
      sync_origin: tA.terminalId,
    });
  });

  it('LAST_WRITE_WINS (Setting): a terminal change with a later clock wins', async () => {
    const s = uid();
    await pushOne(tA, { entityType: 'Setting', entityId: s, operation: 'CREATE', data: { key: 'tax.mode', value: 'a' }, hlc: hlcAt(Date.now() - 120_000, 'till') });
    await c.db.query(`UPDATE settings SET value = 'central' WHERE id = $1`, [s]);
    const centralHlc = (await rowOf(c, 'settings', s))?.sync_hlc as string;
    const later = hlcAt(Date.now() + 5_000, 'till');
    expect(later > centralHlc).toBe(true);

    const r = await pushOne(tA, { entityType: 'Setting', entityId: s, operation: 'UPDATE', data: { value: 'terminal' }, syncVersion: 1, hlc: later });
    expect(r).toMatchObject({ status: 'conflict', resolution: 'TERMINAL_WINS', version: 3 });
    expect(await rowOf(c, 'settings', s)).toMatchObject({ value: 'terminal', key: 'tax.mode', sync_version: 3, sync_hlc: later });
  });

  it('LAST_WRITE_WINS (Setting): a terminal change with an earlier clock (or none) loses', async () => {
    const s = uid();
    await pushOne(tA, { entityType: 'Setting', entityId: s, operation: 'CREATE', data: { key: 'drawer.float', value: '100' } });
    await c.db.query(`UPDATE settings SET value = '200' WHERE id = $1`, [s]);
    const before = await rowOf(c, 'settings', s);
    const earlier = hlcAt(Date.now() - 60_000, 'till');
    expect(earlier < (before?.sync_hlc as string)).toBe(true);

    const r = await pushOne(tA, { entityType: 'Setting', entityId: s, operation: 'UPDATE', data: { value: '50' }, syncVersion: 1, hlc: earlier });
    expect(r).toMatchObject({ status: 'conflict', resolution: 'CENTRAL_WINS', version: 2, data: { id: s, value: '200' } });
    const none = await pushOne(tA, { entityType: 'Setting', entityId: s, operation: 'UPDATE', data: { value: '60' }, syncVersion: 1 });
    expect(none).toMatchObject({ status: 'conflict', resolution: 'CENTRAL_WINS', version: 2 });
    expect(await rowOf(c, 'settings', s)).toEqual(before);
  });

  it('MERGE (Customer): counters merge as deltas and a field changed on one side only keeps that side', async () => {
    const cu = uid();
    const base = { name: 'Grace', email: 'grace@old.example', phone: '111', notes: 'base', loyalty_points: 100, total_spent: 50, visit_count: 2 };
    await pushOne(tA, { entityType: 'Customer', entityId: cu, operation: 'CREATE', data: base });
    await c.db.query(
      `UPDATE customers SET loyalty_points = 150, total_spent = 75.5, visit_count = 3, phone = '222' WHERE id = $1`,
      [cu],
    );

    const r = await pushOne(tA, {
      entityType: 'Customer',
      entityId: cu,
      operation: 'UPDATE',
      baseData: { id: cu, ...base },
      data: { ...base, loyalty_points: 130, total_spent: 60.25, visit_count: 3, email: 'grace@new.example' },
      syncVersion: 1,
    });
    const merged = {
      name: 'Grace',
      email: 'grace@new.example', // terminal changed it
      phone: '222', // central changed it
      notes: 'base',
      loyalty_points: 180, // 150 + (130 - 100)
      total_spent: 85.75, // 75.5 + (60.25 - 50)
      visit_count: 4, // 3 + (3 - 2)
    };
    expect(r).toMatchObject({ status: 'conflict', resolution: 'MERGED', version: 3, data: { id: cu, ...merged } });
    expect(await rowOf(c, 'customers', cu)).toMatchObject({ ...merged, sync_version: 3 });
  });
});

describe('MANUAL_MERGE (PurchaseOrder)', () => {
  /** A purchase order of store A, changed by the back office after the terminal saw version 1. */
  async function centralMovedOn() {
    const po = uid();
    const base = { po_number: `PO-${po.slice(0, 6)}`, status: 'draft', total: 100, notes: 'base note' };
    const created = await pushOne(tA, { entityType: 'PurchaseOrder', entityId: po, operation: 'CREATE', data: base });
    expect(created).toMatchObject({ status: 'applied', version: 1 });
    await c.db.query(`UPDATE purchase_orders SET status = 'ordered', total = 120 WHERE id = $1`, [po]);
    return { po, base };
  }

  async function parked() {
    const { po, base } = await centralMovedOn();
    const r = await pushOne(tA, {
      entityType: 'PurchaseOrder',
      entityId: po,
      operation: 'UPDATE',
      baseData: { id: po, ...base },
      data: { notes: 'till note', total: 110 },
      syncVersion: 1,
    });
    expect(r).toMatchObject({ status: 'conflict', resolution: 'PARKED', version: 2 });
    return { po, base, conflictId: r.conflictId as string };
  }

  function resolve(api: ApiClient, body: Row) {
    return api.post<ResolveResponse>('/api/sync/resolve', body);
  }

  it('a conflict is parked, the rest of the batch still applies, a later change to the row joins the same conflict, and the list shows base, terminal and central', async () => {
    const { po, base } = await centralMovedOn();
    const p = uid();
    const res = await pushOk(tA, [
      { changeId: uid(), entityType: 'PurchaseOrder', entityId: po, operation: 'UPDATE', baseData: { id: po, ...base }, data: { notes: 'till note' }, syncVersion: 1 },
      { changeId: uid(), entityType: 'Product', entityId: p, operation: 'CREATE', data: { sku: 'MM-1', name: 'Flows on', price: 1 } },
    ]);
    const parkedResult = res.results[0] as PushResult;
    expect(parkedResult).toMatchObject({ status: 'conflict', resolution: 'PARKED', version: 2 });
    const conflictId = parkedResult.conflictId as string;
    expect(conflictId).toEqual(expect.any(String));
    expect(res.results[1]).toMatchObject({ status: 'applied', version: 1 });
    expect(await rowOf(c, 'products', p)).toMatchObject({ name: 'Flows on' });
    // The parked row is untouched at central.
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ status: 'ordered', total: 120, notes: 'base note', sync_version: 2 });

    // Even a change based on central's current version waits behind the open conflict.
    const later = await pushOne(tA, { entityType: 'PurchaseOrder', entityId: po, operation: 'UPDATE', data: { notes: 'till note 2', total: 130 }, syncVersion: 2 });
    expect(later).toMatchObject({ status: 'conflict', resolution: 'PARKED', conflictId, version: 2 });
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ status: 'ordered', total: 120, notes: 'base note', sync_version: 2 });
    const open = await c.db.query('SELECT id FROM sync_conflicts WHERE entity_id = $1', [po]);
    expect(open.rows).toEqual([{ id: conflictId }]);

    for (const viewer of [tA2.api, c.admin]) {
      const list = await viewer.get<{ conflicts: ConflictRecord[] }>('/api/sync/conflicts', { status: 'open', terminalId: tA.terminalId });
      expect(list.status, list.text).toBe(200);
      const found = list.body.conflicts.filter((x) => x.entityId === po);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({
        conflictId,
        terminalId: tA.terminalId,
        entityType: 'PurchaseOrder',
        status: 'open',
        strategy: 'MANUAL_MERGE',
        base: { id: po, ...base },
        terminal: { id: po, notes: 'till note 2', total: 130 },
        central: { id: po, store_id: storeA, po_number: base.po_number, status: 'ordered', total: 120, notes: 'base note' },
        centralVersion: 2,
        resolution: null,
        resolvedAt: null,
      });
    }
    // Another store does not see it.
    const other = await tB.api.get<{ conflicts: ConflictRecord[] }>('/api/sync/conflicts', {});
    expect(other.status).toBe(200);
    expect(other.body.conflicts.some((x) => x.conflictId === conflictId)).toBe(false);
  });

  it("resolving TERMINAL_WINS applies the terminal's change, bumps the version, closes the conflict, and reaches a second terminal's pull", async () => {
    const { po, conflictId } = await parked();
    const r = await resolve(tA.api, { conflictId, resolution: 'TERMINAL_WINS', resolvedBy: 'supervisor-1' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ conflictId, status: 'resolved', entityType: 'PurchaseOrder', entityId: po, version: 3 });
    expect(r.body.data).toMatchObject({ id: po, status: 'ordered', total: 110, notes: 'till note', store_id: storeA });
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ status: 'ordered', total: 110, notes: 'till note', sync_version: 3 });
    expect(await conflictRow(conflictId)).toMatchObject({ status: 'resolved', resolution: 'TERMINAL_WINS', resolved_by: 'supervisor-1' });

    const again = await resolve(tA.api, { conflictId, resolution: 'CENTRAL_WINS' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'ALREADY_RESOLVED' });
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ total: 110, sync_version: 3 });

    const pulled = (await pullAll(c, tA2, 'PurchaseOrder')).changes.filter((x) => x.entityId === po);
    expect(pulled).toHaveLength(1);
    expect(pulled[0]).toMatchObject({ version: 3, deleted: false, data: { total: 110, notes: 'till note', status: 'ordered' } });

    // The row flows again: the next change is applied, not parked.
    const next = await pushOne(tA, { entityType: 'PurchaseOrder', entityId: po, operation: 'UPDATE', data: { status: 'received' }, syncVersion: 3 });
    expect(next).toMatchObject({ status: 'applied', version: 4 });
  });

  it("resolving CENTRAL_WINS keeps central's values, bumps the version so every terminal pulls it, and closes the conflict", async () => {
    const { po, conflictId } = await parked();
    const r = await resolve(c.admin, { conflictId, resolution: 'CENTRAL_WINS' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ status: 'resolved', version: 3, data: { id: po, status: 'ordered', total: 120, notes: 'base note' } });
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ status: 'ordered', total: 120, notes: 'base note', sync_version: 3 });
    expect(await conflictRow(conflictId)).toMatchObject({ status: 'resolved', resolution: 'CENTRAL_WINS', resolved_by: 'admin' });
    const again = await resolve(c.admin, { conflictId, resolution: 'TERMINAL_WINS' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'ALREADY_RESOLVED' });
    const pulled = (await pullAll(c, tA2, 'PurchaseOrder')).changes.filter((x) => x.entityId === po);
    expect(pulled).toEqual([expect.objectContaining({ version: 3, data: expect.objectContaining({ total: 120, notes: 'base note' }) })]);
  });

  it('resolving MANUAL_MERGE writes the resolved data field by field over central, bumps the version and closes the conflict', async () => {
    const { po, conflictId } = await parked();
    const r = await resolve(tA2.api, { conflictId, resolution: 'MANUAL_MERGE', resolvedData: { total: 115, notes: 'merged by supervisor' } });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ status: 'resolved', version: 3, data: { id: po, status: 'ordered', total: 115, notes: 'merged by supervisor' } });
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ status: 'ordered', total: 115, notes: 'merged by supervisor', sync_version: 3 });
    const closed = await conflictRow(conflictId);
    expect(closed).toMatchObject({ status: 'resolved', resolution: 'MANUAL_MERGE' });
    expect(closed?.resolved_data).toMatchObject({ id: po, total: 115, notes: 'merged by supervisor', status: 'ordered' });
    const again = await resolve(tA2.api, { conflictId, resolution: 'MANUAL_MERGE', resolvedData: { total: 1 } });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'ALREADY_RESOLVED' });
    const pulled = (await pullAll(c, tA2, 'PurchaseOrder')).changes.filter((x) => x.entityId === po);
    expect(pulled).toEqual([expect.objectContaining({ version: 3, data: expect.objectContaining({ total: 115, notes: 'merged by supervisor' }) })]);
  });

  it('resolving MANUAL_MERGE can set a field to null (the supervisor clears it)', async () => {
    const { po, conflictId } = await parked();
    const r = await resolve(tA.api, { conflictId, resolution: 'MANUAL_MERGE', resolvedData: { notes: null } });
    expect(r.status, r.text).toBe(200);
    expect(r.body.data).toMatchObject({ notes: null });
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ notes: null, sync_version: 3 });
  });

  it('resolving an unknown conflict is 404', async () => {
    const r = await resolve(c.admin, { conflictId: uid(), resolution: 'CENTRAL_WINS' });
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ code: 'UNKNOWN_CONFLICT' });
  });

  it("a terminal of another store cannot resolve the conflict (403), and it stays open", async () => {
    const { po, conflictId } = await parked();
    const r = await resolve(tB.api, { conflictId, resolution: 'TERMINAL_WINS' });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'FORBIDDEN_STORE' });
    expect(await conflictRow(conflictId)).toMatchObject({ status: 'open', resolution: null });
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ sync_version: 2, total: 120 });
  });

  it('MANUAL_MERGE without resolvedData is 400 and the conflict stays open', async () => {
    const { po, conflictId } = await parked();
    const r = await resolve(tA.api, { conflictId, resolution: 'MANUAL_MERGE' });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(r.text).toContain('resolvedData');
    expect(await conflictRow(conflictId)).toMatchObject({ status: 'open' });
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ sync_version: 2 });
  });

  it('resolvedData with unknown fields is 400 and the conflict stays open', async () => {
    const { po, conflictId } = await parked();
    const r = await resolve(tA.api, { conflictId, resolution: 'MANUAL_MERGE', resolvedData: { total: 1, discount_code: 'X' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(r.text).toContain('discount_code');
    expect(await conflictRow(conflictId)).toMatchObject({ status: 'open' });
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ sync_version: 2, total: 120 });
  });
});
