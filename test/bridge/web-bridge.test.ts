/**
 * The companion's IPC contract served against a real engine and a real central:
 * through EngineHost directly (what the Electron main process binds to ipcMain) and
 * through the web-mode bridge host over HTTP and server-sent events.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EngineHost, plainPin } from '../../src/main/bridge/engine-host.js';
import { startWebBridge, type WebBridge } from '../../src/main/bridge/web-host.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, startEngine } from '../helpers/engine.js';
import { rowOf } from '../helpers/sync.js';

const c = useCentral();
const bridges: WebBridge[] = [];
afterEach(async () => {
  for (const b of bridges.splice(0)) await b.close();
});
afterAll(closeAll);

async function call(b: WebBridge, channel: string, args: unknown[], token = b.token) {
  const r = await fetch(`${b.url}/ipc/${channel}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ args }),
  });
  return { status: r.status, body: (await r.json()) as { ok: boolean; value?: any; error?: { code: string; message: string } } };
}

describe('EngineHost', () => {
  it('answers every channel of the contract from the real engine, as { ok, value }', async () => {
    const e = await startEngine(c);
    const host = new EngineHost(e.service);
    const status = await host.invoke('sync:status', []);
    expect(status.ok).toBe(true);
    expect(status.ok && (status.value as { terminalId: string }).terminalId).toBe(e.terminal.terminalId);
    const run = await host.invoke('sync:full', []);
    expect(run).toMatchObject({ ok: true, value: { kind: 'FULL', trigger: 'ui' } });
    const history = await host.invoke('history:list', [{ limit: 5 }]);
    expect(history.ok && (history.value as { trigger: string }[]).some((h) => h.trigger === 'ui')).toBe(true);
    expect(await host.invoke('conflict:list', [{ status: 'open' }])).toEqual({ ok: true, value: [] });
    const paused = await host.invoke('sync:pause', []);
    expect(paused.ok && (paused.value as { paused: boolean }).paused).toBe(true);
    const resumed = await host.invoke('sync:resume', []);
    expect(resumed.ok && (resumed.value as { paused: boolean }).paused).toBe(false);
    expect(await host.invoke('sync:retryFailed', [])).toEqual({ ok: true, value: { retried: 0 } });
  });

  it('refuses an unknown channel and bad arguments with a clear error, without reaching the engine', async () => {
    const e = await startEngine(c);
    const host = new EngineHost(e.service);
    expect(await host.invoke('sync:delete-everything', [])).toMatchObject({ ok: false, error: { code: 'UNKNOWN_CHANNEL' } });
    const bad = await host.invoke('history:list', [{ limit: 'lots' }]);
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENTS' } });
    expect(!bad.ok && bad.error.message).toContain('history:list');
    expect(await host.invoke('conflict:resolve', [{ conflictId: 'x', resolution: 'WHATEVER', pin: '1' }])).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENTS' } });
    expect(e.service.isPaused).toBe(false);
    expect(await host.invoke('sync:pause', ['extra'])).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENTS' } });
    expect(e.service.isPaused).toBe(false);
  });

  it('resolving a conflict needs the supervisor PIN: none set, or a wrong one, changes nothing; the right one resolves at central', async () => {
    const e = await startEngine(c, { initialSync: true });
    // A purchase order both sides edit: MANUAL_MERGE parks it.
    const pos = e.pos();
    const storeLocal = (pos.prepare('SELECT id FROM stores LIMIT 1').get() as { id: number }).id;
    const localId = Number(pos.prepare(`INSERT INTO purchase_orders (store_id, po_number, status, notes) VALUES (?, 'PO-1', 'draft', 'till')`).run(storeLocal).lastInsertRowid);
    expect((await e.sync()).errors).toEqual([]);
    const sid = e.serverIdOf('purchase_orders', localId);
    await c.db.query(`UPDATE purchase_orders SET notes = 'hq' WHERE id = $1`, [sid]);
    pos.prepare(`UPDATE purchase_orders SET notes = 'till again' WHERE id = ?`).run(localId);
    await e.service.performIncrementalSync('test');
    await e.sync();
    const open = e.store.conflicts.openConflicts();
    expect(open).toHaveLength(1);
    const conflictId = (open[0] as { conflictId: string }).conflictId;

    const noPin = new EngineHost(e.service);
    expect(await noPin.invoke('conflict:resolve', [{ conflictId, resolution: 'CENTRAL_WINS', pin: '1234' }])).toMatchObject({ ok: false, error: { code: 'PIN_NOT_SET' } });
    const host = new EngineHost(e.service, { pin: plainPin('2468') });
    expect(await host.invoke('conflict:resolve', [{ conflictId, resolution: 'CENTRAL_WINS', pin: '1357' }])).toMatchObject({ ok: false, error: { code: 'WRONG_PIN' } });
    expect(e.store.conflicts.openConflicts()).toHaveLength(1);
    expect((await rowOf(c, 'purchase_orders', sid))?.notes).toBe('hq');

    const done = await host.invoke('conflict:resolve', [{ conflictId, resolution: 'MANUAL_MERGE', resolvedData: { notes: 'merged by supervisor' }, pin: '2468' }]);
    expect(done).toMatchObject({ ok: true, value: { conflictId } });
    expect((await rowOf(c, 'purchase_orders', sid))?.notes).toBe('merged by supervisor');
    expect(e.store.conflicts.openConflicts()).toHaveLength(0);
    expect((pos.prepare('SELECT notes FROM purchase_orders WHERE id = ?').get(localId) as { notes: string }).notes).toBe('merged by supervisor');
  });
});

describe('web bridge host', () => {
  it('serves the contract on 127.0.0.1 to a caller with the token, and refuses one without', async () => {
    const e = await startEngine(c);
    const b = await startWebBridge(new EngineHost(e.service));
    bridges.push(b);
    expect(new URL(b.url).hostname).toBe('127.0.0.1');
    const ok = await call(b, 'sync:status', []);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, value: { terminalId: e.terminal.terminalId } });
    const wrong = await call(b, 'sync:pause', [], 'not-the-token');
    expect(wrong.status).toBe(401);
    expect(e.service.isPaused).toBe(false);
    const none = await fetch(`${b.url}/ipc/sync:pause`, { method: 'POST', body: '{"args":[]}' });
    expect(none.status).toBe(401);
    expect(e.service.isPaused).toBe(false);
    const garbage = await fetch(`${b.url}/ipc/sync:status`, { method: 'POST', headers: { authorization: `Bearer ${b.token}` }, body: '{not json' });
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { error: { code: string } }).error.code).toBe('INVALID_JSON');
    expect((await call(b, 'history:list', [{ limit: -1 }])).body).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENTS' } });
  });

  it('a token of the right length in other characters (more bytes) is refused, and the host keeps serving', async () => {
    const e = await startEngine(c);
    const b = await startWebBridge(new EngineHost(e.service));
    bridges.push(b);
    const sameLength = 'é'.repeat(b.token.length);
    const r = await fetch(`${b.url}/events?token=${encodeURIComponent(sameLength)}`);
    expect(r.status).toBe(401);
    expect((await call(b, 'sync:pause', [], sameLength)).status).toBe(401);
    expect(e.service.isPaused).toBe(false);
    expect((await call(b, 'sync:status', [])).body).toMatchObject({ ok: true });
    expect(plainPin('1234').verify('éééé')).toBe(false);
    expect(plainPin('1234').verify('1234')).toBe(true);
  });

  it("opens the event stream with the engine's status now, so a page that connects after a change still sees it", async () => {
    const e = await startEngine(c);
    const b = await startWebBridge(new EngineHost(e.service));
    bridges.push(b);
    // A pass ends before the page's stream opens (no subscriber hears its statusChanged).
    await e.service.performFullSync('test');
    // Nothing happens after the stream opens: the status must come with it (the read gives up after 5 s).
    const res = await fetch(`${b.url}/events?token=${encodeURIComponent(b.token)}`, { signal: AbortSignal.timeout(5_000) });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let seen = '';
    try {
      while (!/event: statusChanged\ndata: .*\n\n/.test(seen)) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += decoder.decode(value);
      }
    } catch {
      // timed out: `seen` holds what came
    }
    await reader.cancel().catch(() => undefined);
    const frame = /event: statusChanged\ndata: (.*)\n\n/.exec(seen);
    expect(frame, seen).not.toBeNull();
    expect(JSON.parse(frame?.[1] ?? '{}')).toMatchObject({ terminalId: e.terminal.terminalId, activity: null, lastSyncAt: expect.any(String) });
  });

  it('streams status as events, not by polling: pausing the engine reaches a subscriber as statusChanged', async () => {
    const e = await startEngine(c);
    const b = await startWebBridge(new EngineHost(e.service));
    bridges.push(b);
    const res = await fetch(`${b.url}/events?token=${encodeURIComponent(b.token)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let seen = '';
    const paused = call(b, 'sync:pause', []);
    const deadline = Date.now() + 10_000;
    while (!/event: statusChanged\ndata: .*"paused":true/.test(seen) && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value);
    }
    await paused;
    await reader.cancel();
    expect(seen).toMatch(/event: statusChanged\ndata: .*"paused":true/);
    // The stream opens with the status as it was (not paused); the pause follows as its own event.
    const frame = /event: statusChanged\ndata: (.*"paused":true.*)\n/.exec(seen);
    expect(JSON.parse(frame?.[1] ?? '{}')).toMatchObject({ terminalId: e.terminal.terminalId, paused: true });
  });
});
