/**
 * A small TCP load balancer for tests of central behind one: each new client
 * connection goes to the next backend (round-robin) whose `GET /readyz` answered 200 at
 * the last poll; a backend that refuses the connection is skipped for the next ready
 * one (as HAProxy's `option redispatch` does). Being TCP, it carries websocket upgrades
 * as it carries everything else.
 *
 * It reads what passes (without changing it) to count the HTTP exchanges: each
 * request line sent to a backend and each response status line coming back, per
 * backend, up to a 101 Switching Protocols (a websocket; nothing after it is HTTP).
 */
import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface Backend {
  readonly name: string;
  readonly port: number;
}

export interface Exchange {
  readonly backend: string;
  readonly method: string;
  readonly path: string;
  /** Undefined until its response's status line came back. */
  status: number | undefined;
}

export interface Balancer {
  readonly url: string;
  /** Every request forwarded, in order, with its status once answered. */
  readonly exchanges: readonly Exchange[];
  /** Backends ready at the last poll. */
  ready(): string[];
  /** Called when a request line has been forwarded to a backend. */
  onRequest(listener: (e: Exchange) => void): void;
  close(): Promise<void>;
}

/** Whether `GET /readyz` on the backend answers 200 (within a second; anything else is not ready). */
function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Reads one direction of an HTTP/1.1 connection: message heads, then bodies by
 * Content-Length or chunked encoding; stops at a 101 or a message it cannot delimit.
 */
class HttpReader {
  private buf = Buffer.alloc(0);
  private body = 0;
  private chunked = false;
  private done = false;

  constructor(private readonly onHead: (firstLine: string) => boolean) {}

  feed(data: Buffer): void {
    if (this.done) return;
    this.buf = Buffer.concat([this.buf, data]);
    for (;;) {
      if (this.body > 0) {
        const n = Math.min(this.body, this.buf.length);
        this.buf = this.buf.subarray(n);
        this.body -= n;
        if (this.body > 0) return;
        if (this.chunked) this.body = -2; // the CRLF after a chunk's data
      }
      if (this.body === -2) {
        if (this.buf.length < 2) return;
        this.buf = this.buf.subarray(2);
        this.body = 0;
      }
      if (this.chunked) {
        const eol = this.buf.indexOf('\r\n');
        if (eol < 0) return;
        const size = parseInt(this.buf.subarray(0, eol).toString('latin1'), 16);
        this.buf = this.buf.subarray(eol + 2);
        if (size === 0) {
          // Trailers (none here) end with an empty line.
          const end = this.buf.indexOf('\r\n');
          if (end < 0) return;
          this.buf = this.buf.subarray(end + 2);
          this.chunked = false;
          continue;
        }
        this.body = size;
        continue;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      this.buf = this.buf.subarray(end + 4);
      if (!this.onHead(lines[0] ?? '')) {
        this.done = true;
        return;
      }
      const header = (name: string) => lines.find((l) => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
      if (header('transfer-encoding')?.toLowerCase().includes('chunked')) this.chunked = true;
      else this.body = Number(header('content-length') ?? 0);
    }
  }
}

export async function startBalancer(backends: readonly Backend[], opts: { pollMs?: number } = {}): Promise<Balancer> {
  const readySet = new Set<string>();
  const exchanges: Exchange[] = [];
  const listeners: ((e: Exchange) => void)[] = [];
  const sockets = new Set<Socket>();
  let next = 0;
  let closed = false;

  const poll = async () => {
    const states = await Promise.all(backends.map((b) => probe(b.port)));
    backends.forEach((b, i) => (states[i] ? readySet.add(b.name) : readySet.delete(b.name)));
  };
  await poll();
  const poller = setInterval(() => void poll(), opts.pollMs ?? 100);

  /** The ready backends from the next one in turn on. */
  const candidates = (): Backend[] => {
    const ready = backends.filter((b) => readySet.has(b.name));
    if (ready.length === 0) return [];
    const start = next++ % ready.length;
    return [...ready.slice(start), ...ready.slice(0, start)];
  };

  const pipe = (client: Socket, backend: Backend, upstream: Socket) => {
    const pending: Exchange[] = [];
    const requests = new HttpReader((line) => {
      const [method = '', path = ''] = line.split(' ');
      const e: Exchange = { backend: backend.name, method, path, status: undefined };
      exchanges.push(e);
      pending.push(e);
      for (const l of listeners) l(e);
      return true;
    });
    const responses = new HttpReader((line) => {
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(line)?.[1]);
      const e = pending.shift();
      if (e) e.status = status;
      return status !== 101;
    });
    client.on('data', (d: Buffer) => {
      requests.feed(d);
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      responses.feed(d);
      client.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.resume();
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const tries = candidates();
    const attempt = (i: number) => {
      const backend = tries[i];
      if (!backend || closed) {
        client.destroy(); // nobody ready: the client sees the connection drop, as behind any balancer
        return;
      }
      const upstream = connect(backend.port, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      const refused = () => attempt(i + 1);
      upstream.once('error', refused);
      upstream.once('connect', () => {
        upstream.off('error', refused);
        upstream.on('error', () => client.destroy());
        pipe(client, backend, upstream);
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    ready: () => backends.filter((b) => readySet.has(b.name)).map((b) => b.name),
    onRequest: (l) => listeners.push(l),
    async close() {
      closed = true;
      clearInterval(poller);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
