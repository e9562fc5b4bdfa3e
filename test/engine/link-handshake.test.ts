/**
 * The engine's socket (Link) when its handshake goes wrong, against a real socket.io
 * server behind a real TCP relay on loopback:
 * - a connection reset right after the websocket upgrade (socket.io-client gets a
 *   close, not an error, and would wait out its 20 s connect timeout) is tried again
 *   after the socket's short backoff;
 * - a handshake that hangs is dropped as soon as central answers over HTTP, and the
 *   socket connects at once: HQ's changes reach the till by the socket's hints.
 * The fault campaign found the first (test/chaos): a till online over HTTP for 20 s
 * without hints.
 */
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import pino from 'pino';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { Link } from '../../src/main/sync/link.js';
import { DEFAULT_SYNC_CONFIG } from '../../src/main/sync/sync-config.js';
import { SOCKET_EVENTS } from '../../src/shared/protocol.js';
import { waitUntil } from '../helpers/processes.js';

type Fate = 'pass' | 'reset-after-upgrade' | 'hang';

/** A TCP relay to `port`; each new connection takes the next fate of `fates` (then `pass`). */
async function relay(port: number, fates: Fate[]): Promise<{ url: string; fates: Fate[]; connections: () => number; drop: () => void; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: NetServer = createServer((client) => {
    connections++;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const fate = fates.shift() ?? 'pass';
    if (fate === 'hang') {
      client.on('data', () => undefined); // read and forget; never answer
      return;
    }
    const upstream = connect({ port, host: '127.0.0.1' });
    sockets.add(upstream);
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    if (fate === 'pass') {
      upstream.pipe(client);
      return;
    }
    // The upgrade's answer and a few bytes of the first frame reach the client, then a reset.
    let seen = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const end = seen.indexOf('\r\n\r\n');
      if (end < 0) return;
      upstream.pause();
      client.write(seen.subarray(0, end + 4 + 3), () => setTimeout(() => client.resetAndDestroy(), 20));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const relayPort = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${relayPort}`,
    fates,
    connections: () => connections,
    /** Cuts every live connection (the network lost them). */
    drop: () => {
      for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("the engine's socket when its handshake goes wrong", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  /**
   * A socket.io server that answers every terminal:register (`registers` counts them);
   * it checks a socket's key (`handshakes` counts them) in `authMs`, as central asks its database.
   */
  async function central(authMs = 0) {
    const http = createHttpServer();
    const io = new Server(http, { serveClient: false });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
    const address = http.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const state = { port, registers: 0, handshakes: 0 };
    io.use((_socket, next) => {
      state.handshakes++;
      setTimeout(next, authMs);
    });
    io.on('connection', (socket) => {
      socket.on(SOCKET_EVENTS.register, (_payload: unknown, reply?: (r: { ok: boolean }) => void) => {
        state.registers++;
        reply?.({ ok: true });
      });
    });
    return state;
  }

  function link(url: string) {
    const l = new Link({
      client: { heartbeat: async () => ({ terminalId: 'till-1', status: 'ONLINE', serverTime: new Date().toISOString(), heartbeatIntervalSeconds: 30 }) },
      config: { ...DEFAULT_SYNC_CONFIG, centralUrl: url, apiKey: 'k', reconnectMaxDelayMs: 2000 },
      log: pino({ level: 'silent' }),
      terminalId: () => 'till-1',
      report: () => ({ syncing: false, outbox: {}, lastSyncAt: null }),
      events: { online: () => undefined, offline: () => undefined, reconnected: () => undefined, trigger: async () => undefined, hinted: () => undefined },
    });
    cleanups.push(() => l.stop());
    return l;
  }

  it('a connection reset right after the upgrade is tried again after a short pause, not after the 20 s connect timeout', { timeout: 30_000 }, async () => {
    const c = await central();
    const r = await relay(c.port, ['reset-after-upgrade']);
    cleanups.push(r.close);
    link(r.url).connectSocket();
    // The link's first pause is 0.5-1 s; socket.io-client alone would wait 20 s.
    await waitUntil('the socket registered over a second connection', () => c.registers === 1, { timeout: 8000 });
    expect(r.connections()).toBe(2);
  });

  it('a reconnect whose handshake is cut right after the upgrade is tried again after a short pause', { timeout: 30_000 }, async () => {
    const c = await central();
    const r = await relay(c.port, ['pass', 'reset-after-upgrade']);
    cleanups.push(r.close);
    link(r.url).connectSocket();
    await waitUntil('the socket registered', () => c.registers === 1);
    // The network loses the connection: socket.io reconnects by itself, and that handshake is cut.
    r.drop();
    await waitUntil('the socket registered again over a third connection', () => c.registers === 2, { timeout: 8000 });
    expect(r.connections()).toBe(3);
  });

  it('a heartbeat answered while central checks the socket’s key leaves that handshake be', { timeout: 30_000 }, async () => {
    const c = await central(400);
    const l = link(`http://127.0.0.1:${c.port}`);
    l.connectSocket();
    await waitUntil('the socket’s key being checked', () => c.handshakes === 1);
    expect(await l.heartbeat()).toBe(true); // online: the socket is on its way, not down
    await waitUntil('the socket registered', () => c.registers === 1);
    expect(c.handshakes).toBe(1);
  });

  it('a handshake that hangs is dropped once central answers over HTTP, and the socket connects at once', { timeout: 30_000 }, async () => {
    const c = await central();
    const r = await relay(c.port, ['hang']);
    cleanups.push(r.close);
    const l = link(r.url);
    l.connectSocket();
    await waitUntil('the handshake on its way', () => r.connections() === 1);
    await new Promise((resolve) => setTimeout(resolve, 2000)); // longer than a handshake takes
    expect(c.registers).toBe(0);
    // Central answers a heartbeat: the till is online, and its socket must not wait out the hang.
    expect(await l.heartbeat()).toBe(true);
    expect(l.connection).toBe('online');
    await waitUntil('the socket registered over a new connection', () => c.registers === 1, { timeout: 4000 });
    expect(r.connections()).toBe(2);
  });
});
