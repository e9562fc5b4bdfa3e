/**
 * Web mode: the same bridge as the preload's, over the bridge host's HTTP calls and
 * server-sent events (src/main/bridge/web-host.ts). Used when the renderer runs in a
 * plain browser; the URL carries the session token (`?token=`).
 */
import { createBridge, EVENTS, type EventName, type TillSyncBridge } from '../shared/ipc.js';

export function createWebBridge(baseUrl: string, token: string): TillSyncBridge {
  let source: EventSource | undefined;
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>();
  const ensureSource = () => {
    if (source) return;
    source = new EventSource(`${baseUrl}/events?token=${encodeURIComponent(token)}`);
    for (const name of Object.keys(EVENTS) as EventName[]) {
      source.addEventListener(name, (e) => {
        const payload: unknown = JSON.parse((e as MessageEvent<string>).data);
        for (const l of listeners.get(name) ?? []) l(payload);
      });
    }
  };
  return createBridge({
    async invoke(channel, args) {
      const res = await fetch(`${baseUrl}/ipc/${channel}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ args }),
      });
      return res.json();
    },
    on(event, listener) {
      ensureSource();
      const set = listeners.get(event) ?? new Set();
      set.add(listener);
      listeners.set(event, set);
      return () => {
        set.delete(listener);
      };
    },
  });
}
