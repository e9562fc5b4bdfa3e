/**
 * Delivery up is event-driven (DESIGN invariant 11), with the engine's real schedule
 * (the watcher, timers) and a central behind a pass-through proxy:
 * - a sale committed while a push runs (the start-up sync's) is pushed right after
 *   it, not at the next interval: no commit falls between a running push and the
 *   watcher;
 * - in `prompt` mode (the default) a change of any tier reaches central within a
 *   second or two, several commits coalesced into one push, higher tiers first;
 * - in `cadence` mode only CRITICAL goes at once, the rest waits for its cycle;
 * - changes backing off after central failed go again when due, not at the interval.
 */
import type Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SyncService } from '../../src/main/sync/sync-service.js';
import { type SyncConfig } from '../../src/main/sync/sync-config.js';
import type { PushRequest } from '../../src/shared/protocol.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, engineConfig, startEngine, startProxy, testLogger, type PassThroughProxy, type TerminalEngine } from '../helpers/engine.js';
import { waitUntil } from '../helpers/processes.js';
import { count } from '../helpers/sync.js';

afterAll(closeAll);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sale(pos: Database.Database, number: string): void {
  pos.transaction(() => {
    const now = new Date().toISOString();
    const order = pos
      .prepare(`INSERT INTO orders (order_number, status, subtotal, total, currency, ordered_at, completed_at, created_at) VALUES (?, 'completed', 10, 10, 'EUR', ?, ?, ?)`)
      .run(number, now, now, now).lastInsertRowid;
    pos.prepare(`INSERT INTO payments (order_id, method, amount, currency, status, paid_at) VALUES (?, 'card', 10, 'EUR', 'captured', ?)`).run(order, now);
  })();
}

const atCentral = (c: { db: TerminalEngine['central']['db'] }, number: string) => count(c, 'orders WHERE order_number = $1', [number]);

/** The engine of `e`'s file replaced by one on its full schedule (watcher and timers), pointed at `url`. */
async function scheduled(e: TerminalEngine, url: string, overrides: Partial<SyncConfig> = {}): Promise<SyncService> {
  await e.service.stop();
  const config = engineConfig(url, e.terminal.apiKey, { syncInterval: 3600, heartbeatInterval: 3600, ...overrides });
  const service = new SyncService(e.store, config, testLogger());
  await service.initialize(e.terminal.terminalId);
  running.push(service);
  return service;
}
const running: SyncService[] = [];
afterAll(async () => {
  for (const s of running) await s.stop();
});

const pushes = (p: PassThroughProxy) => p.requests.filter((r) => r.path === '/api/sync/push').map((r) => JSON.parse(r.body) as PushRequest);

describe('event-driven push', () => {
  const c = useCentral();

  it('a sale committed while the start-up push is at central is pushed right after it, not at the next interval', async () => {
    const e = await startEngine(c, { initialSync: true });
    const pos = e.pos();
    sale(pos, 'RACE-1'); // pending when the engine starts: the start-up sync pushes it
    let held = false;
    const proxy = await startProxy(c.url, async (r) => {
      if (r.path !== '/api/sync/push' || held) return;
      held = true;
      // While this push is at central, the POS rings up another sale, and the watcher sees the commit.
      sale(pos, 'RACE-2');
      await sleep(300);
    });
    try {
      await scheduled(e, proxy.url);
      await waitUntil('RACE-1 at central', async () => (await atCentral(c, 'RACE-1')) === 1, { timeout: 10_000 });
      // The interval is an hour: only the event path can bring RACE-2 in time.
      await waitUntil('RACE-2 at central', async () => (await atCentral(c, 'RACE-2')) === 1, { timeout: 5_000 });
    } finally {
      await proxy.close();
    }
  });

  it('prompt (the default): a change of every tier reaches central within seconds, commits coalesced, higher tiers first', async () => {
    const e = await startEngine(c, { initialSync: true });
    const proxy = await startProxy(c.url);
    try {
      const service = await scheduled(e, proxy.url);
      expect(service.config.pushMode).toBe('prompt');
      const pos = e.pos();
      const before = pushes(proxy).length;
      // A burst of non-CRITICAL writes: customers (MEDIUM), a setting (LOW), an audit log (BACKGROUND).
      const addCustomer = pos.prepare(`INSERT INTO customers (name, loyalty_points) VALUES (?, 0)`);
      for (let i = 0; i < 5; i++) addCustomer.run(`Prompt ${i}`);
      pos.prepare(`INSERT INTO settings (key, value) VALUES ('prompt.test', 'on')`).run();
      pos.prepare(`INSERT INTO audit_logs (action, entity) VALUES ('login', 'till')`).run();
      for (let i = 5; i < 10; i++) addCustomer.run(`Prompt ${i}`);
      const started = Date.now();
      await waitUntil('every change at central', async () => (await count(c, "customers WHERE name LIKE 'Prompt %'")) === 10 && (await count(c, "settings WHERE key = 'prompt.test'")) === 1 && (await count(c, "audit_logs WHERE action = 'login'")) >= 1, {
        timeout: 5_000,
      });
      expect(Date.now() - started).toBeLessThan(5_000);
      const sent = pushes(proxy).slice(before);
      // Coalesced: twelve commits, far fewer pushes (the window gathers them).
      expect(sent.length).toBeLessThanOrEqual(3);
      // Tier order within what was sent: priorities never rise along the push.
      const priorities = sent.flatMap((p) => p.changes.map((ch) => ch.priority ?? 0));
      expect([...priorities].sort((a, b) => b - a)).toEqual(priorities);
      await waitUntil('the outbox empty', () => e.store.outbox.counts().Customer?.pending === 0 && e.store.outbox.oldestPendingAt() === null, { timeout: 5_000 });
    } finally {
      await proxy.close();
    }
  });

  it("central's status shows the till's outbox as it is after a push, not as the last heartbeat saw it", async () => {
    const e = await startEngine(c, { initialSync: true });
    sale(e.pos(), 'REPORT-1'); // waiting when the engine starts: its first heartbeat reports it pending
    await scheduled(e, c.url); // heartbeats an hour apart
    await waitUntil('REPORT-1 at central', async () => (await atCentral(c, 'REPORT-1')) === 1, { timeout: 5_000 });
    const status = async () => (await c.admin.get('/api/sync/status', { terminalId: e.terminal.terminalId })).body as { totals: { pending: number; synced: number } };
    await waitUntil('central to see nothing waiting', async () => (await status()).totals.pending === 0, { timeout: 5_000 });
    expect((await status()).totals.synced).toBeGreaterThanOrEqual(2);
  });

  it('cadence: CRITICAL goes at once, a customer waits for its cycle', async () => {
    const e = await startEngine(c, { initialSync: true });
    await scheduled(e, c.url, { pushMode: 'cadence' });
    const pos = e.pos();
    pos.prepare(`INSERT INTO customers (name, loyalty_points) VALUES ('Cadence customer', 0)`).run();
    sale(pos, 'CADENCE-1');
    await waitUntil('the sale at central', async () => (await atCentral(c, 'CADENCE-1')) === 1, { timeout: 5_000 });
    await sleep(2_500); // longer than prompt mode's window
    expect(await count(c, "customers WHERE name = 'Cadence customer'")).toBe(0);
    expect(e.store.outbox.counts().Customer?.pending).toBe(1);
  });

  it('a change backing off after central failed goes again when it is due, not at the next interval', async () => {
    const e = await startEngine(c, { initialSync: true });
    let failNext = 1;
    const proxy = await startProxy(c.url, (r) => {
      if (r.path === '/api/sync/push' && failNext > 0) {
        failNext--;
        throw new Error('central hiccup'); // answered 502 by the proxy: retryable
      }
    });
    try {
      await scheduled(e, proxy.url, { retryDelay: 200 });
      sale(e.pos(), 'RETRY-1');
      await waitUntil('RETRY-1 at central after one failed push', async () => (await atCentral(c, 'RETRY-1')) === 1, { timeout: 5_000 });
      expect(pushes(proxy).length).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.close();
    }
  });
});
