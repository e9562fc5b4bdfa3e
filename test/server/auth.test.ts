/**
 * Authentication and authorization: terminal keys, the admin token (configured or
 * generated once and stored hashed), and a terminal acting only as itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCentral } from '../../src/server/app.js';
import { ServerConfig } from '../../src/server/config.js';
import {
  ADMIN_TOKEN,
  ApiClient,
  startCentral,
  testDatabase,
  useCentral,
  type ProvisionedTerminal,
  type TestCentral,
} from '../helpers/central.js';

const c = useCentral();

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** Everything a refused call must leave alone. */
async function snapshot(db = c.db): Promise<string> {
  const counts = await db.query(
    `SELECT (SELECT count(*) FROM sync_changes)::int AS changes, (SELECT count(*) FROM sync_applied)::int AS applied,
            (SELECT count(*) FROM sync_conflicts)::int AS conflicts, (SELECT count(*) FROM sync_triggers)::int AS triggers,
            (SELECT count(*) FROM stores)::int AS stores, (SELECT count(*) FROM orders)::int AS orders,
            (SELECT count(*) FROM products)::int AS products`,
  );
  const terminals = await db.query('SELECT * FROM sync_terminals ORDER BY id');
  return JSON.stringify({ counts: counts.rows, terminals: terminals.rows });
}

const order = (terminalId: string) => ({
  terminalId,
  changes: [{ entityType: 'SaleOrder', entityId: uid('order'), operation: 'CREATE', data: { order_number: uid('n'), status: 'completed', total: 9.5 } }],
});

/** One valid call per endpoint a terminal may make, for the given terminal id. */
function calls(api: ApiClient, terminalId: string) {
  return {
    push: () => api.post('/api/sync/push', order(terminalId)),
    pull: () => api.get('/api/sync/pull', { terminalId, entityType: 'Product' }),
    heartbeat: () => api.post('/api/sync/heartbeat', { terminalId, status: 'ONLINE', appVersion: '9.9.9' }),
    status: () => api.get('/api/sync/status', { terminalId }),
    all: () => api.post('/api/sync/all', { terminalId }),
  };
}

describe('terminal keys', () => {
  let t: ProvisionedTerminal;
  beforeAll(async () => {
    t = await c.provision(uid('store'), uid('till'));
  });

  it('missing Authorization: 401 UNAUTHORIZED with a message saying what to send, on every endpoint', async () => {
    const anon = new ApiClient(c.url, undefined);
    const before = await snapshot();
    const responses = [
      ...(await Promise.all(Object.values(calls(anon, t.terminalId)).map((f) => f()))),
      await anon.post('/api/sync/resolve', { conflictId: 'whatever', resolution: 'CENTRAL_WINS' }),
      await anon.get('/api/sync/conflicts'),
      await anon.get('/api/terminals'),
      await anon.post('/api/stores', { name: 'x' }),
      await anon.post('/api/terminals', { storeId: t.storeId }),
      await anon.patch(`/api/terminals/${t.terminalId}`, { disabled: true }),
    ];
    for (const r of responses) {
      expect(r.status, r.text).toBe(401);
      expect(r.body).toMatchObject({ statusCode: 401, error: 'Unauthorized', code: 'UNAUTHORIZED' });
      expect(r.body.message).toMatch(/missing credentials/);
      expect(r.body.message).toContain('Authorization: Bearer');
    }
    expect(await snapshot()).toBe(before);
  });

  it('a wrong key: 401 with a message that says the key is unknown', async () => {
    const before = await snapshot();
    for (const key of [`tsk_${randomBytes(32).toString('base64url')}`, t.apiKey.slice(0, -1), `${t.apiKey}x`, ADMIN_TOKEN.toUpperCase()]) {
      const api = new ApiClient(c.url, key);
      for (const f of Object.values(calls(api, t.terminalId))) {
        const r = await f();
        expect(r.status, r.text).toBe(401);
        expect(r.body.code).toBe('UNAUTHORIZED');
        expect(r.body.message).toMatch(/unknown terminal key or admin token/);
      }
    }
    expect(await snapshot()).toBe(before);
  });

  it('a malformed Authorization header: 401', async () => {
    const anon = new ApiClient(c.url, undefined);
    const before = await snapshot();
    const headers = [
      t.apiKey, // no scheme
      `Basic ${Buffer.from(`user:${t.apiKey}`).toString('base64')}`,
      `Token ${t.apiKey}`,
      'Bearer',
      'Bearer ',
      `Bearer ${t.apiKey} extra`,
      `Bearer: ${t.apiKey}`,
    ];
    for (const authorization of headers) {
      const r = await anon.request('POST', '/api/sync/heartbeat', {
        body: { terminalId: t.terminalId, status: 'ONLINE' },
        headers: { authorization },
      });
      expect(r.status, `${authorization}: ${r.text}`).toBe(401);
      expect(r.body.code).toBe('UNAUTHORIZED');
    }
    expect(await snapshot()).toBe(before);
  });

  it('the right key works, with any case of "Bearer"', async () => {
    const anon = new ApiClient(c.url, undefined);
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const r = await anon.request('POST', '/api/sync/heartbeat', {
        body: { terminalId: t.terminalId, status: 'ONLINE' },
        headers: { authorization: `${scheme} ${t.apiKey}` },
      });
      expect(r.status, r.text).toBe(200);
    }
  });
});

describe('a terminal acts only as itself', () => {
  let a: ProvisionedTerminal;
  let b: ProvisionedTerminal;
  let sameStore: ProvisionedTerminal;
  beforeAll(async () => {
    const storeA = uid('store');
    a = await c.provision(storeA, uid('till-a'));
    sameStore = await c.provision(storeA, uid('till-a2'));
    b = await c.provision(uid('store'), uid('till-b'));
  });

  for (const target of ['b (another store)', 'a neighbour in the same store']) {
    it(`terminal A cannot push, pull, heartbeat, status or sync-all as ${target}: 403 WRONG_TERMINAL, nothing written`, async () => {
      const victim = target.startsWith('b') ? b : sameStore;
      const before = await snapshot();
      const ordersBefore = await c.db.query('SELECT count(*)::int AS n FROM sync_applied WHERE terminal_id = $1', [victim.terminalId]);
      for (const [name, f] of Object.entries(calls(a.api, victim.terminalId))) {
        const r = await f();
        expect(r.status, `${name}: ${r.text}`).toBe(403);
        expect(r.body.code, name).toBe('WRONG_TERMINAL');
        expect(r.body.message).toContain(a.terminalId);
        expect(r.body.message).toContain(victim.terminalId);
      }
      expect(await snapshot()).toBe(before);
      expect((await c.db.query('SELECT count(*)::int AS n FROM sync_applied WHERE terminal_id = $1', [victim.terminalId])).rows).toEqual(
        ordersBefore.rows,
      );
      const row = await c.db.query<{ last_heartbeat_at: string | null; app_version: string | null }>(
        'SELECT last_heartbeat_at, app_version FROM sync_terminals WHERE id = $1',
        [victim.terminalId],
      );
      expect(row.rows).toEqual([{ last_heartbeat_at: null, app_version: null }]);
    });
  }

  it('a terminal key is not an admin token: fleet calls and allTerminals get 403 ADMIN_ONLY', async () => {
    const before = await snapshot();
    const responses = [
      await a.api.get('/api/terminals'),
      await a.api.post('/api/stores', { name: 'x' }),
      await a.api.post('/api/terminals', { storeId: a.storeId }),
      await a.api.patch(`/api/terminals/${a.terminalId}`, { name: 'renamed' }),
      await a.api.post('/api/sync/all', { allTerminals: true }),
    ];
    for (const r of responses) {
      expect(r.status, r.text).toBe(403);
      expect(r.body.code).toBe('ADMIN_ONLY');
    }
    expect(await snapshot()).toBe(before);
  });

  it('a terminal can do all of it as itself', async () => {
    for (const [name, f] of Object.entries(calls(a.api, a.terminalId))) {
      const r = await f();
      expect(r.status, `${name}: ${r.text}`).toBe(200);
    }
  });

  it('the admin token can push, pull, heartbeat, status and sync-all as any terminal', async () => {
    const before = await c.db.query(`SELECT accepted::int AS n FROM sync_accepted_counts WHERE terminal_id = $1 AND entity_type = 'SaleOrder'`, [b.terminalId]);
    const pushed = await calls(c.admin, b.terminalId).push();
    expect(pushed.status, pushed.text).toBe(200);
    expect(pushed.body.terminalId).toBe(b.terminalId);
    expect(pushed.body.summary).toMatchObject({ applied: 1, rejected: 0 });
    const id = (pushed.body.results as { entityId: string }[])[0]?.entityId;
    // Written as terminal b, into b's store.
    const row = await c.db.query<{ store_id: string; sync_origin: string }>('SELECT store_id, sync_origin FROM orders WHERE id = $1', [id]);
    expect(row.rows).toEqual([{ store_id: b.storeId, sync_origin: b.terminalId }]);
    // Its answer is b's: on the row it wrote, and counted as accepted from b.
    expect((await c.db.query('SELECT sync_change_id AS c FROM orders WHERE id = $1', [id])).rows).toEqual([
      { c: (pushed.body.results as { changeId: string }[])[0]?.changeId },
    ]);
    expect((await c.db.query(`SELECT accepted::int AS n FROM sync_accepted_counts WHERE terminal_id = $1 AND entity_type = 'SaleOrder'`, [b.terminalId])).rows).toEqual([
      { n: ((before.rows[0] as { n: number } | undefined)?.n ?? 0) + 1 },
    ]);

    const pulled = await calls(c.admin, b.terminalId).pull();
    expect(pulled.status, pulled.text).toBe(200);
    expect(pulled.body.terminalId).toBe(b.terminalId);

    const hb = await calls(c.admin, b.terminalId).heartbeat();
    expect(hb.status, hb.text).toBe(200);
    const t = await c.db.query<{ app_version: string }>('SELECT app_version FROM sync_terminals WHERE id = $1', [b.terminalId]);
    expect(t.rows).toEqual([{ app_version: '9.9.9' }]);

    const st = await calls(c.admin, b.terminalId).status();
    expect(st.status, st.text).toBe(200);
    expect(st.body.terminalId).toBe(b.terminalId);
    expect(st.body.tables.SaleOrder.synced).toBeGreaterThanOrEqual(1);

    const all = await calls(c.admin, b.terminalId).all();
    expect(all.status, all.text).toBe(200);
    expect(all.body.triggered).toEqual([b.terminalId]);

    const fleet = await c.admin.get('/api/terminals');
    expect(fleet.status).toBe(200);
  });

  it('the admin acting as an unknown terminal gets 404 UNKNOWN_TERMINAL, nothing written', async () => {
    const ghost = uid('ghost');
    const before = await snapshot();
    for (const [name, f] of Object.entries(calls(c.admin, ghost))) {
      const r = await f();
      expect(r.status, `${name}: ${r.text}`).toBe(404);
      expect(r.body.code).toBe('UNKNOWN_TERMINAL');
    }
    expect(await snapshot()).toBe(before);
  });
});

describe('the generated admin token', () => {
  it('is generated once on a fresh database, stored hashed, printed by nobody else, and keeps working', async () => {
    const fresh = await testDatabase();
    const first = await startCentral({ db: fresh.db, config: { adminToken: undefined } });
    let second: TestCentral | undefined;
    try {
      const token = first.central.generatedAdminToken;
      expect(token).toBeDefined();
      expect(typeof token).toBe('string');
      expect((token as string).length).toBeGreaterThanOrEqual(32);

      const admin = new ApiClient(first.url, token);
      const stores = await admin.post('/api/stores', { id: 'gen-store', name: 'Generated' });
      expect(stores.status, stores.text).toBe(201);
      expect((await admin.get('/api/terminals')).status).toBe(200);
      // The harness's configured token is not valid on this central.
      const other = await new ApiClient(first.url, ADMIN_TOKEN).get('/api/terminals');
      expect(other.status, other.text).toBe(401);

      // Stored hashed.
      const stored = await fresh.db.query<Record<string, unknown>>('SELECT * FROM sync_admin');
      expect(stored.rows).toHaveLength(1);
      expect(JSON.stringify(stored.rows)).not.toContain(token as string);
      expect(stored.rows[0]?.token_hash).toBe(createHash('sha256').update(token as string).digest('hex'));

      // A second central on the same database generates nothing and accepts the first token.
      second = await startCentral({ db: fresh.db, config: { adminToken: undefined } });
      expect(second.central.generatedAdminToken).toBeUndefined();
      const again = await new ApiClient(second.url, token).post('/api/terminals', { storeId: 'gen-store', terminalId: 'gen-till' });
      expect(again.status, again.text).toBe(201);
      expect((await new ApiClient(first.url, token).get('/api/terminals')).status).toBe(200);
      expect((await fresh.db.query('SELECT * FROM sync_admin')).rows).toEqual(stored.rows);
    } finally {
      await second?.close();
      await first.close();
      await fresh.close();
    }
  });

  it('createCentral without adminToken, then a restart: the token survives the restart', async () => {
    const fresh = await testDatabase();
    const config = ServerConfig.parse({ port: 0, logLevel: 'silent', autoSyncOnStart: false });
    expect(config.adminToken).toBeUndefined();
    const one = await createCentral({ config, db: fresh.db });
    let two: Awaited<ReturnType<typeof createCentral>> | undefined;
    try {
      const token = one.generatedAdminToken;
      expect(token).toBeDefined();
      const url1 = await one.listen();
      expect((await new ApiClient(url1, token).get('/api/terminals')).status).toBe(200);
      expect((await new ApiClient(url1, `${token}x`).get('/api/terminals')).status).toBe(401);
      await one.close();

      two = await createCentral({ config, db: fresh.db });
      expect(two.generatedAdminToken).toBeUndefined();
      const url2 = await two.listen();
      expect((await new ApiClient(url2, token).get('/api/terminals')).status).toBe(200);
    } finally {
      await two?.close();
      await one.close();
      await fresh.close();
    }
  });

  it('two centrals starting together on a fresh database: exactly one generates the token, both accept it', async () => {
    const fresh = await testDatabase();
    const config = ServerConfig.parse({ port: 0, logLevel: 'silent', autoSyncOnStart: false });
    const started = await Promise.allSettled([createCentral({ config, db: fresh.db }), createCentral({ config, db: fresh.db })]);
    const centrals = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      expect(started.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled']);
      const tokens = centrals.map((x) => x.generatedAdminToken).filter((x): x is string => x !== undefined);
      expect(tokens).toHaveLength(1);
      for (const central of centrals) {
        const url = await central.listen();
        const r = await new ApiClient(url, tokens[0]).get('/api/terminals');
        expect(r.status, r.text).toBe(200);
      }
    } finally {
      for (const central of centrals) await central.close();
      await fresh.close();
    }
  });

  it('a configured admin token is used as is and nothing is generated', async () => {
    const fresh = await testDatabase();
    const own = `own-admin-token-${randomBytes(8).toString('hex')}`;
    const central = await startCentral({ db: fresh.db, config: { adminToken: own } });
    try {
      expect(central.central.generatedAdminToken).toBeUndefined();
      expect((await new ApiClient(central.url, own).get('/api/terminals')).status).toBe(200);
      expect((await fresh.db.query('SELECT * FROM sync_admin')).rows).toHaveLength(0);
    } finally {
      await central.close();
      await fresh.close();
    }
  });
});
