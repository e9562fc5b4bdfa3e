/**
 * The Electron glue of the IPC contract, driven through injected ipcMain / transport
 * stand-ins (no Electron binary here) against a real engine and central.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { EngineHost } from '../../src/main/bridge/engine-host.js';
import { forwardEvents, registerIpc, trustedRenderer, type IpcInvokeEventLike, type IpcMainLike } from '../../src/main/ipc.js';
import { createBridge, eventChannel, IPC, type Channel } from '../../src/shared/ipc.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, startEngine } from '../helpers/engine.js';

const c = useCentral();
afterAll(closeAll);

/** An in-memory ipcMain: records handlers and lets a test invoke them as a given frame. */
function fakeIpcMain() {
  const handlers = new Map<string, (event: IpcInvokeEventLike, ...args: unknown[]) => Promise<unknown>>();
  const ipc: IpcMainLike = {
    handle: (channel, listener) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, listener);
    },
    removeHandler: (channel) => handlers.delete(channel),
  };
  const invoke = (channel: string, frame: IpcInvokeEventLike['senderFrame'], ...args: unknown[]) => {
    const h = handlers.get(channel);
    if (!h) throw new Error(`no handler for ${channel}`);
    return h({ senderFrame: frame }, ...args);
  };
  return { ipc, handlers, invoke };
}

const APP = 'file:///opt/TillSync/resources/app.asar/out/renderer/index.html';

describe('ipcMain registration', () => {
  it('registers one handler per channel of the contract, and removes them all', async () => {
    const e = await startEngine(c);
    const m = fakeIpcMain();
    const off = registerIpc(m.ipc, new EngineHost(e.service), trustedRenderer(APP));
    expect([...m.handlers.keys()].sort()).toEqual((Object.keys(IPC) as Channel[]).sort());
    off();
    expect(m.handlers.size).toBe(0);
  });

  it("answers only our window's main frame at our origin: an iframe, another page or no frame gets UNTRUSTED_SENDER and the engine is untouched", async () => {
    const e = await startEngine(c);
    const m = fakeIpcMain();
    registerIpc(m.ipc, new EngineHost(e.service), trustedRenderer(APP));
    const ours = { url: APP, parent: null };
    expect(await m.invoke('sync:status', ours)).toMatchObject({ ok: true, value: { terminalId: e.terminal.terminalId } });
    for (const frame of [{ url: APP, parent: {} }, { url: 'https://evil.example/index.html', parent: null }, { url: 'file:///tmp/other.html', parent: null }, null]) {
      expect(await m.invoke('sync:pause', frame)).toMatchObject({ ok: false, error: { code: 'UNTRUSTED_SENDER' } });
    }
    expect(e.service.isPaused).toBe(false);
  });

  it('in development the dev server origin is trusted, and only it', () => {
    const trusted = trustedRenderer('http://localhost:5173/');
    expect(trusted('http://localhost:5173/index.html')).toBe(true);
    expect(trusted('http://localhost:5174/')).toBe(false);
    expect(trusted('not a url')).toBe(false);
  });
});

describe('bridge built from the contract', () => {
  it('a renderer bridge over the ipc transport calls the engine and receives validated events', async () => {
    const e = await startEngine(c);
    const m = fakeIpcMain();
    const host = new EngineHost(e.service);
    registerIpc(m.ipc, host, trustedRenderer(APP));
    const sent: { channel: string; payload: unknown }[] = [];
    const listeners = new Map<string, (payload: unknown) => void>();
    forwardEvents(host, (channel, payload) => {
      sent.push({ channel, payload });
      listeners.get(channel)?.(payload);
    });
    const bridge = createBridge({
      invoke: (channel, args) => m.invoke(channel, { url: APP, parent: null }, ...args),
      on: (event, listener) => {
        listeners.set(eventChannel(event), listener);
        return () => listeners.delete(eventChannel(event));
      },
    });
    const statuses: boolean[] = [];
    const off = bridge.on('statusChanged', (s) => statuses.push(s.paused));
    const r = await bridge['sync:pause']();
    expect(r.ok && r.value.paused).toBe(true);
    expect(statuses).toContain(true);
    expect(sent.some((s) => s.channel === 'event:statusChanged')).toBe(true);
    off();
    await bridge['sync:resume']();
    expect(statuses.at(-1)).toBe(true); // no longer listening
  });

  it('a transport failure comes back as an error result, never as a thrown exception', async () => {
    const bridge = createBridge({
      invoke: async () => {
        throw new Error('pipe closed');
      },
      on: () => () => undefined,
    });
    expect(await bridge['sync:status']()).toEqual({ ok: false, error: { code: 'TRANSPORT', message: 'pipe closed' } });
    const odd = createBridge({ invoke: async () => 'garbage', on: () => () => undefined });
    expect(await odd['sync:now']()).toMatchObject({ ok: false, error: { code: 'TRANSPORT' } });
  });
});
