/**
 * The fault proxy of the fault campaign: each fault mode really happens on real
 * loopback TCP (a reset is a reset, a truncation a clean short end), a kept-alive
 * connection gets a new fate per request, healing ends hung connections and lets new
 * ones pass, and a seed repeats the same fates.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultProxy, type FaultKind, type FaultPlan } from './fault-proxy.js';

const REQUEST = 1000;
const RESPONSE = 4000;

/** An upstream that answers RESPONSE bytes once it has read REQUEST bytes, then ends. */
interface Upstream {
  readonly server: Server;
  readonly port: number;
  /** Bytes received per accepted connection. */
  readonly received: number[];
  close(): Promise<void>;
}

async function upstream(): Promise<Upstream> {
  const received: number[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    const i = received.push(0) - 1;
    s.on('data', (d: Buffer) => {
      received[i] = (received[i] ?? 0) + d.length;
      if (received[i] === REQUEST) s.end(Buffer.alloc(RESPONSE, 0x61));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  return {
    server,
    port: typeof addr === 'object' && addr ? addr.port : 0,
    received,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

interface Exchange {
  readonly bytes: number;
  /** 'end': a clean FIN; else the socket error's code. */
  readonly outcome: string;
  readonly ms: number;
}

/** Sends REQUEST bytes through the proxy and reads until the connection ends (10 s at most). */
function exchange(port: number, opts: { onSocket?: (s: Socket) => void } = {}): Promise<Exchange> {
  const started = Date.now();
  return new Promise((resolve) => {
    let bytes = 0;
    let outcome = 'close';
    const s = connect({ port, host: '127.0.0.1' });
    opts.onSocket?.(s);
    const guard = setTimeout(() => s.destroy(), 10_000);
    s.on('data', (d: Buffer) => (bytes += d.length));
    s.on('end', () => {
      outcome = 'end';
      s.end();
    });
    s.on('error', (err: NodeJS.ErrnoException) => (outcome = err.code ?? err.message));
    s.on('close', () => {
      clearTimeout(guard);
      resolve({ bytes, outcome, ms: Date.now() - started });
    });
    s.write(Buffer.alloc(REQUEST, 0x62));
  });
}

let up: Upstream | undefined;
let proxy: FaultProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  await up?.close();
  proxy = undefined;
  up = undefined;
});

async function proxyWith(plan: FaultPlan): Promise<{ up: Upstream; proxy: FaultProxy }> {
  up = await upstream();
  proxy = await FaultProxy.start({ upstreamPort: up.port, seed: 1, plan: () => plan });
  return { up, proxy };
}

describe('the fault proxy', () => {
  it('passes bytes both ways untouched', async () => {
    const { up, proxy } = await proxyWith({ kind: 'pass' });
    expect(await exchange(proxy.port)).toMatchObject({ bytes: RESPONSE, outcome: 'end' });
    expect(up.received).toEqual([REQUEST]);
  });

  it('adds latency to each direction', async () => {
    const { up, proxy } = await proxyWith({ kind: 'latency', delayMs: 250 });
    const r = await exchange(proxy.port);
    expect(r).toMatchObject({ bytes: RESPONSE, outcome: 'end' });
    expect(r.ms).toBeGreaterThanOrEqual(480);
    expect(up.received).toEqual([REQUEST]);
    expect(proxy.stats().fired.latency).toBe(1);
  });

  it('drops a connection at once, before central hears of it', async () => {
    const { up, proxy } = await proxyWith({ kind: 'drop' });
    const r = await exchange(proxy.port);
    expect(r.bytes).toBe(0);
    expect(up.received).toEqual([]);
    expect(proxy.stats().fired.drop).toBe(1);
  });

  it('resets mid-request: central gets part of it, the client a reset and nothing else', async () => {
    const { up, proxy } = await proxyWith({ kind: 'reset-request', afterBytes: 300 });
    const r = await exchange(proxy.port);
    expect(r).toMatchObject({ bytes: 0, outcome: 'ECONNRESET' });
    expect(up.received.length).toBe(1);
    expect(up.received[0]).toBeLessThanOrEqual(300);
    expect(proxy.stats().fired['reset-request']).toBe(1);
  });

  it('resets mid-response: central got the whole request, the client part of the answer and a reset', async () => {
    const { up, proxy } = await proxyWith({ kind: 'reset-response', afterBytes: 1500 });
    const r = await exchange(proxy.port);
    // The RST follows the part by 20 ms; a client that had not read the part by then
    // sees it end like a clean close (Linux reports the data, then end of stream).
    expect(['ECONNRESET', 'end']).toContain(r.outcome);
    expect(r.bytes).toBeGreaterThan(0);
    expect(r.bytes).toBeLessThanOrEqual(1500);
    expect(up.received).toEqual([REQUEST]);
    expect(proxy.stats().fired['reset-response']).toBe(1);
  });

  it('truncates a response: part of the answer, then a clean end', async () => {
    const { up, proxy } = await proxyWith({ kind: 'truncate', afterBytes: 1500 });
    expect(await exchange(proxy.port)).toMatchObject({ bytes: 1500, outcome: 'end' });
    expect(up.received).toEqual([REQUEST]);
    expect(proxy.stats().fired.truncate).toBe(1);
  });

  it('hangs a connection until its timeout, forwarding nothing', async () => {
    const { up, proxy } = await proxyWith({ kind: 'hang', timeoutMs: 400 });
    const r = await exchange(proxy.port);
    expect(r.bytes).toBe(0);
    expect(r.ms).toBeGreaterThanOrEqual(380);
    expect(up.received).toEqual([]);
    expect(proxy.stats().fired.hang).toBe(1);
  });

  it('heal() ends hung connections at once and lets new connections pass', async () => {
    up = await upstream();
    // Every connection would hang for a minute while faults are on.
    proxy = await FaultProxy.start({ upstreamPort: up.port, seed: 2, weights: { pass: 0, latency: 0, drop: 0, 'reset-request': 0, 'reset-response': 0, truncate: 0, hang: 1 }, hangMs: [60_000, 60_000] });
    const p = proxy;
    let opened: () => void = () => undefined;
    const connected = new Promise<void>((r) => (opened = r));
    const hung = exchange(p.port, { onSocket: (s) => s.once('connect', () => opened()) });
    await connected;
    await new Promise((r) => setTimeout(r, 200));
    expect(p.open).toBe(1);
    const healedAt = Date.now();
    p.heal();
    const r = await hung;
    expect(r.bytes).toBe(0);
    expect(Date.now() - healedAt).toBeLessThan(1000);
    expect(await exchange(p.port)).toMatchObject({ bytes: RESPONSE, outcome: 'end' });
    expect(up.received).toEqual([REQUEST]);
    expect(p.stats().planned).toMatchObject({ hang: 1, pass: 1 });
  });

  it('draws a new fate for each request on a kept-alive connection', async () => {
    // An upstream that answers every REQUEST bytes with RESPONSE bytes and keeps the connection.
    const received: number[] = [];
    const server = createServer((s) => {
      s.on('error', () => undefined);
      let pending = 0;
      s.on('data', (d: Buffer) => {
        received.push(d.length);
        pending += d.length;
        while (pending >= REQUEST) {
          pending -= REQUEST;
          s.write(Buffer.alloc(RESPONSE, 0x61));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const seen: string[] = [];
    const p = await FaultProxy.start({
      upstreamPort: port,
      seed: 3,
      plan: (_c, exchange) => (exchange === 0 ? { kind: 'pass' } : { kind: 'truncate', afterBytes: 100 }),
      onExchange: (c, e, plan) => seen.push(`${c}.${e} ${plan.kind}`),
    });
    try {
      const got = await new Promise<{ first: number; second: number; outcome: string }>((resolve) => {
        let first = 0;
        let second = 0;
        let outcome = 'close';
        const s = connect({ port: p.port, host: '127.0.0.1' });
        const guard = setTimeout(() => s.destroy(), 10_000);
        s.on('data', (d: Buffer) => {
          if (first < RESPONSE) {
            first += d.length;
            if (first >= RESPONSE) s.write(Buffer.alloc(REQUEST, 0x62)); // the next request on the same connection
          } else second += d.length;
        });
        s.on('end', () => {
          outcome = 'end';
          s.end();
        });
        s.on('error', (err: NodeJS.ErrnoException) => (outcome = err.code ?? err.message));
        s.on('close', () => {
          clearTimeout(guard);
          resolve({ first, second, outcome });
        });
        s.write(Buffer.alloc(REQUEST, 0x62));
      });
      expect(got).toEqual({ first: RESPONSE, second: 100, outcome: 'end' });
      expect(seen).toEqual(['0.0 pass', '0.1 truncate']);
      expect(p.stats()).toMatchObject({ connections: 1, exchanges: 2 });
    } finally {
      await p.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('draws the same fates from the same seed', async () => {
    up = await upstream();
    const fates = async (seed: number): Promise<FaultKind[]> => {
      const seen: FaultKind[] = [];
      const p = await FaultProxy.start({ upstreamPort: (up as Upstream).port, seed, hangMs: [50, 50], latencyMs: [1, 5], onExchange: (_c, _e, plan) => seen.push(plan.kind) });
      try {
        for (let i = 0; i < 30; i++) await exchange(p.port);
      } finally {
        await p.close();
      }
      return seen;
    };
    const a = await fates(42);
    expect(await fates(42)).toEqual(a);
    expect(new Set(a).size).toBeGreaterThanOrEqual(5);
    expect(await fates(43)).not.toEqual(a);
  });
});
