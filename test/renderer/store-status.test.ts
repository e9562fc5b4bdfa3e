/**
 * The renderer's status in web mode: its first status read (over /ipc) and the status
 * events (over the event stream) travel on different connections, so an answer can
 * arrive after a newer event. The page keeps the newer status (CI saw a page stuck on
 * a finished pass's "Full sync · terminals" when the stale answer won).
 */
import { describe, expect, it } from 'vitest';
import { createBridge, type EngineStatus, type EventName } from '../../src/shared/ipc.js';
import { createAppStore } from '../../src/renderer/store.js';

function status(activity: EngineStatus['activity']): EngineStatus {
  const zero = { pending: 0, failed: 0, synced: 0, conflicts: 0 };
  return {
    terminalId: 'till-1',
    centralUrl: 'http://127.0.0.1:4000',
    connection: 'online',
    paused: false,
    activity,
    lastSyncAt: null,
    lastError: null,
    tables: {},
    totals: zero,
    oldestPendingAt: null,
  };
}

describe('the status the page shows', () => {
  it('keeps a status event over an older read answered after it', async () => {
    const listeners = new Map<EventName, (payload: unknown) => void>();
    let answer: (v: unknown) => void = () => undefined;
    const bridge = createBridge({
      invoke: (channel) => (channel === 'sync:status' ? new Promise((resolve) => (answer = resolve)) : Promise.resolve({ ok: true, value: null })),
      on: (event, listener) => {
        listeners.set(event, listener);
        return () => listeners.delete(event);
      },
    });
    const store = createAppStore(bridge);
    const stop = store.getState().start(); // subscribes, then reads the status (still unanswered)
    const busy = status({ kind: 'FULL', table: 'terminals', pulled: 2, pushed: 0 });
    const idle = status(null);
    listeners.get('statusChanged')?.(idle); // the pass ended: the event comes first
    answer({ ok: true, value: busy }); // the read, made while the pass ran, answers last
    await new Promise((r) => setTimeout(r, 0));
    expect(store.getState().status?.activity).toBeNull();

    // With no event in between, a read's answer is shown.
    const reading = store.getState().refreshStatus();
    answer({ ok: true, value: busy });
    await reading;
    expect(store.getState().status?.activity).toMatchObject({ table: 'terminals' });
    stop();
  });
});
