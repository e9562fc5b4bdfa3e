/**
 * HQ's fleet view over HTTP (GET /api/fleet, /api/fleet/stores, /api/fleet/:id) with
 * real engines reporting by heartbeat to a real central: unsynced sales and their
 * value, offline tills first, pull lag, clock skew, filters and pages, the roll-up per
 * store, the detail, bad input, and the console's live `fleet:changed`.
 */
import { randomBytes } from 'node:crypto';
import { io } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { FleetChanged, FleetResponse, FleetTerminalDetail, StoreRollupResponse } from '../../src/shared/protocol.js';
import { ADMIN_TOKEN, useCentral } from '../helpers/central.js';
import { closeAll, startEngine, type TerminalEngine } from '../helpers/engine.js';
import { completedTotal, localStoreId } from '../helpers/fleet.js';
import { ringUpSales } from '../helpers/processes.js';

const c = useCentral();
afterAll(closeAll);

const uid = (p: string) => `${p}-${randomBytes(3).toString('hex')}`;

async function fleet(query = ''): Promise<FleetResponse> {
  const r = await c.admin.get(`/api/fleet${query}`);
  expect(r.status, r.text).toBe(200);
  return FleetResponse.parse(r.body);
}

async function detail(terminalId: string): Promise<FleetTerminalDetail> {
  const r = await c.admin.get(`/api/fleet/terminals/${terminalId}`);
  expect(r.status, r.text).toBe(200);
  return FleetTerminalDetail.parse(r.body);
}

describe('GET /api/fleet', () => {
  const storeA = uid('fleet-a');
  const storeB = uid('fleet-b');
  let offline: TerminalEngine;
  let inStep: TerminalEngine;

  it('reports a till holding sales, then silent, first: OFFLINE_WITH_SALES with their value and age', async () => {
    offline = await startEngine(c, { storeId: storeA, terminalId: uid('till-off'), initialSync: true });
    inStep = await startEngine(c, { storeId: storeA, terminalId: uid('till-ok'), initialSync: true });
    await c.db.query(`UPDATE stores SET currency = 'EUR' WHERE id = $1`, [storeA]);

    ringUpSales(offline.pos(), { storeLocalId: localStoreId(offline), prefix: 'OFF', count: 3 });
    ringUpSales(offline.pos(), { storeLocalId: localStoreId(offline), prefix: 'OPEN', count: 2, status: 'pending' });
    expect(await offline.service.heartbeat()).toBe(true);
    expect(await inStep.service.heartbeat()).toBe(true);

    let view = await fleet(`?storeId=${storeA}`);
    const off = view.terminals.find((t) => t.terminalId === offline.terminal.terminalId);
    expect(off).toMatchObject({ status: 'ONLINE', unsyncedSalesCount: 3, unsyncedSalesTotal: completedTotal(offline, 'OFF'), currency: 'EUR' });
    expect(off?.pending).toBeGreaterThanOrEqual(3 * 3 + 2 * 2); // completed: order, line, payment; pending: order, line
    expect(off?.schemaVersion).toMatch(/^\d+\/[0-9a-f]{8}$/);
    expect(off?.oldestPendingSeconds).not.toBeNull();

    // The till falls silent for ten minutes (its last heartbeat and report age on central's clock).
    await c.db.query(
      `UPDATE sync_terminals SET last_heartbeat_at = now() - interval '10 minutes', oldest_pending_at = now() - interval '11 minutes' WHERE id = $1`,
      [offline.terminal.terminalId],
    );
    view = await fleet(`?storeId=${storeA}`);
    expect(view.terminals[0]).toMatchObject({ terminalId: offline.terminal.terminalId, status: 'OFFLINE', attention: ['OFFLINE_WITH_SALES'] });
    expect(view.terminals[0]?.oldestPendingSeconds).toBeGreaterThanOrEqual(660);
    const ok = view.terminals.find((t) => t.terminalId === inStep.terminal.terminalId);
    expect(ok).toMatchObject({ status: 'ONLINE', pending: 0, unsyncedSalesCount: 0, unsyncedSalesTotal: 0, attention: [], pullLagSeconds: 0 });
  });

  it('counts a sale as at central once it is: after the push the till reports nothing unsynced', async () => {
    await offline.sync();
    expect(await offline.service.heartbeat()).toBe(true);
    const t = (await fleet(`?storeId=${storeA}`)).terminals.find((x) => x.terminalId === offline.terminal.terminalId);
    expect(t).toMatchObject({ status: 'ONLINE', unsyncedSalesCount: 0, unsyncedSalesTotal: 0, pending: 0, attention: [] });
    expect(t?.oldestPendingSeconds).toBeNull();
  });

  it('says how far behind central a till pulls, and 0 once it has pulled', async () => {
    // HQ changes the store's row ten minutes ago (the change log's time moved back), the till has not pulled it.
    await c.db.query(`UPDATE stores SET name = name || ' (renamed)' WHERE id = $1`, [storeA]);
    await c.db.query(`UPDATE sync_changes SET changed_at = now() - interval '10 minutes' WHERE entity_type = 'Store' AND entity_id = $1`, [storeA]);
    expect(await inStep.service.heartbeat()).toBe(true);
    let t = (await fleet(`?storeId=${storeA}`)).terminals.find((x) => x.terminalId === inStep.terminal.terminalId);
    expect(t?.pullLagSeconds).toBeGreaterThanOrEqual(600);
    expect(t?.attention).toEqual(['PULL_BEHIND']);

    await inStep.sync();
    expect(await inStep.service.heartbeat()).toBe(true);
    t = (await fleet(`?storeId=${storeA}`)).terminals.find((x) => x.terminalId === inStep.terminal.terminalId);
    expect(t).toMatchObject({ pullLagSeconds: 0, attention: [] });
  });

  it('keeps the clock skew a heartbeat shows and flags one over two minutes', async () => {
    const ahead = new Date(Date.now() + 5 * 60_000).toISOString();
    const r = await inStep.terminal.api.post('/api/sync/heartbeat', { terminalId: inStep.terminal.terminalId, status: 'ONLINE', reportedAt: ahead });
    expect(r.status, r.text).toBe(200);
    const t = (await fleet(`?storeId=${storeA}`)).terminals.find((x) => x.terminalId === inStep.terminal.terminalId);
    expect(t?.clockSkewMs).toBeGreaterThan(4 * 60_000);
    expect(t?.clockSkewMs).toBeLessThan(6 * 60_000);
    expect(t?.attention).toContain('CLOCK_SKEW');
    await inStep.service.heartbeat(); // back in step
    const back = (await fleet(`?storeId=${storeA}`)).terminals.find((x) => x.terminalId === inStep.terminal.terminalId);
    expect(Math.abs(back?.clockSkewMs ?? 1e9)).toBeLessThan(60_000);
  });

  it('lists never-seen and disabled tills, filters by store, status and attention, and pages', async () => {
    const never = await c.provision(storeB, uid('till-new'));
    const gone = await c.provision(storeB, uid('till-gone'));
    expect((await c.admin.patch(`/api/terminals/${gone.terminalId}`, { disabled: true })).status).toBe(200);
    const b = await fleet(`?storeId=${storeB}`);
    expect(b.total).toBe(2);
    expect(b.terminals.map((t) => [t.terminalId, t.status])).toEqual([
      [never.terminalId, 'NEVER_SEEN'],
      [gone.terminalId, 'DISABLED'],
    ]);
    expect((await fleet(`?status=DISABLED&storeId=${storeB}`)).terminals.map((t) => t.terminalId)).toEqual([gone.terminalId]);

    await c.db.query(`UPDATE sync_terminals SET last_heartbeat_at = now() - interval '10 minutes' WHERE id = $1`, [offline.terminal.terminalId]);
    const attention = await fleet('?attention=true');
    expect(attention.terminals.map((t) => t.terminalId)).toContain(offline.terminal.terminalId);
    expect(attention.terminals.every((t) => t.attention.length > 0)).toBe(true);
    const calm = await fleet('?attention=false');
    expect(calm.terminals.some((t) => t.attention.length > 0)).toBe(false);

    const all = await fleet('?limit=1000');
    const pages: string[] = [];
    for (let offset = 0; offset < all.total; offset += 2) {
      const p = await fleet(`?limit=2&offset=${offset}`);
      expect(p.total).toBe(all.total);
      pages.push(...p.terminals.map((t) => t.terminalId));
    }
    expect(pages).toEqual(all.terminals.map((t) => t.terminalId));
  });

  it('rolls the fleet up per store', async () => {
    const r = await c.admin.get('/api/fleet/stores');
    expect(r.status, r.text).toBe(200);
    const { stores } = StoreRollupResponse.parse(r.body);
    const a = stores.find((s) => s.storeId === storeA);
    expect(a).toMatchObject({ terminals: 2, currency: 'EUR', byStatus: { ONLINE: 1, OFFLINE: 1, DISABLED: 0, NEVER_SEEN: 0 } });
    expect(stores.find((s) => s.storeId === storeB)).toMatchObject({ terminals: 2, byStatus: { ONLINE: 0, OFFLINE: 0, DISABLED: 1, NEVER_SEEN: 1 } });
  });

  it("shows a till's detail: per-table counts and its latest runs as its heartbeat reported them", async () => {
    const d = await detail(offline.terminal.terminalId);
    expect(d.tables.SaleOrder?.synced).toBe(5);
    expect(d.tables.Payment?.synced).toBe(3);
    // It has not pulled HQ's rename of its store (the test before): the detail says so.
    expect(d.attention).toEqual(['OFFLINE', 'PULL_BEHIND']);
    expect(d.recentRuns.length).toBeGreaterThan(0);
    expect(d.recentRuns[0]?.kind).toBeTypeOf('string');
    expect(d.recentRuns.some((run) => run.pushed > 0)).toBe(true);
  });

  it('answers bad input with 400, a terminal key with 403 and an unknown till with 404', async () => {
    for (const q of ['?limit=0', '?limit=5000', '?status=BOGUS', '?attention=maybe', '?offset=-1', '?nope=1']) {
      const r = await c.admin.get(`/api/fleet${q}`);
      expect(r.status, `${q}: ${r.text}`).toBe(400);
    }
    expect((await inStep.terminal.api.get('/api/fleet')).status).toBe(403);
    expect((await inStep.terminal.api.get('/api/fleet/stores')).status).toBe(403);
    expect((await c.admin.get('/api/fleet/terminals/no-such-till')).status).toBe(404);
  });

  it("keeps a report after the till's clock was set back, but not one that crossed a newer one on the way", async () => {
    const till = await c.provision(uid('fleet-clock'), uid('till-clock'));
    const beat = (at: number, pending: number) =>
      till.api.post('/api/sync/heartbeat', {
        terminalId: till.terminalId,
        status: 'ONLINE',
        reportedAt: new Date(at).toISOString(),
        outbox: { SaleOrder: { pending, failed: 0, synced: 0, conflicts: 0 } },
      });
    const pending = async () => (await fleet(`?storeId=${till.storeId}`)).terminals[0]?.pending;
    expect((await beat(Date.now() + 86_400_000, 5)).status).toBe(200); // a clock a day fast
    expect(await pending()).toBe(5);
    expect((await beat(Date.now() + 86_400_000 - 10_000, 9)).status).toBe(200); // an older request arriving late
    expect(await pending()).toBe(5);
    expect((await beat(Date.now(), 0)).status).toBe(200); // NTP set the clock right
    expect(await pending()).toBe(0);
    expect((await beat(Date.now() + 1000, 2)).status).toBe(200);
    expect(await pending()).toBe(2);
  });

  it('does not call a till reading a table from a snapshot (a first sync under way) in step', async () => {
    const till = await c.provision(uid('fleet-snap'), uid('till-snap'));
    const snapshot = Buffer.from(JSON.stringify(['s', '5', null])).toString('base64url');
    const r = await till.api.post('/api/sync/heartbeat', { terminalId: till.terminalId, status: 'ONLINE', cursors: { Product: snapshot } });
    expect(r.status, r.text).toBe(200);
    expect((await fleet(`?storeId=${till.storeId}`)).terminals[0]).toMatchObject({ terminalId: till.terminalId, pullLagSeconds: null });
    expect((await detail(till.terminalId)).pullLagSeconds).toBeNull();
  });

  it("shows the detail of a till whatever its id, 'stores' included", async () => {
    const till = await c.provision(uid('fleet-named'), 'stores');
    expect((await detail('stores')).terminalId).toBe('stores');
    expect(till.terminalId).toBe('stores');
  });

  it("refuses a heartbeat whose fleet report is out of bounds, and keeps the till's last report", async () => {
    const id = inStep.terminal.terminalId;
    const before = await detail(id);
    const run = { kind: 'FULL', trigger: 'x', startedAt: new Date().toISOString(), finishedAt: null, pushed: 0, pulled: 0, conflicts: 0, failed: 0, errors: [] };
    const bad = [
      { recentRuns: Array.from({ length: 11 }, () => run) },
      { recentRuns: [{ ...run, errors: ['e', 'e', 'e', 'e', 'e', 'e'] }] },
      { unsyncedSales: { count: -1, total: 0 } },
      { unsyncedSales: { count: 1, total: 1e300 } },
      { cursors: { SaleOrder: 7 } },
      { oldestPendingAt: 'yesterday' },
      { schemaVersion: 'x'.repeat(65) },
    ];
    for (const extra of bad) {
      const r = await inStep.terminal.api.post('/api/sync/heartbeat', { terminalId: id, status: 'ONLINE', ...extra });
      expect(r.status, `${JSON.stringify(extra).slice(0, 80)}: ${r.text}`).toBe(400);
    }
    const after = await detail(id);
    expect({ ...after, lastSeenAt: null, pullLagSeconds: null }).toEqual({ ...before, lastSeenAt: null, pullLagSeconds: null });
  });
});

describe('the console live view', () => {
  it('tells an admin socket on /console which tills reported, and refuses a terminal key', async () => {
    const till = await c.provision(uid('fleet-live'), uid('till-live'));
    const admin = io(`${c.url}/console`, { auth: { token: ADMIN_TOKEN }, transports: ['websocket'], reconnection: false });
    try {
      await new Promise<void>((resolve, reject) => {
        admin.once('connect', () => resolve());
        admin.once('connect_error', reject);
      });
      const heard = new Promise<FleetChanged>((resolve) => {
        admin.on('fleet:changed', (news: unknown) => {
          const n = FleetChanged.parse(news);
          if (n.all || n.terminalIds.includes(till.terminalId)) resolve(n);
        });
      });
      expect((await till.api.post('/api/sync/heartbeat', { terminalId: till.terminalId, status: 'ONLINE' })).status).toBe(200);
      const news = await heard;
      expect(news.all || news.terminalIds.includes(till.terminalId)).toBe(true);
    } finally {
      admin.close();
    }
    const refused = io(`${c.url}/console`, { auth: { token: till.apiKey }, transports: ['websocket'], reconnection: false });
    try {
      const err = await new Promise<Error>((resolve) => refused.once('connect_error', resolve));
      expect(err.message).toMatch(/admin token/);
    } finally {
      refused.close();
    }
  });
});
