/**
 * HQ's conflict analytics (pure counting, and GET /api/conflicts/analytics over real
 * conflicts), and "sync now" for a store (POST /api/sync/all with storeId).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { conflictAnalytics, conflictingFields, weekStart, WHOLE_ROW } from '../../src/server/services/conflict-analytics.js';
import { ConflictAnalyticsResponse, type PushResult } from '../../src/shared/protocol.js';
import { useCentral, type ProvisionedTerminal } from '../helpers/central.js';
import { pushOk, type ChangeIn } from '../helpers/sync.js';

describe('conflict analytics (pure)', () => {
  it('names the fields the two sides disagree on, not sync bookkeeping; a delete conflicts as a whole row', () => {
    expect(conflictingFields({ id: 'x', a: 1, b: 'x', sync_version: 2, updated_at: 't1' }, { id: 'x', a: 2, b: 'x', sync_version: 3, updated_at: 't2' })).toEqual(['a']);
    expect(conflictingFields({ a: 1, c: null }, { a: 1, b: 5 })).toEqual(['b']);
    expect(conflictingFields(null, { a: 1 })).toEqual([WHOLE_ROW]);
    expect(conflictingFields({ a: { x: [1] } }, { a: { x: [1] } })).toEqual([WHOLE_ROW]);
  });

  it("counts each conflict's week (Monday, UTC), table, field and resolution", () => {
    expect(weekStart('2026-12-06T23:59:59Z')).toBe('2026-11-30'); // a Sunday
    expect(weekStart('2026-12-07T00:00:00Z')).toBe('2026-12-07'); // a Monday
    const rows = conflictAnalytics([
      { entityType: 'Product', createdAt: '2026-12-01T10:00:00Z', resolution: 'CENTRAL_WINS', terminal: { price: 1 }, central: { price: 2 } },
      { entityType: 'Product', createdAt: '2026-12-02T10:00:00Z', resolution: 'CENTRAL_WINS', terminal: { price: 1, name: 'a' }, central: { price: 2, name: 'b' } },
      { entityType: 'PurchaseOrder', createdAt: '2026-12-08T10:00:00Z', resolution: null, terminal: null, central: { total: 1 } },
    ]);
    expect(rows).toEqual([
      { weekStart: '2026-12-07', entityType: 'PurchaseOrder', field: WHOLE_ROW, resolution: null, count: 1 },
      { weekStart: '2026-11-30', entityType: 'Product', field: 'price', resolution: 'CENTRAL_WINS', count: 2 },
      { weekStart: '2026-11-30', entityType: 'Product', field: 'name', resolution: 'CENTRAL_WINS', count: 1 },
    ]);
    expect(conflictAnalytics([])).toEqual([]);
  });
});

const c = useCentral();

async function pushOne(t: ProvisionedTerminal, change: ChangeIn): Promise<PushResult> {
  const res = await pushOk(t, [{ changeId: randomUUID(), ...change }]);
  return res.results[0] as PushResult;
}

describe('GET /api/conflicts/analytics', () => {
  it('counts real conflicts by table, field and resolution, open ones as null until resolved', async () => {
    const t = await c.provision(`ca-${randomUUID().slice(0, 6)}`);
    const po = randomUUID();
    const base = { po_number: `PO-${po.slice(0, 6)}`, status: 'draft', total: 100, notes: 'base' };
    expect(await pushOne(t, { entityType: 'PurchaseOrder', entityId: po, operation: 'CREATE', data: base })).toMatchObject({ status: 'applied' });
    await c.db.query(`UPDATE purchase_orders SET total = 120 WHERE id = $1`, [po]);
    const parked = await pushOne(t, { entityType: 'PurchaseOrder', entityId: po, operation: 'UPDATE', baseData: { id: po, ...base }, data: { total: 110 }, syncVersion: 1 });
    expect(parked).toMatchObject({ status: 'conflict', resolution: 'PARKED' });

    const week = weekStart(new Date().toISOString());
    const read = async () => {
      const r = await c.admin.get('/api/conflicts/analytics?weeks=1');
      expect(r.status, r.text).toBe(200);
      return ConflictAnalyticsResponse.parse(r.body).weeks.filter((w) => w.entityType === 'PurchaseOrder' && w.weekStart === week);
    };
    expect(await read()).toContainEqual({ weekStart: week, entityType: 'PurchaseOrder', field: 'total', resolution: null, count: expect.any(Number) });

    const resolved = await c.admin.post('/api/sync/resolve', { conflictId: parked.conflictId, resolution: 'MANUAL_MERGE', resolvedData: { total: 115 } });
    expect(resolved.status, resolved.text).toBe(200);
    expect(await read()).toContainEqual({ weekStart: week, entityType: 'PurchaseOrder', field: 'total', resolution: 'MANUAL_MERGE', count: 1 });
  });

  it('answers bad input with 400 and a terminal key with 403', async () => {
    for (const q of ['?weeks=0', '?weeks=53', '?weeks=x', '?other=1']) {
      const r = await c.admin.get(`/api/conflicts/analytics${q}`);
      expect(r.status, `${q}: ${r.text}`).toBe(400);
    }
    const t = await c.provision(`ca-${randomUUID().slice(0, 6)}`);
    expect((await t.api.get('/api/conflicts/analytics')).status).toBe(403);
  });
});

describe('POST /api/sync/all with storeId', () => {
  it("triggers every active till of the store and no other store's", async () => {
    const store = `sn-${randomUUID().slice(0, 6)}`;
    const a = await c.provision(store);
    const b = await c.provision(store);
    const gone = await c.provision(store);
    const other = await c.provision(`${store}-other`);
    expect((await c.admin.patch(`/api/terminals/${gone.terminalId}`, { disabled: true })).status).toBe(200);
    const r = await c.admin.post('/api/sync/all', { storeId: store, type: 'FULL', reason: 'CONSOLE' });
    expect(r.status, r.text).toBe(200);
    expect([...r.body.triggered].sort()).toEqual([a.terminalId, b.terminalId].sort());
    const rows = await c.db.query<{ terminal_id: string }>(`SELECT terminal_id FROM sync_triggers WHERE reason = 'CONSOLE' AND terminal_id = ANY($1)`, [
      [a.terminalId, b.terminalId, gone.terminalId, other.terminalId],
    ]);
    expect(rows.rows.map((x) => x.terminal_id).sort()).toEqual([a.terminalId, b.terminalId].sort());
  });

  it('refuses a terminal key (403), an unknown store (404) and two targets at once (400)', async () => {
    const t = await c.provision(`sn-${randomUUID().slice(0, 6)}`);
    expect((await t.api.post('/api/sync/all', { storeId: t.storeId })).status).toBe(403);
    expect((await c.admin.post('/api/sync/all', { storeId: 'no-such-store' })).status).toBe(404);
    expect((await c.admin.post('/api/sync/all', { storeId: t.storeId, terminalId: t.terminalId })).status).toBe(400);
    expect((await c.admin.post('/api/sync/all', { storeId: t.storeId, allTerminals: true })).status).toBe(400);
  });
});
