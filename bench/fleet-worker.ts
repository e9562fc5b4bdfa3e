/**
 * One load-generator process of the fleet benchmark (bench/fleet.ts starts it with
 * `node --import tsx`, through `prlimit` when it raises the open-file limit): a slice
 * of simulated terminals, each a socket.io connection authenticated and registered as
 * the engine does it, a heartbeat every 30 s and one completed sale every
 * `saleIntervalMs` (a second for the selling fleet, a minute for the connected one)
 * pushed through POST /api/sync/push. No SQLite: a sale is the push body the engine
 * would build for it (an order, one or two lines and a payment in one transaction
 * group).
 *
 * A terminal pushes as the engine's push lane does: one request at a time; sales
 * rung up while a push is in flight go together in the next one.
 *
 * HTTP connections: the engine's fetch keeps its connection to central open between
 * requests for as long as central announces (fastify: `Keep-Alive: timeout=72`), so
 * a terminal that heartbeats every 30 s holds one for good. The first `holdHttp`
 * terminals of a slice do the same (an agent without an idle timeout); the others
 * close an idle connection after `idleCloseMs` (undici's default when a server
 * announces nothing), for when central's open-file limit cannot hold two descriptors
 * per terminal.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import { entryForEntity, type CatalogEntry, type WireRow } from '../src/shared/catalog/index.js';
import { formatHlc } from '../src/shared/hlc.js';
import { SOCKET_EVENTS, type HeartbeatRequest, type PushChange, type PushRequest, type SocketReply, type TableCounts } from '../src/shared/protocol.js';

export interface FleetTerminal {
  readonly terminalId: string;
  readonly storeId: string;
  readonly apiKey: string;
}

export type ToWorker =
  | {
      readonly type: 'connect';
      readonly url: string;
      readonly terminals: readonly FleetTerminal[];
      readonly concurrency: number;
      readonly timeoutMs: number;
      /** The first `holdHttp` terminals keep their idle HTTP connection (as the engine does); the rest close it after `idleCloseMs`. */
      readonly holdHttp: number;
      readonly idleCloseMs: number;
    }
  | {
      readonly type: 'run';
      /** Epoch ms at which the terminals start (each at its own offset in the first interval). */
      readonly startAt: number;
      readonly warmupMs: number;
      readonly steadyMs: number;
      readonly saleIntervalMs: number;
      readonly heartbeatIntervalMs: number;
      /**
       * How long after the steady phase the terminals go on pushing the sales they rang
       * up before its end (no new sales, no heartbeats), so that every one can be
       * acknowledged.
       */
      readonly drainMs: number;
    }
  | { readonly type: 'hello' }
  | { readonly type: 'close' };

export interface ConnectReport {
  readonly type: 'connected';
  readonly connected: number;
  readonly failed: number;
  readonly ms: number;
  readonly firstError?: string;
  /** Event-loop delay while connecting, ms. */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
}

export interface RunReport {
  readonly type: 'result';
  /** Latency of every push started in the steady phase, ms. */
  readonly pushMs: number[];
  /** Latency of every heartbeat started in the steady phase, ms. */
  readonly heartbeatMs: number[];
  /** Ring-up to acknowledgement of every sale rung up in the steady phase and acknowledged (by the end of the drain), ms. */
  readonly saleMs: number[];
  /** Sales rung up in the steady phase. */
  readonly rung: number;
  /** Sales acknowledged (all their changes applied) during the steady phase. */
  readonly acked: number;
  readonly pushes: number;
  /** Requests (pushes and heartbeats) started in the steady phase that opened a new TCP connection. */
  readonly newConnections: number;
  readonly heartbeats: number;
  readonly heartbeatErrors: number;
  /** Pushes answered with a non-2xx status, by status. */
  readonly httpErrors: Record<string, number>;
  readonly networkErrors: number;
  /** Changes answered other than applied (rejected, conflict, duplicate). */
  readonly notApplied: number;
  readonly firstError?: string;
  /** Sales still waiting at the end of the steady phase (pending or in flight). */
  readonly backlog: number;
  /** Sales rung up in the steady phase still not acknowledged after the drain (a failed push's sales included). */
  readonly unacked: number;
  readonly socketsAtEnd: number;
  readonly disconnects: number;
  /** This process's CPU time during the steady phase / its wall time. */
  readonly cpuShare: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  readonly rssMb: number;
  readonly heapUsedMb: number;
}

export type FromWorker = ConnectReport | RunReport | { readonly type: 'ready' } | { readonly type: 'closed' } | { readonly type: 'error'; readonly error: string };

const ENTRIES = {
  order: entryForEntity('SaleOrder') as CatalogEntry,
  item: entryForEntity('SaleOrderItem') as CatalogEntry,
  payment: entryForEntity('Payment') as CatalogEntry,
};
const SCHEMA_HASHES: Record<string, string> = Object.fromEntries(Object.values(ENTRIES).map((e) => [e.entityType, e.schemaHash]));
/** The engine pushes at most this many changes a request (DEFAULT_SYNC_CONFIG.batchSize). */
const MAX_CHANGES = 500;

interface Sale {
  readonly rungAt: number;
  readonly changes: PushChange[];
}

interface Sim {
  readonly t: FleetTerminal;
  readonly agent: Agent;
  socket: Socket | undefined;
  registered: boolean;
  pending: Sale[];
  inflight: boolean;
  seq: number;
  clock: { physical: number; counter: number };
  synced: number;
}

let sims: Sim[] = [];
let baseUrl = '';
const timers = new Set<NodeJS.Timeout>();
let disconnects = 0;
let stopping = false;

function send(msg: FromWorker): void {
  process.send?.(msg);
}

function later(ms: number, fn: () => void): void {
  const t = setTimeout(() => {
    timers.delete(t);
    fn();
  }, Math.max(0, ms));
  timers.add(t);
}

function tick(s: Sim): string {
  const now = Date.now();
  s.clock = now > s.clock.physical ? { physical: now, counter: 0 } : { physical: s.clock.physical, counter: s.clock.counter + 1 };
  return formatHlc({ ...s.clock, node: s.t.terminalId });
}

/** A row with every wire column of `entry` (null where the sale has no value), as the engine sends it. */
function wire(entry: CatalogEntry, id: string, values: Record<string, string | number>): WireRow {
  const row: WireRow = { id };
  for (const c of entry.wireColumns) row[c.name] = values[c.name] ?? null;
  return row;
}

/** A completed sale: the order, one or two lines and a cash payment, in one transaction group. */
function ringUp(s: Sim): Sale {
  const n = s.seq++;
  const now = new Date().toISOString();
  const orderId = randomUUID();
  const group = `orders:${orderId}`;
  const lines = 1 + (n % 2);
  const price = 1 + (n % 50);
  const subtotal = price * lines;
  const stamps = { created_at: now, updated_at: now };
  const change = (entry: CatalogEntry, id: string, data: WireRow, priority: number): PushChange => ({
    changeId: randomUUID(),
    entityType: entry.entityType,
    entityId: id,
    operation: 'CREATE',
    data,
    syncVersion: 0,
    hlc: tick(s),
    priority,
    createdInMode: 'ONLINE',
    transactionGroup: group,
  });
  const changes: PushChange[] = [
    change(
      ENTRIES.order,
      orderId,
      wire(ENTRIES.order, orderId, {
        store_id: s.t.storeId,
        order_number: `${s.t.terminalId}-${String(n).padStart(6, '0')}`,
        status: 'completed',
        subtotal,
        tax_total: subtotal * 0.2,
        total: subtotal * 1.2,
        currency: 'EUR',
        ordered_at: now,
        completed_at: now,
        ...stamps,
      }),
      10,
    ),
  ];
  for (let i = 0; i < lines; i++) {
    const id = randomUUID();
    changes.push(
      change(
        ENTRIES.item,
        id,
        wire(ENTRIES.item, id, { store_id: s.t.storeId, order_id: orderId, description: `article ${n}.${i}`, quantity: 1, unit_price: price, line_total: price, ...stamps }),
        10,
      ),
    );
  }
  const payId = randomUUID();
  changes.push(
    change(
      ENTRIES.payment,
      payId,
      wire(ENTRIES.payment, payId, { store_id: s.t.storeId, order_id: orderId, method: 'cash', amount: subtotal * 1.2, currency: 'EUR', status: 'captured', paid_at: now, ...stamps }),
      10,
    ),
  );
  return { rungAt: Date.now(), changes };
}

interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  /** Whether the request went out on a connection kept from an earlier one. */
  readonly reused: boolean;
}

function post(s: Sim, path: string, body: unknown): Promise<HttpAnswer> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      `${baseUrl}${path}`,
      {
        method: 'POST',
        agent: s.agent,
        headers: { authorization: `Bearer ${s.t.apiKey}`, 'content-type': 'application/json', 'content-length': payload.length },
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), reused: req.reusedSocket }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out after 60 s')));
    req.on('error', reject);
    req.end(payload);
  });
}

// ------------------------------------------------------------------ connecting

function connectOne(s: Sim, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = io(baseUrl, {
      auth: { token: s.t.apiKey },
      transports: ['websocket'],
      reconnectionDelay: 1000,
      reconnectionDelayMax: 30_000,
      randomizationFactor: 0.5,
      timeout: timeoutMs,
    });
    s.socket = socket;
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`no registration within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    socket.on('connect', () => {
      socket.emit(SOCKET_EVENTS.register, { terminalId: s.t.terminalId }, (reply: SocketReply) => {
        if (reply.ok) {
          s.registered = true;
          finish();
        } else finish(new Error(`registration refused: ${reply.error}`));
      });
    });
    socket.on('connect_error', (err) => {
      if (!socket.active) finish(err);
    });
    socket.on('disconnect', () => {
      s.registered = false;
      if (!stopping) disconnects++;
    });
  });
}

async function connectAll(msg: Extract<ToWorker, { type: 'connect' }>): Promise<ConnectReport> {
  baseUrl = msg.url.replace(/\/+$/, '');
  sims = msg.terminals.map((t, i) => ({
    t,
    // An agent's `timeout` is the idle timeout of its free (kept) sockets; a request's own timeout replaces it while it runs.
    agent: new Agent({ keepAlive: true, maxSockets: 1, ...(i < msg.holdHttp ? {} : { timeout: msg.idleCloseMs }) }),
    socket: undefined,
    registered: false,
    pending: [],
    inflight: false,
    seq: 0,
    clock: { physical: 0, counter: 0 },
    synced: 0,
  }));
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const started = Date.now();
  let connected = 0;
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const lane = async () => {
    while (next < sims.length) {
      const s = sims[next++] as Sim;
      try {
        await connectOne(s, msg.timeoutMs);
        connected++;
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(msg.concurrency, sims.length) }, lane));
  const ms = Date.now() - started;
  loop.disable();
  const mem = process.memoryUsage();
  return {
    type: 'connected',
    connected,
    failed,
    ms,
    ...(firstError ? { firstError } : {}),
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    loopDelayMaxMs: loop.max / 1e6,
    rssMb: mem.rss / 1024 / 1024,
    heapUsedMb: mem.heapUsed / 1024 / 1024,
  };
}

// ------------------------------------------------------------------ running

function run(msg: Extract<ToWorker, { type: 'run' }>): Promise<RunReport> {
  const steadyFrom = msg.startAt + msg.warmupMs;
  const steadyTo = steadyFrom + msg.steadyMs;
  const inSteady = (t: number) => t >= steadyFrom && t < steadyTo;
  const pushMs: number[] = [];
  const saleMs: number[] = [];
  const heartbeatMs: number[] = [];
  const httpErrors: Record<string, number> = {};
  let rung = 0;
  let acked = 0;
  let pushes = 0;
  let newConnections = 0;
  let heartbeats = 0;
  let heartbeatErrors = 0;
  let networkErrors = 0;
  let notApplied = 0;
  let firstError: string | undefined;
  /** New sales and heartbeats only while running; pushes of the sales already rung up until `draining` ends. */
  let running = true;
  let draining = true;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  let cpuFrom: NodeJS.CpuUsage | undefined;
  let cpuShare = NaN;
  let disconnectsFrom = 0;

  const pushNow = (s: Sim): void => {
    if (s.inflight || s.pending.length === 0) return;
    const batch: Sale[] = [];
    let n = 0;
    while (s.pending.length > 0 && n + (s.pending[0] as Sale).changes.length <= MAX_CHANGES) {
      const sale = s.pending.shift() as Sale;
      batch.push(sale);
      n += sale.changes.length;
    }
    const body: PushRequest = { terminalId: s.t.terminalId, changes: batch.flatMap((b) => b.changes), schemaHashes: SCHEMA_HASHES };
    s.inflight = true;
    const t0 = performance.now();
    const startedAt = Date.now();
    post(s, '/api/sync/push', body)
      .then((r) => {
        const ms = performance.now() - t0;
        const done = Date.now();
        if (inSteady(startedAt)) {
          pushMs.push(ms);
          pushes++;
          if (!r.reused) newConnections++;
        }
        if (r.status < 200 || r.status >= 300) {
          if (inSteady(startedAt)) httpErrors[String(r.status)] = (httpErrors[String(r.status)] ?? 0) + 1;
          firstError ??= `push HTTP ${r.status}: ${r.body.slice(0, 300)}`;
          return;
        }
        const answer = JSON.parse(r.body) as { summary: { applied: number } };
        const wrong = body.changes.length - answer.summary.applied;
        if (wrong > 0) {
          if (inSteady(startedAt)) notApplied += wrong;
          firstError ??= `push answered ${r.body.slice(0, 300)}`;
          return;
        }
        s.synced += batch.length;
        for (const sale of batch) {
          if (inSteady(done)) acked++;
          if (inSteady(sale.rungAt)) saleMs.push(done - sale.rungAt);
        }
      })
      .catch((err: unknown) => {
        if (inSteady(startedAt)) networkErrors++;
        firstError ??= `push failed: ${err instanceof Error ? err.message : String(err)}`;
      })
      .finally(() => {
        s.inflight = false;
        if (draining) pushNow(s);
      });
  };

  const heartbeat = (s: Sim): void => {
    const counts: TableCounts = { pending: s.pending.length, failed: 0, synced: s.synced, conflicts: 0 };
    const req: HeartbeatRequest = {
      terminalId: s.t.terminalId,
      status: 'ONLINE',
      appVersion: '0.1.0',
      outbox: { SaleOrder: counts, SaleOrderItem: counts, Payment: counts },
    };
    const t0 = performance.now();
    const startedAt = Date.now();
    post(s, '/api/sync/heartbeat', req)
      .then((r) => {
        const steady = inSteady(startedAt);
        if (steady) {
          heartbeatMs.push(performance.now() - t0);
          heartbeats++;
          if (!r.reused) newConnections++;
        }
        if (r.status !== 200) {
          if (steady) heartbeatErrors++;
          firstError ??= `heartbeat HTTP ${r.status}: ${r.body.slice(0, 300)}`;
        }
      })
      .catch((err: unknown) => {
        if (inSteady(startedAt)) heartbeatErrors++;
        firstError ??= `heartbeat failed: ${err instanceof Error ? err.message : String(err)}`;
      });
  };

  // Each terminal on its own schedule: sales at offset + k * interval (absolute, so a
  // late timer does not drift the rate), heartbeats likewise, offsets spread evenly.
  sims.forEach((s, i) => {
    const saleOffset = ((i + Math.random()) / sims.length) * msg.saleIntervalMs;
    const hbOffset = Math.random() * msg.heartbeatIntervalMs;
    let k = 0;
    const sale = () => {
      if (!running) return;
      const rungUp = ringUp(s);
      s.pending.push(rungUp);
      // Counted by the sale's own time, as its acknowledgement is (a sale rung up on the
      // steady phase's last millisecond was once counted here and not there).
      if (inSteady(rungUp.rungAt)) rung++;
      pushNow(s);
      k++;
      later(msg.startAt + saleOffset + k * msg.saleIntervalMs - Date.now(), sale);
    };
    let h = 0;
    const beat = () => {
      if (!running) return;
      heartbeat(s);
      h++;
      later(msg.startAt + hbOffset + h * msg.heartbeatIntervalMs - Date.now(), beat);
    };
    later(msg.startAt + saleOffset - Date.now(), sale);
    later(msg.startAt + hbOffset - Date.now(), beat);
  });

  return new Promise((resolve) => {
    later(steadyFrom - Date.now(), () => {
      cpuFrom = process.cpuUsage();
      disconnectsFrom = disconnects;
      loop.reset();
      loop.enable();
    });
    later(steadyTo - Date.now(), () => {
      running = false;
      loop.disable();
      const cpu = process.cpuUsage(cpuFrom);
      cpuShare = (cpu.user + cpu.system) / 1000 / msg.steadyMs;
      const backlog = sims.reduce((sum, s) => sum + s.pending.length, 0) + sims.filter((s) => s.inflight).length;
      const socketsAtEnd = sims.filter((s) => s.registered && s.socket?.connected).length;
      const endDisconnects = disconnects - disconnectsFrom;
      const drainUntil = Date.now() + msg.drainMs;
      const finish = () => {
        draining = false;
        const mem = process.memoryUsage();
        resolve({
          type: 'result',
          pushMs,
          saleMs,
          heartbeatMs,
          rung,
          acked,
          pushes,
          newConnections,
          heartbeats,
          heartbeatErrors,
          httpErrors,
          networkErrors,
          notApplied,
          ...(firstError ? { firstError } : {}),
          backlog,
          unacked: rung - saleMs.length,
          socketsAtEnd,
          disconnects: endDisconnects,
          cpuShare,
          loopDelayP99Ms: loop.percentile(99) / 1e6,
          loopDelayMaxMs: loop.max / 1e6,
          rssMb: mem.rss / 1024 / 1024,
          heapUsedMb: mem.heapUsed / 1024 / 1024,
        });
      };
      // The sales rung up before the end are pushed until every one is answered or the
      // drain's time is up (their pushes' latencies are not counted, their acknowledgements
      // are, as `unacked`). Pushes start only from a push's end here: a terminal with a
      // pending sale and nothing in flight starts one now.
      for (const s of sims) pushNow(s);
      const drain = () => {
        if (Date.now() >= drainUntil || !sims.some((s) => s.inflight || s.pending.length > 0)) finish();
        else later(50, drain);
      };
      drain();
    });
  });
}

function closeAll(): void {
  stopping = true;
  for (const t of timers) clearTimeout(t);
  timers.clear();
  for (const s of sims) {
    s.socket?.disconnect();
    s.agent.destroy();
  }
}

process.on('message', (raw: unknown) => {
  const msg = raw as ToWorker;
  if (msg.type === 'hello') {
    send({ type: 'ready' });
  } else if (msg.type === 'connect') {
    connectAll(msg).then(send, (err: unknown) => send({ type: 'error', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  } else if (msg.type === 'run') {
    run(msg).then(send, (err: unknown) => send({ type: 'error', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
  } else if (msg.type === 'close') {
    closeAll();
    send({ type: 'closed' });
    setTimeout(() => process.exit(0), 100).unref();
  }
});

// The benchmark went away: stop too.
process.on('disconnect', () => {
  closeAll();
  process.exit(0);
});
