/**
 * Once the network heals, the till catches up within seconds, however long central
 * was away: the engine's probe while offline (and its socket's reconnects) grow to at
 * most `reconnectMaxDelayMs` (5 s), not 30 s.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { SyncService } from '../../src/main/sync/sync-service.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, engineConfig, startEngine, testLogger } from '../helpers/engine.js';
import { waitUntil } from '../helpers/processes.js';
import { count } from '../helpers/sync.js';

afterAll(closeAll);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP relay to central that can be taken down (connections refused) and brought back on the same port. */
class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: number) {}
  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: this.target });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((res) => server.listen(this.port, '127.0.0.1', res));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }
  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()));
    this.server = undefined;
  }
}

describe('healing', () => {
  const c = useCentral();

  it('after central was unreachable for a while, a sale rung up meanwhile reaches it within seconds of the network coming back', async () => {
    const e = await startEngine(c, { initialSync: true });
    const relay = new Relay(Number(new URL(c.url).port));
    await relay.up();
    await e.service.stop();
    const service = new SyncService(
      e.store,
      engineConfig(`http://127.0.0.1:${relay.port}`, e.terminal.apiKey, { realtime: true, retryDelay: 250, syncInterval: 3600, heartbeatInterval: 3600 }),
      testLogger(),
    );
    try {
      await service.initialize(e.terminal.terminalId);
      await waitUntil('online', () => service.status().connection === 'online', { timeout: 10_000 });
      await relay.down();
      const pos = e.pos();
      const now = new Date().toISOString();
      pos.prepare(`INSERT INTO orders (order_number, status, total, currency, completed_at, created_at) VALUES ('HEAL-1', 'completed', 5, 'EUR', ?, ?)`).run(now, now);
      await waitUntil('offline', () => service.status().connection === 'offline', { timeout: 10_000 });
      await sleep(12_000); // long enough for a probe doubling from 250 ms to pause 8-16 s
      await relay.up();
      const healed = Date.now();
      await waitUntil('HEAL-1 at central', async () => (await count(c, "orders WHERE order_number = 'HEAL-1'")) === 1, { timeout: 15_000, interval: 50 });
      expect(Date.now() - healed).toBeLessThan(6_000);
    } finally {
      await service.stop();
      await relay.down();
    }
  }, 60_000);
});
