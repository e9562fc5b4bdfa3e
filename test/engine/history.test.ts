/**
 * History, as the companion shows it (the IPC contract's HistoryEntry), on real SQLite
 * files against a real central:
 * - a pass ended by the push (central unreachable, the key refused) lists why once,
 *   not twice;
 * - the sale the commit watcher pushes at once is a CRITICAL run, and moves the
 *   till's last sync;
 * - a busy till's many small pushes keep History bounded (the newest runs stay).
 */
import type Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SyncService } from '../../src/main/sync/sync-service.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, engineConfig, startEngine, testLogger, type TerminalEngine } from '../helpers/engine.js';
import { DEAD_CENTRAL_URL, waitUntil } from '../helpers/processes.js';
import { count } from '../helpers/sync.js';

afterAll(closeAll);

const c = useCentral();

/** A completed sale (an order and its payment: CRITICAL) written by the POS's own connection. */
function sale(pos: Database.Database, number: string): void {
  pos.transaction(() => {
    const now = new Date().toISOString();
    const order = pos
      .prepare(`INSERT INTO orders (order_number, status, subtotal, total, currency, ordered_at, completed_at, created_at) VALUES (?, 'completed', 10, 10, 'EUR', ?, ?, ?)`)
      .run(number, now, now, now).lastInsertRowid;
    pos.prepare(`INSERT INTO payments (order_id, method, amount, currency, status, paid_at) VALUES (?, 'card', 10, 'EUR', 'captured', ?)`).run(order, now);
  })();
}

const runs = (e: TerminalEngine) => e.store.history.history(500);

describe('History', () => {
  it('a pass that finds central unreachable lists the reason once', async () => {
    const e = await startEngine(c, { initialSync: true });
    sale(e.pos(), `H-OFF-${e.terminal.terminalId}`);
    const service = await e.restart({ centralUrl: DEAD_CENTRAL_URL });
    const r = await service.performIncrementalSync('test');
    expect(r.errors.length).toBeGreaterThan(0);
    expect(r.errors).toEqual([...new Set(r.errors)]);
    const [latest] = runs(e);
    expect(latest?.trigger).toBe('test');
    expect(latest?.errors).toEqual(r.errors);
    expect(latest?.errors).toHaveLength(1);
  });

  it('a pass whose key central refuses lists the refusal once', async () => {
    const e = await startEngine(c, { initialSync: true });
    sale(e.pos(), `H-KEY-${e.terminal.terminalId}`);
    const service = await e.restart({ apiKey: 'not-this-terminals-key-at-all' });
    const r = await service.performIncrementalSync('test');
    expect(service.refusedKey).not.toBeNull();
    const [latest] = runs(e);
    expect(latest?.errors).toHaveLength(1);
    expect(latest?.errors).toEqual(r.errors);
  });

  it('the sale the commit watcher pushes at once is a CRITICAL run in History, and moves the last sync', async () => {
    const e = await startEngine(c, { initialSync: true });
    await e.service.stop();
    // The engine on its own schedule (the watcher); passes only at start-up (the interval is an hour).
    const service = new SyncService(e.store, engineConfig(c.url, e.terminal.apiKey, { syncInterval: 3600, heartbeatInterval: 3600, realtime: false }), testLogger());
    try {
      await service.initialize(e.terminal.terminalId);
      await waitUntil('the start-up pass finished', () => runs(e).find((h) => h.trigger === 'startup' && h.finishedAt !== null));
      const before = service.status().lastSyncAt;
      const passes = runs(e);
      expect(passes.filter((h) => h.kind === 'CRITICAL')).toEqual([]);

      const number = `H-CRIT-${e.terminal.terminalId}`;
      sale(e.pos(), number);
      const critical = await waitUntil('a CRITICAL run in History', () => runs(e).find((h) => h.kind === 'CRITICAL'));
      expect(await count(c, 'orders WHERE order_number = $1', [number])).toBe(1);
      expect(critical).toMatchObject({ trigger: 'commit', pushed: 2, pulled: 0, failed: 0, errors: [] });
      expect(critical.finishedAt).not.toBeNull();
      // No pass ran for it: the push alone moved the last sync, in the status and in the file.
      expect(runs(e).filter((h) => h.kind !== 'CRITICAL')).toEqual(passes);
      const after = service.status().lastSyncAt;
      expect(after).not.toBe(before);
      expect(after !== null && after >= critical.startedAt).toBe(true);
      expect(e.store.base.getMeta('last_sync_at')).toBe(after);
    } finally {
      await service.stop();
    }
  });

  it("a busy till's many small pushes keep History bounded to the newest runs; a push with nothing to send adds none", async () => {
    const e = await startEngine(c, { initialSync: true, config: { historyRuns: 5 } });
    const pos = e.pos();
    for (let i = 1; i <= 12; i++) {
      sale(pos, `H-BUSY-${e.terminal.terminalId}-${i}`);
      const r = await e.service.pushCritical();
      expect(r.pushed).toBe(2);
    }
    const kept = runs(e);
    expect(kept).toHaveLength(5);
    expect(kept.every((h) => h.kind === 'CRITICAL' && h.pushed === 2)).toBe(true);
    // The newest five, newest first (ids only grow).
    const all = e.store.base.db.prepare('SELECT max(id) AS top FROM tillsync_history').get() as { top: number };
    expect(kept.map((h) => h.id)).toEqual([0, 1, 2, 3, 4].map((k) => all.top - k));

    await e.service.pushCritical(); // nothing pending
    expect(runs(e).map((h) => h.id)).toEqual(kept.map((h) => h.id));
    expect(await count(c, `orders WHERE order_number LIKE $1`, [`H-BUSY-${e.terminal.terminalId}-%`])).toBe(12);
  });
});
