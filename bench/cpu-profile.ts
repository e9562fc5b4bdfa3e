/**
 * `npm run bench:cpu -- [--sales 3000 | --customers 20000] [--postgres] [--build] [--out F]`:
 * where the CPU goes in one push, sampled by V8 (every 0.2 ms) rather than timed by
 * wrappers as bench/profile.ts does. A terminal and central in this process (as in
 * figures 2 and 8), on PGlite or on the PostgreSQL server; the sales are the POS
 * simulator's, the customers figure 2's. Prints the wall and CPU time per change and
 * bench/cpu-samples.ts's tables; `--out` also writes the profile, which Chrome's
 * DevTools open. Under tsx a sample's line is of tsx's output, which keeps functions
 * but not lines: `--build` loads the compiled build instead (`npm run build:server`
 * first), whose lines are the source's as tsc wrote them.
 */
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { sharesText, summarize, type CpuProfile } from './cpu-samples.js';
import { ADMIN_TOKEN, scratchPostgres, tempDirs } from './lib.js';

type Engine = typeof import('../src/main/sync/engine.js');
type SyncConfigModule = typeof import('../src/main/sync/sync-config.js');
type App = typeof import('../src/server/app.js');
type ConfigModule = typeof import('../src/server/config.js');
type DatabaseModule = typeof import('../src/server/db/database.js');
type Simulator = typeof import('../src/agent/simulator.js');

/** The command line, or a one-line error and exit status 2. */
function options() {
  try {
    const { values } = parseArgs({
      options: {
        sales: { type: 'string' },
        customers: { type: 'string' },
        postgres: { type: 'boolean' },
        build: { type: 'boolean' },
        out: { type: 'string' },
      },
      strict: true,
    });
    const count = (v: string | undefined, fallback: number, name: string): number => {
      const n = v === undefined ? fallback : Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${JSON.stringify(v)}`);
      return n;
    };
    if (values.sales !== undefined && values.customers !== undefined) throw new Error('--sales or --customers, not both');
    const what = values.customers !== undefined ? ('customers' as const) : ('sales' as const);
    const n = what === 'customers' ? count(values.customers, 20_000, 'customers') : count(values.sales, 3_000, 'sales');
    return { values, what, n };
  } catch (err) {
    process.stderr.write(`bench:cpu: ${err instanceof Error ? err.message : String(err)}\nusage: npm run bench:cpu -- [--sales N | --customers N] [--postgres] [--build] [--out FILE]\n`);
    process.exit(2);
  }
}
const { values, what, n } = options();
const root = values.build ? '../build/' : '../src/';
const load = <T>(rel: string): Promise<T> => import(new URL(`${root}${rel}`, import.meta.url).href) as Promise<T>;

const [{ createEngine }, { DEFAULT_SYNC_CONFIG }, { createCentral }, { ServerConfig }, { openPglite, openPostgres }, { PosSimulator }] = await Promise.all([
  load<Engine>('main/sync/engine.js'),
  load<SyncConfigModule>('main/sync/sync-config.js'),
  load<App>('server/app.js'),
  load<ConfigModule>('server/config.js'),
  load<DatabaseModule>('server/db/database.js'),
  load<Simulator>('agent/simulator.js'),
]);

const dirs = tempDirs();
const pg = values.postgres ? await scratchPostgres(process.env.TILLSYNC_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test') : undefined;
const db = pg ? openPostgres({ connectionString: pg.url }) : await openPglite(dirs.tmp('cpu-pglite-'));
let central: Awaited<ReturnType<App['createCentral']>> | undefined;
let engine: ReturnType<Engine['createEngine']> | undefined;
try {
  central = await createCentral({
    config: ServerConfig.parse({ port: 0, host: '127.0.0.1', adminToken: ADMIN_TOKEN, logLevel: 'silent', autoSyncOnStart: false }),
    db,
  });
  const url = await central.listen();
  const admin = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const r = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const b = (await r.json()) as Record<string, unknown>;
    if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(b)}`);
    return b;
  };
  await admin('/api/stores', { id: 'cpu-store', name: 'CPU profile', code: 'CPU' });
  const key = await admin('/api/terminals', { storeId: 'cpu-store', terminalId: 'cpu-till' });
  const path = join(dirs.tmp('cpu-till-'), 'pos.db');
  engine = createEngine(
    {
      databasePath: path,
      terminalId: 'cpu-till',
      create: true,
      sync: { ...DEFAULT_SYNC_CONFIG, realtime: false, centralUrl: url, apiKey: String(key.apiKey), batchSize: 500 },
    },
    pino({ level: 'silent' }),
  );
  await engine.service.initialize('cpu-till', { schedule: false });
  const pos = new Database(path);
  try {
    pos.pragma('busy_timeout = 5000');
    if (what === 'customers') {
      const ins = pos.prepare(`INSERT INTO customers (name, email, phone, loyalty_points, total_spent, visit_count, notes) VALUES (?, ?, ?, ?, ?, ?, ?)`);
      pos.transaction(() => {
        for (let i = 0; i < n; i++) ins.run(`Customer ${i}`, `c${i}@cpu.example`, `+3361234${String(i).padStart(5, '0')}`, i % 500, (i % 977) * 1.5, i % 13, i % 7 === 0 ? 'regular' : null);
      })();
    } else {
      // The store row from central and a product range at central first, as at a till.
      const first = await engine.service.performFullSync('setup');
      if (first.errors.length > 0) throw new Error(`setup sync: ${first.errors.join('; ')}`);
      const add = pos.prepare(`INSERT INTO products (sku, name, price, active) VALUES (?, ?, ?, 1)`);
      pos.transaction(() => {
        for (let i = 0; i < 200; i++) add.run(`CPU-${i}`, `Product ${i}`, 1 + (i % 40) * 0.25);
      })();
      const products = await engine.service.pushPending('setup');
      if (products.pushed !== 200) throw new Error(`setup push of products: ${products.errors.join('; ')}`);
    }
  } finally {
    pos.close();
  }
  if (what === 'sales') {
    const sim = new PosSimulator(path, { seed: 5, customerShare: 0 });
    try {
      const ring = sim.db.transaction((k: number) => {
        for (let i = 0; i < k; i++) if (!sim.saleOnce()) throw new Error('the simulator found nothing to sell');
      });
      for (let done = 0; done < n; done += 500) ring(Math.min(500, n - done));
    } finally {
      sim.close();
    }
  }
  engine.store.capture.promote(); // off the push's path, as a running engine does it when the POS commits

  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await engine.service.pushPending('cpu-profile');
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  if (r.failed > 0 || r.errors.length > 0) throw new Error(`push failed: ${r.errors.join('; ')}`);
  const us = (v: number) => `${v.toFixed(1)} us`;
  process.stdout.write(
    `${what}: ${n.toLocaleString('en-US')} (${r.pushed.toLocaleString('en-US')} changes) pushed in ${ms.toFixed(0)} ms, central on ${pg ? 'PostgreSQL' : 'PGlite'}, ${values.build ? 'the build' : 'the sources (tsx)'}\n` +
      `per change: ${us((ms * 1000) / r.pushed)} of wall time, ${us((cpu.user + cpu.system) / r.pushed)} of this process's CPU\n\n`,
  );
  const s = summarize(profile as CpuProfile, { ours: values.build ? '/build/' : '/src/', byLine: values.build === true });
  process.stdout.write(
    [
      `${s.samples.toLocaleString('en-US')} samples`,
      sharesText('by side', s.bySide),
      sharesText(values.build ? 'self, by line (ours) or function' : 'self, by function', s.self),
      sharesText('native and library samples, by the nearest function of ours', s.nativeByCaller),
      sharesText('inclusive, our functions', s.inclusive),
    ].join('\n\n') + '\n',
  );
  if (values.out) {
    writeFileSync(values.out, JSON.stringify(profile));
    process.stdout.write(`\nprofile written to ${values.out}\n`);
  }
} finally {
  await engine?.close();
  await central?.close();
  await db.close();
  await pg?.drop();
  dirs.cleanup();
}
