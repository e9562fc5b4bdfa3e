/**
 * A fault-injecting TCP proxy for the fault campaign: the agent reaches central only
 * through it, HTTP and socket.io's websocket alike. Each exchange gets one fate, drawn
 * from a seeded PRNG in the order exchanges arrive. An exchange is a new connection,
 * and again each time the client speaks after central has answered on a kept-alive
 * connection (the next HTTP request, or the next websocket message after one from
 * central): keep-alive would otherwise carry a whole run on one lucky connection.
 *
 * - `pass`: bytes flow both ways untouched;
 * - `latency`: every chunk of the exchange, both ways, waits `delayMs` (order kept);
 * - `drop`: the connection is closed at once, before the exchange reaches central;
 * - `reset-request`: `afterBytes` of the client's bytes reach central, then both sides
 *   are reset (RST): central saw part of a request, or a whole one and then nothing;
 * - `reset-response`: `afterBytes` of central's bytes reach the client, then both sides
 *   are reset: central did the work, the client never learns the whole answer;
 * - `truncate`: `afterBytes` of central's bytes reach the client, then the client's side
 *   is closed cleanly (FIN): a short answer that looks like an ending;
 * - `hang`: nothing more is forwarded either way (on a new connection central never
 *   hears of it) until the proxy heals or `timeoutMs` passes, then it is closed.
 *
 * `heal()` turns faults off: new exchanges pass, live ones forward without delay or
 * cut from then on, and hung ones are closed at once (the clients retry over healthy
 * connections). Plain node:net, nothing faked: the connections are real loopback TCP.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Random } from './random.js';

export const FAULT_KINDS = ['pass', 'latency', 'drop', 'reset-request', 'reset-response', 'truncate', 'hang'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type FaultPlan =
  | { readonly kind: 'pass' }
  | { readonly kind: 'latency'; readonly delayMs: number }
  | { readonly kind: 'drop' }
  | { readonly kind: 'reset-request'; readonly afterBytes: number }
  | { readonly kind: 'reset-response'; readonly afterBytes: number }
  | { readonly kind: 'truncate'; readonly afterBytes: number }
  | { readonly kind: 'hang'; readonly timeoutMs: number };

export type FaultWeights = Readonly<Record<FaultKind, number>>;

/**
 * Weights the campaign uses: half the exchanges are faulty, so every push, pull,
 * heartbeat and socket message meets each fault often, while enough get through for
 * the till to make progress between faults.
 */
export const DEFAULT_FAULT_WEIGHTS: FaultWeights = {
  pass: 50,
  latency: 14,
  drop: 6,
  'reset-request': 7,
  'reset-response': 9,
  truncate: 7,
  hang: 7,
};

export type Range = readonly [min: number, max: number];

export interface FaultProxyOptions {
  readonly upstreamPort: number;
  readonly upstreamHost?: string;
  /** Port to listen on (default: a free one). */
  readonly port?: number;
  readonly host?: string;
  /** Seed of the fault draws (required: a run must be repeatable). */
  readonly seed: number;
  readonly weights?: Partial<FaultWeights>;
  /** Added delay per chunk of a `latency` exchange, ms (default 20-600). */
  readonly latencyMs?: Range;
  /**
   * Bytes of the exchange let through before a reset or a truncation (default 1-6,000,
   * log-uniform: as often within the headers as within a body). A threshold the
   * exchange never reaches makes it a `pass` (counted as planned, not fired).
   */
  readonly afterBytes?: Range;
  /** How long a hung exchange stays hung at most, ms (default 1,000-8,000). */
  readonly hangMs?: Range;
  /** Start with faults on (default true). */
  readonly faulty?: boolean;
  /** Decides each exchange's fate instead of the weights (unit tests force one mode). */
  readonly plan?: (connection: number, exchange: number) => FaultPlan;
  /** Told each exchange's fate as it begins (for logs and tests). */
  readonly onExchange?: (connection: number, exchange: number, plan: FaultPlan) => void;
}

/** Counts per fault kind. */
export type FaultCounts = Record<FaultKind, number>;

export interface FaultStats {
  /** Connections accepted. */
  readonly connections: number;
  /** Exchanges begun (connections, and requests after the first on kept-alive ones). */
  readonly exchanges: number;
  /** Fates drawn, per kind (while healed every exchange is `pass`). */
  readonly planned: FaultCounts;
  /** Faults that really happened (a reset whose byte count was never reached did not). */
  readonly fired: FaultCounts;
}

/** How long a reset waits after the bytes let through are written (see forward()). */
const RESET_AFTER_WRITE_MS = 20;

const zeroCounts = (): FaultCounts => Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as FaultCounts;

interface Link {
  readonly index: number;
  /** The current exchange's number on this connection and its fate. */
  exchange: number;
  plan: FaultPlan;
  readonly client: Socket;
  upstream: Socket | undefined;
  /** Bytes of the current exchange, each way. */
  bytesUp: number;
  bytesDown: number;
  /** Central has sent something since the client last did: the client's next bytes begin an exchange. */
  answered: boolean;
  /** What waits to be written, per direction, in order (latency delays it; ends wait behind it). */
  readonly queues: Record<'up' | 'down', Delayed[]>;
  readonly timers: Record<'up' | 'down', NodeJS.Timeout | undefined>;
  /** The current exchange's fault has happened (or can no longer happen). */
  done: boolean;
  /** A reset or truncation is under way: nothing more is forwarded, ends included. */
  cut: boolean;
  /** Hung: nothing is forwarded until the heal or the timeout closes it. */
  hung: boolean;
  hangTimer?: NodeJS.Timeout;
}

interface Delayed {
  readonly due: number;
  readonly run: () => void;
}

/** Sends RST when it can, else destroys: a reset is what the fault is about. */
function reset(s: Socket | undefined): void {
  if (!s || s.destroyed) return;
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

export class FaultProxy {
  private readonly server: Server;
  private readonly random: Random;
  private readonly links = new Set<Link>();
  private readonly weights: FaultWeights;
  private isFaulty: boolean;
  private closed = false;
  private accepted = 0;
  private exchanges = 0;
  private readonly planned = zeroCounts();
  private readonly fired = zeroCounts();
  /** Listening port (valid once started). */
  port = 0;

  private constructor(private readonly opts: FaultProxyOptions) {
    this.random = new Random(opts.seed);
    this.weights = { ...DEFAULT_FAULT_WEIGHTS, ...opts.weights };
    this.isFaulty = opts.faulty ?? true;
    // Half-open on: an HTTP client may end its side and still read the answer.
    this.server = createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    this.server.on('error', () => undefined);
  }

  static async start(opts: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(opts);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
        proxy.server.removeListener('error', reject);
        resolve();
      });
    });
    const addr = proxy.server.address();
    proxy.port = typeof addr === 'object' && addr ? addr.port : 0;
    return proxy;
  }

  get url(): string {
    return `http://${this.opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  get faulty(): boolean {
    return this.isFaulty;
  }

  /** Connections open through the proxy now. */
  get open(): number {
    return this.links.size;
  }

  /** Faults off: new exchanges pass; live ones forward untouched from now on; hung ones close. */
  heal(): void {
    this.isFaulty = false;
    for (const link of [...this.links]) {
      link.done = true;
      if (link.hung) this.end(link);
    }
  }

  /** Faults on again for new exchanges. */
  harm(): void {
    this.isFaulty = true;
  }

  stats(): FaultStats {
    return { connections: this.accepted, exchanges: this.exchanges, planned: { ...this.planned }, fired: { ...this.fired } };
  }

  /** Closes every connection and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of [...this.links]) this.end(link);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The fate of an exchange. */
  private draw(connection: number, exchange: number): FaultPlan {
    this.exchanges++;
    const plan = this.opts.plan ? this.opts.plan(connection, exchange) : this.drawn();
    this.planned[plan.kind]++;
    this.opts.onExchange?.(connection, exchange, plan);
    return plan;
  }

  private drawn(): FaultPlan {
    // Every draw takes the same numbers, healed or not, so the fates after a heal are
    // the ones the seed gave.
    const kind = this.random.weighted(this.weights);
    const [lmin, lmax] = this.opts.latencyMs ?? [20, 600];
    const [bmin, bmax] = this.opts.afterBytes ?? [1, 6000];
    const [hmin, hmax] = this.opts.hangMs ?? [1000, 8000];
    const delayMs = this.random.int(lmin, lmax);
    const afterBytes = this.random.logInt(bmin, bmax);
    const timeoutMs = this.random.int(hmin, hmax);
    if (!this.isFaulty) return { kind: 'pass' };
    switch (kind) {
      case 'pass':
      case 'drop':
        return { kind };
      case 'latency':
        return { kind, delayMs };
      case 'reset-request':
      case 'reset-response':
      case 'truncate':
        return { kind, afterBytes };
      case 'hang':
        return { kind, timeoutMs };
    }
  }

  private accept(client: Socket): void {
    const index = this.accepted++;
    client.on('error', () => undefined);
    if (this.closed) {
      client.destroy();
      return;
    }
    const plan = this.draw(index, 0);
    const link: Link = {
      index,
      exchange: 0,
      plan,
      client,
      upstream: undefined,
      bytesUp: 0,
      bytesDown: 0,
      answered: false,
      queues: { up: [], down: [] },
      timers: { up: undefined, down: undefined },
      done: plan.kind === 'pass',
      cut: false,
      hung: false,
    };
    this.links.add(link);
    client.once('close', () => this.end(link));
    if (this.begin(link)) return;

    const upstream = connect({ port: this.opts.upstreamPort, host: this.opts.upstreamHost ?? '127.0.0.1', allowHalfOpen: true });
    link.upstream = upstream;
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    upstream.on('error', () => undefined);
    // Central down (or the connection lost): the client sees a reset, as it would without us.
    upstream.once('close', () => {
      if (client.destroyed || link.cut || link.hung) return;
      if (upstream.bytesRead === 0) reset(client);
      else this.afterDelay(link, 'down', () => client.end());
    });
    client.on('data', (chunk: Buffer) => this.forward(link, 'up', chunk));
    upstream.on('data', (chunk: Buffer) => this.forward(link, 'down', chunk));
    client.on('end', () => {
      if (!link.cut && !link.hung) this.afterDelay(link, 'up', () => upstream.end());
    });
    upstream.on('end', () => {
      if (!link.cut && !link.hung) this.afterDelay(link, 'down', () => client.end());
    });
  }

  /** Starts the link's current exchange: a drop or a hang happens here (true: nothing more to forward). */
  private begin(link: Link): boolean {
    const plan = link.plan;
    if (plan.kind === 'drop') {
      this.fired.drop++;
      this.end(link);
      return true;
    }
    if (plan.kind === 'hang') {
      this.fired.hang++;
      link.hung = true;
      // Read and forget, so the client's writes never block; nothing goes anywhere.
      link.client.on('data', () => undefined);
      link.hangTimer = setTimeout(() => this.end(link), plan.timeoutMs);
      return true;
    }
    if (plan.kind === 'latency') this.fired.latency++;
    return false;
  }

  /**
   * Runs `fn` at `due` (now when omitted), but never before what was queued earlier in
   * that direction: one FIFO per direction, so chunks and ends keep their order.
   */
  private afterDelay(link: Link, dir: 'up' | 'down', fn: () => void, due = 0): void {
    const queue = link.queues[dir];
    if (queue.length === 0 && due <= Date.now()) return fn();
    const last = queue[queue.length - 1];
    queue.push({ due: Math.max(due, last?.due ?? 0), run: fn });
    if (!link.timers[dir]) this.drainLater(link, dir);
  }

  private drainLater(link: Link, dir: 'up' | 'down'): void {
    const head = link.queues[dir][0];
    if (!head) return;
    link.timers[dir] = setTimeout(() => {
      link.timers[dir] = undefined;
      const queue = link.queues[dir];
      while (queue.length > 0 && (queue[0] as Delayed).due <= Date.now()) (queue.shift() as Delayed).run();
      this.drainLater(link, dir);
    }, Math.max(0, head.due - Date.now()));
  }

  private forward(link: Link, dir: 'up' | 'down', chunk: Buffer): void {
    if (link.cut || link.hung) return;
    if (dir === 'up' && link.answered) {
      // The client speaks again after an answer: a new exchange, a new fate.
      link.answered = false;
      link.exchange++;
      link.plan = this.draw(link.index, link.exchange);
      link.bytesUp = 0;
      link.bytesDown = 0;
      link.done = link.plan.kind === 'pass' || !this.isFaulty;
      if (!this.isFaulty) link.plan = { kind: 'pass' };
      if (this.begin(link)) return;
    }
    if (dir === 'down') link.answered = true;
    const to = dir === 'up' ? link.upstream : link.client;
    if (!to || to.destroyed) return;
    const plan = link.plan;
    const before = dir === 'up' ? link.bytesUp : link.bytesDown;
    if (dir === 'up') link.bytesUp += chunk.length;
    else link.bytesDown += chunk.length;

    if (!link.done && (plan.kind === 'reset-request' || plan.kind === 'reset-response' || plan.kind === 'truncate')) {
      const cutsHere = (plan.kind === 'reset-request') === (dir === 'up');
      if (cutsHere && before + chunk.length >= plan.afterBytes) {
        link.done = true;
        link.cut = true;
        this.fired[plan.kind]++;
        const part = chunk.subarray(0, Math.max(0, plan.afterBytes - before));
        const cut = () => {
          if (plan.kind === 'truncate') {
            // The client gets a clean end after a short answer; central's side is dropped.
            link.client.end();
            link.upstream?.destroy();
          } else {
            reset(link.client);
            reset(link.upstream);
          }
        };
        // The part is written first (behind anything delayed), and the reset follows a
        // little later: an RST that reaches the peer before it has read the part makes
        // Linux hand it the part and then an ordinary end of stream (SOCK_DONE is checked
        // before the error), which would be a truncation, not a reset.
        this.afterDelay(link, dir, () => {
          if (part.length > 0 && !to.destroyed) to.write(part, () => setTimeout(cut, RESET_AFTER_WRITE_MS));
          else cut();
        });
        return;
      }
    }

    const write = () => {
      if (!to.destroyed) to.write(chunk);
    };
    // Healed or never faulty: still behind any chunk delayed before.
    this.afterDelay(link, dir, write, plan.kind === 'latency' && !link.done ? Date.now() + plan.delayMs : 0);
  }

  /** Ends a connection: both sockets gone, its timers cleared (chunks still delayed are dropped with them). */
  private end(link: Link): void {
    if (!this.links.delete(link)) return;
    clearTimeout(link.hangTimer);
    clearTimeout(link.timers.up);
    clearTimeout(link.timers.down);
    link.queues.up.length = 0;
    link.queues.down.length = 0;
    link.client.destroy();
    link.upstream?.destroy();
  }
}
