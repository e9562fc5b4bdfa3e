/**
 * Operations endpoints: health, the OpenAPI document and its UI, Prometheus metrics.
 */
import { randomBytes } from 'node:crypto';
import { io as connect, type Socket } from 'socket.io-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, useCentral, type ProvisionedTerminal } from '../helpers/central.js';

const c = useCentral();

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** Samples of the Prometheus text format: name, labels, value. */
function parseMetrics(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape() {
  const r = await new ApiClient(c.url, undefined).get('/metrics');
  expect(r.status, r.text).toBe(200);
  const samples = parseMetrics(r.text);
  /** Sum of the samples of `name` whose labels include `labels`. */
  const value = (name: string, labels: Record<string, string> = {}) =>
    samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((n, s) => n + s.value, 0);
  return { text: r.text, samples, value, contentType: r.headers.get('content-type') ?? '' };
}

const order = () => ({ entityType: 'SaleOrder', entityId: uid('order'), operation: 'CREATE', data: { order_number: uid('n'), status: 'completed' } });

describe('GET /healthz', () => {
  it('answers 200 { status: ok, database } without credentials', async () => {
    const r = await new ApiClient(c.url, undefined).get('/healthz');
    expect(r.status, r.text).toBe(200);
    expect(r.body).toEqual({ status: 'ok', database: c.db.kind });
    expect(r.body.database).toBe(process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite');
  });
});

describe('OpenAPI', () => {
  it('GET /api-docs/json is an OpenAPI 3 document with every seed endpoint, the fleet endpoints and bearer auth', async () => {
    const r = await new ApiClient(c.url, undefined).get('/api-docs/json');
    expect(r.status, r.text).toBe(200);
    const doc = r.body as {
      openapi: string;
      info: { title: string };
      paths: Record<string, Record<string, { security?: Record<string, unknown>[]; requestBody?: unknown; parameters?: { name: string; in: string }[] }>>;
      components: { securitySchemes: Record<string, { type: string; scheme?: string }> };
    };
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(typeof doc.info.title).toBe('string');
    const expected: [string, string][] = [
      ['/api/sync/push', 'post'],
      ['/api/sync/pull', 'get'],
      ['/api/sync/resolve', 'post'],
      ['/api/sync/heartbeat', 'post'],
      ['/api/sync/all', 'post'],
      ['/api/sync/status', 'get'],
      ['/api/terminals', 'post'],
      ['/api/terminals', 'get'],
      ['/api/stores', 'post'],
    ];
    for (const [path, method] of expected) {
      expect(doc.paths[path], path).toBeDefined();
      const op = doc.paths[path]?.[method];
      expect(op, `${method.toUpperCase()} ${path}`).toBeDefined();
      expect(op?.security, `${method.toUpperCase()} ${path} security`).toEqual([{ bearerAuth: [] }]);
    }
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/api/terminals/{'))).toBe(true);
    const scheme = Object.values(doc.components.securitySchemes).find((s) => s.type === 'http' && s.scheme?.toLowerCase() === 'bearer');
    expect(scheme, JSON.stringify(doc.components.securitySchemes)).toBeDefined();
    // Bodies and query parameters come from the shared zod schemas.
    expect(doc.paths['/api/sync/push']?.post?.requestBody).toBeDefined();
    const pullParams = (doc.paths['/api/sync/pull']?.get?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect(pullParams).toEqual(expect.arrayContaining(['terminalId', 'entityType', 'lastSync']));
    // Ops endpoints are in the API document too, without credentials (test/server/api-docs.test.ts checks their shapes).
    expect(doc.paths['/metrics']?.get?.security).toBeUndefined();
    expect(doc.paths['/healthz']?.get?.security).toBeUndefined();
    expect(doc.paths['/healthz']?.get).toBeDefined();
  });

  it('GET /api-docs serves the Swagger UI (HTML, possibly after a redirect)', async () => {
    const res = await fetch(`${c.url}/api-docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type') ?? '').toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toMatch(/<html/i);
    expect(html).toMatch(/swagger/i);
  });
});

describe('GET /metrics', () => {
  let t: ProvisionedTerminal;
  beforeAll(async () => {
    t = await c.provision(uid('store'), uid('till'));
  });

  it('is Prometheus text with the TillSync metrics', async () => {
    const m = await scrape();
    expect(m.contentType).toMatch(/^text\/plain/);
    expect(m.contentType).toMatch(/version=0\.0\.4/);
    for (const name of [
      'tillsync_http_requests_total',
      'tillsync_pushes_total',
      'tillsync_pulls_total',
      'tillsync_conflicts_total',
      'tillsync_connected_terminals',
    ]) {
      expect(m.text).toContain(`# TYPE ${name} `);
      expect(m.text).toContain(`# HELP ${name} `);
    }
    expect(m.text).toContain('# TYPE tillsync_http_requests_total counter');
    expect(m.text).toContain('# TYPE tillsync_connected_terminals gauge');
    // Every sample line parses (the parser throws otherwise) and is a number.
    for (const s of m.samples) expect(Number.isNaN(s.value), s.name).toBe(false);
  });

  it('the counters move after a push and a pull, by exactly one request each', async () => {
    const before = await scrape();
    const pushed = await t.api.post('/api/sync/push', { terminalId: t.terminalId, changes: [order(), order()] });
    expect(pushed.status, pushed.text).toBe(200);
    const pulled = await t.api.get('/api/sync/pull', { terminalId: t.terminalId, entityType: 'Product' });
    expect(pulled.status, pulled.text).toBe(200);
    const after = await scrape();

    expect(after.value('tillsync_pushes_total') - before.value('tillsync_pushes_total')).toBe(1);
    expect(
      after.value('tillsync_pulls_total', { entity_type: 'Product' }) - before.value('tillsync_pulls_total', { entity_type: 'Product' }),
    ).toBe(1);
    expect(after.value('tillsync_pulls_total') - before.value('tillsync_pulls_total')).toBe(1);
    expect(
      after.value('tillsync_pushed_changes_total', { entity_type: 'SaleOrder', status: 'applied' }) -
        before.value('tillsync_pushed_changes_total', { entity_type: 'SaleOrder', status: 'applied' }),
    ).toBe(2);
    const req = (m: typeof after, route: string, method: string) => m.value('tillsync_http_requests_total', { route, method, status: '200' });
    expect(req(after, '/api/sync/push', 'POST') - req(before, '/api/sync/push', 'POST')).toBe(1);
    expect(req(after, '/api/sync/pull', 'GET') - req(before, '/api/sync/pull', 'GET')).toBe(1);
    // The first scrape itself is counted too (the second one is still in flight when it renders).
    expect(req(after, '/metrics', 'GET') - req(before, '/metrics', 'GET')).toBe(1);
  });

  it('refused requests are counted by their status code, under the route template', async () => {
    const before = await scrape();
    const r = await new ApiClient(c.url, undefined).get('/api/sync/status', { terminalId: t.terminalId });
    expect(r.status).toBe(401);
    const bad = await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'HAPPY' });
    expect(bad.status).toBe(400);
    const patched = await c.admin.patch(`/api/terminals/${t.terminalId}`, { name: 'renamed' });
    expect(patched.status).toBe(200);
    const after = await scrape();
    const d = (labels: Record<string, string>) => after.value('tillsync_http_requests_total', labels) - before.value('tillsync_http_requests_total', labels);
    expect(d({ route: '/api/sync/status', method: 'GET', status: '401' })).toBe(1);
    expect(d({ route: '/api/sync/heartbeat', method: 'POST', status: '400' })).toBe(1);
    // One series for every terminal, not one per terminal id.
    expect(d({ route: '/api/terminals/:terminalId', method: 'PATCH', status: '200' })).toBe(1);
    expect(after.samples.some((s) => s.name === 'tillsync_http_requests_total' && (s.labels.route ?? '').includes(t.terminalId))).toBe(false);
  });

  it('tillsync_conflicts_total moves when a push meets a conflict', async () => {
    const poId = uid('po');
    const created = await t.api.post('/api/sync/push', {
      terminalId: t.terminalId,
      changes: [{ entityType: 'PurchaseOrder', entityId: poId, operation: 'CREATE', data: { status: 'draft' } }],
    });
    expect(created.body.summary?.applied, created.text).toBe(1);
    await c.db.query(`UPDATE purchase_orders SET notes = 'HQ' WHERE id = $1`, [poId]);
    const before = await scrape();
    const parked = await t.api.post('/api/sync/push', {
      terminalId: t.terminalId,
      changes: [{ entityType: 'PurchaseOrder', entityId: poId, operation: 'UPDATE', data: { status: 'ordered' }, syncVersion: 1 }],
    });
    expect(parked.body.results?.[0]?.resolution, parked.text).toBe('PARKED');
    const after = await scrape();
    const labels = { entity_type: 'PurchaseOrder', resolution: 'PARKED' };
    expect(after.value('tillsync_conflicts_total', labels) - before.value('tillsync_conflicts_total', labels)).toBe(1);
    expect(after.value('tillsync_conflicts_total') - before.value('tillsync_conflicts_total')).toBe(1);
  });

  it('tillsync_connected_terminals counts terminals with a registered socket, and the fleet list shows them connected', async () => {
    const a = await c.provision(uid('store'), uid('till'));
    const sockets: Socket[] = [];
    const open = async (p: ProvisionedTerminal) => {
      const s = connect(c.url, { auth: { token: p.apiKey }, transports: ['websocket'], reconnection: false, forceNew: true });
      sockets.push(s);
      const reply = await new Promise<{ ok: boolean; error?: string }>((resolve, reject) => {
        s.on('connect_error', reject);
        s.on('connect', () => s.emit('terminal:register', { terminalId: p.terminalId }, resolve));
      });
      expect(reply).toEqual({ ok: true });
    };
    const gauge = async () => (await scrape()).value('tillsync_connected_terminals');
    const connected = async (id: string) =>
      ((await c.admin.get('/api/terminals')).body.terminals as { terminalId: string; connected: boolean }[]).find((x) => x.terminalId === id)?.connected;
    try {
      const base = await gauge();
      await open(a);
      expect(await gauge()).toBe(base + 1);
      expect(await connected(a.terminalId)).toBe(true);
      // A second socket of the same terminal (a reconnect racing the old socket) is still one terminal.
      await open(a);
      expect.soft(await gauge(), 'two sockets of one terminal').toBe(base + 1);
      expect(await connected(a.terminalId)).toBe(true);
      for (const s of sockets.splice(0)) s.disconnect();
      await expect.poll(gauge, { timeout: 5000 }).toBe(base);
      await expect.poll(() => connected(a.terminalId), { timeout: 5000 }).toBe(false);
    } finally {
      for (const s of sockets) s.disconnect();
    }
  });
});
