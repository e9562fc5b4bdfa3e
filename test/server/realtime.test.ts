/**
 * socket.io at central: terminal:register, sync:trigger, sync:ack, pending delivery,
 * auto-sync after a restart and the connected-terminals gauge. Real server, real
 * sockets (websocket transport), real database (PGlite, or PostgreSQL with
 * TEST_DATABASE_URL).
 */
import { randomBytes } from 'node:crypto';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SyncTrigger } from '../../src/shared/protocol.js';
import { ApiClient, startCentral, testDatabase, useCentral, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';
import {
  closeSocket,
  closeSockets,
  connect,
  connectAndRegister,
  emitWithAck,
  openSocket,
  received,
  register,
  trackSocket,
  WAIT,
  whenConnected,
  whenRefused,
} from '../helpers/socket.js';

const TRIGGER_KEYS = ['reason', 'terminalId', 'timestamp', 'triggerId', 'type'];

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

interface TriggerRow {
  id: string;
  terminal_id: string;
  type: string;
  reason: string;
  acked_at: string | null;
}

async function triggerRows(c: { db: TestCentral['db'] }, terminalId: string): Promise<TriggerRow[]> {
  const r = await c.db.query<TriggerRow>(
    'SELECT id, terminal_id, type, reason, acked_at FROM sync_triggers WHERE terminal_id = $1 ORDER BY created_at, id',
    [terminalId],
  );
  return r.rows;
}

async function gauge(url: string): Promise<number> {
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  const m = /^tillsync_connected_terminals (\S+)$/m.exec(text);
  if (!m) throw new Error('tillsync_connected_terminals missing from /metrics');
  return Number(m[1]);
}

async function gaugeBecomes(url: string, expected: number): Promise<void> {
  await vi.waitFor(async () => {
    expect(await gauge(url)).toBe(expected);
  }, WAIT);
}

function expectTriggerShape(t: SyncTrigger, expected: { terminalId: string; type: string; reason: string }): void {
  expect(Object.keys(t).sort()).toEqual(TRIGGER_KEYS);
  expect(t).toMatchObject(expected);
  expect(typeof t.triggerId).toBe('string');
  expect((t.triggerId ?? '').length).toBeGreaterThan(0);
  expect(typeof t.timestamp).toBe('string');
  expect(Number.isNaN(Date.parse(t.timestamp))).toBe(false);
  expect(new Date(t.timestamp).toISOString()).toBe(t.timestamp);
}

afterEach(() => {
  closeSockets();
});

describe('socket.io: register, sync:trigger, sync:ack', () => {
  const c = useCentral();

  afterEach(async () => {
    closeSockets();
    // Every socket is gone, so the gauge settles at zero before the next test reads it.
    await gaugeBecomes(c.url, 0);
  });

  it('acks terminal:register with { ok: true } and delivers POST /api/sync/all as exactly { type, terminalId, timestamp, reason, triggerId } (FULL, MANUAL by default)', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    const conn = await connect(c.url, t);
    expect(await register(conn)).toEqual({ ok: true });

    const res = await t.api.post('/api/sync/all', { terminalId: t.terminalId });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ type: 'FULL', reason: 'MANUAL', triggered: [t.terminalId] });

    const [trigger] = await received(conn, 1);
    expect(trigger).toBeDefined();
    expectTriggerShape(trigger as SyncTrigger, { terminalId: t.terminalId, type: 'FULL', reason: 'MANUAL' });

    const rows = await triggerRows(c, t.terminalId);
    expect(rows).toEqual([{ id: trigger?.triggerId, terminal_id: t.terminalId, type: 'FULL', reason: 'MANUAL', acked_at: null }]);

    // A second request: INCREMENTAL when asked. The first one was delivered once only.
    const res2 = await t.api.post('/api/sync/all', { terminalId: t.terminalId, type: 'INCREMENTAL' });
    expect(res2.status).toBe(200);
    expect(res2.body).toEqual({ type: 'INCREMENTAL', reason: 'MANUAL', triggered: [t.terminalId] });
    const all = await received(conn, 2);
    expect(conn.triggers).toHaveLength(2); // both asked while registered: each delivered once
    expectTriggerShape(all[1] as SyncTrigger, { terminalId: t.terminalId, type: 'INCREMENTAL', reason: 'MANUAL' });
    expect(all[1]?.triggerId).not.toBe(all[0]?.triggerId);
  });

  it('the admin may trigger one terminal, with a type and reason of its choice', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    const conn = await connectAndRegister(c.url, t);
    const res = await c.admin.post('/api/sync/all', { terminalId: t.terminalId, type: 'INCREMENTAL', reason: 'PRICE_UPDATE' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ type: 'INCREMENTAL', reason: 'PRICE_UPDATE', triggered: [t.terminalId] });
    const [trigger] = await received(conn, 1);
    expectTriggerShape(trigger as SyncTrigger, { terminalId: t.terminalId, type: 'INCREMENTAL', reason: 'PRICE_UPDATE' });
  });

  it('a terminal key triggers only its own terminal; allTerminals needs the admin token', async () => {
    const store = uid('s');
    const a = await c.provision(store, uid('t'));
    const b = await c.provision(store, uid('t'));
    const other = await a.api.post('/api/sync/all', { terminalId: b.terminalId });
    expect(other.status).toBe(403);
    expect(other.body.code).toBe('WRONG_TERMINAL');
    const fleet = await a.api.post('/api/sync/all', { allTerminals: true });
    expect(fleet.status).toBe(403);
    expect(fleet.body.code).toBe('ADMIN_ONLY');
    const anonymous = await new ApiClient(c.url, undefined).post('/api/sync/all', { terminalId: a.terminalId });
    expect(anonymous.status).toBe(401);
    expect(await triggerRows(c, a.terminalId)).toEqual([]);
    expect(await triggerRows(c, b.terminalId)).toEqual([]);
  });

  it('allTerminals reaches every registered terminal (every socket of it) and only active ones', async () => {
    const s1 = uid('s');
    const s2 = uid('s');
    const a = await c.provision(s1, uid('t'));
    const b = await c.provision(s1, uid('t'));
    const d = await c.provision(s2, uid('t'));
    const off = await c.provision(s2, uid('t'));
    const ca = await connectAndRegister(c.url, a);
    const ca2 = await connectAndRegister(c.url, a); // a second socket of the same terminal
    const cb = await connectAndRegister(c.url, b);
    const cd = await connectAndRegister(c.url, d);
    const coff = await connectAndRegister(c.url, off);
    // Disabled while its socket is still open: it is no longer active.
    const patch = await c.admin.patch(`/api/terminals/${off.terminalId}`, { disabled: true });
    expect(patch.status).toBe(200);

    const res = await c.admin.post('/api/sync/all', { allTerminals: true, reason: 'PRICE_LIST' });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('FULL');
    expect(res.body.reason).toBe('PRICE_LIST');
    expect(res.body.triggered).toEqual(expect.arrayContaining([a.terminalId, b.terminalId, d.terminalId]));
    expect(res.body.triggered).not.toContain(off.terminalId);

    const ids = new Set<string>();
    for (const conn of [ca, ca2, cb, cd]) {
      const list = await received(conn, 1);
      expect(conn.triggers).toHaveLength(1);
      expectTriggerShape(list[0] as SyncTrigger, { terminalId: conn.terminalId, type: 'FULL', reason: 'PRICE_LIST' });
      ids.add(list[0]?.triggerId as string);
    }
    // One trigger per terminal: both sockets of `a` got the same one.
    expect(ca.triggers[0]?.triggerId).toBe(ca2.triggers[0]?.triggerId);
    expect(ids.size).toBe(3);
    expect(await triggerRows(c, off.terminalId)).toEqual([]);

    // Re-enabled and triggered alone: that is the only trigger its socket ever got.
    expect((await c.admin.patch(`/api/terminals/${off.terminalId}`, { disabled: false })).status).toBe(200);
    expect((await c.admin.post('/api/sync/all', { terminalId: off.terminalId, reason: 'SENTINEL' })).status).toBe(200);
    const offList = await received(coff, 1);
    expect(offList.map((t) => t.reason)).toEqual(['SENTINEL']);
  });

  it('a disabled terminal cannot be triggered by terminalId', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    expect((await c.admin.patch(`/api/terminals/${t.terminalId}`, { disabled: true })).status).toBe(200);
    const res = await c.admin.post('/api/sync/all', { terminalId: t.terminalId });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('UNKNOWN_TERMINAL');
    expect(await triggerRows(c, t.terminalId)).toEqual([]);
  });

  it('sync:ack { terminalId, type, triggerId } marks the trigger acked; an acked trigger is not re-sent on the next register', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    const conn = await connectAndRegister(c.url, t);
    expect((await t.api.post('/api/sync/all', { terminalId: t.terminalId })).status).toBe(200);
    const [first] = await received(conn, 1);
    const firstId = first?.triggerId as string;

    const ack = await emitWithAck(conn.socket, 'sync:ack', { terminalId: t.terminalId, type: 'FULL', triggerId: firstId });
    expect(ack).toEqual({ ok: true });
    const rows = await triggerRows(c, t.terminalId);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.id).toBe(firstId);
    expect(rows[0]?.acked_at).not.toBeNull();
    expect(Number.isNaN(Date.parse(rows[0]?.acked_at as string))).toBe(false);

    // A newer trigger, seen live (so its announcement is fully handled) and left unacked.
    expect((await t.api.post('/api/sync/all', { terminalId: t.terminalId, type: 'INCREMENTAL', reason: 'LATER' })).status).toBe(200);
    const [later] = (await received(conn, 2)).slice(1);
    closeSocket(conn);
    await waitUntilDisconnected(c, t);

    // On register, pending triggers are sent oldest first in one go: the acked (older)
    // one would come before LATER, so once LATER is here nothing else is coming.
    const again = await connectAndRegister(c.url, t);
    await received(again, 1);
    expect(again.triggers).toEqual([later]);
    expectTriggerShape(later as SyncTrigger, { terminalId: t.terminalId, type: 'INCREMENTAL', reason: 'LATER' });
  });

  it('an unacknowledged trigger is re-sent (same triggerId) when the terminal registers again', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    const conn = await connectAndRegister(c.url, t);
    expect((await t.api.post('/api/sync/all', { terminalId: t.terminalId })).status).toBe(200);
    const [first] = await received(conn, 1);
    closeSocket(conn);

    const again = await connectAndRegister(c.url, t);
    await received(again, 1);
    expect(again.triggers).toEqual([first]);

    // Acked now; a newer one seen live and left open: the next register re-sends only that.
    expect(await emitWithAck(again.socket, 'sync:ack', { terminalId: t.terminalId, type: 'FULL', triggerId: first?.triggerId })).toEqual({
      ok: true,
    });
    expect((await t.api.post('/api/sync/all', { terminalId: t.terminalId, reason: 'NEWER' })).status).toBe(200);
    const [newer] = (await received(again, 2)).slice(1);
    closeSocket(again);
    await waitUntilDisconnected(c, t);
    const third = await connectAndRegister(c.url, t);
    await received(third, 1);
    expect(third.triggers).toEqual([newer]);
    expect(newer?.reason).toBe('NEWER');
  });

  it("sync:ack without a triggerId (the seed's shape) acknowledges every open trigger of that type", async () => {
    const t = await c.provision(uid('s'), uid('t'));
    for (const type of ['FULL', 'FULL', 'INCREMENTAL']) {
      expect((await t.api.post('/api/sync/all', { terminalId: t.terminalId, type })).status).toBe(200);
    }
    const conn = await connectAndRegister(c.url, t);
    const pending = await received(conn, 3);
    expect(pending.map((x) => x.type).sort()).toEqual(['FULL', 'FULL', 'INCREMENTAL']);

    expect(await emitWithAck(conn.socket, 'sync:ack', { terminalId: t.terminalId, type: 'FULL' })).toEqual({ ok: true });
    const rows = await triggerRows(c, t.terminalId);
    expect(rows.filter((r) => r.type === 'FULL').every((r) => r.acked_at !== null)).toBe(true);
    expect(rows.filter((r) => r.type === 'INCREMENTAL').map((r) => r.acked_at)).toEqual([null]);
  });

  it('an ack naming another terminal\'s triggerId acknowledges nothing of that terminal', async () => {
    const store = uid('s');
    const me = await c.provision(store, uid('t'));
    const other = await c.provision(store, uid('t'));
    expect((await c.admin.post('/api/sync/all', { terminalId: other.terminalId })).status).toBe(200);
    const [theirs] = await triggerRows(c, other.terminalId);
    const conn = await connectAndRegister(c.url, me);
    await emitWithAck(conn.socket, 'sync:ack', { terminalId: me.terminalId, type: 'FULL', triggerId: theirs?.id });
    expect((await triggerRows(c, other.terminalId)).map((r) => r.acked_at)).toEqual([null]);
  });

  it('a pending trigger older than the TTL is not re-sent', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    const conn = await connectAndRegister(c.url, t);
    expect((await t.api.post('/api/sync/all', { terminalId: t.terminalId, reason: 'ANCIENT' })).status).toBe(200);
    expect((await t.api.post('/api/sync/all', { terminalId: t.terminalId, reason: 'RECENT' })).status).toBe(200);
    const recent = (await received(conn, 2)).find((x) => x.reason === 'RECENT'); // both seen live, neither acked
    closeSocket(conn);
    await waitUntilDisconnected(c, t);
    const ttl = c.central.config.triggerTtlSeconds;
    await c.db.query(`UPDATE sync_triggers SET created_at = now() - make_interval(secs => $2) WHERE terminal_id = $1 AND reason = 'ANCIENT'`, [
      t.terminalId,
      ttl + 60,
    ]);
    const again = await connectAndRegister(c.url, t);
    await received(again, 1);
    expect(again.triggers).toEqual([recent]);
    expect(recent?.reason).toBe('RECENT');
  });

  it('a socket may authenticate with an Authorization: Bearer header instead of auth.token', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    const socket = io(c.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { authorization: `Bearer ${t.apiKey}` } });
    trackSocket(socket);
    await whenConnected(socket);
    expect(await emitWithAck(socket, 'terminal:register', { terminalId: t.terminalId })).toEqual({ ok: true });
  });

  it('refuses a socket with a wrong key, no key, the admin token or a disabled terminal key (connect_error)', async () => {
    const wrong = openSocket(c.url, `tsk_${randomBytes(32).toString('base64url')}`);
    const err = await whenRefused(wrong.socket);
    expect(err.message).toMatch(/unknown terminal key/);

    const none = openSocket(c.url, undefined);
    expect((await whenRefused(none.socket)).message).toMatch(/missing credentials/);

    const admin = openSocket(c.url, 'test-admin-token-0123456789');
    expect((await whenRefused(admin.socket)).message).toMatch(/terminal key/);

    const t = await c.provision(uid('s'), uid('t'));
    expect((await c.admin.patch(`/api/terminals/${t.terminalId}`, { disabled: true })).status).toBe(200);
    const disabled = openSocket(c.url, t.apiKey);
    expect((await whenRefused(disabled.socket)).message).toMatch(/disabled/);
  });

  it('registering as another terminal gets { ok: false } and none of its triggers', async () => {
    const store = uid('s');
    const me = await c.provision(store, uid('t'));
    const victim = await c.provision(store, uid('t'));
    const conn = await connect(c.url, me);
    const reply = await register(conn, victim.terminalId);
    expect(reply.ok).toBe(false);
    expect(reply.ok === false ? reply.error : '').toContain(me.terminalId);

    // An ack for the other terminal is refused too, and acks nothing.
    expect((await c.admin.post('/api/sync/all', { terminalId: victim.terminalId, reason: 'FOR_VICTIM' })).status).toBe(200);
    const ack = await emitWithAck(conn.socket, 'sync:ack', { terminalId: victim.terminalId, type: 'FULL' });
    expect(ack.ok).toBe(false);
    expect((await triggerRows(c, victim.terminalId)).map((r) => r.acked_at)).toEqual([null]);

    // Then registered as itself: it gets its own trigger and never the victim's.
    expect(await register(conn)).toEqual({ ok: true });
    expect((await me.api.post('/api/sync/all', { terminalId: me.terminalId, reason: 'FOR_ME' })).status).toBe(200);
    const list = await received(conn, 1);
    expect(list.map((x) => [x.terminalId, x.reason])).toEqual([[me.terminalId, 'FOR_ME']]);
  });

  it('invalid terminal:register and sync:ack payloads get { ok: false } and register nothing', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    const conn = await connect(c.url, t);
    const before = await gauge(c.url);
    expect(before).toBe(0);
    const badRegisters: unknown[] = [
      undefined,
      null,
      'just-a-string',
      {},
      { terminalId: 42 },
      { terminalId: '' },
      { terminalId: 'has space' },
      { terminalId: t.terminalId, extra: true },
    ];
    for (const payload of badRegisters) {
      const reply = await emitWithAck(conn.socket, 'terminal:register', payload);
      expect(reply.ok, JSON.stringify(payload)).toBe(false);
      expect(reply.ok === false && typeof reply.error === 'string' && reply.error.length > 0).toBe(true);
    }
    const badAcks: unknown[] = [
      {},
      { terminalId: t.terminalId },
      { terminalId: t.terminalId, type: 'PARTIAL' },
      { terminalId: t.terminalId, type: 'FULL', triggerId: 7 },
      { terminalId: t.terminalId, type: 'FULL', extra: 1 },
    ];
    for (const payload of badAcks) {
      const reply = await emitWithAck(conn.socket, 'sync:ack', payload);
      expect(reply.ok, JSON.stringify(payload)).toBe(false);
    }
    expect(await gauge(c.url)).toBe(before);
    // Not registered, so a trigger is not delivered live; it waits as pending.
    expect((await t.api.post('/api/sync/all', { terminalId: t.terminalId, reason: 'WAITING' })).status).toBe(200);
    expect(await register(conn)).toEqual({ ok: true });
    const list = await received(conn, 1);
    expect(list.map((x) => x.reason)).toEqual(['WAITING']);
  });

  it('tillsync_connected_terminals goes up on register (once per socket) and down on disconnect', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    const u = await c.provision(uid('s'), uid('t'));
    const base = await gauge(c.url);
    const conn = await connect(c.url, t);
    expect(await gauge(c.url)).toBe(base); // connected, not registered yet
    expect(await register(conn)).toEqual({ ok: true });
    expect(await gauge(c.url)).toBe(base + 1);
    expect(await register(conn)).toEqual({ ok: true }); // registering twice counts once
    expect(await gauge(c.url)).toBe(base + 1);
    const other = await connectAndRegister(c.url, u);
    expect(await gauge(c.url)).toBe(base + 2);

    const unregistered = await connect(c.url, t);
    closeSocket(unregistered);
    closeSocket(conn);
    await gaugeBecomes(c.url, base + 1);
    closeSocket(other);
    await gaugeBecomes(c.url, base);
  });

  it('tillsync_connected_terminals counts terminals: a second socket of the same terminal does not add one', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    const base = await gauge(c.url);
    const first = await connectAndRegister(c.url, t);
    expect(await gauge(c.url)).toBe(base + 1);
    // e.g. a reconnect while the old socket has not timed out yet
    const second = await connectAndRegister(c.url, t);
    expect(await gauge(c.url)).toBe(base + 1);
    closeSocket(second);
    closeSocket(first);
    await gaugeBecomes(c.url, base);
  });
});

/** Waits until the server has seen a terminal's sockets go (fleet list `connected: false`). */
async function waitUntilDisconnected(c: TestCentral, t: ProvisionedTerminal): Promise<void> {
  await vi.waitFor(async () => {
    const list = await c.admin.get('/api/terminals');
    const row = (list.body.terminals as { terminalId: string; connected: boolean }[]).find((x) => x.terminalId === t.terminalId);
    expect(row?.connected).toBe(false);
  }, WAIT);
}

describe('auto-sync after a restart', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    closeSockets();
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  /** A database with terminals provisioned by a first central, which is then stopped. */
  async function provisionedThenStopped() {
    const td = await testDatabase();
    cleanup.push(() => td.close());
    const first = await startCentral({ db: td.db });
    let firstOpen = true;
    cleanup.push(async () => {
      if (firstOpen) await first.close();
    });
    const store = uid('s');
    const a = await first.provision(store, uid('t'));
    const b = await first.provision(store, uid('t'));
    const off = await first.provision(uid('s'), uid('t'));
    expect((await first.admin.patch(`/api/terminals/${off.terminalId}`, { disabled: true })).status).toBe(200);
    await first.close();
    firstOpen = false;
    return { td, a, b, off };
  }

  async function restart(td: TestDatabase, autoSyncDelayMs: number): Promise<TestCentral> {
    const c = await startCentral({ db: td.db, config: { autoSyncOnStart: true, autoSyncDelayMs } });
    cleanup.push(() => c.close());
    return c;
  }

  const restartRows = async (c: TestCentral, terminalId: string) =>
    (await triggerRows(c, terminalId)).filter((r) => r.reason === 'SERVER_RESTART');

  it('a terminal that registers before the delay elapses gets a live FULL trigger with reason SERVER_RESTART', async () => {
    const { td, a, b, off } = await provisionedThenStopped();
    // The delay only has to outlast connecting and registering one socket.
    const c = await restart(td, 1500);
    const conn = await connectAndRegister(c.url, a);
    // Precondition of the live path: nothing recorded yet, so nothing was pending on register.
    expect(await restartRows(c, a.terminalId)).toEqual([]);

    const [trigger] = await received(conn, 1);
    expectTriggerShape(trigger as SyncTrigger, { terminalId: a.terminalId, type: 'FULL', reason: 'SERVER_RESTART' });
    expect(conn.triggers).toHaveLength(1);
    const rows = await restartRows(c, a.terminalId);
    expect(rows.map((r) => [r.id, r.type, r.acked_at])).toEqual([[trigger?.triggerId, 'FULL', null]]);

    // Every active terminal got one, connected or not; the disabled one none.
    expect((await restartRows(c, b.terminalId)).map((r) => r.type)).toEqual(['FULL']);
    expect(await restartRows(c, off.terminalId)).toEqual([]);
  });

  it('a terminal that registers after the delay elapsed gets the SERVER_RESTART trigger as pending delivery', async () => {
    const { td, a, b, off } = await provisionedThenStopped();
    const c = await restart(td, 300);
    await vi.waitFor(async () => {
      expect(await restartRows(c, a.terminalId)).toHaveLength(1);
      expect(await restartRows(c, b.terminalId)).toHaveLength(1);
    }, WAIT);
    const [row] = await restartRows(c, a.terminalId);

    const conn = await connectAndRegister(c.url, a);
    const list = await received(conn, 1);
    expect(list).toHaveLength(1);
    expectTriggerShape(list[0] as SyncTrigger, { terminalId: a.terminalId, type: 'FULL', reason: 'SERVER_RESTART' });
    expect(list[0]?.triggerId).toBe(row?.id);

    const connB = await connectAndRegister(c.url, b);
    const listB = await received(connB, 1);
    expectTriggerShape(listB[0] as SyncTrigger, { terminalId: b.terminalId, type: 'FULL', reason: 'SERVER_RESTART' });

    // The disabled terminal: nothing recorded, and its socket is refused anyway.
    expect(await triggerRows(c, off.terminalId)).toEqual([]);
    const refused = openSocket(c.url, off.apiKey);
    expect((await whenRefused(refused.socket)).message).toMatch(/disabled/);
  });

  it('no SERVER_RESTART trigger when auto-sync is off', async () => {
    const { td, a } = await provisionedThenStopped();
    const c = await startCentral({ db: td.db, config: { autoSyncOnStart: false, autoSyncDelayMs: 0 } });
    cleanup.push(() => c.close());
    const conn = await connectAndRegister(c.url, a);
    // A trigger asked now is the first and only thing the terminal gets.
    const api = new ApiClient(c.url, a.apiKey); // a.api points at the stopped first instance
    expect((await api.post('/api/sync/all', { terminalId: a.terminalId, reason: 'SENTINEL' })).status).toBe(200);
    const list = await received(conn, 1);
    expect(list.map((x) => x.reason)).toEqual(['SENTINEL']);
    expect(await restartRows(c, a.terminalId)).toEqual([]);
  });
});
