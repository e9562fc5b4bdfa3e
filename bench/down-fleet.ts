/**
 * The plumbing of bench/down-latency.ts: central with HQ writing its database by plain
 * SQL (and a listener of central's change channel beside it), tills in forked
 * processes (down-worker.ts) started and registered, and the CPU of each part.
 */
import { randomBytes } from 'node:crypto';
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { CHANGES_CHANNEL } from '../src/server/db/migrate.js';
import type { FromWorker, TillSpec, ToWorker } from './down-worker.js';
import { cpuSeconds, machineTicks, postgresCpu, postgresCpuDelta, startChildCentral } from './fleet.js';
import { ADMIN_TOKEN, round, scratchPostgres, sleep, startBenchCentral, type BenchContext, type DbKind } from './lib.js';
import { childMessages } from './child-messages.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORKER = fileURLToPath(new URL('./down-worker.ts', import.meta.url));
const TILLS_PER_STORE = 10;

/** Central, and HQ writing its database by plain SQL. */
export interface Hq {
  readonly kind: DbKind;
  readonly url: string;
  /** Central's process (this one on PGlite). */
  readonly pid: number;
  /** The scratch PostgreSQL database's name (its backends' CPU is ours); none on PGlite. */
  readonly database: string | undefined;
  sql(text: string, params?: unknown[]): Promise<void>;
  /**
   * When this process heard each announcement of a Product change on central's channel
   * (its own LISTEN, beside central's): the database's part of a hint's delay.
   */
  readonly productNotices: number[];
  metric(name: string): Promise<number>;
  stop(): Promise<void>;
}

export async function startHq(ctx: BenchContext): Promise<Hq> {
  if (ctx.pgUrl) {
    const scratch = await scratchPostgres(ctx.pgUrl);
    const central = await startChildCentral(ctx, 'postgres', { databaseUrl: scratch.url }).catch(async (err: unknown) => {
      await scratch.drop();
      throw err;
    });
    const client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    const listener = new pg.Client({ connectionString: scratch.url });
    await listener.connect();
    const productNotices: number[] = [];
    listener.on('notification', (n) => noted(productNotices, n.payload));
    await listener.query(`LISTEN ${CHANGES_CHANNEL}`);
    return {
      kind: 'postgres',
      productNotices,
      url: central.url,
      pid: central.pid,
      database: new URL(scratch.url).pathname.slice(1),
      async sql(text, params) {
        await client.query(text, params);
      },
      metric: (name) => scrape(central.url, name),
      async stop() {
        await client.end().catch(() => undefined);
        await listener.end().catch(() => undefined);
        await central.stop();
        await scratch.drop();
      },
    };
  }
  const c = await startBenchCentral('pglite', ctx);
  const productNotices: number[] = [];
  await c.db.listen(CHANGES_CHANNEL, (payload) => noted(productNotices, payload));
  return {
    productNotices,
    kind: 'pglite',
    url: c.url,
    pid: process.pid,
    database: undefined,
    async sql(text, params) {
      await c.db.query(text, params);
    },
    metric: (name) => scrape(c.url, name),
    stop: () => c.close(),
  };
}

function noted(into: number[], payload: string | undefined): void {
  const at = Date.now();
  try {
    if ((JSON.parse(payload ?? '') as { t?: unknown }).t === 'Product') into.push(at);
  } catch {
    // not ours to judge
  }
}

/** One sample of central's /metrics, by its exact name and labels (`name{label="v"}`). */
async function scrape(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.slice(name.length + 1) ?? NaN);
}

/** Central's pull route: request-duration sum (s) and count so far. */
export async function pullMetrics(hq: Hq): Promise<{ sum: number; count: number }> {
  const [sum, count] = await Promise.all([
    hq.metric('tillsync_http_request_duration_seconds_sum{route="/api/sync/pull"}'),
    hq.metric('tillsync_http_request_duration_seconds_count{route="/api/sync/pull"}'),
  ]);
  return { sum, count };
}

export async function provision(url: string, n: number, tag: string): Promise<{ terminalId: string; apiKey: string }[]> {
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const out: { terminalId: string; apiKey: string }[] = [];
  for (let i = 0; i < n; i++) {
    const storeId = `down-store-${Math.floor(i / TILLS_PER_STORE)}`;
    if (i % TILLS_PER_STORE === 0) {
      const s = await post('/api/stores', { id: storeId, name: `Store ${storeId}`, code: storeId.slice(-10) });
      if (s.status !== 201 && s.status !== 409) throw new Error(`creating ${storeId} failed: ${JSON.stringify(s.body)}`);
    }
    const terminalId = `down-${tag}-${String(i).padStart(4, '0')}`;
    const t = await post('/api/terminals', { storeId, terminalId });
    if (t.status !== 201) throw new Error(`provisioning ${terminalId} failed: ${JSON.stringify(t.body)}`);
    out.push({ terminalId, apiKey: t.body.apiKey as string });
  }
  return out;
}

// ------------------------------------------------------------------ till processes

export interface TillProcess {
  readonly child: ChildProcess;
  ask<T extends FromWorker['type']>(msg: ToWorker, type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>>;
  /** The next message of `type`, without sending anything. */
  next<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>>;
  close(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function forkTills(): TillProcess {
  // 'advanced': NaN (not measured) survives the trip, JSON would make it null.
  const prof = process.env.TILLSYNC_BENCH_DOWN_PROF;
  const execArgv = [...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []), '--import', 'tsx'];
  const child = fork(WORKER, [], { cwd: ROOT, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  children.add(child);
  const next: TillProcess['next'] = childMessages<FromWorker>(child, 'till process');
  return {
    child,
    next,
    ask(msg, type, timeoutMs) {
      const p = next(type, timeoutMs);
      child.send(msg);
      return p;
    },
    async close() {
      if (child.connected) await this.ask({ type: 'close' }, 'closed', 30_000).catch(() => undefined);
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 5000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      children.delete(child);
    },
  };
}

export interface Fleet {
  readonly procs: TillProcess[];
  readonly specs: TillSpec[];
  readonly dir: string;
  readonly startMs: number;
  readonly rssBeforeMb: number;
  readonly rssAfterStartMb: number;
  close(): Promise<void>;
}

/** n tills in `workers` processes, started and registered at central. */
export async function startFleet(ctx: BenchContext, hq: Hq, n: number, workers: number, probes: 'first' | 'all'): Promise<Fleet> {
  const terminals = await provision(hq.url, n, randomBytes(3).toString('hex'));
  const dir = ctx.tmp('down-');
  const procs = Array.from({ length: Math.min(workers, n) }, () => forkTills());
  const slices = procs.map((_, w) => terminals.filter((_t, i) => i % procs.length === w));
  const specs: TillSpec[] = [];
  const fleet: Fleet = {
    procs,
    specs,
    dir,
    startMs: 0,
    rssBeforeMb: 0,
    rssAfterStartMb: 0,
    close: () => Promise.all(procs.map((p) => p.close())).then(() => undefined),
  };
  try {
    const began = Date.now();
    const started = await Promise.all(
      procs.map((p, w) => {
        const tills = (slices[w] ?? []).map((t, i): TillSpec => ({ ...t, probe: probes === 'all' || i === 0 }));
        specs.push(...tills);
        return p.ask({ type: 'start', url: hq.url, dir, tills, timeoutMs: 180_000 }, 'started', 600_000);
      }),
    );
    const failed = started.reduce((s, r) => s + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} till(s) did not start: ${started.find((r) => r.firstError)?.firstError}`);
    const deadline = Date.now() + 60_000;
    while ((await hq.metric('tillsync_connected_terminals')) < n) {
      if (Date.now() > deadline) throw new Error(`not every till registered its socket within 60 s`);
      await sleep(200);
    }
    const startMs = Date.now() - began;
    const rss = started.reduce((s, r) => s + r.rssMb, 0);
    const rssBefore = started.reduce((s, r) => s + r.rssBeforeMb, 0);
    ctx.progress(`down: ${n} till(s) started and registered`, { seconds: round(startMs / 1000), processes: procs.length, rssMb: round(rss), beforeEnginesMb: round(rssBefore) });
    return { ...fleet, startMs, rssBeforeMb: rssBefore, rssAfterStartMb: rss };
  } catch (err) {
    await fleet.close();
    throw err;
  }
}

/**
 * CPU seconds used so far by the PostgreSQL backends serving `database` (their process
 * title names it): other people's databases on the same server are not ours. The
 * server's shared processes (WAL writer, checkpointer) are left out.
 */
function databaseCpu(database: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const [pid] of postgresCpu()) {
    try {
      const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (title.includes(` ${database} `)) out.set(pid, cpuSeconds(pid));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU seconds of central, PostgreSQL, the till processes, and the machine's busy share, from a mark to now. */
export function cpuMark(hq: Hq, fleet: Fleet): () => { seconds: number; central: number; postgres: number; tills: number; machineBusy: number; others: number } {
  const t0 = Date.now();
  const c0 = cpuSeconds(hq.pid);
  const p0 = hq.database ? databaseCpu(hq.database) : new Map<number, number>();
  const w0 = fleet.procs.map((p) => cpuSeconds(p.child.pid as number));
  const k0 = machineTicks();
  return () => {
    const seconds = (Date.now() - t0) / 1000;
    const k1 = machineTicks();
    const central = cpuSeconds(hq.pid) - c0;
    const postgres = hq.database ? postgresCpuDelta(p0, databaseCpu(hq.database)) : 0;
    const tills = fleet.procs.reduce((s, p, i) => s + cpuSeconds(p.child.pid as number) - (w0[i] as number), 0);
    const machineBusy = (k1.busy - k0.busy) / (k1.total - k0.total);
    return { seconds, central, postgres, tills, machineBusy, others: machineBusy * cpus().length * seconds - central - postgres - tills };
  };
}

