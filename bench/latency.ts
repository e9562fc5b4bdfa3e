/**
 * 3. Sale latency: POS commit -> central commit for completed sales, while online.
 *
 * The POS rings up sales at a steady rate from its own process (bench/latency-pos.ts
 * prints each sale's commit time); the engine runs as the agent does (commit
 * watcher, schedule, heartbeats; the socket off); central notes when each order row
 * is written (a bench-only trigger reading clock_timestamp() inside the push
 * transaction, which commits right after). Same machine, same clock.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LocalStore } from '../src/main/sync/store/index.js';
import { percentile, round, startBenchCentral, startTerminal, type Benchmark, type BenchContext, type DbKind, type Row } from './lib.js';

const POS = fileURLToPath(new URL('./latency-pos.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Sale {
  orderNumber: string;
  status: string;
  committedAt: number;
}

export async function measure(kind: DbKind, ctx: BenchContext, rate: number, count: number): Promise<number[]> {
  const c = await startBenchCentral(kind, ctx);
  try {
    await c.db.query(`CREATE TABLE bench_commits (order_number text PRIMARY KEY, at double precision NOT NULL)`);
    await c.db.query(`CREATE FUNCTION bench_note_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO bench_commits VALUES (NEW.order_number, extract(epoch FROM clock_timestamp()) * 1000) ON CONFLICT DO NOTHING;
        RETURN NEW;
      END $$`);
    await c.db.query(`CREATE TRIGGER bench_note_commit AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION bench_note_commit()`);
    const t = await c.provision('bench-store', `bench-latency-${kind}`);
    const dir = ctx.tmp('latency-');
    // The store row comes from central; products are the POS's own here.
    const term = await startTerminal(c, dir, t, { syncInterval: 3600, heartbeatInterval: 30 }, { schedule: true });
    try {
      await term.service.performFullSync('bench');
      seedProducts(term.store);
      await term.service.pushPending('bench');
      const sales: Sale[] = [];
      const pos = spawn(process.execPath, ['--import', 'tsx', POS, term.path, String(rate), String(count)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      pos.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const lines = createInterface({ input: pos.stdout });
      lines.on('line', (l) => {
        sales.push(JSON.parse(l) as Sale);
        if (sales.length % Math.max(1, Math.floor(count / 5)) === 0) ctx.progress('latency sales', { kind, sales: sales.length, of: count });
      });
      const code = await new Promise<number | null>((resolve) => pos.once('exit', resolve));
      if (code !== 0) throw new Error(`the POS simulator failed (${code}): ${stderr}`);
      const completed = sales.filter((s) => s.status === 'completed');
      // Wait until central has every completed order (bounded).
      const deadline = Date.now() + 30_000;
      let seen = new Map<string, number>();
      while (Date.now() < deadline) {
        const r = await c.db.query<{ order_number: string; at: number }>(`SELECT order_number, at FROM bench_commits`);
        seen = new Map(r.rows.map((x) => [x.order_number, Number(x.at)]));
        if (completed.every((s) => seen.has(s.orderNumber))) break;
        await new Promise((r2) => setTimeout(r2, 100));
      }
      const missing = completed.filter((s) => !seen.has(s.orderNumber)).length;
      if (missing > 0) throw new Error(`${missing} completed sales never reached central`);
      return completed.map((s) => (seen.get(s.orderNumber) as number) - s.committedAt);
    } finally {
      await term.close();
    }
  } finally {
    await c.close();
  }
}

function seedProducts(store: LocalStore): void {
  const storeRow = store.base.db.prepare(`SELECT id FROM stores LIMIT 1`).get();
  if (!storeRow) throw new Error('the store was not pulled from central');
  const add = store.base.db.prepare(`INSERT INTO products (sku, name, price, active) VALUES (?, ?, ?, 1)`);
  store.base.db.transaction(() => {
    for (let i = 0; i < 50; i++) add.run(`LAT-${i}`, `Product ${i}`, 1 + i * 0.1);
  })();
}

export const latencyBench: Benchmark = {
  id: 'latency',
  title: 'sale latency: POS commit -> central commit, steady sales while online',
  async run(ctx: BenchContext): Promise<Row[]> {
    const rate = 5;
    const count = ctx.quick ? 30 : 300;
    const kinds: DbKind[] = ctx.pgUrl ? ['pglite', 'postgres'] : ['pglite'];
    const rows: Row[] = [];
    for (const kind of kinds) {
      const lat = await measure(kind, ctx, rate, count);
      const p50 = percentile(lat, 50);
      const p95 = percentile(lat, 95);
      const p99 = percentile(lat, 99);
      ctx.progress('latency', { kind, sales: lat.length, p50: round(p50), p95: round(p95), p99: round(p99), max: round(Math.max(...lat)) });
      const what = `completed sale, POS commit -> central commit (${lat.length} sales at ${rate}/s)`;
      rows.push(
        { id: `3 latency ${kind}`, what: `${what}, p50`, value: p50, unit: 'ms', budget: '<= 50 ms', ok: p50 <= 50 },
        { id: `3 latency ${kind}`, what: `${what}, p95`, value: p95, unit: 'ms' },
        { id: `3 latency ${kind}`, what: `${what}, p99`, value: p99, unit: 'ms', budget: '<= 150 ms', ok: p99 <= 150 },
      );
    }
    return rows;
  },
};
