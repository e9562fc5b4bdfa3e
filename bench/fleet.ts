/**
 * Issue 5, item 6: a fleet of N simulated terminals against one central instance.
 * Each terminal holds a socket.io connection (authenticated and registered as the
 * engine does), sends a heartbeat every 30 s and pushes one completed sale a second
 * (an order, one or two lines and a payment in one transaction group). We report the
 * push latency (p99, p50), the sales central acknowledged per second against the
 * sales offered, errors, sockets, and central's resident memory.
 *
 * Central runs as a child process (`node --import tsx src/server/main.ts`) on a
 * scratch PostgreSQL database (or PGlite without one), so its RSS and CPU are its
 * own. The terminals live in 1-2 forked load-generator processes (fleet-worker.ts)
 * that share the machine's cores with central and the database: their CPU use and
 * event-loop delay are reported so a reader can tell who the bottleneck was.
 *
 * Knobs (environment): TILLSYNC_BENCH_FLEET_N=100,1000 (levels),
 * TILLSYNC_BENCH_FLEET_WORKERS=2, TILLSYNC_BENCH_FLEET_DB=pglite|postgres,
 * TILLSYNC_BENCH_FLEET_STEADY_S=30, TILLSYNC_BENCH_FLEET_PROF=<dir> (central runs
 * with --cpu-prof into that directory).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { FleetTerminal, FromWorker, RunReport, ToWorker } from './fleet-worker.js';
import { ADMIN_TOKEN, percentile, round, rssMb, sampleRss, scratchPostgres, sleep, type Benchmark, type BenchContext, type DbKind, type Row } from './lib.js';
import { childMessages } from './child-messages.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER = fileURLToPath(new URL('./fleet-worker.ts', import.meta.url));
const TERMINALS_PER_STORE = 10;
const BUDGET_N = 5000;
const BUDGET_P99_MS = 250;

// ------------------------------------------------------------------ /proc readings

/** The soft limit on open files of this process (children inherit it). */
function openFilesLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    // not Linux
  }
  return NaN;
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/** CPU seconds used so far by every process called `postgres` we can see (the local PostgreSQL server). */
export function postgresCpu(): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const d of pids) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      out.set(Number(d), cpuSeconds(Number(d)));
    } catch {
      // gone
    }
  }
  return out;
}

export function postgresCpuDelta(from: Map<number, number>, to: Map<number, number>): number {
  let sum = 0;
  for (const [pid, v] of to) sum += v - (from.get(pid) ?? 0);
  return sum;
}

/** Busy and total CPU time of the machine (all cores), in clock ticks. */
export function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

// ------------------------------------------------------------------ central as a child process

export interface CentralChild {
  readonly url: string;
  readonly pid: number;
  readonly kind: DbKind;
  tail(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Our environment without TillSync, database or central settings. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('TILLSYNC_') || k.startsWith('CENTRAL_') || ['DATABASE_URL', 'POSTGRES_URL_REMOTE', 'TERMINAL_ID', 'PORT', 'HOST', 'LOG_LEVEL'].includes(k)) delete env[k];
  }
  return { ...env, ...extra };
}

/** Children to kill if the benchmark dies without cleaning up. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/**
 * Central as a child process (its CPU and memory its own), on a scratch database, or
 * on `databaseUrl` (another instance's PostgreSQL database, which it then leaves).
 */
export async function startChildCentral(ctx: BenchContext, kind: DbKind, opts: { databaseUrl?: string } = {}): Promise<CentralChild> {
  let dropDb: (() => Promise<void>) | undefined;
  const dbEnv: Record<string, string> = {};
  if (opts.databaseUrl) {
    dbEnv.POSTGRES_URL_REMOTE = opts.databaseUrl;
  } else if (kind === 'postgres') {
    if (!ctx.pgUrl) throw new Error('no PostgreSQL server');
    const scratch = await scratchPostgres(ctx.pgUrl);
    dbEnv.POSTGRES_URL_REMOTE = scratch.url;
    dropDb = scratch.drop;
  } else {
    dbEnv.TILLSYNC_DATA_DIR = ctx.tmp('fleet-central-');
  }
  const port = await freePort();
  const prof = process.env.TILLSYNC_BENCH_FLEET_PROF;
  const args = [...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []), '--import', 'tsx', 'src/server/main.ts'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: cleanEnv({ PORT: String(port), HOST: '127.0.0.1', TILLSYNC_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn', TILLSYNC_AUTO_SYNC: 'false', ...dbEnv }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  const keep = (d: string) => {
    out = (out + d).slice(-4000);
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, 15_000))) {
        child.kill('SIGKILL');
        await waitExit(child, 5000);
      }
    }
    children.delete(child);
    await dropDb?.();
  };
  try {
    // LOG_LEVEL=warn hides the "listening" line: wait for /healthz instead.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`central exited early (${child.exitCode ?? child.signalCode}):\n${out}`);
      try {
        const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (r.ok) break;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`central did not answer /healthz within 60 s:\n${out}`);
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, pid: child.pid as number, kind, tail: () => out, stop };
}

// ------------------------------------------------------------------ provisioning

async function adminPost(url: string, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** Runs `fn(i)` for i in [0, n) with `concurrency` at a time. */
async function parallel(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, lane));
}

/** N terminals in stores of ten, through the admin API. */
async function provision(ctx: BenchContext, url: string, n: number): Promise<{ terminals: FleetTerminal[]; ms: number }> {
  const started = Date.now();
  const stores = Math.ceil(n / TERMINALS_PER_STORE);
  const storeId = (j: number) => `fleet-store-${String(j).padStart(5, '0')}`;
  await parallel(stores, 16, async (j) => {
    const r = await adminPost(url, '/api/stores', { id: storeId(j), name: `Fleet store ${j}`, code: `F${j}` });
    if (r.status !== 201 && r.status !== 409) throw new Error(`creating store ${storeId(j)} failed: ${r.status} ${JSON.stringify(r.body)}`);
  });
  const terminals: FleetTerminal[] = new Array<FleetTerminal>(n);
  let done = 0;
  let lastReport = Date.now();
  await parallel(n, 16, async (i) => {
    const sid = storeId(Math.floor(i / TERMINALS_PER_STORE));
    const terminalId = `fleet-${n}-${String(i).padStart(5, '0')}`;
    const r = await adminPost(url, '/api/terminals', { storeId: sid, terminalId });
    if (r.status !== 201) throw new Error(`provisioning ${terminalId} failed: ${r.status} ${JSON.stringify(r.body)}`);
    terminals[i] = { terminalId, storeId: sid, apiKey: r.body.apiKey as string };
    done++;
    if (Date.now() - lastReport > 2000) {
      lastReport = Date.now();
      ctx.progress(`fleet: provisioning`, { done, of: n, perSecond: Math.round((done / (Date.now() - started)) * 1000) });
    }
  });
  return { terminals, ms: Date.now() - started };
}

// ------------------------------------------------------------------ load-generator processes

interface LoadWorker {
  readonly child: ChildProcess;
  /** Sends `msg` and resolves with the worker's next message of `type`. */
  ask<T extends FromWorker['type']>(msg: ToWorker, type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>>;
  close(): Promise<void>;
}

function forkWorker(): LoadWorker {
  const child = fork(WORKER, [], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  const next = childMessages<FromWorker>(child, 'fleet worker');
  const ask: LoadWorker['ask'] = (msg, type, timeoutMs) => {
    const reply = next(type, timeoutMs);
    child.send(msg);
    return reply;
  };
  return {
    child,
    ask,
    async close() {
      if (child.connected) await ask({ type: 'close' }, 'closed', 10_000).catch(() => undefined);
      if (!(await waitExit(child, 5000))) {
        child.kill('SIGKILL');
        await waitExit(child, 5000);
      }
      children.delete(child);
    },
  };
}

// ------------------------------------------------------------------ one level

interface LevelResult {
  readonly n: number;
  readonly sales: boolean;
  readonly kind: DbKind;
  readonly workers: number;
  readonly provisionMs: number;
  readonly connectMs: number;
  readonly connected: number;
  readonly connectFailed: number;
  readonly connectError: string | undefined;
  readonly registeredAtCentral: number;
  readonly pushMs: number[];
  readonly saleMs: number[];
  readonly reports: RunReport[];
  readonly steadyMs: number;
  readonly rssIdleMb: number;
  readonly rssEndMb: number;
  readonly rssPeakMb: number;
  readonly centralCpu: number;
  readonly postgresCpu: number;
  readonly machineBusy: number;
  readonly serverPushMeanMs: number;
}

/** The push route's request-duration sum (s) and count from central's /metrics, and its registered terminals. */
async function scrape(url: string): Promise<{ sum: number; count: number; registered: number }> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    return {
      sum: num(/^tillsync_http_request_duration_seconds_sum\{route="\/api\/sync\/push"\} (\S+)$/m),
      count: num(/^tillsync_http_request_duration_seconds_count\{route="\/api\/sync\/push"\} (\S+)$/m),
      registered: num(/^tillsync_connected_terminals (\S+)$/m),
    };
  } catch {
    return { sum: NaN, count: NaN, registered: NaN };
  }
}

async function runLevel(
  ctx: BenchContext,
  kind: DbKind,
  n: number,
  workerCount: number,
  timing: { warmupMs: number; steadyMs: number },
  sales = true,
): Promise<LevelResult> {
  ctx.progress(`fleet: N=${n}${sales ? '' : ' (idle)'}: starting central`, { database: kind });
  const central = await startChildCentral(ctx, kind);
  const rss = sampleRss(central.pid, 200);
  const workers: LoadWorker[] = [];
  try {
    await sleep(500);
    const rssIdleMb = rssMb(central.pid);
    const { terminals, ms: provisionMs } = await provision(ctx, central.url, n);
    ctx.progress(`fleet: N=${n}: provisioned`, { terminals: n, seconds: round(provisionMs / 1000), perSecond: Math.round((n / provisionMs) * 1000) });

    for (let w = 0; w < workerCount; w++) workers.push(forkWorker());
    const slices = workers.map((_, w) => terminals.filter((_t, i) => i % workerCount === w));
    const connected = await Promise.all(
      workers.map((w, i) => w.ask({ type: 'connect', url: central.url, terminals: slices[i] as FleetTerminal[], concurrency: 50, timeoutMs: 30_000 }, 'connected', 10 * 60_000)),
    );
    const connectMs = Math.max(...connected.map((c) => c.ms));
    const nConnected = connected.reduce((s, c) => s + c.connected, 0);
    const nFailed = connected.reduce((s, c) => s + c.failed, 0);
    const registeredAtCentral = (await scrape(central.url)).registered;
    ctx.progress(`fleet: N=${n}: sockets connected`, { connected: nConnected, failed: nFailed, seconds: round(connectMs / 1000), registeredAtCentral });

    const startAt = Date.now() + 1000;
    const steadyFrom = startAt + timing.warmupMs;
    const steadyTo = steadyFrom + timing.steadyMs;
    const run: ToWorker = {
      type: 'run',
      startAt,
      warmupMs: timing.warmupMs,
      steadyMs: timing.steadyMs,
      saleIntervalMs: 1000,
      heartbeatIntervalMs: 30_000,
      drainMs: 10_000,
      sales,
    };
    const results = Promise.all(workers.map((w) => w.ask(run, 'result', timing.warmupMs + timing.steadyMs + 90_000)));
    // Keep the measurements' own promise from being unhandled while we wait for the window.
    results.catch(() => undefined);
    ctx.progress(`fleet: N=${n}: running`, { warmupSeconds: timing.warmupMs / 1000, steadySeconds: timing.steadyMs / 1000, workers: workerCount });

    await sleep(steadyFrom - Date.now());
    const m0 = await scrape(central.url);
    const c0 = cpuSeconds(central.pid);
    const p0 = postgresCpu();
    const k0 = machineTicks();
    const wall0 = Date.now();
    await sleep(steadyTo - Date.now());
    const wall = (Date.now() - wall0) / 1000;
    const centralCpu = (cpuSeconds(central.pid) - c0) / wall;
    const pgCpu = kind === 'postgres' ? postgresCpuDelta(p0, postgresCpu()) / wall : NaN;
    const k1 = machineTicks();
    const machineBusy = (k1.busy - k0.busy) / (k1.total - k0.total);
    const rssEndMb = rssMb(central.pid);
    const m1 = await scrape(central.url);
    const serverPushMeanMs = ((m1.sum - m0.sum) / (m1.count - m0.count)) * 1000;

    const reports = await results;
    const rssPeakMb = rss.stop();
    return {
      n,
      sales,
      kind,
      workers: workerCount,
      provisionMs,
      connectMs,
      connected: nConnected,
      connectFailed: nFailed,
      connectError: connected.find((c) => c.firstError)?.firstError,
      registeredAtCentral,
      pushMs: reports.flatMap((r) => r.pushMs),
      saleMs: reports.flatMap((r) => r.saleMs),
      reports,
      steadyMs: timing.steadyMs,
      rssIdleMb,
      rssEndMb,
      rssPeakMb,
      centralCpu,
      postgresCpu: pgCpu,
      machineBusy,
      serverPushMeanMs,
    };
  } catch (err) {
    rss.stop();
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${msg}\n--- central output ---\n${central.tail()}`);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await central.stop();
  }
}

// ------------------------------------------------------------------ the benchmark

const pct = (v: number) => `${Math.round(v * 100)}%`;
const ms = (v: number) => (Number.isFinite(v) ? `${round(v, v < 10 ? 1 : 0)} ms` : 'n/a');

function levelRows(r: LevelResult): { rows: Row[]; overloaded: string | undefined; generatorBound: string | undefined } {
  const sum = (f: (x: RunReport) => number) => r.reports.reduce((s, x) => s + f(x), 0);
  const seconds = r.steadyMs / 1000;
  const rung = sum((x) => x.rung);
  const acked = sum((x) => x.acked);
  const achieved = acked / seconds;
  const httpErrors: Record<string, number> = {};
  for (const x of r.reports) for (const [k, v] of Object.entries(x.httpErrors)) httpErrors[k] = (httpErrors[k] ?? 0) + v;
  const nHttp = Object.values(httpErrors).reduce((a, b) => a + b, 0);
  const network = sum((x) => x.networkErrors);
  const notApplied = sum((x) => x.notApplied);
  const firstError = r.reports.find((x) => x.firstError)?.firstError;
  const p50 = percentile(r.pushMs, 50);
  const p90 = percentile(r.pushMs, 90);
  const p99 = percentile(r.pushMs, 99);
  const max = r.pushMs.length > 0 ? Math.max(...r.pushMs) : NaN;
  const saleP99 = percentile(r.saleMs, 99);
  const pushes = sum((x) => x.pushes);
  const backlog = sum((x) => x.backlog);
  const sockets = sum((x) => x.socketsAtEnd);
  const disconnects = sum((x) => x.disconnects);
  const genCpu = r.reports.map((x) => pct(x.cpuShare)).join('+');
  const genLoop = Math.max(...r.reports.map((x) => x.loopDelayP99Ms));
  const genRss = r.reports.reduce((s, x) => s + x.rssMb, 0);
  const errors = nHttp + network + notApplied;
  const cores = cpus().length;
  const other = r.machineBusy * cores - r.centralCpu - (Number.isFinite(r.postgresCpu) ? r.postgresCpu : 0) - r.reports.reduce((a, x) => a + x.cpuShare, 0);

  const overloaded =
    achieved < 0.8 * r.n ? `achieved ${Math.round(achieved)} of ${r.n} sales/s offered` : p99 > 2000 ? `push p99 ${Math.round(p99)} ms > 2 s` : undefined;
  const generatorBound = r.reports.some((x) => x.cpuShare >= 0.9)
    ? `a load-generator process used ${genCpu} of a core`
    : genLoop > 200
      ? `the load generator's event loop lagged (p99 ${Math.round(genLoop)} ms)`
      : rung < 0.9 * r.n * seconds
        ? `the load generator rang up only ${Math.round(rung / seconds)} of ${r.n} sales/s`
        : undefined;

  const id = `6 fleet N=${r.n}`;
  const rows: Row[] = [
    {
      id,
      what: `push p99 with ${r.n.toLocaleString('en-US')} terminals (1 sale/s each)`,
      value: round(p99),
      unit: 'ms',
      budget: `p99 <= ${BUDGET_P99_MS} ms at ${BUDGET_N.toLocaleString('en-US')}`,
      ...(r.n === BUDGET_N ? { ok: p99 <= BUDGET_P99_MS } : {}),
      note:
        `${r.kind}; p50 ${ms(p50)}, p90 ${ms(p90)}, max ${ms(max)} over ${pushes} pushes in ${seconds} s ` +
        `(central's own mean handling time ${ms(r.serverPushMeanMs)}); sale ring-up to ack p99 ${ms(saleP99)}; ` +
        `errors ${errors} (HTTP ${nHttp}${nHttp ? ` ${JSON.stringify(httpErrors)}` : ''}, network ${network}, changes not applied ${notApplied})` +
        `${firstError ? `, first: ${firstError.slice(0, 200)}` : ''}; ` +
        `sockets ${sockets}/${r.n} registered at the end (${r.connectFailed} failed to connect, ${disconnects} disconnects, central counted ${r.registeredAtCentral}); ` +
        `CPU (100% = one core): central ${pct(r.centralCpu)}, postgres ${Number.isFinite(r.postgresCpu) ? pct(r.postgresCpu) : 'in central (PGlite)'}, ` +
        `load generator ${genCpu} in ${r.workers} process(es) (event-loop p99 ${ms(genLoop)}, RSS ${Math.round(genRss)} MB), machine busy ${pct(r.machineBusy)} of ${cores} cores (other processes ~${pct(Math.max(0, other))} of a core)`,
    },
    {
      id: `${id} sales`,
      what: `sales acknowledged per second with ${r.n.toLocaleString('en-US')} terminals`,
      value: round(achieved),
      unit: 'sales/s',
      note:
        `offered ${r.n}/s, rung up ${round(rung / seconds)}/s, ${pct(achieved / r.n)} of offered; backlog at the end ${backlog} sales; ` +
        `sales pushed together when a push is in flight (as the engine's push lane does): ${round(acked / Math.max(1, pushes), 2)} sales/push; ` +
        `heartbeats ${sum((x) => x.heartbeats)} (p99 ${ms(percentile(r.reports.flatMap((x) => x.heartbeatMs), 99))}, errors ${sum((x) => x.heartbeatErrors)}); provisioning ${round(r.provisionMs / 1000)} s ` +
        `(${Math.round((r.n / r.provisionMs) * 1000)} terminals/s), connecting the sockets ${round(r.connectMs / 1000)} s`,
    },
    {
      id: `${id} rss`,
      what: `central RSS with ${r.n.toLocaleString('en-US')} terminals`,
      value: round(r.rssPeakMb),
      unit: 'MB',
      note: `peak over provisioning, connecting and load; ${round(r.rssEndMb)} MB at the end of the steady phase, ${round(r.rssIdleMb)} MB idle before provisioning`,
    },
  ];
  return { rows, overloaded, generatorBound };
}

function idleRows(r: LevelResult): Row[] {
  const hb = r.reports.flatMap((x) => x.heartbeatMs);
  const sum = (f: (x: RunReport) => number) => r.reports.reduce((s, x) => s + f(x), 0);
  const firstError = r.reports.find((x) => x.firstError)?.firstError;
  return [
    {
      id: `6 fleet N=${r.n} idle`,
      what: `central RSS with ${r.n.toLocaleString('en-US')} connected terminals (sockets and heartbeats, no sales)`,
      value: round(r.rssPeakMb),
      unit: 'MB',
      note:
        `${r.kind}; ${round(r.rssEndMb)} MB at the end, ${round(r.rssIdleMb)} MB before provisioning; sockets ${sum((x) => x.socketsAtEnd)}/${r.n} registered at the end ` +
        `(${r.connectFailed} failed to connect${r.connectError ? `: ${r.connectError}` : ''}, ${sum((x) => x.disconnects)} disconnects, central counted ${r.registeredAtCentral}); ` +
        `heartbeat p50 ${ms(percentile(hb, 50))}, p99 ${ms(percentile(hb, 99))} over ${hb.length} (errors ${sum((x) => x.heartbeatErrors)})${firstError ? `, first: ${firstError.slice(0, 200)}` : ''}; ` +
        `central CPU ${pct(r.centralCpu)} of a core; provisioning ${round(r.provisionMs / 1000)} s, connecting the sockets ${round(r.connectMs / 1000)} s`,
    },
  ];
}

function levels(quick: boolean): number[] {
  const env = process.env.TILLSYNC_BENCH_FLEET_N;
  if (env) {
    const ns = env.split(',').map((s) => Number(s.trim()));
    if (ns.every((x) => Number.isInteger(x) && x > 0)) return ns;
  }
  return quick ? [100, 500] : [100, 1000, 5000];
}

export const fleetBench: Benchmark = {
  id: 'fleet',
  title: 'Fleet: N simulated terminals (socket, heartbeat, 1 sale/s each) against one central',
  async run(ctx) {
    const forced = process.env.TILLSYNC_BENCH_FLEET_DB;
    const kind: DbKind = forced === 'pglite' || forced === 'postgres' ? forced : ctx.pgUrl ? 'postgres' : 'pglite';
    const steadyS = Number(process.env.TILLSYNC_BENCH_FLEET_STEADY_S);
    const timing = {
      warmupMs: ctx.quick ? 2000 : 5000,
      steadyMs: Number.isFinite(steadyS) && steadyS > 0 ? steadyS * 1000 : ctx.quick ? 5000 : 30_000,
    };
    const fdLimit = openFilesLimit();
    const rows: Row[] = [];
    const plan = levels(ctx.quick);
    let stopped: { n: number; why: string } | undefined;
    for (const n of plan) {
      const workersEnv = Number(process.env.TILLSYNC_BENCH_FLEET_WORKERS);
      const workerCount = Number.isInteger(workersEnv) && workersEnv > 0 ? workersEnv : n > 1000 ? 2 : 1;
      // Central holds a socket.io and a keep-alive HTTP connection per terminal.
      const fdsNeeded = 2 * n + 200;
      if (fdsNeeded > fdLimit) {
        stopped = { n, why: `open-file limit (ulimit -n ${fdLimit}) is below the ~${fdsNeeded} descriptors central needs for ${n} terminals` };
        break;
      }
      let r: LevelResult;
      try {
        r = await runLevel(ctx, kind, n, workerCount, timing);
      } catch (err) {
        if (rows.length === 0) throw err;
        stopped = { n, why: `the run failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
        ctx.progress(`fleet: N=${n} failed`, { error: err instanceof Error ? err.message : String(err) });
        break;
      }
      const { rows: lr, overloaded, generatorBound } = levelRows(r);
      rows.push(...lr);
      ctx.progress(`fleet: N=${n} done`, { p99: lr[0]?.value, salesPerSecond: lr[1]?.value, rssMb: lr[2]?.value });
      const next = plan[plan.indexOf(n) + 1];
      if (next !== undefined && (overloaded || generatorBound)) {
        stopped = { n: next, why: `N=${n} was already ${overloaded ? `overloaded (${overloaded})` : `limited by the load generator (${generatorBound})`}` };
        break;
      }
    }
    // Overloaded before the largest fleet: still see whether central holds that many
    // sockets and what they cost in memory, without the sales this machine cannot take.
    const largest = plan[plan.length - 1] as number;
    if (stopped && stopped.n <= largest && 2 * largest + 200 <= fdLimit) {
      try {
        rows.push(...idleRows(await runLevel(ctx, kind, largest, largest > 1000 ? 2 : 1, timing, false)));
      } catch (err) {
        ctx.progress(`fleet: idle N=${largest} failed`, { error: err instanceof Error ? err.message : String(err) });
        rows.push({ id: `6 fleet N=${largest} idle`, what: `idle fleet of ${largest} terminals`, value: NaN, unit: 'MB', note: `failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` });
      }
    }
    rows.push({
      id: '6 fleet limits',
      what: stopped ? `escalation stopped before N=${stopped.n.toLocaleString('en-US')}` : 'every planned level ran',
      value: fdLimit,
      unit: 'open files',
      note: `${stopped ? `${stopped.why}. ` : ''}levels ${plan.join(', ')}; ulimit -n ${fdLimit} (central needs ~2 per terminal: ~${Math.floor((fdLimit - 200) / 2)} terminals at most); ${cpus().length} cores shared by central, ${kind === 'postgres' ? 'PostgreSQL' : 'PGlite (in central)'} and the load generator`,
    });
    return rows;
  },
};
