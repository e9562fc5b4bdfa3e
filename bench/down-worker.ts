/**
 * One process of tills for bench/down-latency.ts (forked with `--import tsx`): real
 * engines, each a SyncService over its own SQLite file (LocalStore), started as the
 * agent starts them (schedule, commit watcher, heartbeats, the socket with realtime
 * on, prompt push mode), with an interval an hour away so that only central's
 * `sync:changes` hints bring HQ's changes down.
 *
 * "Applied on the till" is taken in the engine's own process, from its `progress`
 * event: the engine emits it right after a pulled page's SQLite transaction committed.
 * At that event the watched row is read through the till's own connection (one
 * indexed lookup), so nothing polls the files. A 200 ms fallback check catches a row
 * that arrived some other way (it is counted apart; its time is only as good as 200 ms).
 *
 * Instrumentation, all inside this process and off the engine's path: the engine's
 * pull requests are timed by wrapping its public `client.pull`; a probe socket (a plain
 * socket.io client registered with the till's key, so it gets the same hints as the
 * engine's socket) notes when a hint arrives, what central stamped it with, and counts
 * hints. Probes are opened only for the tills the benchmark names.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import pino from 'pino';
import { io, type Socket } from 'socket.io-client';
import { createEngine } from '../src/main/sync/engine.js';
import type { LocalStore } from '../src/main/sync/store/index.js';
import type { SyncService } from '../src/main/sync/sync-service.js';
import { DEFAULT_SYNC_CONFIG } from '../src/main/sync/sync-config.js';
import { ChangesHint, SOCKET_EVENTS, type PullResponse, type SocketReply } from '../src/shared/protocol.js';

export interface TillSpec {
  readonly terminalId: string;
  readonly apiKey: string;
  /** Open a probe socket for this till (hint arrival times and counts). */
  readonly probe: boolean;
}

export type ToWorker =
  | { readonly type: 'start'; readonly url: string; readonly dir: string; readonly tills: readonly TillSpec[]; readonly timeoutMs: number }
  /**
   * Watch one product row through a series of prices: HQ sets it to `PRICE_BASE + seq`
   * for seq = firstSeq..lastSeq. A till "has" change seq once its row holds that price or
   * a later one (a newer value superseding it counts: the till reflects HQ as of that
   * commit or later). Answered `armed` at once, `applied` when every till has lastSeq
   * (or the timeout passed).
   */
  | { readonly type: 'watch'; readonly serverId: string; readonly firstSeq: number; readonly lastSeq: number; readonly timeoutMs: number }
  /** Watch a bulk import: done on a till when it holds `lastServerId` and `expected` rows whose sku starts with `skuPrefix`. */
  | { readonly type: 'bulk-arm'; readonly skuPrefix: string; readonly lastServerId: string; readonly expected: number; readonly timeoutMs: number }
  /** Hints and pull requests counted since the last `bulk-arm`. */
  | { readonly type: 'counts' }
  | { readonly type: 'close' };

/** HQ's price for change seq of a latency series. */
export const PRICE_BASE = 1000;

export interface Sample {
  readonly terminalId: string;
  readonly seq: number;
  /** When the till's row held this change (or a later one), epoch ms; NaN: not within the timeout. */
  readonly appliedAt: number;
  /** Seen by the fallback check, not at an engine event (time good to 200 ms only). */
  readonly byFallback: boolean;
  /** The pull request that brought it: sent, answered (epoch ms); NaN when unknown. */
  readonly pullSentAt: number;
  readonly pullAnsweredAt: number;
  /**
   * Probe only: the hint behind that pull, the last one central stamped (`at`) before
   * the pull was sent, and when the probe's socket got it (the engine's socket gets the
   * same frame; which of the two runs first is up to the event loop).
   */
  readonly hintStampedAt: number;
  readonly hintReceivedAt: number;
}

export interface BulkTill {
  readonly terminalId: string;
  /** When the till held every imported row (epoch ms); NaN: not within the timeout. */
  readonly completeAt: number;
  readonly rowsHeld: number;
}

export interface TillCounts {
  readonly terminalId: string;
  /** Hints the probe received (NaN without a probe). */
  readonly hints: number;
  readonly productPulls: number;
  readonly productRowsPulled: number;
}

export type FromWorker =
  | { readonly type: 'started'; readonly ms: number; readonly failed: number; readonly firstError?: string; readonly rssBeforeMb: number; readonly rssMb: number }
  | { readonly type: 'armed' }
  /** `pulls`: each till's product pulls during the watch, [sent, answered] (epoch ms). */
  | { readonly type: 'applied'; readonly samples: readonly Sample[]; readonly pulls: Readonly<Record<string, readonly (readonly [number, number])[]>> }
  | { readonly type: 'bulk-done'; readonly tills: readonly BulkTill[] }
  | { readonly type: 'counts'; readonly tills: readonly TillCounts[]; readonly rssMb: number; readonly loopDelayP99Ms: number }
  | { readonly type: 'closed' }
  | { readonly type: 'error'; readonly error: string };

interface PullTiming {
  readonly sentAt: number;
  answeredAt: number;
}

interface HintSeen {
  readonly stampedAt: number;
  readonly receivedAt: number;
}

interface Till {
  readonly spec: TillSpec;
  readonly store: LocalStore;
  readonly service: SyncService;
  probe: Socket | undefined;
  hints: number;
  /** The hints the probe got lately (a few hundred). */
  readonly hintLog: HintSeen[];
  productPulls: number;
  productRowsPulled: number;
  /** The engine's product pulls since the last watch began (at most 20,000 kept). */
  pulls: PullTiming[];
  /** The latency series watched on this till, if any: samples by seq. */
  watch: { readonly serverId: string; readonly firstSeq: number; readonly lastSeq: number; readonly samples: Map<number, Sample> } | undefined;
  bulk: { readonly skuPrefix: string; readonly lastServerId: string; readonly expected: number; completeAt: number; rowsHeld: number } | undefined;
}

const log = pino({ level: 'silent' });
let tills: Till[] = [];
const loop = monitorEventLoopDelay({ resolution: 10 });

function send(msg: FromWorker): void {
  process.send?.(msg);
}

const priceOf = (t: Till, serverId: string): number | undefined => {
  const r = t.store.base.stmt(`SELECT price FROM products WHERE server_id = ?`).get(serverId) as { price: number | string | null } | undefined;
  return r?.price === undefined || r.price === null ? undefined : Number(r.price);
};

/** The pull answered last before `at` (the one that brought the row). */
function pullBefore(t: Till, at: number): PullTiming | undefined {
  let best: PullTiming | undefined;
  for (const p of t.pulls) if (Number.isFinite(p.answeredAt) && p.answeredAt <= at && (!best || p.answeredAt > best.answeredAt)) best = p;
  return best;
}

/** Notes the changes of the watched series a till has now; true once it has the last one. */
function checkWatch(t: Till, byFallback: boolean): boolean {
  const w = t.watch;
  if (!w) return true;
  if (w.samples.has(w.lastSeq)) return true;
  const price = priceOf(t, w.serverId);
  if (price === undefined) return false;
  const held = Math.min(w.lastSeq, Math.round(price - PRICE_BASE));
  if (held < w.firstSeq || w.samples.has(held)) return false;
  const at = Date.now();
  const p = pullBefore(t, at);
  for (let seq = held; seq >= w.firstSeq && !w.samples.has(seq); seq--) {
    w.samples.set(seq, {
      terminalId: t.spec.terminalId,
      seq,
      appliedAt: at,
      byFallback,
      pullSentAt: p?.sentAt ?? NaN,
      pullAnsweredAt: p?.answeredAt ?? NaN,
      hintStampedAt: NaN,
      hintReceivedAt: NaN,
    });
  }
  return held === w.lastSeq;
}

function checkBulk(t: Till): boolean {
  const b = t.bulk;
  if (!b) return true;
  if (Number.isFinite(b.completeAt)) return true;
  if (priceOf(t, b.lastServerId) === undefined) return false;
  const at = Date.now();
  // The last row is there; every row? (a range on sku: SQLite has no index on it, a 100k-row scan, once or twice)
  const r = t.store.base.stmt(`SELECT count(*) AS n FROM products WHERE sku >= ? AND sku < ?`).get(b.skuPrefix, `${b.skuPrefix}\uffff`) as { n: number };
  b.rowsHeld = r.n;
  if (r.n < b.expected) return false;
  b.completeAt = at;
  return true;
}

function openProbe(t: Till, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth: { token: t.spec.apiKey }, transports: ['websocket'], reconnectionDelay: 1000 });
    t.probe = socket;
    const timer = setTimeout(() => reject(new Error(`probe of ${t.spec.terminalId}: no registration within 30 s`)), 30_000);
    socket.on('connect', () => {
      socket.emit(SOCKET_EVENTS.register, { terminalId: t.spec.terminalId }, (reply: SocketReply) => {
        clearTimeout(timer);
        if (reply.ok) resolve();
        else reject(new Error(`probe registration refused: ${reply.error}`));
      });
    });
    socket.on(SOCKET_EVENTS.changes, (payload: unknown) => {
      const h = ChangesHint.safeParse(payload);
      if (!h.success || h.data.terminalId !== t.spec.terminalId) return;
      t.hints++;
      t.hintLog.push({ stampedAt: Date.parse(h.data.at), receivedAt: Date.now() });
      if (t.hintLog.length > 500) t.hintLog.shift();
    });
  });
}

async function startTill(spec: TillSpec, url: string, dir: string, timeoutMs: number): Promise<Till> {
  const { store, service } = createEngine(
    {
      databasePath: join(dir, `${spec.terminalId}.db`),
      terminalId: spec.terminalId,
      create: true,
      sync: { ...DEFAULT_SYNC_CONFIG, centralUrl: url, apiKey: spec.apiKey, realtime: true, syncInterval: 3600 },
    },
    log,
  );
  const t: Till = {
    spec,
    store,
    service,
    probe: undefined,
    hints: 0,
    hintLog: [],
    productPulls: 0,
    productRowsPulled: 0,
    pulls: [],
    watch: undefined,
    bulk: undefined,
  };
  // Times the engine's pull requests of products (its public client; the engine calls it as before).
  const client = service.client;
  const pull = client.pull.bind(client);
  client.pull = (q): Promise<PullResponse> => {
    if (q.entityType !== 'Product') return pull(q);
    const timing: PullTiming = { sentAt: Date.now(), answeredAt: NaN };
    t.pulls.push(timing);
    if (t.pulls.length > 20_000) t.pulls.shift();
    t.productPulls++;
    return pull(q).then((r) => {
      timing.answeredAt = Date.now();
      t.productRowsPulled += r.changes.length;
      return r;
    });
  };
  service.on('progress', (p) => {
    if (p.table !== 'products') return;
    if (t.watch) checkWatch(t, false);
    if (t.bulk) checkBulk(t);
  });
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${spec.terminalId}: no start-up sync within ${timeoutMs} ms`)), timeoutMs);
    const done = (r: { trigger: string; errors: string[] }) => {
      if (r.trigger !== 'startup') return;
      clearTimeout(timer);
      service.off('syncFinished', done);
      if (r.errors.length === 0) resolve();
      else reject(new Error(`${spec.terminalId}: start-up sync failed: ${r.errors[0]}`));
    };
    service.on('syncFinished', done);
  });
  await service.initialize(spec.terminalId);
  await started;
  if (spec.probe) await openProbe(t, url);
  return t;
}

async function start(msg: Extract<ToWorker, { type: 'start' }>): Promise<FromWorker> {
  const began = Date.now();
  const rssBeforeMb = process.memoryUsage().rss / 2 ** 20;
  let failed = 0;
  let firstError: string | undefined;
  const out: Till[] = [];
  // A few at a time: a hundred start-up syncs at once only queue at central.
  let next = 0;
  const lane = async () => {
    while (next < msg.tills.length) {
      const spec = msg.tills[next++] as TillSpec;
      try {
        out.push(await startTill(spec, msg.url, msg.dir, msg.timeoutMs));
      } catch (err) {
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(10, msg.tills.length) }, lane));
  tills = out;
  loop.enable();
  return { type: 'started', ms: Date.now() - began, failed, ...(firstError ? { firstError } : {}), rssBeforeMb, rssMb: process.memoryUsage().rss / 2 ** 20 };
}

const timers = new Set<NodeJS.Timeout>();

/** A sample with the probe's hint behind its pull (central stamps a hint before any till can act on it). */
function withHint(t: Till, s: Sample): Sample {
  if (!t.probe || !Number.isFinite(s.pullSentAt)) return s;
  let h: HintSeen | undefined;
  for (const x of t.hintLog) if (x.stampedAt <= s.pullSentAt && (!h || x.stampedAt >= h.stampedAt)) h = x;
  return h ? { ...s, hintStampedAt: h.stampedAt, hintReceivedAt: h.receivedAt } : s;
}

function watch(msg: Extract<ToWorker, { type: 'watch' }>): void {
  for (const t of tills) {
    t.watch = { serverId: msg.serverId, firstSeq: msg.firstSeq, lastSeq: msg.lastSeq, samples: new Map() };
    t.pulls = [];
  }
  send({ type: 'armed' });
  const deadline = Date.now() + msg.timeoutMs;
  const fallback = setInterval(() => {
    const done = tills.every((t) => checkWatch(t, true));
    if (!done && Date.now() < deadline) return;
    clearInterval(fallback);
    timers.delete(fallback);
    const samples: Sample[] = [];
    for (const t of tills) {
      for (let seq = msg.firstSeq; seq <= msg.lastSeq; seq++) {
        const got = t.watch?.samples.get(seq);
        samples.push(
          got ? withHint(t, got) : {
            terminalId: t.spec.terminalId,
            seq,
            appliedAt: NaN,
            byFallback: false,
            pullSentAt: NaN,
            pullAnsweredAt: NaN,
            hintStampedAt: NaN,
            hintReceivedAt: NaN,
          },
        );
      }
      t.watch = undefined;
    }
    const pulls = Object.fromEntries(tills.map((t) => [t.spec.terminalId, t.pulls.map((p) => [p.sentAt, p.answeredAt] as const)]));
    send({ type: 'applied', samples, pulls });
  }, 200);
  timers.add(fallback);
}

function bulkArm(msg: Extract<ToWorker, { type: 'bulk-arm' }>): void {
  for (const t of tills) {
    t.bulk = { skuPrefix: msg.skuPrefix, lastServerId: msg.lastServerId, expected: msg.expected, completeAt: NaN, rowsHeld: 0 };
    t.hints = 0;
    t.productPulls = 0;
    t.productRowsPulled = 0;
  }
  send({ type: 'armed' });
  const deadline = Date.now() + msg.timeoutMs;
  // The fallback is slow on purpose: a count over the imported rows is not free.
  const fallback = setInterval(() => {
    const done = tills.every((t) => checkBulk(t));
    if (!done && Date.now() < deadline) return;
    clearInterval(fallback);
    timers.delete(fallback);
    send({ type: 'bulk-done', tills: tills.map((t) => ({ terminalId: t.spec.terminalId, completeAt: t.bulk?.completeAt ?? NaN, rowsHeld: t.bulk?.rowsHeld ?? 0 })) });
    for (const t of tills) t.bulk = undefined;
  }, 1000);
  timers.add(fallback);
}

async function closeAll(): Promise<void> {
  for (const t of timers) clearInterval(t);
  for (const t of tills) {
    t.probe?.disconnect();
    await t.service.stop();
    t.store.close();
  }
  tills = [];
}

const fail = (err: unknown) => send({ type: 'error', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });

process.on('message', (raw: unknown) => {
  const msg = raw as ToWorker;
  try {
    if (msg.type === 'start') start(msg).then(send, fail);
    else if (msg.type === 'watch') watch(msg);
    else if (msg.type === 'bulk-arm') bulkArm(msg);
    else if (msg.type === 'counts') {
      send({
        type: 'counts',
        tills: tills.map((t) => ({ terminalId: t.spec.terminalId, hints: t.probe ? t.hints : NaN, productPulls: t.productPulls, productRowsPulled: t.productRowsPulled })),
        rssMb: process.memoryUsage().rss / 2 ** 20,
        loopDelayP99Ms: loop.percentile(99) / 1e6,
      });
      loop.reset();
    } else if (msg.type === 'close') {
      closeAll().then(
        () => {
          send({ type: 'closed' });
          setTimeout(() => process.exit(0), 100).unref();
        },
        fail,
      );
    }
  } catch (err) {
    fail(err);
  }
});

// The benchmark went away: stop too.
process.on('disconnect', () => {
  void closeAll().finally(() => process.exit(0));
});
