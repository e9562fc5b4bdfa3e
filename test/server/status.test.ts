/**
 * Heartbeats, GET /api/sync/status (exactly the seed's shape) and POST /api/sync/all.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ENTITY_TYPES } from '../../src/shared/catalog/index.js';
import { useCentral, type ProvisionedTerminal } from '../helpers/central.js';

const c = useCentral();

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const COUNT_KEYS = ['conflicts', 'failed', 'pending', 'synced'];
const SUMMARY_KEYS = ['tablesWithConflicts', 'tablesWithFailed', 'tablesWithPending', 'tablesWithSynced', 'totalTables'];
type Counts = { pending: number; failed: number; synced: number; conflicts: number };
interface Status {
  terminalId: string | null;
  tables: Record<string, Counts>;
  totals: Counts;
  summary: Record<string, number>;
}
const ZERO: Counts = { pending: 0, failed: 0, synced: 0, conflicts: 0 };
const counts = (over: Partial<Counts>): Counts => ({ ...ZERO, ...over });

/** Exactly the seed's shape, and totals and summary consistent with the tables. */
function checkShape(s: Status): void {
  expect(Object.keys(s).sort()).toEqual(['summary', 'tables', 'terminalId', 'totals']);
  expect(Object.keys(s.tables).sort()).toEqual([...ENTITY_TYPES].sort());
  for (const [name, t] of Object.entries(s.tables)) {
    expect(Object.keys(t).sort(), name).toEqual(COUNT_KEYS);
    for (const k of COUNT_KEYS) {
      const v = t[k as keyof Counts];
      expect(Number.isInteger(v) && v >= 0, `${name}.${k} = ${v}`).toBe(true);
    }
  }
  expect(Object.keys(s.totals).sort()).toEqual(COUNT_KEYS);
  expect(Object.keys(s.summary).sort()).toEqual(SUMMARY_KEYS);
  const tables = Object.values(s.tables);
  for (const k of COUNT_KEYS as (keyof Counts)[]) {
    expect(s.totals[k], `totals.${k}`).toBe(tables.reduce((n, t) => n + t[k], 0));
  }
  expect(s.summary).toEqual({
    totalTables: tables.length,
    tablesWithPending: tables.filter((t) => t.pending > 0).length,
    tablesWithFailed: tables.filter((t) => t.failed > 0).length,
    tablesWithSynced: tables.filter((t) => t.synced > 0).length,
    tablesWithConflicts: tables.filter((t) => t.conflicts > 0).length,
  });
}

async function statusOf(t: ProvisionedTerminal): Promise<Status> {
  const r = await t.api.get<Status>('/api/sync/status', { terminalId: t.terminalId });
  expect(r.status, r.text).toBe(200);
  checkShape(r.body);
  expect(r.body.terminalId).toBe(t.terminalId);
  return r.body;
}

const order = () => ({
  entityType: 'SaleOrder',
  entityId: uid('order'),
  operation: 'CREATE',
  data: { order_number: uid('n'), status: 'completed', total: 10 },
});

async function push(t: ProvisionedTerminal, changes: unknown[]) {
  const r = await t.api.post('/api/sync/push', { terminalId: t.terminalId, changes });
  expect(r.status, r.text).toBe(200);
  return r.body as { results: { status: string; resolution?: string; conflictId?: string; error?: { code: string } }[]; summary: Record<string, number> };
}

/** A PurchaseOrder (MANUAL_MERGE) conflict parked for t: central changes the row after t saw version 1. */
async function parkConflict(t: ProvisionedTerminal): Promise<{ poId: string; conflictId: string }> {
  const poId = uid('po');
  const created = await push(t, [{ entityType: 'PurchaseOrder', entityId: poId, operation: 'CREATE', data: { status: 'draft', notes: 'till' } }]);
  expect(created.summary.applied).toBe(1);
  await c.db.query(`UPDATE purchase_orders SET notes = 'changed at HQ' WHERE id = $1`, [poId]);
  const parked = await push(t, [{ entityType: 'PurchaseOrder', entityId: poId, operation: 'UPDATE', data: { status: 'ordered' }, syncVersion: 1 }]);
  expect(parked.results[0]).toMatchObject({ status: 'conflict', resolution: 'PARKED' });
  return { poId, conflictId: parked.results[0]?.conflictId as string };
}

describe('POST /api/sync/heartbeat', () => {
  it('records the status, appVersion, outbox counts and lastSyncAt', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    const outbox = { SaleOrder: counts({ pending: 3, failed: 1, synced: 40 }), Product: counts({ pending: 2 }) };
    const lastSyncAt = '2026-01-02T03:04:05.000Z';
    const r = await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'SYNCING', appVersion: '2.0.1', outbox, lastSyncAt });
    expect(r.status, r.text).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['heartbeatIntervalSeconds', 'serverTime', 'status', 'terminalId']);
    expect(r.body).toMatchObject({ terminalId: t.terminalId, status: 'SYNCING', heartbeatIntervalSeconds: 30 });
    expect(Math.abs(Date.parse(r.body.serverTime) - Date.now())).toBeLessThan(10_000);

    const row = await c.db.query<Record<string, unknown>>(
      'SELECT reported_status, app_version, outbox, last_sync_at, last_heartbeat_at FROM sync_terminals WHERE id = $1',
      [t.terminalId],
    );
    expect(row.rows[0]).toMatchObject({ reported_status: 'SYNCING', app_version: '2.0.1', outbox, last_sync_at: lastSyncAt });
    expect(row.rows[0]?.last_heartbeat_at).not.toBeNull();

    const fleet = await c.admin.get('/api/terminals');
    expect((fleet.body.terminals as { terminalId: string }[]).find((x) => x.terminalId === t.terminalId)).toMatchObject({
      status: 'SYNCING',
      appVersion: '2.0.1',
    });

    const s = await statusOf(t);
    expect(s.tables.SaleOrder).toEqual(counts({ pending: 3, failed: 1 }));
    expect(s.tables.Product).toEqual(counts({ pending: 2 }));

    // A later heartbeat without appVersion or outbox keeps them; its status replaces the old one.
    const again = await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE' });
    expect(again.status, again.text).toBe(200);
    const row2 = await c.db.query<Record<string, unknown>>('SELECT reported_status, app_version, outbox, last_sync_at FROM sync_terminals WHERE id = $1', [
      t.terminalId,
    ]);
    expect(row2.rows[0]).toEqual({ reported_status: 'ONLINE', app_version: '2.0.1', outbox, last_sync_at: lastSyncAt });

    // A new outbox replaces the old one entirely (a table drained to nothing is not kept at its old count).
    const drained = await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE', outbox: { Product: counts({ pending: 1 }) } });
    expect(drained.status, drained.text).toBe(200);
    const s2 = await statusOf(t);
    expect(s2.tables.SaleOrder).toEqual(ZERO);
    expect(s2.tables.Product).toEqual(counts({ pending: 1 }));
  });

  it('the newest report wins: counts read before the ones kept (a slower request) are not kept', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    const at = (ms: number) => new Date(Date.now() - ms).toISOString();
    const send = (pending: number, reportedAt: string) =>
      t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE', outbox: { SaleOrder: counts({ pending }) }, reportedAt });
    expect((await send(0, at(1_000))).status).toBe(200); // read after the sale was pushed
    expect((await send(3, at(5_000))).status).toBe(200); // read before it, arriving late
    expect((await statusOf(t)).tables.SaleOrder).toEqual(ZERO);
    expect((await send(2, at(0))).status).toBe(200); // a newer report replaces it
    expect((await statusOf(t)).tables.SaleOrder).toEqual(counts({ pending: 2 }));
    const bad = await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE', reportedAt: 'yesterday' });
    expect(bad.status).toBe(400);
  });
});

describe('GET /api/sync/status', () => {
  it('has exactly the seed shape: terminalId, tables, totals, summary; a table per catalog entity, all zero for a new terminal', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    const s = await statusOf(t);
    for (const counts of Object.values(s.tables)) expect(counts).toEqual(ZERO);
    expect(s.totals).toEqual(ZERO);
    expect(s.summary).toEqual({
      totalTables: ENTITY_TYPES.length,
      tablesWithPending: 0,
      tablesWithFailed: 0,
      tablesWithSynced: 0,
      tablesWithConflicts: 0,
    });
  });

  it('pending/failed come from the heartbeat, synced counts the changes central accepted, conflicts the open parked ones', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    const hb = await t.api.post('/api/sync/heartbeat', {
      terminalId: t.terminalId,
      status: 'ONLINE',
      outbox: { SaleOrder: counts({ pending: 4, failed: 2 }), Customer: counts({ pending: 1 }) },
    });
    expect(hb.status, hb.text).toBe(200);

    const orders = [order(), order(), order()];
    const pushed = await push(t, [
      ...orders,
      { entityType: 'Product', entityId: uid('p'), operation: 'CREATE', data: { sku: uid('sku'), name: 'Tea', price: '2.50' } },
    ]);
    expect(pushed.summary).toMatchObject({ applied: 4, rejected: 0 });
    await parkConflict(t);

    const s = await statusOf(t);
    expect(s.tables.SaleOrder).toEqual({ pending: 4, failed: 2, synced: 3, conflicts: 0 });
    expect(s.tables.Product).toEqual(counts({ synced: 1 }));
    expect(s.tables.Customer).toEqual(counts({ pending: 1 }));
    // Its synced count is checked in the next test (the CREATE is synced; the parked UPDATE is not).
    expect(s.tables.PurchaseOrder).toMatchObject({ pending: 0, failed: 0, conflicts: 1 });
    expect(s.tables.PurchaseOrder?.synced).toBeGreaterThanOrEqual(1);
    for (const [name, v] of Object.entries(s.tables)) {
      if (!['SaleOrder', 'Product', 'Customer', 'PurchaseOrder'].includes(name)) expect(v, name).toEqual(ZERO);
    }
    expect(s.totals).toEqual({ pending: 5, failed: 2, synced: 4 + (s.tables.PurchaseOrder?.synced ?? 0), conflicts: 1 });
    expect(s.summary).toEqual({
      totalTables: ENTITY_TYPES.length,
      tablesWithPending: 2,
      tablesWithFailed: 1,
      tablesWithSynced: 3,
      tablesWithConflicts: 1,
    });
  });

  it('a parked change is a conflict, not synced: synced counts only what central applied', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    await parkConflict(t);
    const s = await statusOf(t);
    // Two changes pushed: the CREATE (applied) and the UPDATE (parked, central still has its own row).
    expect(s.tables.PurchaseOrder).toEqual(counts({ synced: 1, conflicts: 1 }));
    expect(s.totals).toEqual(counts({ synced: 1, conflicts: 1 }));
  });

  it('synced counts accepted changes of this terminal only, once each: replays, refusals and other terminals do not count', async () => {
    const storeId = uid('store');
    const t = await c.provision(storeId, uid('till'));
    const neighbour = await c.provision(storeId, uid('till'));
    const batch = [order(), order()];
    expect((await push(t, batch)).summary.applied).toBe(2);
    expect((await statusOf(t)).tables.SaleOrder?.synced).toBe(2);

    // The same batch again: duplicates, no new synced rows.
    expect((await push(t, batch)).summary.duplicate).toBe(2);
    // Refused changes: append-only delete, a read-only table, another store's row.
    const refused = await push(t, [
      { entityType: 'SaleOrder', entityId: batch[0]?.entityId, operation: 'DELETE' },
      { entityType: 'Brand', entityId: uid('b'), operation: 'CREATE', data: { name: 'x' } },
      { ...order(), data: { order_number: 'x', status: 'completed', store_id: 'someone-elses-store' } },
    ]);
    expect(refused.summary).toMatchObject({ rejected: 3, applied: 0 });
    // A neighbour's pushes are the neighbour's.
    expect((await push(neighbour, [order()])).summary.applied).toBe(1);

    const s = await statusOf(t);
    expect(s.tables.SaleOrder).toEqual(counts({ synced: 2 }));
    expect(s.tables.Brand).toEqual(ZERO);
    expect(s.totals).toEqual(counts({ synced: 2 }));
    expect((await statusOf(neighbour)).totals).toEqual(counts({ synced: 1 }));
  });

  it('conflicts: a resolved conflict no longer counts; a reported count is not added on top of the open one', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    const { conflictId } = await parkConflict(t);
    expect((await statusOf(t)).tables.PurchaseOrder?.conflicts).toBe(1);

    // The terminal reports the same conflict in its outbox: still one.
    const hb = await t.api.post('/api/sync/heartbeat', {
      terminalId: t.terminalId,
      status: 'ONLINE',
      outbox: { PurchaseOrder: counts({ conflicts: 1 }) },
    });
    expect(hb.status, hb.text).toBe(200);
    expect((await statusOf(t)).tables.PurchaseOrder?.conflicts).toBe(1);

    // Resolved at central and the terminal's outbox cleared: none.
    const resolved = await c.admin.post('/api/sync/resolve', { conflictId, resolution: 'CENTRAL_WINS' });
    expect(resolved.status, resolved.text).toBe(200);
    await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE', outbox: {} });
    const s = await statusOf(t);
    expect(s.tables.PurchaseOrder?.conflicts).toBe(0);
    expect(s.totals.conflicts).toBe(0);
    expect(s.summary.tablesWithConflicts).toBe(0);
  });

  it('a terminal without terminalId gets its own status; with another terminal id 403 WRONG_TERMINAL', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    const other = await c.provision(uid('store'), uid('till'));
    expect((await push(t, [order()])).summary.applied).toBe(1);
    const own = await t.api.get<Status>('/api/sync/status');
    expect(own.status, own.text).toBe(200);
    checkShape(own.body);
    expect(own.body.terminalId).toBe(t.terminalId);
    expect(own.body).toEqual(await statusOf(t));

    const r = await t.api.get('/api/sync/status', { terminalId: other.terminalId });
    expect(r.status, r.text).toBe(403);
    expect(r.body.code).toBe('WRONG_TERMINAL');
  });

  it('the admin: a terminal by id, 404 for an unknown one', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    expect((await push(t, [order(), order()])).summary.applied).toBe(2);
    const r = await c.admin.get<Status>('/api/sync/status', { terminalId: t.terminalId });
    expect(r.status, r.text).toBe(200);
    checkShape(r.body);
    expect(r.body).toEqual(await statusOf(t));
    const ghost = await c.admin.get('/api/sync/status', { terminalId: uid('ghost') });
    expect(ghost.status, ghost.text).toBe(404);
    expect(ghost.body.code).toBe('UNKNOWN_TERMINAL');
  });

  it('the admin without terminalId: 400 VALIDATION_ERROR naming querystring.terminalId and GET /api/fleet; nothing is summed under terminalId null', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE', outbox: { Payment: counts({ pending: 7, failed: 1 }) } });
    const r = await c.admin.get('/api/sync/status');
    expect(r.status, r.text).toBe(400);
    expect(r.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_ERROR', details: [{ path: 'querystring.terminalId' }] });
    expect(r.body.message).toContain('GET /api/fleet');
    // Naming the terminal answers for it, as in the seed.
    const one = await c.admin.get<Status>('/api/sync/status', { terminalId: t.terminalId });
    expect(one.status, one.text).toBe(200);
    checkShape(one.body);
    expect(one.body.terminalId).toBe(t.terminalId);
    expect(one.body.tables.Payment).toEqual(counts({ pending: 7, failed: 1 }));
  });
});

describe('POST /api/sync/all', () => {
  const triggersOf = async (terminalId: string) =>
    (
      await c.db.query<{ type: string; reason: string }>('SELECT type, reason FROM sync_triggers WHERE terminal_id = $1 ORDER BY created_at', [
        terminalId,
      ])
    ).rows;

  it('a terminal triggers a sync of itself: FULL and MANUAL by default, recorded', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    const r = await t.api.post('/api/sync/all', { terminalId: t.terminalId });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ type: 'FULL', reason: 'MANUAL', triggered: [t.terminalId] });
    expect(await triggersOf(t.terminalId)).toEqual([{ type: 'FULL', reason: 'MANUAL' }]);

    const inc = await t.api.post('/api/sync/all', { terminalId: t.terminalId, type: 'INCREMENTAL', reason: 'SUPERVISOR' });
    expect(inc.status, inc.text).toBe(200);
    expect(inc.body).toEqual({ type: 'INCREMENTAL', reason: 'SUPERVISOR', triggered: [t.terminalId] });
    expect(await triggersOf(t.terminalId)).toEqual([
      { type: 'FULL', reason: 'MANUAL' },
      { type: 'INCREMENTAL', reason: 'SUPERVISOR' },
    ]);
  });

  it('for another terminal: 403 WRONG_TERMINAL, nothing triggered', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    const other = await c.provision(uid('store'), uid('till'));
    const r = await t.api.post('/api/sync/all', { terminalId: other.terminalId });
    expect(r.status, r.text).toBe(403);
    expect(r.body.code).toBe('WRONG_TERMINAL');
    expect(await triggersOf(other.terminalId)).toEqual([]);
    expect(await triggersOf(t.terminalId)).toEqual([]);
  });

  it('allTerminals needs the admin: a terminal gets 403 ADMIN_ONLY; the admin triggers every active terminal', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    const before = await c.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sync_triggers');
    const r = await t.api.post('/api/sync/all', { allTerminals: true });
    expect(r.status, r.text).toBe(403);
    expect(r.body.code).toBe('ADMIN_ONLY');
    expect((await c.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sync_triggers')).rows).toEqual(before.rows);

    const all = await c.admin.post('/api/sync/all', { allTerminals: true, reason: 'MAINTENANCE' });
    expect(all.status, all.text).toBe(200);
    const active = await c.db.query<{ id: string }>('SELECT id FROM sync_terminals WHERE disabled_at IS NULL ORDER BY id');
    expect([...all.body.triggered].sort()).toEqual(active.rows.map((x) => x.id).sort());
    expect(all.body).toMatchObject({ type: 'FULL', reason: 'MAINTENANCE' });
    expect(await triggersOf(t.terminalId)).toEqual([{ type: 'FULL', reason: 'MAINTENANCE' }]);
  });

  it('the admin may trigger one terminal by id', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    const r = await c.admin.post('/api/sync/all', { terminalId: t.terminalId, type: 'INCREMENTAL' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ type: 'INCREMENTAL', reason: 'MANUAL', triggered: [t.terminalId] });
  });

  it('both terminalId and allTerminals: 400, nothing triggered', async () => {
    const t = await c.provision(uid('store'), uid('till'));
    const before = await c.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sync_triggers');
    for (const api of [c.admin, t.api]) {
      const r = await api.post('/api/sync/all', { terminalId: t.terminalId, allTerminals: true });
      expect(r.status, r.text).toBe(400);
      expect(r.body.code).toBe('VALIDATION_ERROR');
    }
    // allTerminals: false with a terminal id is just the terminal.
    const ok = await t.api.post('/api/sync/all', { terminalId: t.terminalId, allTerminals: false });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.triggered).toEqual([t.terminalId]);
    expect((await c.db.query<{ n: number }>('SELECT count(*)::int AS n FROM sync_triggers')).rows).toEqual([
      { n: (before.rows[0] as { n: number }).n + 1 },
    ]);
  });
});
