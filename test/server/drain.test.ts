/**
 * The graceful drain (Central.drain, what SIGTERM runs), in process, over real HTTP
 * and socket.io: a push in flight when the drain starts is answered 200 and
 * committed; a request that arrives on a connection already open is served (not
 * fastify's default 503) with `Connection: close`, and /readyz then answers 503
 * (accepting failed); a new connection is refused; a till's socket is told
 * `server:draining` and reconnects by itself once its transport closes.
 *
 * The push is held in flight by a lock on the table it writes (PostgreSQL) or by a
 * transaction held open on PGlite's one connection, released once the drain has begun.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket as NetSocket } from 'node:net';
import pg from 'pg';
import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ReadyResponse } from '../../src/server/readiness.js';
import { SOCKET_EVENTS } from '../../src/shared/protocol.js';
import { onPostgres, startCentral, testDatabase, type TestCentral, type TestDatabase } from '../helpers/central.js';
import { waitUntil } from '../helpers/processes.js';
import { trackSocket, closeSockets } from '../helpers/socket.js';
import { count } from '../helpers/sync.js';

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A keep-alive connection written to by hand; parses the responses (Content-Length bodies) as they come. */
class RawConnection {
  readonly socket: NetSocket;
  readonly responses: RawResponse[] = [];
  closed = false;
  private buf = Buffer.alloc(0);

  constructor(url: string) {
    const u = new URL(url);
    this.socket = connect(Number(u.port), u.hostname);
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => undefined);
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  write(text: string): void {
    this.socket.write(text);
  }

  private parse(): void {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1]);
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (this.buf.length < end + 4 + length) return;
      this.responses.push({ status, headers, body: this.buf.subarray(end + 4, end + 4 + length).toString('utf8') });
      this.buf = this.buf.subarray(end + 4 + length);
    }
  }
}

const request = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): string => {
  const text = body === undefined ? '' : JSON.stringify(body);
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: central', 'Connection: keep-alive', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  if (body !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(text)}`);
  return `${lines.join('\r\n')}\r\n\r\n${text}`;
};

/** Holds the push's table: a lock from another session (PostgreSQL), or PGlite's one connection. */
async function holdOrders(td: TestDatabase): Promise<{ release(): Promise<void> }> {
  if (onPostgres) {
    const client = new pg.Client({ connectionString: td.url });
    await client.connect();
    await client.query('BEGIN');
    await client.query('LOCK TABLE orders IN EXCLUSIVE MODE');
    return {
      async release() {
        await client.query('COMMIT');
        await client.end();
      },
    };
  }
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let held!: () => void;
  const holding = new Promise<void>((r) => (held = r));
  const tx = td.db.transaction(async (t) => {
    await t.query('SELECT 1');
    held();
    await gate;
  });
  await holding;
  return {
    async release() {
      open();
      await tx;
    },
  };
}

describe('drain (what SIGTERM runs)', () => {
  let td: TestDatabase | undefined;
  let c: TestCentral | undefined;
  afterEach(async () => {
    closeSockets();
    await c?.close();
    await td?.close();
    c = undefined;
    td = undefined;
  });

  it('answers a push in flight (200, committed) and a request on an open connection (served, Connection: close; /readyz 503), refuses new connections', async () => {
    td = await testDatabase();
    c = await startCentral({ db: td.db });
    const t = await c.provision(uid('s'), uid('t'));
    // The terminal's key is known before the database is held (the push is held in its transaction, not in auth).
    expect((await t.api.get('/api/sync/status')).status).toBe(200);
    const ready = await c.admin.get('/readyz');
    expect(ready.status, ready.text).toBe(200);

    const conn = new RawConnection(c.url);
    await conn.opened();
    const held = await holdOrders(td);
    const orderId = uid('order');
    const push = request(
      'POST',
      '/api/sync/push',
      { terminalId: t.terminalId, changes: [{ changeId: uid('change'), entityType: 'SaleOrder', entityId: orderId, operation: 'CREATE', data: { order_number: uid('n'), status: 'completed' } }] },
      { authorization: `Bearer ${t.apiKey}` },
    );
    // The push, and behind it on the same connection a request that is read only once the push is answered.
    const arrived = new Promise<void>((resolve) => c?.central.app.server.on('request', (req) => req.url === '/api/sync/push' && resolve()));
    conn.write(push + request('GET', '/readyz'));
    await arrived;

    let drainDone = false;
    const drain = c.central.drain(20_000).then((r) => {
      drainDone = true;
      return r;
    });
    // A new connection is refused.
    await waitUntil('a new connection to be refused', async () => {
      try {
        await fetch(`${c?.url}/healthz`, { signal: AbortSignal.timeout(2000) });
        return false;
      } catch {
        return true;
      }
    });
    expect(drainDone, 'the drain waits for the push under way').toBe(false);
    await held.release();

    await waitUntil('both answers', () => conn.responses.length === 2 || conn.closed, { timeout: 15_000 });
    const [pushAnswer, readyz] = conn.responses;
    expect(pushAnswer?.status, pushAnswer?.body).toBe(200);
    expect(JSON.parse(pushAnswer?.body ?? '{}').results[0].status).toBe('applied');
    // The request that arrived during the drain: served by its route (not fastify's 503), on a connection now closing.
    expect(readyz?.status, readyz?.body).toBe(503);
    expect(ReadyResponse.parse(JSON.parse(readyz?.body ?? '{}'))).toMatchObject({ status: 'not_ready', checks: { accepting: 'failed' } });
    expect(readyz?.headers.connection).toBe('close');
    expect(await drain).toEqual({ completed: true });
    expect(await count({ db: td.db }, 'orders WHERE id = $1', [orderId])).toBe(1);
  });

  it("tells a till's socket `server:draining`; a plain socket.io client reconnects by itself (to whoever listens next)", async () => {
    td = await testDatabase();
    c = await startCentral({ db: td.db });
    const t = await c.provision(uid('s'), uid('t'));
    const socket = trackSocket(io(c.url, { auth: { token: t.apiKey }, transports: ['websocket'], forceNew: true, reconnectionDelay: 100, reconnectionDelayMax: 200 }));
    const notices: unknown[] = [];
    const reasons: string[] = [];
    socket.on(SOCKET_EVENTS.draining, (n: unknown) => notices.push(n));
    socket.on('disconnect', (reason) => reasons.push(reason));
    await waitUntil('the socket to connect', () => socket.connected);

    const result = await c.central.drain(10_000);
    expect(result).toEqual({ completed: true });
    expect(notices).toHaveLength(1);
    await waitUntil('the socket to see its connection close', () => reasons.length > 0);
    // A lost transport, which socket.io-client reconnects after (not 'io server disconnect').
    expect(reasons).toEqual(['transport close']);
    expect(socket.active, 'the client is reconnecting').toBe(true);

    // Another instance on the same port and database: the same client comes back to it.
    const port = Number(new URL(c.url).port);
    await c.close();
    c = await startCentral({ db: td.db, config: { port } });
    await waitUntil('the socket to reconnect', () => socket.connected, { timeout: 15_000 });
  });
});
