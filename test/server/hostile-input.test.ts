/**
 * Client input that used to get a 5xx, an oversized echo or a dropped connection
 * (issue 13, "No 5xx for any client input"). Each is now a documented 4xx
 * (`{ statusCode, error, code, message, details? }`) that changes nothing, and the
 * largest values the schemas accept are really stored (the bounds sit below every
 * database limit). Runs on PGlite, and on PostgreSQL with TEST_DATABASE_URL.
 */
import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_DEPTH } from '../../src/server/http-guards.js';
import { JSON_MAX_DEPTH, KEY_MAX_LENGTH, TEXT_MAX_LENGTH } from '../../src/shared/catalog/index.js';
import { startCentral, testDatabase, type HttpResult, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';
import { errorShapeProblems, httpExchange, rawExchange, tableDigest } from '../helpers/hostile.js';

let tdb: TestDatabase;
let c: TestCentral;
let t: ProvisionedTerminal;
let n = 0;
const uid = (prefix: string) => `${prefix}-${process.pid}-${++n}`;

beforeAll(async () => {
  tdb = await testDatabase();
  c = await startCentral({ db: tdb.db });
  t = await c.provision('hostile-store', 'hostile-till');
});

afterAll(async () => {
  await c?.close();
  await tdb?.close();
});

/**
 * Characters that do not compress (a btree index row is compressed before its size is
 * checked: a repeated letter would fit where real ids do not), 3 bytes each in UTF-8.
 */
function incompressible(length: number, seed = 1): string {
  let x = seed;
  const out: string[] = [];
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.push(String.fromCharCode(0x4e00 + ((x >>> 8) % 20000)));
  }
  return out.join('');
}

/** Every table's digest, after central has written the pull positions of earlier, accepted pulls (kept in memory a moment by design). */
async function digest() {
  await c.central.flushPositions();
  return tableDigest(c.db);
}

/** Sends, checks the answer is a documented error with this status and code, and that no row changed. */
type Refusal = HttpResult<{ code: string; message: string; details?: { path: string; message: string }[] }>;

async function refused(send: () => Promise<HttpResult>, status: number, code: string): Promise<Refusal> {
  const before = await digest();
  const r = (await send()) as Refusal;
  expect(errorShapeProblems(r.status, r.headers.get('content-type') ?? undefined, r.text), r.text.slice(0, 500)).toEqual([]);
  expect(r.status, r.text.slice(0, 500)).toBe(status);
  expect(r.body.code, r.text.slice(0, 500)).toBe(code);
  expect(await digest(), 'no row changed').toEqual(before);
  return r;
}

const sale = (data: Record<string, unknown>, over: Record<string, unknown> = {}) => ({
  entityType: 'SaleOrder',
  entityId: uid('order'),
  operation: 'CREATE',
  data: { store_id: t.storeId, order_number: uid('n'), status: 'completed', total: 1, ...data },
  ...over,
});
const push = (changes: unknown[]) => () => t.api.post('/api/sync/push', { terminalId: t.terminalId, changes });
const pushRaw = (text: string) => () => t.api.request('POST', '/api/sync/push', { raw: text });

describe('nesting is bounded before anything walks the body', () => {
  it('a push whose entityType is nested 20,000 levels deep: 400 NESTED_TOO_DEEP (it was a stack overflow, a 500)', async () => {
    const deep = `${'['.repeat(20_000)}"SaleOrder"${']'.repeat(20_000)}`;
    const r = await refused(
      pushRaw(`{"terminalId":"${t.terminalId}","changes":[{"entityType":${deep},"entityId":"x","operation":"CREATE","data":{}}]}`),
      400,
      'NESTED_TOO_DEEP',
    );
    expect(r.body.message).toContain(String(MAX_BODY_DEPTH));
  });

  it('the same with objects, and on every endpoint with a body', async () => {
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    await refused(pushRaw(`{"terminalId":"${t.terminalId}","changes":[{"entityType":${deep}}]}`), 400, 'NESTED_TOO_DEEP');
    const bodies: [string, string, () => Promise<HttpResult>][] = [
      ['POST', '/api/sync/heartbeat', () => t.api.request('POST', '/api/sync/heartbeat', { raw: `{"terminalId":"${t.terminalId}","status":${deep}}` })],
      ['POST', '/api/sync/resolve', () => t.api.request('POST', '/api/sync/resolve', { raw: `{"conflictId":"x","resolution":"MANUAL_MERGE","resolvedData":${deep}}` })],
      ['POST', '/api/sync/all', () => t.api.request('POST', '/api/sync/all', { raw: `{"terminalId":${deep}}` })],
      ['POST', '/api/stores', () => c.admin.request('POST', '/api/stores', { raw: `{"name":${deep}}` })],
      ['POST', '/api/terminals', () => c.admin.request('POST', '/api/terminals', { raw: `{"storeId":${deep}}` })],
      ['PATCH', '/api/terminals/:id', () => c.admin.request('PATCH', `/api/terminals/${t.terminalId}`, { raw: `{"name":${deep}}` })],
    ];
    for (const [, , send] of bodies) await refused(send, 400, 'NESTED_TOO_DEEP');
  });

  it(`the bound is ${MAX_BODY_DEPTH} levels exactly, and brackets inside strings do not count`, async () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    // The heartbeat object is one level: an unknown key's value of MAX_BODY_DEPTH - 1 levels is validated (and refused as unknown).
    await refused(() => t.api.request('POST', '/api/sync/heartbeat', { raw: `{"terminalId":"${t.terminalId}","status":"ONLINE","x":${nested(MAX_BODY_DEPTH - 1)}}` }), 400, 'VALIDATION_ERROR');
    await refused(() => t.api.request('POST', '/api/sync/heartbeat', { raw: `{"terminalId":"${t.terminalId}","status":"ONLINE","x":${nested(MAX_BODY_DEPTH)}}` }), 400, 'NESTED_TOO_DEEP');
    const ok = await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE', appVersion: `${'[{\\"'.repeat(15)}` });
    expect(ok.status, ok.text).toBe(200);
  });

  it(`a json column nests at most ${JSON_MAX_DEPTH} levels: that deep is stored, one more is a 400 naming the field`, async () => {
    const nestedValue = (depth: number): unknown => {
      let v: unknown = 'leaf';
      for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
      return v;
    };
    const audit = (details: unknown) => ({ entityType: 'AuditLog', entityId: uid('audit'), operation: 'CREATE', data: { store_id: t.storeId, action: 'fuzz', details } });
    const r = await refused(push([audit(nestedValue(JSON_MAX_DEPTH + 1))]), 400, 'VALIDATION_ERROR');
    expect(r.body.details?.map((d) => d.path)).toContain('body.changes.0.data.details');
    const ok = await push([audit(nestedValue(JSON_MAX_DEPTH))])();
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.summary.applied, ok.text).toBe(1);
  });
});

describe('ids and foreign keys are bounded below the btree limit', () => {
  it.each(['user_id', 'customer_id'])(
    `a %s of 3,000 characters: 400 naming the field (it was a 500, SQLSTATE 54000 on PostgreSQL); one of ${KEY_MAX_LENGTH} is stored`,
    async (column) => {
      const r = await refused(push([sale({ [column]: incompressible(3000) })]), 400, 'VALIDATION_ERROR');
      expect(r.body.details?.map((d) => d.path)).toContain(`body.changes.0.data.${column}`);
      expect(r.body.message).toContain(`body.changes.0.data.${column}`);
      expect(r.body.message).toContain(String(KEY_MAX_LENGTH));
      // The bound is not tighter than the database: the longest accepted id is really stored.
      const value = incompressible(KEY_MAX_LENGTH, column.length);
      const order = sale({ [column]: value });
      const ok = await push([order])();
      expect(ok.status, ok.text.slice(0, 500)).toBe(200);
      expect(ok.body.summary.applied, ok.text.slice(0, 500)).toBe(1);
      const row = await c.db.query<Record<string, string>>(`SELECT ${column} AS v FROM orders WHERE id = $1`, [order.entityId]);
      expect(row.rows[0]?.v).toBe(value);
    },
  );

  it('a foreign key in resolvedData, a store id and an outbox key of 3,000 characters: 400 naming the field', async () => {
    const big = incompressible(3000, 7);
    const r1 = await refused(
      () => t.api.post('/api/sync/resolve', { conflictId: 'none', resolution: 'MANUAL_MERGE', resolvedData: { supplier_id: big } }),
      404,
      'UNKNOWN_CONFLICT',
    );
    expect(r1.text.length).toBeLessThan(1000);
    const r2 = await refused(() => c.admin.post('/api/stores', { id: big, name: 'x' }), 400, 'VALIDATION_ERROR');
    expect(r2.body.details?.map((d) => d.path)).toContain('body.id');
    const r3 = await refused(
      () => t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE', outbox: { [big]: { pending: 1, failed: 0, synced: 0, conflicts: 0 } } }),
      400,
      'VALIDATION_ERROR',
    );
    expect(r3.text.length).toBeLessThan(2000);
  });

  it(`text one character over its bound (${TEXT_MAX_LENGTH}): 400 naming the field; at the bound, stored with 200-character ids`, async () => {
    const r = await refused(push([sale({ notes: 'x'.repeat(TEXT_MAX_LENGTH + 1) })]), 400, 'VALIDATION_ERROR');
    expect(r.body.details?.map((d) => d.path)).toContain('body.changes.0.data.notes');
    const id = `order-${incompressible(KEY_MAX_LENGTH - 6, 3)}`;
    const data = {
      id,
      store_id: t.storeId,
      order_number: incompressible(KEY_MAX_LENGTH, 4),
      status: 'completed',
      user_id: incompressible(KEY_MAX_LENGTH, 5),
      customer_id: incompressible(KEY_MAX_LENGTH, 6),
      notes: incompressible(TEXT_MAX_LENGTH, 8),
    };
    const ok = await t.api.post('/api/sync/push', { terminalId: t.terminalId, changes: [{ entityType: 'SaleOrder', entityId: id, operation: 'CREATE', data }] });
    expect(ok.status, ok.text.slice(0, 500)).toBe(200);
    expect(ok.body.summary.applied, ok.text.slice(0, 500)).toBe(1);
    const row = await c.db.query<{ user_id: string; customer_id: string; notes: string }>('SELECT user_id, customer_id, notes FROM orders WHERE id = $1', [id]);
    expect(row.rows[0]).toEqual({ user_id: data.user_id, customer_id: data.customer_id, notes: data.notes });
  });
});

describe('an error quotes at most a short excerpt of the input', () => {
  it('an unknown entityType of 2 MB: a small 400 (it was echoed whole, 4 MB out)', async () => {
    const huge = 'W'.repeat(2_000_000);
    const r = await refused(push([sale({}, { entityType: huge })]), 400, 'VALIDATION_ERROR');
    expect(r.text.length).toBeLessThan(2048);
    expect(r.body.message).toContain('unknown entity type "WWWW');
    expect(r.body.message).toContain('(2000000 characters)');
  });

  it('a 1 MB unknown column, a 1,000-change push with every change wrong, a long unknown route, a long content-type: each answer small', async () => {
    const key = 'k'.repeat(1_000_000);
    const r1 = await refused(push([sale({ [key]: 1 })]), 400, 'VALIDATION_ERROR');
    expect(r1.text.length).toBeLessThan(4096);
    const r2 = await refused(push(Array.from({ length: 1000 }, () => sale({}, { operation: 'UPSERT' }))), 400, 'VALIDATION_ERROR');
    expect(r2.body.details).toHaveLength(10);
    expect(r2.body.message).toContain('and 990 more');
    expect(r2.text.length).toBeLessThan(4096);
    const r3 = await refused(() => t.api.request('GET', `/${'p'.repeat(10_000)}`), 404, 'NOT_FOUND');
    expect(r3.text.length).toBeLessThan(2048);
    const r4 = await refused(
      () => t.api.request('POST', '/api/sync/heartbeat', { raw: '{}', headers: { 'content-type': `application/${'x'.repeat(8000)}` } }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(r4.text.length).toBeLessThan(1024);
  });

  it('a URL that does not decode, a path parameter over the router limit: documented 400 and 414, the URL not quoted', async () => {
    const r1 = await refused(() => c.admin.request('GET', `/api/${'%zz'.repeat(1000)}`), 400, 'BAD_URL');
    expect(r1.text).not.toContain('%zz');
    const r2 = await refused(() => c.admin.patch(`/api/terminals/${'t'.repeat(5000)}`, { name: 'x' }), 414, 'URI_TOO_LONG');
    expect(r2.text).not.toContain('ttttt');
  });
});

describe('counts reported by a heartbeat are bounded (status sums them over the tables)', () => {
  it('a count over 1,000,000,000, an empty outbox key, more than 100 entity types: 400', async () => {
    const counts = { pending: 0, failed: 0, synced: 0, conflicts: 0 };
    const hb = (outbox: unknown) => () => t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE', outbox });
    await refused(hb({ Product: { ...counts, pending: 1e308 } }), 400, 'VALIDATION_ERROR');
    await refused(hb({ '': counts }), 400, 'VALIDATION_ERROR');
    await refused(hb(Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`Type${i}`, counts]))), 400, 'VALIDATION_ERROR');
    // The largest counts in two tables: the status's totals go past the bound on one report.
    const big = { ...counts, pending: 1_000_000_000 };
    const ok = await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE', outbox: { Product: big, Customer: big } });
    expect(ok.status, ok.text).toBe(200);
    const status = await c.admin.get('/api/sync/status', { terminalId: t.terminalId });
    expect(status.status, status.text).toBe(200);
    expect(status.body.totals.pending).toBe(2_000_000_000);
  });
});

describe("the HTTP parser's own refusals: documented shape, Connection: close, a clean end", () => {
  /** One documented error answer, then the server closed the connection with a FIN (no reset). */
  function expectCleanRefusal(x: Awaited<ReturnType<typeof rawExchange>>, status: number, code: string): void {
    expect(x.ending, x.error).toBe('end');
    expect(x.leftover).toBe(0);
    expect(x.responses).toHaveLength(1);
    const res = x.responses[0] as (typeof x.responses)[number];
    expect(errorShapeProblems(res.status, res.headers['content-type'], res.body), res.body).toEqual([]);
    expect(res.status).toBe(status);
    expect(JSON.parse(res.body).code).toBe(code);
    expect(res.headers.connection).toBe('close');
  }

  it('a malformed request line: 400 BAD_REQUEST', async () => {
    const before = await digest();
    expectCleanRefusal(await rawExchange(c.url, 'GARBAGE\r\n\r\n'), 400, 'BAD_REQUEST');
    expectCleanRefusal(await rawExchange(c.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'), 400, 'BAD_REQUEST');
    expect(await digest()).toEqual(before);
  });

  it('headers over the size limit: 431 HEADERS_TOO_LARGE, also while the client is still sending', async () => {
    for (const size of [20_000, 200_000]) {
      expectCleanRefusal(await rawExchange(c.url, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(size)}\r\n\r\n`), 431, 'HEADERS_TOO_LARGE');
    }
    expectCleanRefusal(await rawExchange(c.url, `GET /${'u'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 431, 'HEADERS_TOO_LARGE');
  });

  it('a chunked body that breaks off mid-request: 400 BAD_REQUEST', async () => {
    const before = await digest();
    const head = `POST /api/sync/heartbeat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.apiKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    expectCleanRefusal(await rawExchange(c.url, `${head}5\r\n{"ter\r\nzz\r\n`), 400, 'BAD_REQUEST');
    expect(await digest()).toEqual(before);
  });

  it('a client keeping connections alive sends its next request on a fresh one (no ECONNRESET)', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < 3; i++) {
        const big = await httpExchange(c.url, agent, { method: 'GET', path: '/healthz', headers: { 'x-big': 'a'.repeat(20_000) } });
        expect(big.status).toBe(431);
        expect(big.headers.connection).toBe('close');
        expect(errorShapeProblems(big.status, big.headers['content-type'], big.text)).toEqual([]);
        const next = await httpExchange(c.url, agent, { method: 'GET', path: '/healthz', headers: {} });
        expect(next.status, next.text).toBe(200);
      }
    } finally {
      agent.destroy();
    }
  });

  it('an HTTP/1.1 request without Host: 400 MISSING_HOST (node answered with an empty body)', async () => {
    expectCleanRefusal(await rawExchange(c.url, 'GET /api/sync/status HTTP/1.1\r\n\r\n'), 400, 'MISSING_HOST');
  });

  it("what node's HTTP server answered by itself: an unknown Expect (417), CONNECT (405), an Upgrade outside socket.io (400)", async () => {
    expectCleanRefusal(await rawExchange(c.url, 'GET /api/sync/status HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n'), 417, 'EXPECTATION_FAILED');
    expectCleanRefusal(await rawExchange(c.url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'), 405, 'METHOD_NOT_ALLOWED');
    expectCleanRefusal(
      await rawExchange(c.url, 'GET /api/sync/status HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 900),
      400,
      'UPGRADE_REFUSED',
    );
  });

  it('garbage pipelined after a request: that request is answered first, then the refusal', async () => {
    const x = await rawExchange(c.url, 'GET /api/sync/status HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n');
    expect(x.ending, x.error).toBe('end');
    expect(x.responses.map((r) => r.status)).toEqual([401, 400]);
    expect(x.responses[1]?.headers.connection).toBe('close');
  });
});
