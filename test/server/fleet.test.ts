/**
 * Fleet management over HTTP: stores, terminal provisioning (keys stored hashed),
 * the fleet list with its derived states, and disabling a terminal.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiClient, startCentral, useCentral } from '../helpers/central.js';
import { answersOfTerminal } from '../helpers/sync.js';

const c = useCentral();

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

async function newStore(): Promise<string> {
  const id = uid('store');
  const r = await c.admin.post('/api/stores', { id, name: `Store ${id}` });
  expect(r.status, r.text).toBe(201);
  return id;
}

async function newTerminal(storeId: string, terminalId = uid('till')) {
  const r = await c.admin.post('/api/terminals', { storeId, terminalId });
  expect(r.status, r.text).toBe(201);
  return { terminalId: r.body.terminalId as string, apiKey: r.body.apiKey as string, api: new ApiClient(c.url, r.body.apiKey as string) };
}

async function listed(terminalId: string) {
  const r = await c.admin.get('/api/terminals');
  expect(r.status, r.text).toBe(200);
  const t = (r.body.terminals as { terminalId: string }[]).find((x) => x.terminalId === terminalId);
  expect(t, `terminal ${terminalId} in the fleet list`).toBeDefined();
  return t as Record<string, unknown>;
}

const heartbeat = (api: ApiClient, terminalId: string, status = 'ONLINE') => api.post('/api/sync/heartbeat', { terminalId, status });

describe('POST /api/stores', () => {
  it('creates a store (201) with the given id, name and code, and a catalog row', async () => {
    const id = uid('store');
    const r = await c.admin.post('/api/stores', { id, name: 'Main street', code: 'MS1', currency: 'EUR', timezone: 'Europe/Paris' });
    expect(r.status, r.text).toBe(201);
    expect(r.body).toEqual({ storeId: id, name: 'Main street', code: 'MS1' });
    const row = await c.db.query<{ name: string; code: string; currency: string; timezone: string; sync_version: number }>(
      'SELECT name, code, currency, timezone, sync_version FROM stores WHERE id = $1',
      [id],
    );
    expect(row.rows).toEqual([{ name: 'Main street', code: 'MS1', currency: 'EUR', timezone: 'Europe/Paris', sync_version: 1 }]);
  });

  it('generates an id when none is given', async () => {
    const r = await c.admin.post('/api/stores', { name: 'No id' });
    expect(r.status, r.text).toBe(201);
    expect(typeof r.body.storeId).toBe('string');
    expect(r.body.storeId.length).toBeGreaterThan(0);
    expect(r.body.code).toBeNull();
    const row = await c.db.query('SELECT 1 FROM stores WHERE id = $1', [r.body.storeId]);
    expect(row.rows).toHaveLength(1);
  });

  it('refuses a duplicate id with 409 STORE_EXISTS and keeps the first store unchanged', async () => {
    const id = uid('store');
    expect((await c.admin.post('/api/stores', { id, name: 'First' })).status).toBe(201);
    const r = await c.admin.post('/api/stores', { id, name: 'Second' });
    expect(r.status, r.text).toBe(409);
    expect(r.body.code).toBe('STORE_EXISTS');
    expect(r.body.message).toContain(id);
    const row = await c.db.query<{ name: string }>('SELECT name FROM stores WHERE id = $1', [id]);
    expect(row.rows).toEqual([{ name: 'First' }]);
  });

  it('is admin only: a terminal key gets 403 ADMIN_ONLY, no key 401, and nothing is created', async () => {
    const t = await newTerminal(await newStore());
    const id1 = uid('store');
    const asTerminal = await t.api.post('/api/stores', { id: id1, name: 'Sneaky' });
    expect(asTerminal.status, asTerminal.text).toBe(403);
    expect(asTerminal.body.code).toBe('ADMIN_ONLY');
    const id2 = uid('store');
    const anonymous = await new ApiClient(c.url, undefined).post('/api/stores', { id: id2, name: 'Anon' });
    expect(anonymous.status, anonymous.text).toBe(401);
    expect(anonymous.body.code).toBe('UNAUTHORIZED');
    const rows = await c.db.query('SELECT id FROM stores WHERE id = ANY($1::text[])', [[id1, id2]]);
    expect(rows.rows).toHaveLength(0);
  });
});

describe('POST /api/terminals', () => {
  it('returns { terminalId, storeId, name, apiKey } and the key works as a Bearer token', async () => {
    const storeId = await newStore();
    const terminalId = uid('till');
    const r = await c.admin.post('/api/terminals', { storeId, terminalId, name: 'Till 1' });
    expect(r.status, r.text).toBe(201);
    expect(r.body).toEqual({ terminalId, storeId, name: 'Till 1', apiKey: expect.any(String) });
    expect(r.body.apiKey.length).toBeGreaterThanOrEqual(32);
    const api = new ApiClient(c.url, r.body.apiKey);
    const hb = await heartbeat(api, terminalId);
    expect(hb.status, hb.text).toBe(200);
    expect(hb.body.terminalId).toBe(terminalId);
    const st = await api.get('/api/sync/status', { terminalId });
    expect(st.status, st.text).toBe(200);
    expect(st.body.terminalId).toBe(terminalId);
  });

  it('generates a terminal id when none is given, and each key is unique', async () => {
    const storeId = await newStore();
    const a = await c.admin.post('/api/terminals', { storeId });
    const b = await c.admin.post('/api/terminals', { storeId });
    expect(a.status, a.text).toBe(201);
    expect(b.status, b.text).toBe(201);
    expect(a.body.terminalId).not.toBe(b.body.terminalId);
    expect(a.body.apiKey).not.toBe(b.body.apiKey);
    expect(a.body.name).toBe(a.body.terminalId);
    expect((await heartbeat(new ApiClient(c.url, a.body.apiKey), a.body.terminalId)).status).toBe(200);
  });

  it('stores the key hashed: key_hash is not the key and the key appears nowhere in the row', async () => {
    const storeId = await newStore();
    const t = await newTerminal(storeId);
    const r = await c.db.query<Record<string, unknown>>('SELECT * FROM sync_terminals WHERE id = $1', [t.terminalId]);
    expect(r.rows).toHaveLength(1);
    const row = r.rows[0] as Record<string, unknown>;
    expect(typeof row.key_hash).toBe('string');
    expect(row.key_hash).not.toBe(t.apiKey);
    expect(JSON.stringify(row)).not.toContain(t.apiKey);
    // Not even the random part of the key (without its prefix).
    const secret = t.apiKey.replace(/^[a-z]+_/, '');
    expect(JSON.stringify(row)).not.toContain(secret);
    // A one-way hash of it.
    expect(row.key_hash).toBe(createHash('sha256').update(t.apiKey).digest('hex'));
    // And nowhere in the catalog's terminals row either.
    const cat = await c.db.query<Record<string, unknown>>('SELECT * FROM terminals WHERE id = $1', [t.terminalId]);
    expect(JSON.stringify(cat.rows)).not.toContain(secret);
  });

  it('refuses an unknown store with 404 UNKNOWN_STORE and provisions nothing', async () => {
    const terminalId = uid('till');
    const storeId = uid('nostore');
    const r = await c.admin.post('/api/terminals', { storeId, terminalId });
    expect(r.status, r.text).toBe(404);
    expect(r.body.code).toBe('UNKNOWN_STORE');
    expect(r.body.message).toContain(storeId);
    expect((await c.db.query('SELECT 1 FROM sync_terminals WHERE id = $1', [terminalId])).rows).toHaveLength(0);
    expect((await c.db.query('SELECT 1 FROM terminals WHERE id = $1', [terminalId])).rows).toHaveLength(0);
  });

  it('refuses a duplicate terminalId with 409, and the first key keeps working', async () => {
    const storeId = await newStore();
    const otherStore = await newStore();
    const t = await newTerminal(storeId);
    const before = await c.db.query('SELECT * FROM sync_terminals WHERE id = $1', [t.terminalId]);
    for (const s of [storeId, otherStore]) {
      const r = await c.admin.post('/api/terminals', { storeId: s, terminalId: t.terminalId });
      expect(r.status, r.text).toBe(409);
      expect(r.body.code).toBe('TERMINAL_EXISTS');
      expect(r.body.apiKey).toBeUndefined();
    }
    const after = await c.db.query('SELECT * FROM sync_terminals WHERE id = $1', [t.terminalId]);
    expect(after.rows).toEqual(before.rows);
    const cat = await c.db.query<{ store_id: string }>('SELECT store_id FROM terminals WHERE id = $1', [t.terminalId]);
    expect(cat.rows).toEqual([{ store_id: storeId }]);
    expect((await heartbeat(t.api, t.terminalId)).status).toBe(200);
  });

  it('is admin only: a terminal key gets 403 ADMIN_ONLY, no key 401', async () => {
    const storeId = await newStore();
    const t = await newTerminal(storeId);
    const id = uid('till');
    const r1 = await t.api.post('/api/terminals', { storeId, terminalId: id });
    expect(r1.status, r1.text).toBe(403);
    expect(r1.body.code).toBe('ADMIN_ONLY');
    const r2 = await new ApiClient(c.url, undefined).post('/api/terminals', { storeId, terminalId: id });
    expect(r2.status, r2.text).toBe(401);
    expect((await c.db.query('SELECT 1 FROM sync_terminals WHERE id = $1', [id])).rows).toHaveLength(0);
  });

  it("creates the catalog's terminals row for a provisioned terminal, which its store's tills pull", async () => {
    const storeId = await newStore();
    const terminalId = uid('till');
    const r = await c.admin.post('/api/terminals', { storeId, terminalId, name: 'Front till' });
    expect(r.status, r.text).toBe(201);
    const row = await c.db.query<Record<string, unknown>>(
      'SELECT id, store_id, name, code, active, sync_version, sync_deleted_at FROM terminals WHERE id = $1',
      [terminalId],
    );
    expect(row.rows).toEqual([
      { id: terminalId, store_id: storeId, name: 'Front till', code: terminalId, active: true, sync_version: 1, sync_deleted_at: null },
    ]);
    const change = await c.db.query<{ store_id: string; op: string }>(
      `SELECT store_id, op FROM sync_changes WHERE entity_type = 'Terminal' AND entity_id = $1`,
      [terminalId],
    );
    expect(change.rows).toEqual([{ store_id: storeId, op: 'CREATE' }]);
    const pulled = await new ApiClient(c.url, r.body.apiKey).get('/api/sync/pull', { terminalId, entityType: 'Terminal' });
    expect(pulled.status, pulled.text).toBe(200);
    const mine = (pulled.body.changes as { entityId: string; data: Record<string, unknown> }[]).find((x) => x.entityId === terminalId);
    expect(mine?.data).toMatchObject({ id: terminalId, store_id: storeId, name: 'Front till', active: true });
  });
});

describe('GET /api/terminals', () => {
  it('lists the fleet: NEVER_SEEN before any heartbeat, then the reported state after one', async () => {
    const storeId = await newStore();
    const a = await newTerminal(storeId);
    const b = await newTerminal(storeId);
    const before = await listed(a.terminalId);
    expect(before).toMatchObject({
      terminalId: a.terminalId,
      storeId,
      name: a.terminalId,
      status: 'NEVER_SEEN',
      disabled: false,
      connected: false,
      lastHeartbeatAt: null,
      appVersion: null,
    });
    expect(Number.isNaN(Date.parse(before.createdAt as string))).toBe(false);

    const hb = await a.api.post('/api/sync/heartbeat', { terminalId: a.terminalId, status: 'ONLINE', appVersion: '1.2.3' });
    expect(hb.status, hb.text).toBe(200);
    const after = await listed(a.terminalId);
    expect(after).toMatchObject({ status: 'ONLINE', appVersion: '1.2.3', disabled: false });
    expect(Math.abs(Date.parse(after.lastHeartbeatAt as string) - Date.now())).toBeLessThan(10_000);
    // The other terminal is unaffected.
    expect((await listed(b.terminalId)).status).toBe('NEVER_SEEN');

    expect((await heartbeat(b.api, b.terminalId, 'SYNCING')).status).toBe(200);
    expect((await listed(b.terminalId)).status).toBe('SYNCING');
  });

  it('lists every provisioned terminal exactly once', async () => {
    const r = await c.admin.get('/api/terminals');
    expect(r.status).toBe(200);
    const ids = (r.body.terminals as { terminalId: string }[]).map((t) => t.terminalId);
    const rows = await c.db.query<{ id: string }>('SELECT id FROM sync_terminals');
    expect([...ids].sort()).toEqual(rows.rows.map((x) => x.id).sort());
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('shows OFFLINE when a terminal has been silent for three heartbeat intervals (by SQL)', async () => {
    // The default interval is 30 s: 89 s of silence is still ONLINE, 91 s is OFFLINE.
    const t = await newTerminal(await newStore());
    expect((await heartbeat(t.api, t.terminalId)).status).toBe(200);
    await c.db.query(`UPDATE sync_terminals SET last_heartbeat_at = now() - interval '80 seconds' WHERE id = $1`, [t.terminalId]);
    expect((await listed(t.terminalId)).status).toBe('ONLINE');
    await c.db.query(`UPDATE sync_terminals SET last_heartbeat_at = now() - interval '95 seconds' WHERE id = $1`, [t.terminalId]);
    expect((await listed(t.terminalId)).status).toBe('OFFLINE');
    // A new heartbeat brings it back.
    expect((await heartbeat(t.api, t.terminalId)).status).toBe(200);
    expect((await listed(t.terminalId)).status).toBe('ONLINE');
  });

  it('shows OFFLINE after three silent intervals in real time (interval 1 s)', async () => {
    const fast = await startCentral({ db: c.db, config: { heartbeatIntervalSeconds: 1 } });
    try {
      const storeId = uid('store');
      expect((await fast.admin.post('/api/stores', { id: storeId, name: 'Fast' })).status).toBe(201);
      const t = await fast.provision(storeId, uid('till'));
      const hb = await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE' });
      expect(hb.status, hb.text).toBe(200);
      expect(hb.body.heartbeatIntervalSeconds).toBe(1);
      const state = async () => {
        const r = await fast.admin.get('/api/terminals');
        return (r.body.terminals as { terminalId: string; status: string }[]).find((x) => x.terminalId === t.terminalId)?.status;
      };
      expect(await state()).toBe('ONLINE');
      await new Promise((r) => setTimeout(r, 1500));
      expect(await state()).toBe('ONLINE');
      await new Promise((r) => setTimeout(r, 2000));
      expect(await state()).toBe('OFFLINE');
    } finally {
      await fast.close();
    }
  });

  it('is admin only', async () => {
    const t = await newTerminal(await newStore());
    const r = await t.api.get('/api/terminals');
    expect(r.status, r.text).toBe(403);
    expect(r.body.code).toBe('ADMIN_ONLY');
    expect((await new ApiClient(c.url, undefined).get('/api/terminals')).status).toBe(401);
  });
});

describe('PATCH /api/terminals/:id', () => {
  it('disables a terminal: DISABLED in the list, its key refused (403 TERMINAL_DISABLED) on push, pull and heartbeat; re-enabling lets it back', async () => {
    const storeId = await newStore();
    const t = await newTerminal(storeId);
    const other = await newTerminal(storeId);
    expect((await heartbeat(t.api, t.terminalId)).status).toBe(200);

    const off = await c.admin.patch(`/api/terminals/${t.terminalId}`, { disabled: true });
    expect(off.status, off.text).toBe(200);
    expect(off.body).toMatchObject({ terminalId: t.terminalId, status: 'DISABLED', disabled: true });
    expect(await listed(t.terminalId)).toMatchObject({ status: 'DISABLED', disabled: true });
    const cat = await c.db.query<{ active: boolean }>('SELECT active FROM terminals WHERE id = $1', [t.terminalId]);
    expect(cat.rows).toEqual([{ active: false }]);

    const hbAt = await c.db.query('SELECT last_heartbeat_at FROM sync_terminals WHERE id = $1', [t.terminalId]);
    const answersBefore = await answersOfTerminal(c, t.terminalId);
    const order = {
      terminalId: t.terminalId,
      changes: [{ entityType: 'SaleOrder', entityId: uid('order'), operation: 'CREATE', data: { order_number: 'N1', status: 'completed' } }],
    };
    const refused = [
      await t.api.post('/api/sync/push', order),
      await t.api.get('/api/sync/pull', { terminalId: t.terminalId, entityType: 'Product' }),
      await heartbeat(t.api, t.terminalId),
      await t.api.get('/api/sync/status'),
      await t.api.post('/api/sync/all', { terminalId: t.terminalId }),
    ];
    for (const r of refused) {
      expect(r.status, r.text).toBe(403);
      expect(r.body.code).toBe('TERMINAL_DISABLED');
    }
    expect((await c.db.query('SELECT last_heartbeat_at FROM sync_terminals WHERE id = $1', [t.terminalId])).rows).toEqual(hbAt.rows);
    expect(await answersOfTerminal(c, t.terminalId)).toBe(answersBefore);
    expect((await c.db.query('SELECT 1 FROM orders WHERE id = $1', [order.changes[0]?.entityId])).rows).toHaveLength(0);
    // Only this terminal: its neighbour keeps working.
    expect((await heartbeat(other.api, other.terminalId)).status).toBe(200);
    // A disabled terminal is not active: a fleet-wide trigger skips it.
    const all = await c.admin.post('/api/sync/all', { allTerminals: true });
    expect(all.status, all.text).toBe(200);
    expect(all.body.triggered).not.toContain(t.terminalId);
    expect(all.body.triggered).toContain(other.terminalId);

    const on = await c.admin.patch(`/api/terminals/${t.terminalId}`, { disabled: false });
    expect(on.status, on.text).toBe(200);
    expect(on.body).toMatchObject({ terminalId: t.terminalId, disabled: false });
    expect(on.body.status).not.toBe('DISABLED');
    expect((await c.db.query<{ active: boolean }>('SELECT active FROM terminals WHERE id = $1', [t.terminalId])).rows).toEqual([
      { active: true },
    ]);
    const pushed = await t.api.post('/api/sync/push', order);
    expect(pushed.status, pushed.text).toBe(200);
    expect(pushed.body.summary).toMatchObject({ applied: 1, rejected: 0 });
    expect((await t.api.get('/api/sync/pull', { terminalId: t.terminalId, entityType: 'Product' })).status).toBe(200);
    expect((await heartbeat(t.api, t.terminalId)).status).toBe(200);
    expect((await listed(t.terminalId)).status).toBe('ONLINE');
  });

  it('renames a terminal', async () => {
    const t = await newTerminal(await newStore());
    const r = await c.admin.patch(`/api/terminals/${t.terminalId}`, { name: 'Back till' });
    expect(r.status, r.text).toBe(200);
    expect(r.body).toMatchObject({ terminalId: t.terminalId, name: 'Back till', disabled: false });
    expect((await listed(t.terminalId)).name).toBe('Back till');
    const cat = await c.db.query<{ name: string }>('SELECT name FROM terminals WHERE id = $1', [t.terminalId]);
    expect(cat.rows).toEqual([{ name: 'Back till' }]);
  });

  it('answers 404 UNKNOWN_TERMINAL for an unknown terminal', async () => {
    const id = uid('ghost');
    const r = await c.admin.patch(`/api/terminals/${id}`, { disabled: true });
    expect(r.status, r.text).toBe(404);
    expect(r.body.code).toBe('UNKNOWN_TERMINAL');
  });

  it('is admin only: a terminal cannot re-enable itself or disable another', async () => {
    const storeId = await newStore();
    const t = await newTerminal(storeId);
    const other = await newTerminal(storeId);
    const r = await t.api.patch(`/api/terminals/${other.terminalId}`, { disabled: true });
    expect(r.status, r.text).toBe(403);
    expect(r.body.code).toBe('ADMIN_ONLY');
    expect((await listed(other.terminalId)).disabled).toBe(false);
    expect((await new ApiClient(c.url, undefined).patch(`/api/terminals/${other.terminalId}`, { disabled: true })).status).toBe(401);
    expect((await listed(other.terminalId)).disabled).toBe(false);
  });
});
