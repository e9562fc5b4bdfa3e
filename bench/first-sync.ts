/**
 * 4. First sync of a big product catalogue to an empty terminal: time and the
 *    engine's peak RSS.
 * 5. Incremental pull: 1,000 rows changed at central, pulled into a terminal that
 *    has the table, for a 10k-row and a 1M-row table (the cost should not depend on
 *    the table's size).
 *
 * The engine runs as its own process (`tillsync sync --full`, as an agent's pass),
 * so its memory is its own; the time is the pass's own `durationMs` (process start
 * excluded, shown in the note). Central runs on PostgreSQL when reachable (the
 * production set-up), else on PGlite. Products are seeded with plain SQL, through
 * central's capture triggers, as an HQ import would be.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalStore } from '../src/main/sync/store/index.js';
import { median, peakRssMb, round, startBenchCentral, type BenchCentral, type Benchmark, type BenchContext, type Row } from './lib.js';

const CLI = fileURLToPath(new URL('../bin/tillsync.mjs', import.meta.url));

async function seedProducts(c: BenchCentral, n: number, ctx: BenchContext): Promise<void> {
  const chunk = 100_000;
  for (let start = 0; start < n; start += chunk) {
    const end = Math.min(n, start + chunk);
    await c.db.query(
      `INSERT INTO products (id, sku, barcode, name, description, price, cost, unit, active, created_at, updated_at)
       SELECT 'p-' || lpad(i::text, 8, '0'), 'SKU-' || i, '40' || lpad(i::text, 11, '0'), 'Product ' || i, 'A product of the bench catalogue',
              round((1 + (i % 500) * 0.1)::numeric, 2), round((0.5 + (i % 500) * 0.05)::numeric, 2), 'each', true, now(), now()
       FROM generate_series($1::int, $2::int) AS i`,
      [start + 1, end],
    );
    ctx.progress('seeding products at central', { rows: end, of: n });
  }
}

interface PassResult {
  durationMs: number;
  wallMs: number;
  peakRssMb: number;
  pulled: number;
}

/** Runs `tillsync sync --full` on a terminal database; returns the pass's time, pulled rows and peak RSS. */
function syncPass(env: NodeJS.ProcessEnv): Promise<PassResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const p = spawn(process.execPath, [CLI, 'sync', '--full'], { env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let peak = 0;
    const sample = setInterval(() => {
      if (p.pid) peak = Math.max(peak, peakRssMb(p.pid) || 0);
    }, 50);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // The result line is printed just before exit: VmHWM now holds the run's peak.
      if (p.pid) peak = Math.max(peak, peakRssMb(p.pid) || 0);
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.once('exit', (code) => {
      clearInterval(sample);
      const line = out.trim().split('\n').at(-1) ?? '';
      try {
        const r = JSON.parse(line) as { durationMs: number; pulled: number; errors: string[] };
        if (code !== 0 || r.errors.length > 0) return reject(new Error(`sync failed (${code}): ${r.errors.join('; ')} ${err.slice(-500)}`));
        resolve({ durationMs: r.durationMs, wallMs: Date.now() - started, peakRssMb: peak, pulled: r.pulled });
      } catch {
        reject(new Error(`sync failed (${code}): ${err.slice(-1000)}`));
      }
    });
  });
}

async function catalogueTerminal(ctx: BenchContext, size: number, label: string) {
  const c = await startBenchCentral(ctx.pgUrl ? 'postgres' : 'pglite', ctx);
  await seedProducts(c, size, ctx);
  const t = await c.provision('bench-store', `bench-first-${label}`);
  const dir = ctx.tmp('first-sync-');
  const path = join(dir, 'pos.db');
  new LocalStore(path, t.terminalId, { create: true }).close();
  const env = { DATABASE_URL: `file:${path}`, CENTRAL_API_URL: c.url, CENTRAL_API_KEY: t.apiKey, TERMINAL_ID: t.terminalId };
  return { c, env, path };
}

/** Changes 1,000 products at central (a price change), a different slice each run. */
async function changeRows(c: BenchCentral, size: number, run: number): Promise<void> {
  const first = 1 + ((run * 1000) % Math.max(1, size - 1000));
  await c.db.query(`UPDATE products SET price = price + 0.01, updated_at = now() WHERE id >= $1 AND id < $2`, [
    `p-${String(first).padStart(8, '0')}`,
    `p-${String(first + 1000).padStart(8, '0')}`,
  ]);
}

export const firstSyncBench: Benchmark = {
  id: 'first-sync',
  title: 'first sync of a big catalogue, then incremental pulls of 1k changes in a 10k and a big table',
  async run(ctx: BenchContext): Promise<Row[]> {
    const big = ctx.quick ? 100_000 : 1_000_000;
    const small = 10_000;
    const rows: Row[] = [];
    const db = ctx.pgUrl ? 'PostgreSQL' : 'PGlite';
    const incremental: Record<string, number[]> = {};
    // The big first sync is run several times, each time against a central seeded afresh
    // (every run is the first terminal after an import); the last one's terminal goes on
    // to the incremental pulls.
    const firstRuns = ctx.quick ? 1 : Math.min(3, ctx.runs);
    const firsts: PassResult[] = [];
    for (let r = 1; r < firstRuns; r++) {
      const extra = await catalogueTerminal(ctx, big, `big-${r}`);
      try {
        ctx.progress('first sync', { rows: big, run: r, of: firstRuns });
        const pass = await syncPass(extra.env);
        if (pass.pulled < big) throw new Error(`the first sync pulled ${pass.pulled} rows, expected at least ${big}`);
        firsts.push(pass);
        ctx.progress('first sync done', { seconds: round(pass.durationMs / 1000), peakRssMb: pass.peakRssMb });
      } finally {
        await extra.c.close();
      }
    }
    for (const size of [small, big]) {
      const label = size === big ? 'big' : 'small';
      const term = await catalogueTerminal(ctx, size, label);
      try {
        ctx.progress('first sync', size === big ? { rows: size, run: firstRuns, of: firstRuns } : { rows: size });
        const first = await syncPass(term.env);
        if (first.pulled < size) throw new Error(`the first sync pulled ${first.pulled} rows, expected at least ${size}`);
        if (size === big) {
          firsts.push(first);
          const seconds = median(firsts.map((f) => f.durationMs)) / 1000;
          const peak = Math.max(...firsts.map((f) => f.peakRssMb));
          rows.push(
            {
              id: '4 first sync',
              what: `first sync of ${size.toLocaleString('en-US')} products to an empty terminal (${db})`,
              value: seconds,
              unit: 's',
              budget: size >= 1_000_000 ? '<= 30 s' : '<= 30 s at 1M',
              ok: size >= 1_000_000 ? seconds <= 30 : undefined,
              runs: firsts.map((f) => round(f.durationMs / 1000)),
              note: `median of ${firsts.length} (each against a freshly seeded central); ${Math.round(size / seconds)} rows/s`,
            },
            { id: '4 first sync', what: 'engine peak RSS during that sync (highest of the runs)', value: peak, unit: 'MB', budget: '<= 200 MB', ok: peak <= 200, runs: firsts.map((f) => f.peakRssMb) },
          );
        }
        const times: number[] = [];
        for (let r = 0; r < ctx.runs; r++) {
          await changeRows(term.c, size, r);
          const pass = await syncPass(term.env);
          if (pass.pulled < 1000) throw new Error(`the incremental pass pulled ${pass.pulled} rows, expected 1000`);
          times.push(pass.durationMs);
        }
        incremental[label] = times;
        ctx.progress('incremental pull', { tableRows: size, medianMs: median(times) });
        rows.push({ id: '5 incremental', what: `pull 1,000 changed rows of a ${size.toLocaleString('en-US')}-row table (full pass, ${db})`, value: median(times), unit: 'ms', runs: times });
      } finally {
        await term.c.close();
      }
    }
    const ratio = median(incremental.big ?? []) / median(incremental.small ?? []);
    rows.push({ id: '5 incremental', what: `big table / 10k table, same 1,000 changes`, value: ratio, unit: 'x', budget: 'flat (about 1x)', ok: ratio <= 1.5 });
    return rows;
  },
};
