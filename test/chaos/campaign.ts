/**
 * The project's own fault campaign (issue 14). Central runs as its own process on
 * PostgreSQL (or embedded PGlite), the agent with default settings as another,
 * reaching central only through a fault-injecting TCP proxy (fault-proxy.ts), and the
 * POS simulator writes sales into the till's SQLite file from a third. For `seconds`
 * the proxy injects faults into every connection while, at seeded random times, the
 * agent and central are SIGKILLed and restarted (central on the same port and
 * database) and HQ changes prices by plain SQL. Then the simulator stops, the proxy
 * heals, and the campaign measures how long until central holds exactly the sales the
 * POS wrote and the till holds HQ's last price of every product changed.
 *
 * One seed drives the whole plan (the proxy's fates, the schedule, the simulator's
 * sales). Processes and the network are real, so their timing is not repeatable: a
 * seed repeats the plan, not the exact interleaving.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  auditHq,
  auditSales,
  centralCustomers,
  centralSales,
  centralStock,
  divergent,
  lastSaleAt,
  outboxState,
  tillCustomers,
  tillProducts,
  tillSales,
  tillStock,
  type HqAudit,
  type HqWrite,
  type OutboxState,
  type SalesAudit,
} from './audit.js';
import { CHAOS_STORE, CHAOS_TERMINAL, PRODUCTS, productId, scratchPglite, scratchPostgres, seedCatalogue, writePrice, type CentralDb } from './central-db.js';
import { nodeEntry } from '../helpers/test-build.js';
import { Child, cleanEnv, killAllChildren, logFile, LogTail, ROOT, TILLSYNC_BIN } from './children.js';
import { FaultProxy, type FaultStats } from './fault-proxy.js';
import { deriveSeed, Random } from './random.js';

export interface CampaignOptions {
  /** Seconds of faults (the run takes this plus set-up and convergence). */
  readonly seconds: number;
  readonly seed: number;
  /**
   * A PostgreSQL database the campaign may create a scratch database next to
   * (`postgres://postgres@127.0.0.1:5432/test`). Undefined: central on embedded PGlite.
   */
  readonly pgUrl?: string | undefined;
  /** Sales per second the simulator rings up (default 5). */
  readonly rate?: number;
  /** Longest acceptable time from the heal to convergence, ms (default 10,000). */
  readonly boundMs?: number;
  /** How long to keep measuring after the heal when the bound is missed, ms (default 60,000). */
  readonly waitMs?: number;
  /** Progress lines (default: none). */
  readonly progress?: (line: string) => void;
  /** A folder to keep every process's full log in (created); default: logs kept only as tails in memory. */
  readonly logsDir?: string | undefined;
  /**
   * Keep the scratch database and the till's folder for a post-mortem (their places are
   * printed through `progress`); processes are still stopped.
   */
  readonly keep?: boolean;
  /** Stops the campaign early (everything is still cleaned up). */
  readonly signal?: AbortSignal | undefined;
  /**
   * A transpiled copy of src/ (the test suite's, test/helpers/test-build.ts) for the
   * children to run; default: central through tsx and the agent and simulator through
   * bin/tillsync.mjs, as in a development install.
   */
  readonly build?: string | undefined;
}

export interface CampaignEvents {
  readonly agentKills: number;
  readonly centralKills: number;
  readonly hqWrites: number;
  /** Processes that exited without being killed (a crash). */
  readonly crashes: readonly string[];
}

export interface CampaignReport {
  readonly seed: number;
  readonly seconds: number;
  readonly database: 'postgres' | 'pglite';
  readonly rate: number;
  readonly sales: SalesAudit;
  /** Orders the simulator reported ringing up (its own count; the POS file is the truth). */
  readonly simulatorSales: number | null;
  /** Customers and stock rows whose values differ between the till and central at the end. */
  readonly divergent: { readonly customers: readonly string[]; readonly stock: readonly string[] };
  readonly hq: HqAudit & { readonly writes: number };
  readonly outbox: OutboxState;
  readonly convergence: {
    readonly boundMs: number;
    /** Heal -> central holds every sale (null: not within the wait). */
    readonly salesAfterHealMs: number | null;
    /** Last sale written -> central holds every sale. */
    readonly salesAfterLastSaleMs: number | null;
    /** Heal -> central's customers (loyalty counters) and stock rows agree with the till's. */
    readonly rowsAfterHealMs: number | null;
    /** Heal -> the till holds HQ's last price of every product changed. */
    readonly hqAfterHealMs: number | null;
    /**
     * HQ changes made once all had converged, while online: each one's commit -> on the
     * till, ms (null: not within the bound). Empty on PGlite, where HQ cannot write
     * while central runs. This is the event-driven path (central's hint), which the heal
     * itself does not exercise: a till coming back online pulls everything anyway.
     */
    readonly hqOnlineMs: readonly (number | null)[];
    /** How the sales' convergence was seen: central's rows (PostgreSQL) or the till's outbox (PGlite, audited after). */
    readonly salesSeenBy: 'central' | 'till outbox';
  };
  readonly events: CampaignEvents;
  readonly faults: FaultStats;
  readonly durationMs: number;
  readonly failures: readonly string[];
  readonly passed: boolean;
  /** The last important log lines per process, when the campaign failed. */
  readonly logs: Readonly<Record<string, readonly string[]>>;
}

const ADMIN_TOKEN = `chaos-admin-${'x'.repeat(16)}`;

const Healthz = z.object({ status: z.literal('ok') });
const ProvisionedTerminal = z.object({ terminalId: z.string(), apiKey: z.string().min(8) });
/** The summary line `tillsync simulate` prints on stdout when it stops. */
const SimulatorSummary = z.object({ sales: z.number().int(), failed: z.number().int() });

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** Polls `probe` every `everyMs` until truthy or `timeoutMs`; the value, or throws naming `what`. */
async function until<T>(what: string, probe: () => T | Promise<T>, timeoutMs: number, everyMs = 100, signal?: AbortSignal): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (signal?.aborted) throw new Error(`stopped while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(everyMs, signal);
  }
}

type Event =
  | { readonly at: number; readonly kind: 'kill-agent' | 'start-agent' | 'kill-central' | 'start-central' }
  | { readonly at: number; readonly kind: 'hq-write'; readonly product: number; readonly priceCents: number };

/**
 * The seeded plan of a campaign, in ms from the start of the faults: SIGKILLs of the
 * agent (about one per 12 s) and of central (one per 18 s), each followed by a
 * restart 0.3-3 s later, never overlapping its own kind; and an HQ price change
 * every 0.4-2 s.
 */
export function planEvents(seed: number, seconds: number): Event[] {
  const r = new Random(deriveSeed(seed, 'schedule'));
  const span = seconds * 1000;
  const events: Event[] = [];
  const kills = (kind: 'agent' | 'central', every: number, downMs: readonly [number, number]) => {
    const n = Math.max(1, Math.round(seconds / every));
    const slot = span / n;
    for (let k = 0; k < n; k++) {
      const at = Math.round(k * slot + r.between(0.15, 0.6) * slot);
      const down = r.int(downMs[0], downMs[1]);
      events.push({ at, kind: `kill-${kind}` }, { at: Math.min(at + down, Math.round((k + 1) * slot) - 1), kind: `start-${kind}` });
    }
  };
  kills('agent', 12, [300, 3000]);
  kills('central', 18, [500, 3000]);
  for (let at = r.int(300, 1500); at < span; at += r.int(400, 2000)) {
    events.push({ at, kind: 'hq-write', product: r.int(0, PRODUCTS - 1), priceCents: r.int(50, 2500) });
  }
  return events.sort((a, b) => a.at - b.at);
}

/**
 * Runs one campaign; never throws for what it finds (that is in the report), only for
 * a broken set-up or when `signal` stops it before the heal. Cleans up on every path.
 */
export async function runCampaign(opts: CampaignOptions): Promise<CampaignReport> {
  const started = Date.now();
  const rate = opts.rate ?? 5;
  const boundMs = opts.boundMs ?? 10_000;
  const waitMs = Math.max(opts.waitMs ?? 60_000, boundMs);
  const say = opts.progress ?? (() => undefined);
  const signal = opts.signal;
  const tillsyncArgs = opts.build ? nodeEntry(ROOT, 'src/agent/cli.ts', opts.build) : [TILLSYNC_BIN];
  const failures: string[] = [];
  const crashes: string[] = [];
  if (opts.logsDir) mkdirSync(opts.logsDir, { recursive: true });
  const logs = {
    central: new LogTail('central', logFile(opts.logsDir, 'central')),
    agent: new LogTail('agent', logFile(opts.logsDir, 'agent')),
    simulator: new LogTail('simulator', logFile(opts.logsDir, 'simulator')),
  };

  const work = mkdtempSync(join(tmpdir(), 'tillsync-chaos-'));
  const posPath = join(work, 'pos.db');
  let centralDb: CentralDb | undefined;
  let proxy: FaultProxy | undefined;
  let reader: Database.Database | undefined;
  let central: Child | undefined;
  let agent: Child | undefined;
  let simulator: Child | undefined;
  let centralReady: Promise<void> = Promise.resolve();
  let apiKey = '';
  let centralPort = 0;
  const hqLast = new Map<string, HqWrite>();
  /** On PGlite, HQ writes wait for central's next downtime (nobody else may open its database while it runs). */
  const hqQueued: HqWrite[] = [];
  let hqWrites = 0;
  let agentKills = 0;
  let centralKills = 0;

  const noteCrash = (c: Child | undefined) => {
    if (c?.exit && !c.killedByUs) {
      const last = c.log.sinceStart().slice(-3).map((l) => l.slice(0, 300));
      const printed = last.length > 0 ? `its last lines: ${last.join(' | ')}` : 'it printed nothing';
      const what = `${c.role} exited by itself ${(((c.exitedAt ?? Date.now()) - c.startedAt) / 1000).toFixed(1)} s after it started (code ${c.exit.code}, signal ${c.exit.signal}); ${printed}`;
      if (!crashes.includes(what)) crashes.push(what);
      c.killedByUs = true; // reported once
    }
  };

  const startCentral = () => {
    noteCrash(central);
    central = new Child(
      'central',
      nodeEntry(ROOT, 'src/server/main.ts', opts.build),
      cleanEnv({ PORT: String(centralPort), HOST: '127.0.0.1', TILLSYNC_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn', ...(centralDb as CentralDb).env }),
      logs.central,
    );
    const c = central;
    // Asked directly, not through the proxy: is central up, not is the network.
    centralReady = until(
      'central to answer /healthz',
      async () => {
        if (c.exit) throw new Error(`central exited (code ${c.exit.code}, signal ${c.exit.signal})`);
        const res = await fetch(`http://127.0.0.1:${centralPort}/healthz`, { signal: AbortSignal.timeout(2000) });
        return res.ok && Healthz.safeParse(await res.json()).success;
      },
      45_000,
      50,
    ).then(() => undefined);
    centralReady.catch(() => undefined);
  };

  const startAgent = () => {
    noteCrash(agent);
    // Default settings apart from where the till's database is, where central is and who it
    // is; logging at debug, so a failed run's report shows the socket's attempts.
    agent = new Child(
      'agent',
      [...tillsyncArgs, 'agent', '--create'],
      cleanEnv({ LOG_LEVEL: 'debug', DATABASE_URL: `file:${posPath}`, CENTRAL_API_URL: (proxy as FaultProxy).url, CENTRAL_API_KEY: apiKey, TERMINAL_ID: CHAOS_TERMINAL }),
      logs.agent,
    );
  };

  const applyHq = async (w: HqWrite) => {
    await (centralDb as CentralDb).withDb((db) => writePrice(db, w.productId, w.priceCents, w.marker));
    hqLast.set(w.productId, w);
  };

  /** PGlite: HQ's queued writes, while central is down. */
  const flushHq = async () => {
    if (hqQueued.length === 0) return;
    const batch = hqQueued.splice(0);
    await (centralDb as CentralDb).withDb(async (db) => {
      for (const w of batch) {
        await writePrice(db, w.productId, w.priceCents, w.marker);
        hqLast.set(w.productId, w);
      }
    });
  };

  const stopCentralForAccess = async () => {
    // PGlite: central must let go of its directory before anyone else reads it.
    await centralReady.catch(() => undefined);
    await central?.stop('SIGTERM', 15_000);
  };

  let report: Omit<CampaignReport, 'durationMs' | 'failures' | 'passed' | 'logs'> | undefined;
  try {
    // ------------------------------------------------------------------ set-up
    centralDb = opts.pgUrl ? await scratchPostgres(opts.pgUrl) : scratchPglite();
    say(`central database: ${centralDb.where}`);
    centralPort = await freePort();
    proxy = await FaultProxy.start({ upstreamPort: centralPort, seed: deriveSeed(opts.seed, 'proxy'), faulty: false });
    startCentral();
    await centralReady;
    const admin = (path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${centralPort}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const store = await admin('/api/stores', { id: CHAOS_STORE, name: 'Chaos store', code: 'CHAOS', currency: 'EUR' });
    if (store.status !== 201) throw new Error(`creating the store failed: ${store.status} ${await store.text()}`);
    const term = await admin('/api/terminals', { storeId: CHAOS_STORE, terminalId: CHAOS_TERMINAL });
    if (term.status !== 201) throw new Error(`provisioning the terminal failed: ${term.status} ${await term.text()}`);
    apiKey = ProvisionedTerminal.parse(await term.json()).apiKey;
    if (!centralDb.liveAccess) await stopCentralForAccess();
    await centralDb.withDb((db) => seedCatalogue(db));
    if (!centralDb.liveAccess) {
      startCentral();
      await centralReady;
    }

    // The till's first sync runs healthy: the campaign is about a till that was selling.
    startAgent();
    await until(
      'the till to hold its store and every product (first sync)',
      () => {
        if (!existsSync(posPath)) return false;
        reader ??= new Database(posPath, { readonly: true, fileMustExist: true });
        reader.pragma('busy_timeout = 5000');
        const stores = (reader.prepare('SELECT count(*) AS n FROM stores WHERE server_id = ?').get(CHAOS_STORE) as { n: number }).n;
        const products = (reader.prepare('SELECT count(*) AS n FROM products WHERE server_id IS NOT NULL').get() as { n: number }).n;
        return stores === 1 && products === PRODUCTS;
      },
      60_000,
      100,
      signal,
    );
    const pos = reader as Database.Database;
    say(`till ready; faults on for ${opts.seconds} s (seed ${opts.seed})`);

    // ------------------------------------------------------------------ faults
    proxy.harm();
    simulator = new Child(
      'simulator',
      [...tillsyncArgs, 'simulate', '--database', posPath, '--rate', String(rate), '--seed', String(deriveSeed(opts.seed, 'simulator'))],
      cleanEnv({}),
      logs.simulator,
      { keepStdout: true },
    );
    const t0 = Date.now();
    let marker = 0;
    for (const ev of planEvents(opts.seed, opts.seconds)) {
      await sleep(t0 + ev.at - Date.now(), signal);
      if (signal?.aborted) break;
      noteCrash(agent);
      noteCrash(central);
      noteCrash(simulator);
      switch (ev.kind) {
        case 'kill-agent':
          if (agent?.running) {
            agentKills++;
            await agent.kill();
          }
          break;
        case 'start-agent':
          if (!agent?.running) startAgent();
          break;
        case 'kill-central':
          if (central?.running) {
            centralKills++;
            await central.kill();
          }
          if (!centralDb.liveAccess) await flushHq();
          break;
        case 'start-central':
          if (!central?.running) startCentral();
          break;
        case 'hq-write': {
          const w: HqWrite = { productId: productId(ev.product), priceCents: ev.priceCents, marker: `chaos #${++marker}` };
          hqWrites++;
          if (centralDb.liveAccess) await applyHq(w);
          else {
            hqQueued.push(w);
            if (!central?.running) await flushHq();
          }
          break;
        }
      }
      if (ev.kind !== 'hq-write') say(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${ev.kind}`);
    }
    await sleep(t0 + opts.seconds * 1000 - Date.now(), signal);
    // Stopped during the faults: nothing worth measuring; straight to the clean-up.
    if (signal?.aborted) throw new Error(`the campaign was stopped during its faults (seed ${opts.seed})`);

    // ------------------------------------------------------------------ heal
    const simExit = await simulator.stop('SIGTERM', 10_000);
    if (simExit.code !== 0) failures.push(`the simulator exited with code ${simExit.code} (signal ${simExit.signal})`);
    const summary = SimulatorSummary.safeParse(parseJson(simulator.stdout().trim().split('\n').pop() ?? ''));
    const simulatorSales = summary.success ? summary.data.sales : null;
    if (summary.success && summary.data.failed > 0) say(`the simulator had ${summary.data.failed} failed sale(s) (rolled back, not counted)`);
    noteCrash(agent);
    noteCrash(central);
    if (!centralDb.liveAccess) {
      if (central?.running) await stopCentralForAccess();
      await flushHq();
    }
    if (!central?.running) startCentral();
    if (!agent?.running) startAgent();
    await centralReady;
    proxy.heal();
    const healAt = Date.now();
    const lastSale = lastSaleAt(pos);
    say(`healed; ${hqWrites} HQ writes, ${agentKills} agent and ${centralKills} central kills; measuring convergence`);

    // ------------------------------------------------------------------ convergence
    const posSales = () => tillSales(pos);
    let salesAt: number | null = null;
    let rowsAt: number | null = null;
    let hqAt: number | null = null;
    const deadline = healAt + waitMs;
    while (Date.now() < deadline && !signal?.aborted && (salesAt === null || rowsAt === null || hqAt === null)) {
      const now = Date.now();
      if (!centralDb.liveAccess) {
        // PGlite: only the till can be asked while central runs (nothing left to send);
        // central's rows are audited after.
        const o = outboxState(pos);
        if (o.captured === 0 && o.pending === 0 && o.failed === 0) salesAt = rowsAt = now;
      } else {
        if (salesAt === null) {
          const written = posSales();
          if (await centralDb.withDb(async (db) => auditSales(written, await centralSales(db, CHAOS_STORE)).converged)) salesAt = now;
        }
        if (rowsAt === null) {
          const [cust, stk] = [tillCustomers(pos), tillStock(pos)];
          const same = await centralDb.withDb(async (db) => divergent(cust, await centralCustomers(db)).length + divergent(stk, await centralStock(db, CHAOS_STORE)).length === 0);
          if (same) rowsAt = now;
        }
      }
      if (hqAt === null && auditHq(hqLast, tillProducts(pos)).missing.length === 0) hqAt = now;
      noteCrash(agent);
      noteCrash(central);
      await sleep(100, signal);
    }
    // HQ writes again, healthy and online: each must reach the till by itself (a hint).
    const hqOnlineMs: (number | null)[] = [];
    if (centralDb.liveAccess) {
      const r = new Random(deriveSeed(opts.seed, 'online'));
      for (let i = 0; i < 3 && !signal?.aborted; i++) {
        const w: HqWrite = { productId: productId(r.int(0, PRODUCTS - 1)), priceCents: r.int(50, 2500), marker: `chaos online #${i + 1}` };
        const wrote = Date.now();
        await applyHq(w);
        let seen: number | null = null;
        while (Date.now() - wrote < boundMs && !signal?.aborted) {
          const t = tillProducts(pos).get(w.productId);
          if (t && t.priceCents === w.priceCents && t.marker === w.marker) {
            seen = Date.now() - wrote;
            break;
          }
          await sleep(20, signal);
        }
        hqOnlineMs.push(seen);
      }
    }
    // A little longer: a late retry must not add a duplicate after all looked well.
    await sleep(1500, signal);

    // ------------------------------------------------------------------ audit
    const outbox = outboxState(pos);
    const written = posSales();
    const tillCust = tillCustomers(pos);
    const tillStk = tillStock(pos);
    const hq = auditHq(hqLast, tillProducts(pos));
    noteCrash(agent);
    noteCrash(central);
    if (!centralDb.liveAccess) await stopCentralForAccess();
    const { sales, customers, stock } = await centralDb.withDb(async (db) => ({
      sales: auditSales(written, await centralSales(db, CHAOS_STORE)),
      customers: divergent(tillCust, await centralCustomers(db)),
      stock: divergent(tillStk, await centralStock(db, CHAOS_STORE)),
    }));
    report = {
      seed: opts.seed,
      seconds: opts.seconds,
      database: centralDb.kind,
      rate,
      sales,
      simulatorSales,
      divergent: { customers, stock },
      hq: { ...hq, writes: hqWrites },
      outbox,
      convergence: {
        boundMs,
        salesAfterHealMs: salesAt === null ? null : salesAt - healAt,
        salesAfterLastSaleMs: salesAt === null || lastSale === null ? null : salesAt - lastSale,
        rowsAfterHealMs: rowsAt === null ? null : rowsAt - healAt,
        hqAfterHealMs: hqAt === null ? null : hqAt - healAt,
        hqOnlineMs,
        salesSeenBy: centralDb.liveAccess ? 'central' : 'till outbox',
      },
      events: { agentKills, centralKills, hqWrites, crashes },
      faults: proxy.stats(),
    };
  } finally {
    await killAllChildren();
    reader?.close();
    await proxy?.close();
    if (opts.keep) {
      say(`kept for a post-mortem: the till's database ${posPath}, central's ${centralDb?.where ?? '(none)'}`);
    } else {
      await centralDb?.dispose().catch((err: unknown) => say(`dropping the scratch database failed: ${err instanceof Error ? err.message : String(err)}`));
      rmSync(work, { recursive: true, force: true });
    }
  }

  // ------------------------------------------------------------------ verdict
  if (!report) throw new Error('the campaign stopped before its audit');
  const r = report;
  const s = r.sales;
  const parts = (c: { orders: number; items: number; payments: number; movements: number }) =>
    `${c.orders} orders, ${c.items} items, ${c.payments} payments, ${c.movements} stock movements`;
  if (signal?.aborted) failures.push('the campaign was stopped before its end');
  if (s.written.orders === 0) failures.push('the simulator wrote no sale: nothing was tested');
  if (s.lost.orders + s.lost.items + s.lost.payments + s.lost.movements > 0) failures.push(`lost: ${parts(s.lost)}`);
  if (s.duplicated.orders + s.duplicated.items + s.duplicated.payments + s.duplicated.movements > 0) failures.push(`duplicated: ${parts(s.duplicated)}`);
  if (s.unknown > 0) failures.push(`${s.unknown} order(s) at central that the till never wrote`);
  if (s.mismatched > 0) failures.push(`${s.mismatched} order(s) at central differ from the till (status or total)`);
  if (r.divergent.customers.length > 0) failures.push(`${r.divergent.customers.length} customer(s) whose loyalty counters differ between the till and central`);
  if (r.divergent.stock.length > 0) failures.push(`${r.divergent.stock.length} stock row(s) that differ between the till and central`);
  const c = r.convergence;
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  if (c.salesAfterHealMs === null) failures.push(`sales did not converge within ${secs(waitMs)} of the heal`);
  else if (c.salesAfterHealMs > boundMs) failures.push(`sales converged ${secs(c.salesAfterHealMs)} after the heal (bound ${secs(boundMs)})`);
  if (c.rowsAfterHealMs === null) failures.push(`customers and stock at central did not agree with the till within ${secs(waitMs)} of the heal`);
  else if (c.rowsAfterHealMs > boundMs) failures.push(`customers and stock at central agreed with the till ${secs(c.rowsAfterHealMs)} after the heal (bound ${secs(boundMs)})`);
  if (c.hqAfterHealMs === null) failures.push(`HQ's changes did not reach the till within ${secs(waitMs)} of the heal (${r.hq.applied} of ${r.hq.changed} products)`);
  else if (c.hqAfterHealMs > boundMs) failures.push(`HQ's changes reached the till ${secs(c.hqAfterHealMs)} after the heal (bound ${secs(boundMs)})`);
  const slow = c.hqOnlineMs.filter((ms) => ms === null);
  if (slow.length > 0) failures.push(`${slow.length} of ${c.hqOnlineMs.length} HQ change(s) made after convergence, while online, did not reach the till within ${secs(boundMs)}`);
  for (const crash of r.events.crashes) failures.push(crash);
  if (r.events.agentKills === 0 || r.events.centralKills === 0) failures.push('the run was too short to kill both the agent and central');
  const passed = failures.length === 0;
  const tails: Record<string, string[]> = {};
  if (!passed) for (const [role, tail] of Object.entries(logs)) tails[role] = tail.tail(25, true);
  // The agent's last passes (info lines): whether it pushed at all after the heal, and what.
  if (!passed) tails['agent passes'] = logs.agent.tail(400).filter((l) => /"msg":"sync finished"/.test(l)).slice(-10);
  // Its socket (debug lines among them): how the hints' channel came and went.
  if (!passed) tails['agent socket'] = logs.agent.tail(400).filter((l) => /"msg":"(socket|central reachable: socket)/.test(l) || l.startsWith('---')).slice(-15);
  return { ...r, durationMs: Date.now() - started, failures, passed, logs: tails };
}
