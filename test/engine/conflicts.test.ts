/**
 * Manual conflicts (DESIGN.md invariant 7): purchase orders are MANUAL_MERGE. A
 * conflicting edit parks that one row (listed locally with its base, terminal and
 * central images) while every other row keeps flowing, in the same batch and in
 * later ones; a supervisor's resolution through SyncService.resolveConflict
 * converges central and every terminal of the store on the resolved row.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { entryForTable, type CatalogEntry, type WireRow } from '../../src/shared/catalog/index.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, startEngine, type TerminalEngine } from '../helpers/engine.js';
import { count, rowOf, settled } from '../helpers/sync.js';

const c = useCentral();
afterAll(closeAll);

const uid = () => randomUUID();
const FIELDS = ['po_number', 'status', 'total', 'notes'] as const;
const pick = (row: Record<string, unknown> | null | undefined) => Object.fromEntries(FIELDS.map((f) => [f, row?.[f] ?? null]));

interface Setup {
  t1: TerminalEngine;
  t2: TerminalEngine;
  po: string;
  otherPo: string;
  customers: string[];
}

/** Two tills of one store; central and till 1 edit the same purchase order; till 1 goes on selling. */
async function parkedConflict(): Promise<Setup> {
  const storeId = `po-${uid().slice(0, 8)}`;
  const t1 = await startEngine(c, { storeId, initialSync: true });
  const t2 = await startEngine(c, { storeId, initialSync: true });
  const po = uid();
  await c.db.query(
    `INSERT INTO purchase_orders (id, store_id, po_number, status, total, notes) VALUES ($1, $2, $3, 'draft', 100, 'original')`,
    [po, storeId, `PO-${po.slice(0, 6)}`],
  );
  await t1.sync();
  await t2.sync();
  expect(pick(t1.row('purchase_orders', po))).toMatchObject({ status: 'draft', notes: 'original' });

  // HQ orders it; the store edits it at the same time.
  await c.db.query(`UPDATE purchase_orders SET status = 'ordered', notes = 'HQ' WHERE id = $1`, [po]);
  const pos = t1.pos();
  pos.prepare(`UPDATE purchase_orders SET notes = 'T1', total = 200 WHERE server_id = ?`).run(po);
  // Other rows in the same batch: a new purchase order and a customer.
  const localStore = t1.row('stores', storeId) as { id: number };
  const otherLocal = pos.prepare(`INSERT INTO purchase_orders (store_id, po_number, status, total) VALUES (?, 'PO-NEW', 'draft', 5)`).run(localStore.id);
  const c1 = pos.prepare(`INSERT INTO customers (name) VALUES ('same batch')`).run();
  const otherPo = t1.serverIdOf('purchase_orders', otherLocal.lastInsertRowid);
  const customers = [t1.serverIdOf('customers', c1.lastInsertRowid)];

  const first = await t1.sync();
  expect(first.errors).toEqual([]);
  expect(await rowOf(c, 'purchase_orders', otherPo)).toMatchObject({ po_number: 'PO-NEW', store_id: storeId });
  expect(await rowOf(c, 'customers', customers[0] as string)).toMatchObject({ name: 'same batch' });
  expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ status: 'ordered', notes: 'HQ', total: 100, sync_version: 2 });

  // A later batch: the parked row is edited again; other rows still flow.
  pos.prepare(`UPDATE purchase_orders SET notes = 'T1 again' WHERE server_id = ?`).run(po);
  const c2 = pos.prepare(`INSERT INTO customers (name) VALUES ('later batch')`).run();
  customers.push(t1.serverIdOf('customers', c2.lastInsertRowid));
  pos.prepare(`UPDATE purchase_orders SET total = 6 WHERE server_id = ?`).run(otherPo);
  const second = await t1.sync();
  expect(second.errors).toEqual([]);
  expect(await rowOf(c, 'customers', customers[1] as string)).toMatchObject({ name: 'later batch' });
  expect(await rowOf(c, 'purchase_orders', otherPo)).toMatchObject({ total: 6, sync_version: 2 });
  expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ status: 'ordered', notes: 'HQ', total: 100, sync_version: 2 });
  expect(await count(c, `sync_conflicts WHERE entity_id = $1 AND status = 'open'`, [po])).toBe(1);
  return { t1, t2, po, otherPo, customers };
}

describe('a MANUAL_MERGE conflict', () => {
  it('parks one row while other rows of the same and later batches reach central, and is listed with base, terminal and central images', async () => {
    const { t1, po } = await parkedConflict();
    const open = t1.store.conflicts.openConflicts();
    expect(open).toHaveLength(1);
    const conflict = open[0];
    expect(conflict).toMatchObject({ table: 'purchase_orders', entityType: 'PurchaseOrder', entityId: po, strategy: 'MANUAL_MERGE', status: 'open', atCentral: true });
    expect(pick(conflict?.base)).toMatchObject({ status: 'draft', total: 100, notes: 'original' });
    expect(pick(conflict?.terminal)).toMatchObject({ status: 'draft', total: 200, notes: 'T1 again' });
    expect(pick(conflict?.central)).toMatchObject({ status: 'ordered', total: 100, notes: 'HQ' });
    // The till keeps its own edit while it waits; nothing of it is pending, it is parked.
    expect(pick(t1.row('purchase_orders', po))).toMatchObject({ notes: 'T1 again', total: 200 });
    expect(t1.outbox({ serverId: po, status: 'pending' })).toHaveLength(0);
    expect(t1.outbox({ serverId: po, status: 'conflict' }).length).toBeGreaterThanOrEqual(1);
    const status = t1.service.status();
    expect(status.tables.PurchaseOrder?.conflicts).toBeGreaterThanOrEqual(1);
    expect(status.totals.pending).toBe(0);
  });

  const cases: { resolution: 'TERMINAL_WINS' | 'CENTRAL_WINS' | 'MANUAL_MERGE'; data?: WireRow; expected: Record<string, unknown> }[] = [
    { resolution: 'TERMINAL_WINS', expected: { status: 'draft', total: 200, notes: 'T1 again' } },
    { resolution: 'CENTRAL_WINS', expected: { status: 'ordered', total: 100, notes: 'HQ' } },
    { resolution: 'MANUAL_MERGE', data: { notes: 'merged by the supervisor', total: 150 }, expected: { status: 'ordered', total: 150, notes: 'merged by the supervisor' } },
  ];
  for (const k of cases) {
    it(`resolved with ${k.resolution} through SyncService.resolveConflict: central and both terminals end with the resolved row`, async () => {
      const { t1, t2, po } = await parkedConflict();
      const conflict = t1.store.conflicts.openConflicts()[0];
      if (!conflict) throw new Error('no conflict');
      const r = await t1.service.resolveConflict(conflict.conflictId, k.resolution, k.data, 'supervisor-1');
      expect(pick(r.data)).toMatchObject(k.expected);

      const central = await rowOf(c, 'purchase_orders', po);
      expect(pick(central)).toMatchObject(k.expected);
      expect(central?.sync_version).toBe(r.version);
      expect(pick(t1.row('purchase_orders', po))).toEqual(pick(central));
      expect(t1.store.conflicts.openConflicts()).toHaveLength(0);
      expect(await count(c, `sync_conflicts WHERE entity_id = $1 AND status = 'open'`, [po])).toBe(0);

      const s1 = await t1.sync();
      const s2 = await t2.sync();
      expect(s1.errors).toEqual([]);
      expect(s2.errors).toEqual([]);
      expect(s1.pushed).toBe(0);
      const after = await rowOf(c, 'purchase_orders', po);
      expect(after?.sync_version).toBe(r.version);
      expect(pick(t1.row('purchase_orders', po))).toEqual(pick(after));
      expect(pick(t2.row('purchase_orders', po))).toEqual(pick(after));
      expect(t1.outbox({ serverId: po }).every((x) => x.status === 'synced')).toBe(true);
      expect(t1.outbox({ status: 'pending' })).toHaveLength(0);
      expect(t2.outbox({ status: 'pending' })).toHaveLength(0);
      expect(t1.service.status().totals.conflicts).toBe(0);
    });
  }

  it('resolved at central by someone else (the admin API): the next full sync of the till applies the resolution', async () => {
    const { t1, t2, po } = await parkedConflict();
    const conflict = t1.store.conflicts.openConflicts()[0];
    if (!conflict) throw new Error('no conflict');
    const res = await c.admin.post('/api/sync/resolve', { conflictId: conflict.conflictId, resolution: 'MANUAL_MERGE', resolvedData: { notes: 'decided at HQ' } });
    expect(res.status, res.text).toBe(200);
    const s1 = await t1.sync();
    await t2.sync();
    expect(s1.errors).toEqual([]);
    const central = await rowOf(c, 'purchase_orders', po);
    expect(pick(central)).toMatchObject({ status: 'ordered', total: 100, notes: 'decided at HQ' });
    expect(pick(t1.row('purchase_orders', po))).toEqual(pick(central));
    expect(pick(t2.row('purchase_orders', po))).toEqual(pick(central));
    expect(t1.store.conflicts.openConflicts()).toHaveLength(0);
    expect(t1.outbox({ serverId: po }).every((x) => x.status === 'synced')).toBe(true);
  });

  it('a conflict first seen by a pull is listed locally, and resolveConflict parks it at central and resolves it there', async () => {
    const storeId = `po-${uid().slice(0, 8)}`;
    const t1 = await startEngine(c, { storeId, initialSync: true });
    const po = uid();
    await c.db.query(`INSERT INTO purchase_orders (id, store_id, po_number, status, total, notes) VALUES ($1, $2, 'PO-P', 'draft', 10, 'original')`, [po, storeId]);
    await t1.sync();
    t1.pos().prepare(`UPDATE purchase_orders SET notes = 'till' WHERE server_id = ?`).run(po);
    await c.db.query(`UPDATE purchase_orders SET notes = 'HQ', total = 11 WHERE id = $1`, [po]);

    // The pull comes before the push (as when the push could not go out yet).
    await settled(c);
    const en = entryForTable('purchase_orders') as CatalogEntry;
    const page = await t1.service.client.pull({ terminalId: t1.terminal.terminalId, entityType: en.entityType, cursor: t1.store.cursors.cursor('purchase_orders'), limit: 100, schemaHash: en.schemaHash });
    const applied = t1.store.pages.applyPage(en, page.changes, page.cursor, 60_000);
    expect(applied.conflicts).toBe(1);
    expect(pick(t1.row('purchase_orders', po))).toMatchObject({ notes: 'till', total: 10 }); // not overwritten
    const local = t1.store.conflicts.openConflicts();
    expect(local).toHaveLength(1);
    expect(local[0]).toMatchObject({ entityId: po, atCentral: false });
    expect(pick(local[0]?.base)).toMatchObject({ notes: 'original' });
    expect(pick(local[0]?.terminal)).toMatchObject({ notes: 'till' });
    expect(pick(local[0]?.central)).toMatchObject({ notes: 'HQ', total: 11 });

    const r = await t1.service.resolveConflict(local[0]?.conflictId as string, 'TERMINAL_WINS');
    expect(pick(r.data)).toMatchObject({ notes: 'till', total: 10 });
    const central = await rowOf(c, 'purchase_orders', po);
    expect(pick(central)).toMatchObject({ notes: 'till', total: 10 });
    expect(pick(t1.row('purchase_orders', po))).toEqual(pick(central));
    expect(t1.store.conflicts.openConflicts()).toHaveLength(0);
    const s = await t1.sync();
    expect(s.errors).toEqual([]);
    expect(s.pushed).toBe(0);
    expect(pick(t1.row('purchase_orders', po))).toEqual(pick(await rowOf(c, 'purchase_orders', po)));
  });

  it('an edit the till made after the conflict was parked (not pushed yet) does not leave central and the tills apart after the resolution', async () => {
    const { t1, t2, po } = await parkedConflict();
    t1.pos().prepare(`UPDATE purchase_orders SET notes = 'T1 third' WHERE server_id = ?`).run(po);
    const conflict = t1.store.conflicts.openConflicts()[0];
    if (!conflict) throw new Error('no conflict');
    const r = await t1.service.resolveConflict(conflict.conflictId, 'CENTRAL_WINS');
    expect(pick(r.data)).toMatchObject({ status: 'ordered', total: 100, notes: 'HQ' });
    await t1.sync();
    await t2.sync();
    await t1.sync();
    const central = pick(await rowOf(c, 'purchase_orders', po));
    expect({ t1: pick(t1.row('purchase_orders', po)), t2: pick(t2.row('purchase_orders', po)) }).toEqual({ t1: central, t2: central });
    expect(t1.outbox({ status: 'pending' })).toHaveLength(0);
  });
});
