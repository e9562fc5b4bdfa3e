/**
 * The engine's socket (Link) comes back by itself after the server disconnects it on
 * purpose ('io server disconnect', after which socket.io-client does not reconnect on
 * its own), after a short randomized delay: an instance that drains by disconnecting
 * its sockets, or a proxy in between doing so, does not leave a till without triggers.
 * (Central's own drain closes the transport instead, which socket.io-client reconnects
 * after anyway: test/server/drain.test.ts.) A real socket.io server on a real port.
 */
import { createServer } from 'node:http';
import pino from 'pino';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { Link } from '../../src/main/sync/link.js';
import { DEFAULT_SYNC_CONFIG } from '../../src/main/sync/sync-config.js';
import { SOCKET_EVENTS } from '../../src/shared/protocol.js';
import { waitUntil } from '../helpers/processes.js';

describe("the engine's socket after a server-side disconnect", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('reconnects by itself (and registers again)', { timeout: 30_000 }, async () => {
    const http = createServer();
    const io = new Server(http, { serveClient: false });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
    const address = http.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    let connections = 0;
    const registers: unknown[] = [];
    io.on('connection', (socket) => {
      connections++;
      socket.on(SOCKET_EVENTS.register, (payload: unknown, reply?: (r: { ok: boolean }) => void) => {
        registers.push(payload);
        reply?.({ ok: true });
        // The first connection is told to go away, as a draining server may.
        if (connections === 1) socket.disconnect(true);
      });
    });

    let reconnected = 0;
    const link = new Link({
      client: { heartbeat: async () => ({ terminalId: 'till-1', status: 'ONLINE', serverTime: new Date().toISOString(), heartbeatIntervalSeconds: 30 }) },
      config: { ...DEFAULT_SYNC_CONFIG, centralUrl: `http://127.0.0.1:${port}`, apiKey: 'k', reconnectMaxDelayMs: 2000 },
      log: pino({ level: 'silent' }),
      terminalId: () => 'till-1',
      report: () => ({ syncing: false, outbox: {}, lastSyncAt: null }),
      events: { online: () => undefined, offline: () => undefined, reconnected: () => reconnected++, trigger: async () => undefined, hinted: () => undefined },
    });
    cleanups.push(() => link.stop());
    link.connectSocket();

    await waitUntil('the second connection and its register', () => connections === 2 && registers.length === 2);
    await waitUntil('the engine told of the reconnect', () => reconnected === 1);
    expect(registers).toEqual([{ terminalId: 'till-1' }, { terminalId: 'till-1' }]);
  });
});
