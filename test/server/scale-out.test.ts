/**
 * Scale-out: two central instances on one database. Triggers cross instances
 * through the database (LISTEN/NOTIFY), data pushed through one is pulled through
 * the other, and fleet changes made on one are enforced by the other.
 *
 * PGlite: both instances share the one in-process Database. PostgreSQL: each
 * instance has its own pool on the same database, as separate processes would.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/server/db/database.js';
import type { ChangesHint, PushResponse } from '../../src/shared/protocol.js';
import { waitUntil } from '../helpers/processes.js';
import {
  ApiClient,
  onPostgres,
  startCentral,
  testDatabase,
  type ProvisionedTerminal,
  type TestCentral,
  type TestDatabase,
} from '../helpers/central.js';
import { closeSockets, connectAndRegister, emitWithAck, openSocket, received, whenRefused } from '../helpers/socket.js';
import { pullPages } from '../helpers/sync.js';

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** The same terminal, talking HTTP to another instance. */
const via = (c: TestCentral, t: ProvisionedTerminal) => new ApiClient(c.url, t.apiKey);

/** Every page (50 changes each) from `cursor` (or the start) on, without waiting for the change log to settle. */
const pullAll = (api: ApiClient, terminalId: string, entityType: string, cursor?: string) =>
  pullPages(api, terminalId, entityType, { cursor, limit: 50 });

describe('two central instances on one database', () => {
  let td: TestDatabase;
  let dbB: Database;
  let a: TestCentral;
  let b: TestCentral;

  beforeAll(async () => {
    td = await testDatabase();
    dbB = onPostgres ? openPostgres({ connectionString: td.url as string }) : td.db;
    a = await startCentral({ db: td.db });
    b = await startCentral({ db: dbB });
  });
  afterEach(() => {
    closeSockets();
  });
  afterAll(async () => {
    closeSockets();
    await a?.close();
    await b?.close();
    if (onPostgres) await dbB?.close();
    await td?.close();
  });

  it("a change pushed through A is hinted (sync:changes) to the store's other terminal connected to B", async () => {
    const store = uid('s');
    const writer = await a.provision(store, uid('t'));
    const reader = await a.provision(store, uid('t'));
    const onB = await connectAndRegister(b.url, reader);
    const hints: ChangesHint[] = [];
    onB.socket.on('sync:changes', (h: ChangesHint) => hints.push(h));
    const res = await writer.api.post<PushResponse>('/api/sync/push', {
      terminalId: writer.terminalId,
      changes: [{ changeId: `c-${randomBytes(8).toString('hex')}`, entityType: 'Customer', entityId: `cu-${randomBytes(8).toString('hex')}`, operation: 'CREATE', data: { name: 'Across instances' } }],
    });
    expect(res.status, res.text).toBe(200);
    await waitUntil('the hint on B', () => hints.some((h) => h.terminalId === reader.terminalId && h.entityTypes.includes('Customer')), { timeout: 5_000 });
  });

  it('a terminal connected to B receives the trigger asked of A, once', async () => {
    const t = await a.provision(uid('s'), uid('t'));
    const onB = await connectAndRegister(b.url, t);

    const res = await t.api.post('/api/sync/all', { terminalId: t.terminalId, type: 'INCREMENTAL' }); // t.api talks to A
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ type: 'INCREMENTAL', reason: 'MANUAL', triggered: [t.terminalId] });

    const [trigger] = await received(onB, 1);
    expect(Object.keys(trigger ?? {}).sort()).toEqual(['reason', 'terminalId', 'timestamp', 'triggerId', 'type']);
    expect(trigger).toMatchObject({ terminalId: t.terminalId, type: 'INCREMENTAL', reason: 'MANUAL' });
    const row = await a.db.query<{ id: string }>('SELECT id FROM sync_triggers WHERE terminal_id = $1', [t.terminalId]);
    expect(row.rows.map((r) => r.id)).toEqual([trigger?.triggerId]);

    // A sentinel asked of B arrives after it: the first one was not delivered twice.
    expect((await via(b, t).post('/api/sync/all', { terminalId: t.terminalId, reason: 'SENTINEL' })).status).toBe(200);
    const list = await received(onB, 2);
    expect(list.map((x) => x.reason)).toEqual(['MANUAL', 'SENTINEL']);
  });

  it('allTerminals asked of A reaches terminals on A and on B; a terminal on both gets it on both', async () => {
    const store = uid('s');
    const t1 = await a.provision(store, uid('t'));
    const t2 = await a.provision(store, uid('t'));
    const c1 = await connectAndRegister(a.url, t1);
    const c2 = await connectAndRegister(b.url, t2);
    const c2a = await connectAndRegister(a.url, t2);

    const res = await a.admin.post('/api/sync/all', { allTerminals: true, reason: 'FLEET' });
    expect(res.status).toBe(200);
    expect(res.body.triggered).toEqual(expect.arrayContaining([t1.terminalId, t2.terminalId]));

    for (const conn of [c1, c2, c2a]) {
      const list = await received(conn, 1);
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ terminalId: conn.terminalId, type: 'FULL', reason: 'FLEET' });
    }
    expect(c2.triggers[0]?.triggerId).toBe(c2a.triggers[0]?.triggerId);
  });

  it('a trigger asked of A while the terminal is away is delivered by B on register; an ack through B holds on A', async () => {
    const t = await a.provision(uid('s'), uid('t'));
    expect((await t.api.post('/api/sync/all', { terminalId: t.terminalId, reason: 'AWAY' })).status).toBe(200);

    const onB = await connectAndRegister(b.url, t);
    const [pending] = await received(onB, 1);
    expect(pending).toMatchObject({ terminalId: t.terminalId, type: 'FULL', reason: 'AWAY' });
    const ack = await emitWithAck(onB.socket, 'sync:ack', {
      terminalId: t.terminalId,
      type: 'FULL',
      triggerId: pending?.triggerId,
    });
    expect(ack).toEqual({ ok: true });
    const row = await a.db.query<{ acked_at: string | null }>('SELECT acked_at FROM sync_triggers WHERE id = $1', [pending?.triggerId]);
    expect(row.rows[0]?.acked_at).not.toBeNull();

    // A newer trigger asked of B, seen live on both instances (so both have handled its
    // announcement) and left unacked. Registering again on A re-sends that one only:
    // pending triggers go oldest first in one go, so the acked one would have come first.
    const watchA = await connectAndRegister(a.url, t);
    expect((await via(b, t).post('/api/sync/all', { terminalId: t.terminalId, reason: 'NEWER' })).status).toBe(200);
    const [newer] = await received(watchA, 1);
    await received(onB, 2);
    expect(newer?.reason).toBe('NEWER');
    watchA.socket.disconnect();
    onB.socket.disconnect();

    const onA = await connectAndRegister(a.url, t);
    await received(onA, 1);
    expect(onA.triggers).toEqual([newer]);
  });

  it('a push through A is pulled through B (global and store-scoped tables)', async () => {
    const store = uid('s');
    const pusher = await a.provision(store, uid('t'));
    const sibling = await a.provision(store, uid('t'));
    const stranger = await a.provision(uid('s'), uid('t'));

    // Start every reader at the end of the log, as a synced terminal would be.
    const productStart = (await pullAll(via(b, sibling), sibling.terminalId, 'Product')).cursor;
    const invSibling = (await pullAll(via(b, sibling), sibling.terminalId, 'InventoryItem')).cursor;
    const invStranger = (await pullAll(via(b, stranger), stranger.terminalId, 'InventoryItem')).cursor;

    const productId = uid('p');
    const itemId = uid('inv');
    const push = await pusher.api.post<PushResponse>('/api/sync/push', {
      terminalId: pusher.terminalId,
      changes: [
        {
          changeId: uid('chg-product'),
          entityType: 'Product',
          entityId: productId,
          operation: 'CREATE',
          data: { sku: productId, name: 'Scale-out soap', price: 2.5 },
        },
        {
          changeId: uid('chg-inventory'),
          entityType: 'InventoryItem',
          entityId: itemId,
          operation: 'CREATE',
          data: { store_id: store, product_id: productId, master_stock_quantity: 12 },
        },
      ],
    });
    expect(push.status, push.text).toBe(200);
    expect(push.body.results.map((r) => [r.entityId, r.status, r.version])).toEqual([
      [productId, 'applied', 1],
      [itemId, 'applied', 1],
    ]);

    const products = await pullAll(via(b, sibling), sibling.terminalId, 'Product', productStart);
    const p = products.changes.find((x) => x.entityId === productId);
    expect(p).toMatchObject({ entityId: productId, operation: 'CREATE', version: 1, deleted: false, origin: pusher.terminalId });
    expect(p?.data).toMatchObject({ id: productId, sku: productId, name: 'Scale-out soap', price: 2.5 });

    const inv = await pullAll(via(b, sibling), sibling.terminalId, 'InventoryItem', invSibling);
    expect(inv.changes.map((x) => [x.entityId, x.version, x.data.master_stock_quantity])).toEqual([[itemId, 1, 12]]);
    const other = await pullAll(via(b, stranger), stranger.terminalId, 'InventoryItem', invStranger);
    expect(other.changes.map((x) => x.entityId)).not.toContain(itemId);

    // An update through A: B serves version 2 from where the reader stopped.
    const update = await pusher.api.post<PushResponse>('/api/sync/push', {
      terminalId: pusher.terminalId,
      changes: [
        {
          changeId: uid('chg-product'),
          entityType: 'Product',
          entityId: productId,
          operation: 'UPDATE',
          syncVersion: 1,
          data: { name: 'Scale-out soap, large' },
        },
      ],
    });
    expect(update.status, update.text).toBe(200);
    expect(update.body.results[0]).toMatchObject({ status: 'applied', version: 2 });
    const again = await pullAll(via(b, sibling), sibling.terminalId, 'Product', products.cursor);
    expect(again.changes.map((x) => [x.entityId, x.version, x.data.name, x.data.price])).toEqual([
      [productId, 2, 'Scale-out soap, large', 2.5],
    ]);
  });

  it('a terminal disabled through A is refused by B (HTTP and socket), and re-enabled through B works on A', async () => {
    const t = await a.provision(uid('s'), uid('t'));
    expect((await via(b, t).post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE' })).status).toBe(200);

    const patch = await a.admin.patch(`/api/terminals/${t.terminalId}`, { disabled: true });
    expect(patch.status).toBe(200);
    expect(patch.body).toMatchObject({ terminalId: t.terminalId, disabled: true, status: 'DISABLED' });

    // B learns of it by NOTIFY (its key cache keeps identities a few seconds otherwise): promptly, not instantly.
    await expect.poll(async () => (await via(b, t).get('/api/sync/pull', { terminalId: t.terminalId, entityType: 'Product' })).status, { timeout: 3000 }).toBe(403);
    const pull = await via(b, t).get('/api/sync/pull', { terminalId: t.terminalId, entityType: 'Product' });
    expect(pull.status).toBe(403);
    expect(pull.body.code).toBe('TERMINAL_DISABLED');
    const heartbeat = await via(b, t).post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE' });
    expect(heartbeat.status).toBe(403);

    const { socket } = openSocket(b.url, t.apiKey);
    const err = await whenRefused(socket, 'B accepted a disabled terminal socket');
    expect(err.message).toMatch(/disabled/);

    const list = await b.admin.get('/api/terminals');
    expect(list.body.terminals.find((x: { terminalId: string }) => x.terminalId === t.terminalId)).toMatchObject({ disabled: true });
    const fleet = await b.admin.post('/api/sync/all', { allTerminals: true });
    expect(fleet.body.triggered).not.toContain(t.terminalId);

    expect((await b.admin.patch(`/api/terminals/${t.terminalId}`, { disabled: false })).status).toBe(200);
    await expect.poll(async () => (await t.api.post('/api/sync/heartbeat', { terminalId: t.terminalId, status: 'ONLINE' })).status, { timeout: 3000 }).toBe(200);
  });
});
