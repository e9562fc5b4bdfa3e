/**
 * Client mistakes on every endpoint: malformed JSON, wrong types, unknown fields,
 * unknown entity types, oversized bodies, unknown routes. Each gets a clear 4xx
 * JSON answer (never a 500) and writes nothing.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, startCentral, testDatabase, type HttpResult, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';

let tdb: TestDatabase;
let c: TestCentral;
/** The same database behind a 2 KiB body limit. */
let small: TestCentral;
let t: ProvisionedTerminal;
/** An open (parked) conflict of t's, for the resolve cases. */
let conflictId: string;
let poId: string;

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  tdb = await testDatabase();
  c = await startCentral({ db: tdb.db });
  small = await startCentral({ db: tdb.db, config: { bodyLimitBytes: 2048 } });
  t = await c.provision(uid('store'), uid('till'));
  // A parked PurchaseOrder conflict (MANUAL_MERGE): central changes the row after the terminal saw version 1.
  poId = uid('po');
  const created = await t.api.post('/api/sync/push', {
    terminalId: t.terminalId,
    changes: [{ entityType: 'PurchaseOrder', entityId: poId, operation: 'CREATE', data: { notes: 'terminal', status: 'draft' } }],
  });
  expect(created.body.summary?.applied, created.text).toBe(1);
  await c.db.query(`UPDATE purchase_orders SET notes = 'hq' WHERE id = $1`, [poId]);
  const parked = await t.api.post('/api/sync/push', {
    terminalId: t.terminalId,
    changes: [{ entityType: 'PurchaseOrder', entityId: poId, operation: 'UPDATE', data: { notes: 'till' }, syncVersion: 1 }],
  });
  expect(parked.body.results?.[0]?.resolution, parked.text).toBe('PARKED');
  conflictId = parked.body.results[0].conflictId;
});

afterAll(async () => {
  await small?.close();
  await c?.close();
  await tdb?.close();
});

/** Every row a request could write, counted, plus the rows a request could update in place. */
async function snapshot(): Promise<string> {
  const counts = await c.db.query(
    `SELECT (SELECT count(*) FROM sync_changes)::int AS sync_changes, (SELECT count(*) FROM sync_applied)::int AS sync_applied,
            (SELECT count(*) FROM sync_terminals)::int AS sync_terminals, (SELECT count(*) FROM stores)::int AS stores,
            (SELECT count(*) FROM terminals)::int AS terminals, (SELECT count(*) FROM sync_conflicts)::int AS sync_conflicts,
            (SELECT count(*) FROM sync_triggers)::int AS sync_triggers, (SELECT count(*) FROM orders)::int AS orders,
            (SELECT count(*) FROM products)::int AS products, (SELECT count(*) FROM audit_logs)::int AS audit_logs,
            (SELECT coalesce(sum(accepted), 0) FROM sync_accepted_counts)::int AS accepted`,
  );
  const terminals = await c.db.query('SELECT * FROM sync_terminals ORDER BY id');
  const conflicts = await c.db.query('SELECT id, status, resolution FROM sync_conflicts ORDER BY id');
  const po = await c.db.query('SELECT * FROM purchase_orders ORDER BY id');
  return JSON.stringify({ counts: counts.rows, terminals: terminals.rows, conflicts: conflicts.rows, po: po.rows });
}

interface Expect {
  status: number;
  code: string;
  /** A details entry must have exactly this path. */
  path?: string;
  /** The message must name these. */
  mentions?: string[];
}

/** Sends, checks the answer is the expected clear JSON error, and that nothing was written. */
async function refused(send: () => Promise<HttpResult>, want: Expect): Promise<HttpResult> {
  const before = await snapshot();
  const r = await send();
  expect(r.status, r.text).toBe(want.status);
  expect(r.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  expect(r.body, r.text).toMatchObject({ statusCode: want.status, code: want.code, message: expect.any(String) });
  if (want.path !== undefined) {
    const paths = ((r.body as { details?: { path: string }[] }).details ?? []).map((d) => d.path);
    expect(paths, r.text).toContain(want.path);
    expect((r.body as { message: string }).message).toContain(want.path);
  }
  for (const m of want.mentions ?? []) expect((r.body as { message: string }).message, r.text).toContain(m);
  expect(await snapshot(), 'nothing written').toBe(before);
  return r;
}

const V = (path: string, mentions?: string[]): Expect => ({ status: 400, code: 'VALIDATION_ERROR', path, ...(mentions ? { mentions } : {}) });
const BAD_JSON: Expect = { status: 400, code: 'INVALID_JSON' };

const T = () => t.terminalId;
const term = () => t.api;
const admin = () => c.admin;
const order = (over: Record<string, unknown> = {}) => ({
  entityType: 'SaleOrder',
  entityId: uid('order'),
  operation: 'CREATE',
  data: { order_number: uid('n'), status: 'completed', total: 12.5 },
  ...over,
});
const raw = (api: () => ApiClient, method: string, path: () => string, text: string) => () => api().request(method, path(), { raw: text });
const post = (api: () => ApiClient, path: string, body: () => unknown) => () => api().post(path, body());
const get = (api: () => ApiClient, path: string, query: () => Record<string, string>) => () => api().get(path, query());

type Case = [name: string, send: () => Promise<HttpResult>, want: Expect];

const MALFORMED = [
  ['truncated', '{"terminalId": "x", "changes": ['],
  ['single quotes', "{'terminalId': 'x'}"],
  ['trailing garbage', '{"terminalId": "x"} }'],
  ['bare word', 'undefined'],
] as const;

function malformed(endpoint: string, api: () => ApiClient, method: string, path: () => string): Case[] {
  return MALFORMED.map(([what, text]) => [`${endpoint}: malformed JSON (${what}) -> 400 INVALID_JSON`, raw(api, method, path, text), BAD_JSON]);
}

const pushCases: Case[] = [
  ...malformed('push', term, 'POST', () => '/api/sync/push'),
  ['push: terminalId a number', post(term, '/api/sync/push', () => ({ terminalId: 42, changes: [] })), V('body.terminalId')],
  ['push: changes an object', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: {} })), V('body.changes')],
  ['push: changes missing', post(term, '/api/sync/push', () => ({ terminalId: T() })), V('body.changes')],
  ['push: syncVersion a string', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ syncVersion: '1' })] })), V('body.changes.0.syncVersion')],
  ['push: syncVersion negative', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ syncVersion: -1 })] })), V('body.changes.0.syncVersion')],
  ['push: operation unknown', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ operation: 'UPSERT' })] })), V('body.changes.0.operation')],
  ['push: entityId empty', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ entityId: '' })] })), V('body.changes.0.entityId')],
  ['push: data an array', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ data: [] })] })), V('body.changes.0.data')],
  ['push: data a string', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ data: 'x' })] })), V('body.changes.0.data', ['JSON object'])],
  ['push: data null', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ data: null })] })), V('body.changes.0.data')],
  ['push: baseData an array', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ baseData: [1] })] })), V('body.changes.0.baseData')],
  [
    'push: a data column of the wrong type (price not a number)',
    post(term, '/api/sync/push', () => ({
      terminalId: T(),
      changes: [{ entityType: 'Product', entityId: uid('p'), operation: 'CREATE', data: { sku: 's', name: 'n', price: 'cheap' } }],
    })),
    V('body.changes.0.data.price'),
  ],
  [
    'push: a data column outside its values (order status)',
    post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ data: { order_number: '1', status: 'open' } })] })),
    V('body.changes.0.data.status'),
  ],
  [
    'push: a timestamp column that is not ISO 8601',
    post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ data: { order_number: '1', status: 'completed', ordered_at: 'yesterday' } })] })),
    V('body.changes.0.data.ordered_at'),
  ],
  [
    'push: baseData of the wrong type',
    post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ baseData: { total: true } })] })),
    V('body.changes.0.baseData.total'),
  ],
  [
    'push: data.id differs from entityId',
    post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ data: { id: 'other', order_number: '1', status: 'completed' } })] })),
    V('body.changes.0.data.id'),
  ],
  ['push: CREATE without data', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ data: undefined })] })), V('body.changes.0.data')],
  ['push: hlc malformed', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ hlc: 'noon' })] })), V('body.changes.0.hlc')],
  ['push: unknown field in the envelope', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [], extra: 1 })), V('body', ['extra'])],
  ['push: unknown field in a change', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ colour: 'red' })] })), V('body.changes.0', ['colour'])],
  [
    'push: unknown field in push data',
    post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ data: { order_number: '1', status: 'completed', bogus_column: 1 } })] })),
    V('body.changes.0.data', ['bogus_column']),
  ],
  [
    'push: a local-only column in push data',
    post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ data: { order_number: '1', status: 'completed', sync_status: 'PENDING' } })] })),
    V('body.changes.0.data', ['sync_status']),
  ],
  [
    'push: unknown entity type',
    post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ entityType: 'Widget' })] })),
    V('body.changes.0.entityType', ['Widget']),
  ],
  [
    'push: unknown entity type in schemaHashes',
    post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order()], schemaHashes: { Widget: 'abc' } })),
    { status: 400, code: 'VALIDATION_ERROR', mentions: ['Widget'] },
  ],
  [
    'push: one valid change and one invalid: the whole request is refused, the valid one not applied',
    post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order(), order({ operation: 'MERGE' })] })),
    V('body.changes.1.operation'),
  ],
];

const pullCases: Case[] = [
  ['pull: unknown entity type', get(term, '/api/sync/pull', () => ({ terminalId: T(), entityType: 'Widget' })), V('querystring.entityType', ['Widget'])],
  ['pull: entityType missing', get(term, '/api/sync/pull', () => ({ terminalId: T() })), V('querystring.entityType')],
  ['pull: terminalId missing', get(term, '/api/sync/pull', () => ({ entityType: 'Product' })), V('querystring.terminalId')],
  ['pull: limit not a number', get(term, '/api/sync/pull', () => ({ terminalId: T(), entityType: 'Product', limit: 'abc' })), V('querystring.limit')],
  ['pull: limit 0', get(term, '/api/sync/pull', () => ({ terminalId: T(), entityType: 'Product', limit: '0' })), V('querystring.limit')],
  ['pull: limit above the maximum', get(term, '/api/sync/pull', () => ({ terminalId: T(), entityType: 'Product', limit: '5001' })), V('querystring.limit')],
  ['pull: lastSync not a date', get(term, '/api/sync/pull', () => ({ terminalId: T(), entityType: 'Product', lastSync: 'yesterday' })), V('querystring.lastSync')],
  ['pull: unknown query parameter', get(term, '/api/sync/pull', () => ({ terminalId: T(), entityType: 'Product', since: 'x' })), V('querystring', ['since'])],
  ['pull: terminalId malformed', get(term, '/api/sync/pull', () => ({ terminalId: 'has space', entityType: 'Product' })), V('querystring.terminalId')],
  [
    'pull: entityType given twice',
    () => term().request('GET', `/api/sync/pull?terminalId=${T()}&entityType=Product&entityType=Brand`),
    V('querystring.entityType'),
  ],
  ['pull: a cursor this server never issued', get(term, '/api/sync/pull', () => ({ terminalId: T(), entityType: 'Product', cursor: 'not-a-cursor' })), { status: 400, code: 'INVALID_CURSOR' }],
];

const resolveCases: Case[] = [
  ...malformed('resolve', term, 'POST', () => '/api/sync/resolve'),
  ['resolve: conflictId a number', post(term, '/api/sync/resolve', () => ({ conflictId: 5, resolution: 'CENTRAL_WINS' })), V('body.conflictId')],
  ['resolve: resolution unknown', post(term, '/api/sync/resolve', () => ({ conflictId, resolution: 'BOTH' })), V('body.resolution')],
  ['resolve: resolvedData a string', post(term, '/api/sync/resolve', () => ({ conflictId, resolution: 'MANUAL_MERGE', resolvedData: 'x' })), V('body.resolvedData')],
  ['resolve: MANUAL_MERGE without resolvedData', post(term, '/api/sync/resolve', () => ({ conflictId, resolution: 'MANUAL_MERGE' })), V('body.resolvedData')],
  ['resolve: unknown field', post(term, '/api/sync/resolve', () => ({ conflictId, resolution: 'CENTRAL_WINS', winner: 'me' })), V('body', ['winner'])],
  [
    'resolve: resolvedData of the wrong type for the entity',
    post(term, '/api/sync/resolve', () => ({ conflictId, resolution: 'MANUAL_MERGE', resolvedData: { total: 'lots' } })),
    { status: 400, code: 'VALIDATION_ERROR', mentions: ['PurchaseOrder'] },
  ],
  [
    'resolve: resolvedData with an unknown column',
    post(term, '/api/sync/resolve', () => ({ conflictId, resolution: 'MANUAL_MERGE', resolvedData: { notes: 'ok', flavour: 'x' } })),
    { status: 400, code: 'VALIDATION_ERROR' },
  ],
  [
    'resolve: resolvedData for another row',
    post(term, '/api/sync/resolve', () => ({ conflictId, resolution: 'MANUAL_MERGE', resolvedData: { id: 'someone-else', notes: 'x' } })),
    { status: 400, code: 'VALIDATION_ERROR' },
  ],
  ['resolve: an unknown conflict', post(term, '/api/sync/resolve', () => ({ conflictId: uid('nope'), resolution: 'CENTRAL_WINS' })), { status: 404, code: 'UNKNOWN_CONFLICT' }],
];

const hb = (over: Record<string, unknown>) => () => ({ terminalId: T(), status: 'ONLINE', ...over });
const counts = { pending: 1, failed: 0, synced: 0, conflicts: 0 };
const heartbeatCases: Case[] = [
  ...malformed('heartbeat', term, 'POST', () => '/api/sync/heartbeat'),
  ['heartbeat: status unknown', post(term, '/api/sync/heartbeat', hb({ status: 'HAPPY' })), V('body.status')],
  ['heartbeat: status missing', post(term, '/api/sync/heartbeat', () => ({ terminalId: T() })), V('body.status')],
  ['heartbeat: appVersion a number', post(term, '/api/sync/heartbeat', hb({ appVersion: 3 })), V('body.appVersion')],
  ['heartbeat: a negative outbox count', post(term, '/api/sync/heartbeat', hb({ outbox: { Product: { ...counts, pending: -1 } } })), V('body.outbox.Product.pending')],
  ['heartbeat: an outbox count not an integer', post(term, '/api/sync/heartbeat', hb({ outbox: { Product: { ...counts, failed: 1.5 } } })), V('body.outbox.Product.failed')],
  ['heartbeat: outbox counts missing', post(term, '/api/sync/heartbeat', hb({ outbox: { Product: { pending: 1 } } })), V('body.outbox.Product.failed')],
  ['heartbeat: unknown field in outbox counts', post(term, '/api/sync/heartbeat', hb({ outbox: { Product: { ...counts, lost: 2 } } })), V('body.outbox.Product', ['lost'])],
  ['heartbeat: lastSyncAt not a date', post(term, '/api/sync/heartbeat', hb({ lastSyncAt: 'yesterday' })), V('body.lastSyncAt')],
  ['heartbeat: unknown field', post(term, '/api/sync/heartbeat', hb({ battery: 80 })), V('body', ['battery'])],
];

const allCases: Case[] = [
  ...malformed('all', term, 'POST', () => '/api/sync/all'),
  ['all: allTerminals a string', post(admin, '/api/sync/all', () => ({ allTerminals: 'yes' })), V('body.allTerminals')],
  ['all: terminalId a number', post(term, '/api/sync/all', () => ({ terminalId: 7 })), V('body.terminalId')],
  ['all: type unknown', post(term, '/api/sync/all', () => ({ terminalId: T(), type: 'PARTIAL' })), V('body.type')],
  ['all: reason empty', post(term, '/api/sync/all', () => ({ terminalId: T(), reason: '' })), V('body.reason')],
  ['all: both terminalId and allTerminals (admin)', post(admin, '/api/sync/all', () => ({ terminalId: T(), allTerminals: true })), V('body', ['terminalId', 'allTerminals'])],
  ['all: neither terminalId nor allTerminals', post(admin, '/api/sync/all', () => ({})), V('body', ['terminalId', 'allTerminals'])],
  ['all: unknown field', post(term, '/api/sync/all', () => ({ terminalId: T(), now: true })), V('body', ['now'])],
];

const statusCases: Case[] = [
  ['status: terminalId malformed', get(term, '/api/sync/status', () => ({ terminalId: 'bad id!' })), V('querystring.terminalId')],
  ['status: unknown query parameter', get(admin, '/api/sync/status', () => ({ store: 'x' })), V('querystring', ['store'])],
  ['status: terminalId given twice', () => admin().request('GET', `/api/sync/status?terminalId=${T()}&terminalId=${T()}`), V('querystring.terminalId')],
];

const storeCases: Case[] = [
  ...malformed('stores', admin, 'POST', () => '/api/stores'),
  ['stores: name a number', post(admin, '/api/stores', () => ({ id: uid('s'), name: 42 })), V('body.name')],
  ['stores: name empty', post(admin, '/api/stores', () => ({ id: uid('s'), name: '' })), V('body.name')],
  ['stores: name missing', post(admin, '/api/stores', () => ({ id: uid('s') })), V('body.name')],
  ['stores: id empty', post(admin, '/api/stores', () => ({ id: '', name: 'x' })), V('body.id')],
  ['stores: currency not 3 letters', post(admin, '/api/stores', () => ({ id: uid('s'), name: 'x', currency: 'EURO' })), V('body.currency')],
  ['stores: unknown field', post(admin, '/api/stores', () => ({ id: uid('s'), name: 'x', manager: 'bob' })), V('body', ['manager'])],
];

const terminalCases: Case[] = [
  ...malformed('terminals', admin, 'POST', () => '/api/terminals'),
  ['terminals: storeId a number', post(admin, '/api/terminals', () => ({ storeId: 7 })), V('body.storeId')],
  ['terminals: storeId missing', post(admin, '/api/terminals', () => ({ terminalId: uid('t') })), V('body.storeId')],
  ['terminals: terminalId malformed', post(admin, '/api/terminals', () => ({ storeId: t.storeId, terminalId: 'has space' })), V('body.terminalId')],
  ['terminals: name empty', post(admin, '/api/terminals', () => ({ storeId: t.storeId, name: '' })), V('body.name')],
  ['terminals: unknown field', post(admin, '/api/terminals', () => ({ storeId: t.storeId, apiKey: 'mine' })), V('body', ['apiKey'])],
];

const patch = (body: () => unknown, id = () => T()) => () => admin().patch(`/api/terminals/${id()}`, body());
const patchCases: Case[] = [
  ...malformed('PATCH terminals', admin, 'PATCH', () => `/api/terminals/${T()}`),
  ['PATCH terminals: disabled a string', patch(() => ({ disabled: 'yes' })), V('body.disabled')],
  ['PATCH terminals: name a number', patch(() => ({ name: 5 })), V('body.name')],
  ['PATCH terminals: nothing to change', patch(() => ({})), V('body', ['nothing to change'])],
  ['PATCH terminals: unknown field', patch(() => ({ disabled: true, storeId: 'elsewhere' })), V('body', ['storeId'])],
  ['PATCH terminals: malformed terminal id in the path', patch(() => ({ disabled: true }), () => 'bad%20id'), V('params.terminalId')],
];

describe.each([
  ['push', pushCases],
  ['pull', pullCases],
  ['resolve', resolveCases],
  ['heartbeat', heartbeatCases],
  ['all', allCases],
  ['status', statusCases],
  ['stores', storeCases],
  ['terminals', terminalCases],
  ['PATCH terminals', patchCases],
] as const)('%s', (_endpoint, cases) => {
  it.each(cases)('%s', async (_name, send, want) => {
    await refused(send, want);
  });
});

describe('the fixture is sound', () => {
  it('the parked conflict is still open after all the refused resolves', async () => {
    const r = await c.db.query<{ status: string }>('SELECT status FROM sync_conflicts WHERE id = $1', [conflictId]);
    expect(r.rows).toEqual([{ status: 'open' }]);
  });

  it('valid versions of the refused requests are accepted (the 400s were about the mistakes)', async () => {
    expect((await term().post('/api/sync/push', { terminalId: T(), changes: [order()] })).status).toBe(200);
    expect((await term().get('/api/sync/pull', { terminalId: T(), entityType: 'Product' })).status).toBe(200);
    expect((await term().post('/api/sync/heartbeat', hb({ outbox: { Product: counts } })())).status).toBe(200);
    expect((await term().post('/api/sync/all', { terminalId: T() })).status).toBe(200);
    expect((await term().get('/api/sync/status', { terminalId: T() })).status).toBe(200);
    expect((await admin().post('/api/stores', { id: uid('s'), name: 'ok', currency: 'EUR' })).status).toBe(201);
    expect((await admin().post('/api/terminals', { storeId: t.storeId })).status).toBe(201);
    expect((await admin().patch(`/api/terminals/${T()}`, { name: 'renamed' })).status).toBe(200);
    const resolved = await term().post('/api/sync/resolve', { conflictId, resolution: 'MANUAL_MERGE', resolvedData: { notes: 'merged' } });
    expect(resolved.status, resolved.text).toBe(200);
  });
});

describe('a body over the limit (2048 bytes): 413 BODY_TOO_LARGE, nothing written', () => {
  const pad = 'x'.repeat(3000);
  const bodies: [string, string, () => string, () => ApiClient, () => unknown][] = [
    ['push', 'POST', () => '/api/sync/push', () => small.admin, () => ({ terminalId: T(), changes: [order({ data: { order_number: '1', status: 'completed', notes: pad } })] })],
    ['resolve', 'POST', () => '/api/sync/resolve', () => small.admin, () => ({ conflictId, resolution: 'MANUAL_MERGE', resolvedData: { notes: pad } })],
    ['heartbeat', 'POST', () => '/api/sync/heartbeat', () => small.admin, () => ({ terminalId: T(), status: 'ONLINE', appVersion: pad })],
    ['all', 'POST', () => '/api/sync/all', () => small.admin, () => ({ terminalId: T(), reason: pad })],
    ['stores', 'POST', () => '/api/stores', () => small.admin, () => ({ id: uid('s'), name: pad })],
    ['terminals', 'POST', () => '/api/terminals', () => small.admin, () => ({ storeId: t.storeId, name: pad })],
    ['PATCH terminals', 'PATCH', () => `/api/terminals/${T()}`, () => small.admin, () => ({ name: pad })],
  ];
  it.each(bodies)('%s', async (_name, method, path, api, body) => {
    const r = await refused(() => api().request(method, path(), { body: body() }), {
      status: 413,
      code: 'BODY_TOO_LARGE',
      mentions: ['2048'],
    });
    expect((r.body as { error: string }).error).toBe('Payload Too Large');
  });

  it('a body under the limit is accepted by the same server', async () => {
    const r = await small.admin.post('/api/sync/heartbeat', { terminalId: T(), status: 'ONLINE', appVersion: 'x'.repeat(60) });
    expect(r.status, r.text).toBe(200);
  });

  it('without credentials, an oversized body is not even read: 401', async () => {
    const anon = new ApiClient(small.url, undefined);
    await refused(() => anon.request('POST', '/api/sync/push', { body: { terminalId: T(), changes: [], pad } }), {
      status: 401,
      code: 'UNAUTHORIZED',
    });
  });
});

describe('other client mistakes', () => {
  it('an empty body with content-type application/json is malformed JSON: 400 INVALID_JSON on every endpoint with a body', async () => {
    const targets: [() => ApiClient, string, () => string][] = [
      [term, 'POST', () => '/api/sync/push'],
      [term, 'POST', () => '/api/sync/resolve'],
      [term, 'POST', () => '/api/sync/heartbeat'],
      [term, 'POST', () => '/api/sync/all'],
      [admin, 'POST', () => '/api/stores'],
      [admin, 'POST', () => '/api/terminals'],
      [admin, 'PATCH', () => `/api/terminals/${T()}`],
    ];
    for (const [api, method, path] of targets) {
      await refused(raw(api, method, path, ''), BAD_JSON);
    }
  });

  it.each([
    ['text/plain', '{"terminalId":"x","status":"ONLINE"}'],
    ['application/x-www-form-urlencoded', 'terminalId=x&status=ONLINE'],
    ['application/xml', '<heartbeat/>'],
  ])('a body of content-type %s: a 4xx JSON answer, never a 500', async (contentType, text) => {
    const before = await snapshot();
    const r = await term().request('POST', '/api/sync/heartbeat', { raw: text, headers: { 'content-type': contentType } });
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    expect(r.status, r.text).toBeLessThan(500);
    expect(r.body).toMatchObject({ statusCode: r.status, code: expect.any(String), message: expect.any(String) });
    expect(await snapshot()).toBe(before);
  });

  it.each([
    ['null', 'null'],
    ['an array', '[]'],
    ['a number', '42'],
    ['a string', '"heartbeat"'],
    ['a __proto__ key', '{"terminalId":"x","status":"ONLINE","__proto__":{"admin":true}}'],
    ['deeply nested arrays', `${'['.repeat(10000)}${']'.repeat(10000)}`],
  ])('a JSON body that is %s: 400, never a 500', async (_what, text) => {
    const before = await snapshot();
    const r = await term().request('POST', '/api/sync/heartbeat', { raw: text });
    expect(r.status, r.text).toBe(400);
    // Nesting is refused before the body is parsed (see hostile-input.test.ts).
    expect(['VALIDATION_ERROR', 'INVALID_JSON', 'NESTED_TOO_DEEP']).toContain(r.body.code);
    expect(await snapshot()).toBe(before);
  });
});

describe('values the wire schema accepts but the database cannot store: a 4xx, never a 500', () => {
  /** A refusal: a 4xx error, or a push answered with every change rejected. */
  async function notAServerError(send: () => Promise<HttpResult>): Promise<void> {
    const before = await snapshot();
    const r = await send();
    // Soft: a failure reports both whether it was a 500 and whether anything was written.
    expect.soft(await snapshot(), 'nothing written').toBe(before);
    expect.soft(r.status, r.text).not.toBe(500);
    const body = r.body as { results?: unknown[]; summary?: { rejected: number } } | undefined;
    if (r.status === 200 && Array.isArray(body?.results)) {
      expect(body?.summary?.rejected, r.text).toBe(body?.results?.length);
    } else {
      expect(r.status, r.text).toBeGreaterThanOrEqual(400);
      expect(r.status, r.text).toBeLessThan(500);
    }
  }
  const NUL = 'a\u0000b';
  const cases: [string, () => Promise<HttpResult>][] = [
    ['push: a NUL character in entityId', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ entityId: NUL })] }))],
    ['push: a NUL character in changeId', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ changeId: `change-${NUL}` })] }))],
    ['push: a NUL character in a text column', post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ data: { order_number: NUL, status: 'completed' } })] }))],
    [
      'push: a NUL character in a json column',
      post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [{ entityType: 'AuditLog', entityId: uid('a'), operation: 'CREATE', data: { action: 'x', details: { k: NUL } } }] })),
    ],
    [
      'push: a timestamp in year 0000',
      post(term, '/api/sync/push', () => ({ terminalId: T(), changes: [order({ data: { order_number: '1', status: 'completed', ordered_at: '0000-01-01T00:00:00Z' } })] })),
    ],
    ['heartbeat: a NUL character in appVersion', post(term, '/api/sync/heartbeat', hb({ appVersion: NUL }))],
    ['heartbeat: a NUL character in an outbox key', post(term, '/api/sync/heartbeat', hb({ outbox: { [NUL]: counts } }))],
    ['heartbeat: lastSyncAt in year 0000', post(term, '/api/sync/heartbeat', hb({ lastSyncAt: '0000-01-01T00:00:00Z' }))],
    ['pull: lastSync in year 0000', get(term, '/api/sync/pull', () => ({ terminalId: T(), entityType: 'Product', lastSync: '0000-01-01T00:00:00Z' }))],
    [
      'pull: a forged cursor with a txid beyond xid8',
      get(term, '/api/sync/pull', () => ({ terminalId: T(), entityType: 'Product', cursor: Buffer.from(JSON.stringify(['99999999999999999999', 0])).toString('base64url') })),
    ],
    [
      'pull: a forged cursor whose since is not a PostgreSQL timestamp',
      get(term, '/api/sync/pull', () => ({ terminalId: T(), entityType: 'Product', cursor: Buffer.from(JSON.stringify(['1', 0, '1'])).toString('base64url') })),
    ],
    ['resolve: a NUL character in conflictId', post(term, '/api/sync/resolve', () => ({ conflictId: NUL, resolution: 'CENTRAL_WINS' }))],
    ['all: a NUL character in reason', post(term, '/api/sync/all', () => ({ terminalId: T(), reason: NUL }))],
    ['stores: a NUL character in id', post(admin, '/api/stores', () => ({ id: NUL, name: 'x' }))],
    ['stores: a NUL character in name', post(admin, '/api/stores', () => ({ id: uid('s'), name: NUL }))],
    ['terminals: a NUL character in storeId', post(admin, '/api/terminals', () => ({ storeId: NUL }))],
    ['terminals: a NUL character in name', post(admin, '/api/terminals', () => ({ storeId: t.storeId, name: NUL }))],
    ['PATCH terminals: a NUL character in name', patch(() => ({ name: NUL }))],
  ];
  it.each(cases)('%s', async (_name, send) => {
    await notAServerError(send);
  });
});

describe('unknown routes: 404 JSON', () => {
  it.each([
    ['GET', '/nope'],
    ['GET', '/api/sync/nope'],
    ['POST', '/api/sync/pushes'],
    ['GET', '/api/sync/push'],
    ['POST', '/api/sync/pull'],
    ['DELETE', '/api/terminals/some-till'],
    ['PUT', '/api/stores'],
    ['GET', '/api/stores/store-1'],
  ])('%s %s', async (method, path) => {
    const before = await snapshot();
    const r = await c.admin.request(method, path, method === 'GET' || method === 'DELETE' ? {} : { body: {} });
    expect(r.status, r.text).toBe(404);
    expect(r.headers.get('content-type') ?? '').toMatch(/^application\/json/);
    expect(r.body).toEqual({ statusCode: 404, error: 'Not Found', code: 'NOT_FOUND', message: `no route ${method} ${path}` });
    expect(await snapshot()).toBe(before);
  });

  it('the 404 does not need credentials and does not echo the query string', async () => {
    const r = await term().request('GET', '/api/unknown?token=secret');
    expect(r.status).toBe(404);
    expect(r.body.code).toBe('NOT_FOUND');
    expect(r.text).not.toContain('secret');
  });
});
