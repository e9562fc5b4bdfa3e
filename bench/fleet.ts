/**
 * Issue 5, item 6, and issue 17: a fleet of N simulated terminals against one central
 * instance. Each terminal holds a socket.io connection (authenticated and registered
 * as the engine does), sends a heartbeat every 30 s and pushes completed sales (an
 * order, one or two lines and a payment in one transaction group).
 *
 * Two kinds of level:
 * - selling: one sale a second each, N = 100, 1,000, 5,000 while the previous level
 *   kept up (quick: 100, 500). Push latency (p99, p50), sales acknowledged per second
 *   against those offered, every sale of the steady phase acknowledged or not, errors,
 *   sockets, central's resident memory. Budget: p99 <= 250 ms at 1,000 terminals with
 *   every sale acknowledged.
 * - connected: 10,000 terminals (quick: 1,000), each with its socket, its heartbeat and
 *   one sale a minute, spread evenly over the minute, for a steady phase of 60 s (every
 *   terminal sells once; quick: 20 s, a third of them). Central's RSS (peak and at the
 *   end), push p99/p50 of those sales, sales acknowledged against rung up, sockets.
 *   Budget: central RSS <= 600 MB with 10,000 connected terminals.
 *
 * Central runs as a child process (`node --import tsx src/server/main.ts`) on a
 * scratch PostgreSQL database (or PGlite without one), so its RSS and CPU are its
 * own. The terminals live in 1-2 load-generator processes (fleet-worker.ts) that share
 * the machine's cores with central and the database: their CPU use, memory and
 * event-loop delay are reported so a reader can tell who the bottleneck was.
 *
 * Open files: central holds a socket.io connection and (as the engine's fetch keeps
 * it) an HTTP connection per terminal. Node cannot call setrlimit, so central and the
 * load generators are started through `prlimit --nofile=65536:65536 --` (or `bash -c
 * 'ulimit -n 65536 && exec "$@"'`) when that is allowed, else with the soft limit
 * raised to the hard one; each child's limit is read back from /proc/<pid>/limits.
 * When central's limit cannot hold two descriptors per terminal, as many terminals as
 * it can hold keep their HTTP connection and the others close an idle one after 4 s
 * (see fleet-worker.ts); the notes say how many.
 *
 * Knobs (environment): TILLSYNC_BENCH_FLEET_N=100,1000 (selling levels; 0: none),
 * TILLSYNC_BENCH_FLEET_CONNECTED=10000 (connected fleet size; 0: none),
 * TILLSYNC_BENCH_FLEET_CONNECTED_S=60 (its steady phase), TILLSYNC_BENCH_FLEET_WORKERS=2,
 * TILLSYNC_BENCH_FLEET_DB=pglite|postgres, TILLSYNC_BENCH_FLEET_STEADY_S=30 (selling
 * levels' steady phase), TILLSYNC_BENCH_FLEET_PROF=<dir> (central runs with
 * --cpu-prof into that directory).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { ConnectReport, FleetTerminal, FromWorker, RunReport, ToWorker } from './fleet-worker.js';
import { ADMIN_TOKEN, peakRssMb, percentile, round, rssMb, sampleRss, scratchPostgres, sleep, type Benchmark, type BenchContext, type DbKind, type Row } from './lib.js';
import { childMessages } from './child-messages.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER = fileURLToPath(new URL('./fleet-worker.ts', import.meta.url));
const TERMINALS_PER_STORE = 10;
/** Issue 17: 1,000 terminals selling once a second, every sale acknowledged, push p99 <= 250 ms. */
const BUDGET_N = 1000;
const BUDGET_P99_MS = 250;
/** Issue 17: 10,000 connected terminals (socket, heartbeat, one sale a minute each) in <= 600 MB of central RSS. */
const CONNECTED_N = 10_000;
const CONNECTED_BUDGET_MB = 600;
/** The open-file limit the benchmark asks for its children. */
const WANT_OPEN_FILES = 65_536;
/** Descriptors kept free at central and in each load generator beyond the ones counted. */
const FD_MARGIN = 256;
/** A terminal that cannot keep its HTTP connection closes an idle one after this (undici's default keep-alive). */
const IDLE_CLOSE_MS = 4000;
const DRAIN_MS = 10_000;

// ------------------------------------------------------------------ /proc readings

/** The open-file limits (soft, hard) of a process; NaN where /proc is missing. */
function openFiles(pid: number | 'self'): { soft: number; hard: number } {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    const num = (v: string | undefined) => (v === 'unlimited' ? Infinity : Number(v));
    if (m) return { soft: num(m[1]), hard: num(m[2]) };
  } catch {
    // not Linux, or gone
  }
  return { soft: NaN, hard: NaN };
}

/** How many descriptors a process has open now (NaN if unknown). */
function openFdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** Samples a process's open descriptors every `everyMs`; the highest count seen and the last. */
function sampleFds(pid: number, everyMs = 1000): { stop(): { peak: number; last: number } } {
  let peak = NaN;
  let last = NaN;
  const look = () => {
    const v = openFdCount(pid);
    if (Number.isFinite(v)) {
      last = v;
      peak = Number.isFinite(peak) ? Math.max(peak, v) : v;
    }
  };
  look();
  const t = setInterval(look, everyMs);
  return {
    stop() {
      clearInterval(t);
      look();
      return { peak, last };
    },
  };
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

/** Machine-wide counters that tell a stalled machine from a slow program. */
interface MachineCounters {
  /** /proc/pressure/cpu `some` total: µs in which a runnable task waited for a CPU. */
  readonly cpuWaitUs: number;
  /** /proc/stat steal and total ticks (a virtual machine's time taken by its host). */
  readonly steal: number;
  readonly ticks: number;
  /** /proc/net/netstat TcpExt: connections dropped because a listen queue was full, SYNs sent again, retransmission timeouts. */
  readonly listenOverflows: number;
  readonly synRetrans: number;
  readonly tcpTimeouts: number;
}

function machineCounters(): MachineCounters {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  const cpuWaitUs = Number(/^some .*total=(\d+)/m.exec(read('/proc/pressure/cpu'))?.[1] ?? NaN);
  const v = (read('/proc/stat').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const tcp = read('/proc/net/netstat')
    .split('\n')
    .filter((l) => l.startsWith('TcpExt:'));
  const keys = (tcp[0] ?? '').split(/\s+/);
  const vals = (tcp[1] ?? '').split(/\s+/);
  const ext = (k: string) => {
    const i = keys.indexOf(k);
    return i > 0 ? Number(vals[i]) : NaN;
  };
  return {
    cpuWaitUs,
    steal: v[7] ?? NaN,
    ticks: v.slice(0, 8).reduce((a, b) => a + b, 0),
    listenOverflows: ext('ListenOverflows'),
    synRetrans: ext('TCPSynRetrans'),
    tcpTimeouts: ext('TCPTimeouts'),
  };
}

/** What the machine went through between two readings `wallMs` apart. */
function machineDelta(a: MachineCounters, b: MachineCounters, wallMs: number) {
  return {
    cpuWaitShare: (b.cpuWaitUs - a.cpuWaitUs) / 1000 / wallMs,
    stealShare: (b.steal - a.steal) / (b.ticks - a.ticks),
    listenOverflows: b.listenOverflows - a.listenOverflows,
    synRetrans: b.synRetrans - a.synRetrans,
    tcpTimeouts: b.tcpTimeouts - a.tcpTimeouts,
  };
}

// ------------------------------------------------------------------ the children's open-file limit

/** How the benchmark's children are started to get more open files than it has itself. */
export interface OpenFilesPlan {
  /** Put before a child's command line (empty: the child inherits our limit). */
  readonly wrap: readonly string[];
  /** The soft limit a child started through `wrap` should get (read back from /proc to be sure). */
  readonly limit: number;
  /** What was done, for the notes. */
  readonly how: string;
}

const fmtLimit = (n: number) => (n === Infinity ? 'unlimited' : String(n));

/**
 * Node has no setrlimit: a child gets a higher limit by being started through
 * util-linux's `prlimit --nofile=N:N --` (which sets its own limits and execs the
 * command) or `bash -c 'ulimit -n N && exec "$@"'`. Raising the hard limit needs
 * CAP_SYS_RESOURCE; without it only the soft limit can go up, to the hard one.
 */
export function planOpenFiles(want = WANT_OPEN_FILES): OpenFilesPlan {
  const { soft, hard } = openFiles('self');
  if (!Number.isFinite(soft) && soft !== Infinity) return { wrap: [], limit: NaN, how: 'open-file limit unknown (no /proc)' };
  if (soft >= want) return { wrap: [], limit: soft, how: `ulimit -n ${fmtLimit(soft)} already (>= ${want}), not raised` };
  const hasPrlimit = spawnSync('sh', ['-c', 'command -v prlimit'], { encoding: 'utf8' }).status === 0;
  const refused: string[] = [];
  if (!hasPrlimit) refused.push('prlimit: not installed');
  const attempt = (n: number): OpenFilesPlan | undefined => {
    const lim = fmtLimit(n);
    if (hasPrlimit) {
      const r = spawnSync('prlimit', [`--nofile=${lim}:${lim}`, '--', 'true'], { encoding: 'utf8' });
      if (r.status === 0) return { wrap: ['prlimit', `--nofile=${lim}:${lim}`, '--'], limit: n, how: `started through prlimit --nofile=${lim}:${lim}` };
      refused.push(`prlimit --nofile=${lim}:${lim}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().replace(/^prlimit: /, '')}`);
    }
    const b = spawnSync('bash', ['-c', `ulimit -n ${lim}`], { encoding: 'utf8' });
    if (b.status === 0) return { wrap: ['bash', '-c', `ulimit -n ${lim} && exec "$@"`, 'bash'], limit: n, how: `started through bash -c 'ulimit -n ${lim} && exec "$@"'` };
    refused.push(`ulimit -n ${lim}: ${(b.stderr || b.error?.message || `exit ${b.status}`).trim().replace(/^bash: (line \d+: )?/, '')}`);
    return undefined;
  };
  const raised = attempt(want);
  if (raised) return raised;
  if (soft < hard) {
    const toHard = attempt(hard);
    if (toHard) return { ...toHard, how: `${toHard.how}, the hard limit (${want} refused: ${refused[0]})` };
  }
  return { wrap: [], limit: soft, how: `could not raise it above the hard limit ${fmtLimit(hard)} (${refused.join('; ')})` };
}

/** `[command, args]` for `argv` started through `plan`. */
function wrapped(plan: OpenFilesPlan | undefined, argv: readonly string[]): [string, string[]] {
  const full = [...(plan?.wrap ?? []), ...argv];
  return [full[0] as string, full.slice(1)];
}

// ------------------------------------------------------------------ central as a child process

export interface CentralChild {
  readonly url: string;
  readonly pid: number;
  /** Its open-file limit as /proc/<pid>/limits has it. */
  readonly openFiles: { soft: number; hard: number };
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
 * on `databaseUrl` (another instance's PostgreSQL database, which it then leaves);
 * started through `openFiles`'s wrapper when given (see planOpenFiles).
 */
export async function startChildCentral(ctx: BenchContext, kind: DbKind, opts: { databaseUrl?: string; openFiles?: OpenFilesPlan } = {}): Promise<CentralChild> {
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
  const [command, argv] = wrapped(opts.openFiles, [process.execPath, ...args]);
  const child = spawn(command, argv, {
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
  // prlimit and bash exec the command: the pid is central's.
  return { url, pid: child.pid as number, openFiles: openFiles(child.pid as number), kind, tail: () => out, stop };
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
  readonly pid: number;
  /** Its open-file limit from /proc/<pid>/limits (once it answered: before, it may still be prlimit). */
  openFiles(): { soft: number; hard: number };
  /** Sends `msg` and resolves with the worker's next message of `type`. */
  ask<T extends FromWorker['type']>(msg: ToWorker, type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>>;
  close(): Promise<void>;
}

function startWorker(plan: OpenFilesPlan): LoadWorker {
  const [command, argv] = wrapped(plan, [process.execPath, '--import', 'tsx', WORKER]);
  const child = spawn(command, argv, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  const next = childMessages<FromWorker>(child, 'fleet worker');
  const ask: LoadWorker['ask'] = (msg, type, timeoutMs) => {
    const reply = next(type, timeoutMs);
    child.send(msg);
    return reply;
  };
  return {
    child,
    pid: child.pid as number,
    openFiles: () => openFiles(child.pid as number),
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

interface LevelSpec {
  readonly n: number;
  /** selling: one sale a second each; connected: one sale a minute each. */
  readonly mode: 'selling' | 'connected';
  readonly saleIntervalMs: number;
  readonly workers: number;
  readonly warmupMs: number;
  readonly steadyMs: number;
}

interface LevelResult extends LevelSpec {
  readonly kind: DbKind;
  readonly provisionMs: number;
  readonly connectMs: number;
  readonly connected: number;
  readonly connectFailed: number;
  readonly connectError: string | undefined;
  readonly connectReports: ConnectReport[];
  readonly registeredAtCentral: number;
  readonly pushMs: number[];
  readonly saleMs: number[];
  readonly reports: RunReport[];
  readonly rssIdleMb: number;
  readonly rssProvisionedMb: number;
  readonly rssConnectedMb: number;
  readonly rssEndMb: number;
  readonly rssPeakMb: number;
  readonly rssHwmMb: number;
  readonly centralCpu: number;
  readonly postgresCpu: number;
  readonly machineBusy: number;
  readonly serverPushMeanMs: number;
  /** Central's event-loop delay over the steady phase (its /metrics), its GC time then, s. */
  readonly centralLagP99Ms: number;
  readonly centralLagMaxMs: number;
  readonly centralGcS: number;
  /** The benchmark's own event-loop delay over the steady phase: it does almost nothing then, so a delay here is the machine's. */
  readonly benchLoopP99Ms: number;
  readonly benchLoopMaxMs: number;
  readonly machine: ReturnType<typeof machineDelta>;
  /** Central's open-file limit (from /proc) and its descriptors: before the sockets, at the peak, at the end of the steady phase. */
  readonly centralOpenFiles: { soft: number; hard: number };
  readonly fdsBase: number;
  readonly fdsPeak: number;
  readonly fdsEnd: number;
  readonly workerOpenFiles: number[];
  readonly workerRssPeakMb: number[];
  /** Terminals that kept their HTTP connection between requests (the others closed it after IDLE_CLOSE_MS idle). */
  readonly holdHttp: number;
}

interface Scrape {
  /** The push route's request-duration sum (s) and count. */
  readonly sum: number;
  readonly count: number;
  readonly registered: number;
  /** prom-client's event-loop delay since the previous scrape (its histogram is reset at each), s. */
  readonly lagP99: number;
  readonly lagMax: number;
  /** GC time since start (all kinds), s. */
  readonly gc: number;
}

/** Central's /metrics: the push route's durations, its registered terminals, its event-loop delay since the last scrape, its GC time. */
async function scrape(url: string): Promise<Scrape> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    let gc = 0;
    for (const m of text.matchAll(/^tillsync_nodejs_gc_duration_seconds_sum\{[^}]*\} (\S+)$/gm)) gc += Number(m[1]);
    return {
      sum: num(/^tillsync_http_request_duration_seconds_sum\{route="\/api\/sync\/push"\} (\S+)$/m),
      count: num(/^tillsync_http_request_duration_seconds_count\{route="\/api\/sync\/push"\} (\S+)$/m),
      registered: num(/^tillsync_connected_terminals (\S+)$/m),
      lagP99: num(/^tillsync_nodejs_eventloop_lag_p99_seconds (\S+)$/m),
      lagMax: num(/^tillsync_nodejs_eventloop_lag_max_seconds (\S+)$/m),
      gc,
    };
  } catch {
    return { sum: NaN, count: NaN, registered: NaN, lagP99: NaN, lagMax: NaN, gc: NaN };
  }
}

/**
 * How many of each worker's terminals keep their HTTP connection: all, if central's
 * limit holds two descriptors per terminal beside the ones it has open and each
 * worker's limit two per terminal of its slice; otherwise as many as fit.
 */
function httpHolds(n: number, centralLimit: number, centralFds: number, slices: readonly number[], workerLimits: readonly number[]): number[] {
  // NaN (no /proc): nothing known to hold back for.
  const room = (limit: number, used: number) => (Number.isNaN(limit) ? Infinity : limit - used - FD_MARGIN);
  const centralRoom = room(centralLimit, (Number.isFinite(centralFds) ? centralFds : 0) + n);
  return slices.map((m, w) => {
    const share = centralRoom === Infinity ? m : Math.floor((centralRoom * m) / n);
    return Math.max(0, Math.min(m, share, room(workerLimits[w] ?? NaN, m)));
  });
}

async function runLevel(ctx: BenchContext, kind: DbKind, spec: LevelSpec, plan: OpenFilesPlan): Promise<LevelResult> {
  const { n } = spec;
  const label = `fleet: ${spec.mode} N=${n}`;
  ctx.progress(`${label}: starting central`, { database: kind });
  const central = await startChildCentral(ctx, kind, { openFiles: plan });
  const rss = sampleRss(central.pid, 200);
  const workers: LoadWorker[] = [];
  const workerRss: { stop(): number }[] = [];
  let fds: { stop(): { peak: number; last: number } } | undefined;
  try {
    await sleep(500);
    const rssIdleMb = rssMb(central.pid);
    const { terminals, ms: provisionMs } = await provision(ctx, central.url, n);
    const rssProvisionedMb = rssMb(central.pid);
    ctx.progress(`${label}: provisioned`, { terminals: n, seconds: round(provisionMs / 1000), perSecond: Math.round((n / provisionMs) * 1000) });

    for (let w = 0; w < spec.workers; w++) workers.push(startWorker(plan));
    await Promise.all(workers.map((w) => w.ask({ type: 'hello' }, 'ready', 60_000)));
    for (const w of workers) workerRss.push(sampleRss(w.pid, 500));
    const slices = workers.map((_, w) => terminals.filter((_t, i) => i % spec.workers === w));
    const fdsBase = openFdCount(central.pid);
    fds = sampleFds(central.pid, 1000);
    const workerLimits = workers.map((w) => w.openFiles().soft);
    const holds = httpHolds(
      n,
      central.openFiles.soft,
      fdsBase,
      slices.map((s) => s.length),
      workerLimits,
    );
    const socketsFit = (!Number.isFinite(central.openFiles.soft) || fdsBase + n + FD_MARGIN <= central.openFiles.soft) && slices.every((s, w) => !Number.isFinite(workerLimits[w]) || s.length + FD_MARGIN <= (workerLimits[w] as number));
    if (!socketsFit) throw new Error(`open-file limits (central ${central.openFiles.soft}, workers ${workerLimits.join('/')}) cannot hold ${n} sockets`);
    const holdHttp = holds.reduce((a, b) => a + b, 0);
    const connectReports = await Promise.all(
      workers.map((w, i) =>
        w.ask(
          { type: 'connect', url: central.url, terminals: slices[i] as FleetTerminal[], concurrency: 50, timeoutMs: 30_000, holdHttp: holds[i] as number, idleCloseMs: IDLE_CLOSE_MS },
          'connected',
          10 * 60_000,
        ),
      ),
    );
    const connectMs = Math.max(...connectReports.map((c) => c.ms));
    const nConnected = connectReports.reduce((s, c) => s + c.connected, 0);
    const nFailed = connectReports.reduce((s, c) => s + c.failed, 0);
    const registeredAtCentral = (await scrape(central.url)).registered;
    const rssConnectedMb = rssMb(central.pid);
    ctx.progress(`${label}: sockets connected`, {
      connected: nConnected,
      failed: nFailed,
      seconds: round(connectMs / 1000),
      registeredAtCentral,
      centralRssMb: round(rssConnectedMb),
      centralFds: openFdCount(central.pid),
      holdHttp,
    });

    const startAt = Date.now() + 1000;
    const steadyFrom = startAt + spec.warmupMs;
    const steadyTo = steadyFrom + spec.steadyMs;
    const run: ToWorker = {
      type: 'run',
      startAt,
      warmupMs: spec.warmupMs,
      steadyMs: spec.steadyMs,
      saleIntervalMs: spec.saleIntervalMs,
      heartbeatIntervalMs: 30_000,
      drainMs: DRAIN_MS,
    };
    const results = Promise.all(workers.map((w) => w.ask(run, 'result', spec.warmupMs + spec.steadyMs + DRAIN_MS + 90_000)));
    // Keep the measurements' own promise from being unhandled while we wait for the window.
    results.catch(() => undefined);
    ctx.progress(`${label}: running`, { warmupSeconds: spec.warmupMs / 1000, steadySeconds: spec.steadyMs / 1000, saleEverySeconds: spec.saleIntervalMs / 1000, workers: spec.workers });

    await sleep(steadyFrom - Date.now());
    const m0 = await scrape(central.url);
    const c0 = cpuSeconds(central.pid);
    const p0 = postgresCpu();
    const k0 = machineTicks();
    const x0 = machineCounters();
    const benchLoop = monitorEventLoopDelay({ resolution: 10 });
    benchLoop.enable();
    const wall0 = Date.now();
    await sleep(steadyTo - Date.now());
    benchLoop.disable();
    const machine = machineDelta(x0, machineCounters(), Date.now() - wall0);
    const wall = (Date.now() - wall0) / 1000;
    const centralCpu = (cpuSeconds(central.pid) - c0) / wall;
    const pgCpu = kind === 'postgres' ? postgresCpuDelta(p0, postgresCpu()) / wall : NaN;
    const k1 = machineTicks();
    const machineBusy = (k1.busy - k0.busy) / (k1.total - k0.total);
    const rssEndMb = rssMb(central.pid);
    const fdsAtEnd = fds.stop();
    fds = undefined;
    const m1 = await scrape(central.url);
    const serverPushMeanMs = ((m1.sum - m0.sum) / (m1.count - m0.count)) * 1000;

    const reports = await results;
    const rssPeakMb = rss.stop();
    const rssHwmMb = peakRssMb(central.pid);
    return {
      ...spec,
      kind,
      provisionMs,
      connectMs,
      connected: nConnected,
      connectFailed: nFailed,
      connectError: connectReports.find((c) => c.firstError)?.firstError,
      connectReports,
      registeredAtCentral,
      pushMs: reports.flatMap((r) => r.pushMs),
      saleMs: reports.flatMap((r) => r.saleMs),
      reports,
      rssIdleMb,
      rssProvisionedMb,
      rssConnectedMb,
      rssEndMb,
      rssPeakMb,
      rssHwmMb,
      centralCpu,
      postgresCpu: pgCpu,
      machineBusy,
      serverPushMeanMs,
      centralLagP99Ms: m1.lagP99 * 1000,
      centralLagMaxMs: m1.lagMax * 1000,
      centralGcS: m1.gc - m0.gc,
      benchLoopP99Ms: benchLoop.percentile(99) / 1e6,
      benchLoopMaxMs: benchLoop.max / 1e6,
      machine,
      centralOpenFiles: central.openFiles,
      fdsBase,
      fdsPeak: fdsAtEnd.peak,
      fdsEnd: fdsAtEnd.last,
      workerOpenFiles: workerLimits,
      workerRssPeakMb: workerRss.map((r) => r.stop()),
      holdHttp,
    };
  } catch (err) {
    rss.stop();
    fds?.stop();
    for (const r of workerRss) r.stop();
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`${msg}\n--- central output ---\n${central.tail()}`);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
    await central.stop();
  }
}

// ------------------------------------------------------------------ rows

const pct = (v: number) => `${Math.round(v * 100)}%`;
const ms = (v: number) => (Number.isFinite(v) ? `${round(v, v < 10 ? 1 : 0)} ms` : 'n/a');
const count = (v: number) => v.toLocaleString('en-US');
const mb = (v: number) => `${Math.round(v)} MB`;

/** What every level's rows say alike: errors, sales, CPU, the load generator, open files. */
function summary(r: LevelResult) {
  const sum = (f: (x: RunReport) => number) => r.reports.reduce((s, x) => s + f(x), 0);
  const seconds = r.steadyMs / 1000;
  const httpErrors: Record<string, number> = {};
  for (const x of r.reports) for (const [k, v] of Object.entries(x.httpErrors)) httpErrors[k] = (httpErrors[k] ?? 0) + v;
  const nHttp = Object.values(httpErrors).reduce((a, b) => a + b, 0);
  const network = sum((x) => x.networkErrors);
  const notApplied = sum((x) => x.notApplied);
  const firstError = r.reports.find((x) => x.firstError)?.firstError;
  const errors = nHttp + network + notApplied;
  const rung = sum((x) => x.rung);
  const unacked = sum((x) => x.unacked);
  const pushes = sum((x) => x.pushes);
  const heartbeatMs = r.reports.flatMap((x) => x.heartbeatMs);
  const cores = cpus().length;
  const genCpu = r.reports.map((x) => pct(x.cpuShare)).join('+');
  const genLoop = Math.max(...r.reports.map((x) => x.loopDelayP99Ms));
  const other = r.machineBusy * cores - r.centralCpu - (Number.isFinite(r.postgresCpu) ? r.postgresCpu : 0) - r.reports.reduce((a, x) => a + x.cpuShare, 0);
  const errorText =
    `errors ${errors} (HTTP ${nHttp}${nHttp ? ` ${JSON.stringify(httpErrors)}` : ''}, network ${network}, changes not applied ${notApplied})` +
    `${firstError ? `, first: ${firstError.slice(0, 200)}` : ''}`;
  const cpuText =
    `CPU (100% = one core): central ${pct(r.centralCpu)}, postgres ${Number.isFinite(r.postgresCpu) ? pct(r.postgresCpu) : 'in central (PGlite)'}, ` +
    `load generator ${genCpu} in ${r.workers} process(es) (event-loop p99 ${ms(genLoop)}, RSS ${mb(r.reports.reduce((s, x) => s + x.rssMb, 0))}), ` +
    `machine busy ${pct(r.machineBusy)} of ${cores} cores (other processes ~${pct(Math.max(0, other))} of a core)`;
  const m = r.machine;
  const stallText =
    `event-loop delay p99 / max: central ${ms(r.centralLagP99Ms)} / ${ms(r.centralLagMaxMs)} (GC ${round(r.centralGcS, 2)} s), ` +
    `load generator ${r.reports.map((x) => `${ms(x.loopDelayP99Ms)} / ${ms(x.loopDelayMaxMs)}`).join(', ')}, this benchmark's idle process ${ms(r.benchLoopP99Ms)} / ${ms(r.benchLoopMaxMs)}; ` +
    `machine: a task waiting for a CPU ${Number.isFinite(m.cpuWaitShare) ? pct(m.cpuWaitShare) : 'n/a'} of the time (PSI), steal ${Number.isFinite(m.stealShare) ? pct(m.stealShare) : 'n/a'}, ` +
    `TCP listen-queue overflows ${m.listenOverflows}, SYNs resent ${m.synRetrans}, retransmission timeouts ${m.tcpTimeouts} (whole machine)`;
  const limitText = (lim: number) => (lim === Infinity ? 'unlimited' : String(lim));
  const filesText =
    `open files: central's limit ${limitText(r.centralOpenFiles.soft)} (/proc/<pid>/limits; hard ${limitText(r.centralOpenFiles.hard)}), ` +
    `${r.fdsBase} open before the sockets, ${r.fdsPeak} at the peak, ${r.fdsEnd} at the end; load generators' limit ${r.workerOpenFiles.map(limitText).join('/')}; ` +
    (r.holdHttp === r.n
      ? `every terminal kept its HTTP connection between requests (as the engine's fetch does)`
      : `${count(r.holdHttp)} of ${count(r.n)} terminals kept their HTTP connection between requests (as the engine's fetch does), the other ${count(r.n - r.holdHttp)} closed an idle one after ${IDLE_CLOSE_MS / 1000} s: central's limit does not hold two per terminal`) +
    `; new HTTP connections opened by requests of the steady phase: ${sum((x) => x.newConnections)}`;
  const heartbeatText = `heartbeats ${sum((x) => x.heartbeats)} (p50 ${ms(percentile(heartbeatMs, 50))}, p99 ${ms(percentile(heartbeatMs, 99))}, errors ${sum((x) => x.heartbeatErrors)})`;
  const socketsText =
    `sockets ${sum((x) => x.socketsAtEnd)}/${r.n} registered at the end (${r.connectFailed} failed to connect${r.connectError ? `: ${r.connectError.slice(0, 200)}` : ''}, ` +
    `${sum((x) => x.disconnects)} disconnects in the steady phase, central counted ${r.registeredAtCentral} before it)`;
  return { sum, seconds, errors, errorText, cpuText, stallText, filesText, heartbeatText, socketsText, rung, unacked, pushes, genCpu, genLoop };
}

function levelRows(r: LevelResult): { rows: Row[]; overloaded: string | undefined; generatorBound: string | undefined } {
  const s = summary(r);
  const acked = s.sum((x) => x.acked);
  const achieved = acked / s.seconds;
  const p50 = percentile(r.pushMs, 50);
  const p90 = percentile(r.pushMs, 90);
  const p99 = percentile(r.pushMs, 99);
  const max = r.pushMs.length > 0 ? Math.max(...r.pushMs) : NaN;
  const saleP99 = percentile(r.saleMs, 99);
  const allAcked = s.unacked === 0 && s.errors === 0 && s.rung > 0;

  const overloaded =
    achieved < 0.8 * r.n ? `achieved ${Math.round(achieved)} of ${r.n} sales/s offered` : p99 > 2000 ? `push p99 ${Math.round(p99)} ms > 2 s` : undefined;
  const generatorBound = r.reports.some((x) => x.cpuShare >= 0.9)
    ? `a load-generator process used ${s.genCpu} of a core`
    : s.genLoop > 200
      ? `the load generator's event loop lagged (p99 ${Math.round(s.genLoop)} ms)`
      : s.rung < 0.9 * r.n * s.seconds
        ? `the load generator rang up only ${Math.round(s.rung / s.seconds)} of ${r.n} sales/s`
        : undefined;

  const id = `6 fleet N=${r.n}`;
  const rows: Row[] = [
    {
      id,
      what: `push p99 with ${count(r.n)} terminals (1 sale/s each)`,
      value: round(p99),
      unit: 'ms',
      budget: `p99 <= ${BUDGET_P99_MS} ms at ${count(BUDGET_N)}, every sale acknowledged`,
      ...(r.n === BUDGET_N ? { ok: p99 <= BUDGET_P99_MS && allAcked } : {}),
      note:
        `${r.kind}; p50 ${ms(p50)}, p90 ${ms(p90)}, max ${ms(max)} over ${s.pushes} pushes in ${s.seconds} s ` +
        `(central's own mean handling time ${ms(r.serverPushMeanMs)}); sale ring-up to ack p99 ${ms(saleP99)}; ` +
        `every sale of the steady phase acknowledged: ${allAcked ? 'yes' : 'no'} (${count(r.saleMs.length)} of ${count(s.rung)} by the end of a ${DRAIN_MS / 1000} s drain); ` +
        `${s.errorText}; ${s.socketsText}; ${s.cpuText}; ${s.stallText}; ${s.filesText}`,
    },
    {
      id: `${id} sales`,
      what: `sales acknowledged per second with ${count(r.n)} terminals`,
      value: round(achieved),
      unit: 'sales/s',
      note:
        `offered ${r.n}/s, rung up ${round(s.rung / s.seconds)}/s, ${pct(achieved / r.n)} of offered; backlog at the end ${s.sum((x) => x.backlog)} sales, ` +
        `${s.unacked} of the steady phase's sales not acknowledged after the drain; ` +
        `sales pushed together when a push is in flight (as the engine's push lane does): ${round(acked / Math.max(1, s.pushes), 2)} sales/push; ` +
        `${s.heartbeatText}; provisioning ${round(r.provisionMs / 1000)} s ` +
        `(${Math.round((r.n / r.provisionMs) * 1000)} terminals/s), connecting the sockets ${round(r.connectMs / 1000)} s`,
    },
    {
      id: `${id} rss`,
      what: `central RSS with ${count(r.n)} terminals`,
      value: round(r.rssPeakMb),
      unit: 'MB',
      note: `peak over provisioning, connecting and load; ${round(r.rssEndMb)} MB at the end of the steady phase, ${round(r.rssIdleMb)} MB idle before provisioning`,
    },
  ];
  return { rows, overloaded, generatorBound };
}

function connectedRows(r: LevelResult): Row[] {
  const s = summary(r);
  const id = `6 fleet connected N=${r.n}`;
  const p50 = percentile(r.pushMs, 50);
  const p90 = percentile(r.pushMs, 90);
  const p99 = percentile(r.pushMs, 99);
  const max = r.pushMs.length > 0 ? Math.max(...r.pushMs) : NaN;
  const perMinute = 60_000 / r.saleIntervalMs;
  const expected = Math.round(r.n * perMinute * (r.steadyMs / 60_000));
  const ackedOfRung = r.saleMs.length;
  const sockets = s.sum((x) => x.socketsAtEnd);
  const socketKb = ((r.rssConnectedMb - r.rssProvisionedMb) * 1024) / r.n;
  const worstLoop = Math.max(...r.reports.map((x) => x.loopDelayP99Ms));
  const held = sockets === r.n && r.connectFailed === 0;
  const perWorker = r.reports
    .map((x, w) => {
      const c = r.connectReports[w];
      return (
        `process ${w + 1}: ${count(c ? c.connected + c.failed : 0)} terminals, RSS peak ${mb(r.workerRssPeakMb[w] ?? NaN)} (${mb(x.rssMb)} at the end, heap used ${mb(x.heapUsedMb)}), ` +
        `CPU ${pct(x.cpuShare)} of a core, event loop p99 ${ms(x.loopDelayP99Ms)} / max ${ms(x.loopDelayMaxMs)} in the steady phase` +
        (c ? `, p99 ${ms(c.loopDelayP99Ms)} / max ${ms(c.loopDelayMaxMs)} while connecting (${round(c.ms / 1000)} s, RSS then ${mb(c.rssMb)})` : '')
      );
    })
    .join('; ');
  const quickNote = r.steadyMs < r.saleIntervalMs ? ` (a ${r.steadyMs / 1000} s steady phase: about ${pct(r.steadyMs / r.saleIntervalMs)} of the terminals sell in it)` : ' (every terminal sells once in it)';
  return [
    {
      id: `${id} rss`,
      what: `central RSS with ${count(r.n)} connected terminals (one sale a minute each)`,
      value: round(r.rssPeakMb),
      unit: 'MB',
      budget: `<= ${CONNECTED_BUDGET_MB} MB at ${count(CONNECTED_N)}`,
      ...(r.n === CONNECTED_N ? { ok: r.rssPeakMb <= CONNECTED_BUDGET_MB } : {}),
      note:
        `${r.kind}; peak sampled every 200 ms over provisioning, connecting and ${r.steadyMs / 1000} s of sales (VmHWM ${round(r.rssHwmMb)} MB); ` +
        `${round(r.rssEndMb)} MB at the end of the steady phase; ${round(r.rssConnectedMb)} MB with every socket connected before the first sale ` +
        `(${round(r.rssProvisionedMb)} MB after provisioning: ~${round(socketKb)} KB a connected terminal), ${round(r.rssIdleMb)} MB idle before provisioning; ` +
        `${s.filesText}`,
    },
    {
      id,
      what: `push p99 with ${count(r.n)} connected terminals (one sale a minute each)`,
      value: round(p99),
      unit: 'ms',
      note:
        `${r.kind}; p50 ${ms(p50)}, p90 ${ms(p90)}, max ${ms(max)} over ${s.pushes} pushes in ${s.seconds} s ` +
        `(central's own mean handling time ${ms(r.serverPushMeanMs)}); sale ring-up to ack p50 ${ms(percentile(r.saleMs, 50))}, p99 ${ms(percentile(r.saleMs, 99))}; ` +
        `${s.errorText}; ${s.heartbeatText}; ${s.cpuText}; ${s.stallText}`,
    },
    {
      id: `${id} sales`,
      what: `sales acknowledged with ${count(r.n)} connected terminals (of those rung up in ${s.seconds} s)`,
      value: ackedOfRung,
      unit: 'sales',
      note:
        `${count(ackedOfRung)} of ${count(s.rung)} rung up in the steady phase acknowledged (${s.rung > 0 ? pct(ackedOfRung / s.rung) : 'n/a'}; by the end of a ${DRAIN_MS / 1000} s drain); ` +
        `offered one a terminal every ${r.saleIntervalMs / 1000} s, spread evenly: ${count(expected)} due in ${s.seconds} s${quickNote}; ` +
        `${s.sum((x) => x.acked)} acknowledged within the steady phase, backlog at its end ${s.sum((x) => x.backlog)}`,
    },
    {
      id: `${id} sockets`,
      what: `sockets registered with ${count(r.n)} connected terminals (end of the steady phase)`,
      value: sockets,
      unit: 'sockets',
      note:
        `${s.socketsText}; provisioning ${round(r.provisionMs / 1000)} s (${Math.round((r.n / r.provisionMs) * 1000)} terminals/s), ` +
        `connecting and registering the sockets ${round(r.connectMs / 1000)} s (50 at a time per load-generator process)`,
    },
    {
      id: `${id} generator`,
      what: `load generator holding ${count(r.n)} terminals: worst event-loop delay p99 (steady phase)`,
      value: round(worstLoop),
      unit: 'ms',
      note: `${held ? `held all ${count(r.n)}` : `reached ${count(sockets)} of ${count(r.n)} sockets (${r.connected} connected at first)`} in ${r.workers} process(es) on ${cpus().length} cores; ${perWorker}`,
    },
  ];
}

function envLevels(name: string): number[] | undefined {
  const env = process.env[name];
  if (env === undefined || env.trim() === '') return undefined;
  const ns = env.split(',').map((x) => Number(x.trim()));
  if (!ns.every((x) => Number.isInteger(x) && x >= 0)) return undefined;
  return ns.filter((x) => x > 0);
}

function sellingLevels(quick: boolean): number[] {
  return envLevels('TILLSYNC_BENCH_FLEET_N') ?? (quick ? [100, 500] : [100, 1000, 5000]);
}

function connectedLevel(quick: boolean): number | undefined {
  const env = envLevels('TILLSYNC_BENCH_FLEET_CONNECTED');
  if (env) return env[0];
  return quick ? 1000 : CONNECTED_N;
}

function workerCount(n: number): number {
  const env = Number(process.env.TILLSYNC_BENCH_FLEET_WORKERS);
  return Number.isInteger(env) && env > 0 ? env : n > 1000 ? 2 : 1;
}

/** The open-file limit a level needs at central: its sockets and (as the engine keeps them) HTTP connections. */
const fdsNeeded = (n: number, mode: LevelSpec['mode']) => (mode === 'selling' ? 2 * n : n) + 2 * FD_MARGIN;

export const fleetBench: Benchmark = {
  id: 'fleet',
  title: 'Fleet: N simulated terminals selling once a second, then 10,000 connected selling once a minute, against one central',
  async run(ctx) {
    const forced = process.env.TILLSYNC_BENCH_FLEET_DB;
    const kind: DbKind = forced === 'pglite' || forced === 'postgres' ? forced : ctx.pgUrl ? 'postgres' : 'pglite';
    const steadyS = Number(process.env.TILLSYNC_BENCH_FLEET_STEADY_S);
    const connectedS = Number(process.env.TILLSYNC_BENCH_FLEET_CONNECTED_S);
    const warmupMs = ctx.quick ? 2000 : 5000;
    const sellingSteadyMs = Number.isFinite(steadyS) && steadyS > 0 ? steadyS * 1000 : ctx.quick ? 5000 : 30_000;
    const connectedSteadyMs = Number.isFinite(connectedS) && connectedS > 0 ? connectedS * 1000 : ctx.quick ? 20_000 : 60_000;
    const plan = planOpenFiles();
    ctx.progress('fleet: open files', { limit: plan.limit, how: plan.how });
    const rows: Row[] = [];
    const selling = sellingLevels(ctx.quick);
    const connectedN = connectedLevel(ctx.quick);
    const notes: string[] = [];
    let centralLimit: { soft: number; hard: number } | undefined;
    let stopped: { n: number; why: string } | undefined;
    for (const n of selling) {
      if (fdsNeeded(n, 'selling') > plan.limit) {
        stopped = { n, why: `central's open-file limit (${plan.limit}) is below the ~${fdsNeeded(n, 'selling')} descriptors it needs for ${n} terminals` };
        break;
      }
      let r: LevelResult;
      try {
        r = await runLevel(ctx, kind, { n, mode: 'selling', saleIntervalMs: 1000, workers: workerCount(n), warmupMs, steadyMs: sellingSteadyMs }, plan);
      } catch (err) {
        if (rows.length === 0) throw err;
        stopped = { n, why: `the run failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
        ctx.progress(`fleet: N=${n} failed`, { error: err instanceof Error ? err.message : String(err) });
        break;
      }
      centralLimit = r.centralOpenFiles;
      const { rows: lr, overloaded, generatorBound } = levelRows(r);
      rows.push(...lr);
      ctx.progress(`fleet: N=${n} done`, { p99: lr[0]?.value, salesPerSecond: lr[1]?.value, rssMb: lr[2]?.value });
      const next = selling[selling.indexOf(n) + 1];
      if (next !== undefined && (overloaded || generatorBound)) {
        stopped = { n: next, why: `N=${n} was already ${overloaded ? `overloaded (${overloaded})` : `limited by the load generator (${generatorBound})`}` };
        break;
      }
    }
    if (stopped) notes.push(`selling escalation stopped before N=${count(stopped.n)}: ${stopped.why}`);

    if (connectedN !== undefined) {
      const id = `6 fleet connected N=${connectedN}`;
      if (fdsNeeded(connectedN, 'connected') > plan.limit) {
        const why = `central's open-file limit (${plan.limit}) is below the ~${fdsNeeded(connectedN, 'connected')} descriptors its sockets alone need`;
        notes.push(`connected fleet of ${count(connectedN)} not run: ${why}`);
        rows.push({ id: `${id} rss`, what: `central RSS with ${count(connectedN)} connected terminals (one sale a minute each)`, value: NaN, unit: 'MB', budget: `<= ${CONNECTED_BUDGET_MB} MB at ${count(CONNECTED_N)}`, note: `not run: ${why}` });
      } else {
        try {
          const r = await runLevel(
            ctx,
            kind,
            { n: connectedN, mode: 'connected', saleIntervalMs: 60_000, workers: workerCount(connectedN), warmupMs, steadyMs: connectedSteadyMs },
            plan,
          );
          centralLimit = r.centralOpenFiles;
          const cr = connectedRows(r);
          rows.push(...cr);
          ctx.progress(`fleet: connected N=${connectedN} done`, { rssMb: cr[0]?.value, p99: cr[1]?.value, acked: cr[2]?.value, sockets: cr[3]?.value });
        } catch (err) {
          ctx.progress(`fleet: connected N=${connectedN} failed`, { error: err instanceof Error ? err.message : String(err) });
          rows.push({
            id: `${id} rss`,
            what: `central RSS with ${count(connectedN)} connected terminals (one sale a minute each)`,
            value: NaN,
            unit: 'MB',
            budget: `<= ${CONNECTED_BUDGET_MB} MB at ${count(CONNECTED_N)}`,
            note: `failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
          });
        }
      }
    }

    const limit = centralLimit?.soft ?? plan.limit;
    rows.push({
      id: '6 fleet limits',
      what: stopped ? `selling escalation stopped before N=${count(stopped.n)}` : 'every planned level ran',
      value: limit,
      unit: 'open files',
      note:
        `${notes.length ? `${notes.join('; ')}. ` : ''}selling levels ${selling.join(', ') || 'none'} (1 sale/s each), connected ${connectedN ?? 'none'} (1 sale/min each); ` +
        `central's open-file limit ${limit}${centralLimit ? ' (read from its /proc/<pid>/limits)' : ''}: ${plan.how}; ours ${openFiles('self').soft}; ` +
        `${cpus().length} cores shared by central, ${kind === 'postgres' ? 'PostgreSQL' : 'PGlite (in central)'} and the load generator`,
    });
    return rows;
  },
};
