/**
 * Binds the IPC contract to Electron's ipcMain. Every message must come from our
 * own window's main frame at our own origin (an iframe or a navigated page gets
 * nothing). `IpcMainLike` is the slice of ipcMain used, so tests drive it without Electron.
 */
import { eventChannel, IPC, type Channel, type EventName, type IpcResult } from '../shared/ipc.js';
import type { EngineHost } from './bridge/engine-host.js';

export interface SenderFrame {
  readonly url: string;
  readonly parent: unknown;
}

export interface IpcInvokeEventLike {
  readonly senderFrame: SenderFrame | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcInvokeEventLike, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

/** Whether a frame URL is our renderer: the dev server's origin, or our packaged index.html. */
export function trustedRenderer(expected: string): (url: string) => boolean {
  const want = new URL(expected);
  return (url) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return false;
    }
    if (want.protocol === 'file:') return u.protocol === 'file:' && u.pathname === want.pathname;
    return u.origin === want.origin;
  };
}

/** Registers a handler per channel; returns the function that removes them. */
export function registerIpc(ipcMain: IpcMainLike, host: EngineHost, isTrusted: (url: string) => boolean): () => void {
  const channels = Object.keys(IPC) as Channel[];
  for (const channel of channels) {
    ipcMain.handle(channel, async (event, ...args): Promise<IpcResult<unknown>> => {
      const frame = event.senderFrame;
      if (!frame || frame.parent !== null || !isTrusted(frame.url)) {
        return { ok: false, error: { code: 'UNTRUSTED_SENDER', message: 'IPC is only answered for the companion window' } };
      }
      return host.invoke(channel, args);
    });
  }
  return () => {
    for (const channel of channels) ipcMain.removeHandler(channel);
  };
}

/** Forwards the engine's events to the window (`send` is webContents.send of the main window). */
export function forwardEvents(host: EngineHost, send: (channel: string, payload: unknown) => void): () => void {
  return host.subscribe((event: EventName, payload) => send(eventChannel(event), payload));
}
