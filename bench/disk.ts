/**
 * Disk per sale, for sizing (docs/operations.md): a till rings N sales with the POS
 * simulator's default mix (loyalty customers, voids, parked carts), pushes them to
 * central, and the bench reports what they take on disk, per table, at central (after
 * VACUUM ANALYZE, `pg_total_relation_size`: heap, indexes and TOAST) and in the till's
 * SQLite file (its outbox keeps synced entries for the retention, 7 days by default).
 *
 *   npx tsx bench/disk.ts [--sales 20000]     (PostgreSQL with TEST_DATABASE_URL, else PGlite)
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PosSimulator } from '../src/agent/simulator.js';
import { startBenchCentral, startTerminal, tempDirs, type BenchContext } from './lib.js';

const { values } = parseArgs({ options: { sales: { type: 'string', default: '20000' } } });
const sales = Number(values.sales);
if (!Number.isInteger(sales) || sales < 100) throw new Error('--sales: a whole number of at least 100');
const dirs = tempDirs();
const pgUrl = process.env.TEST_DATABASE_URL || undefined;
const ctx: BenchContext = { quick: false, runs: 1, pgUrl, tmp: dirs.tmp, progress: (msg, data) => process.stderr.write(`${msg} ${JSON.stringify(data ?? {})}\n`) };

interface Size {
  readonly table: string;
  readonly rows: number;
  readonly bytes: number;
}

/** Every table of central's public schema with its rows and total size (heap, indexes, TOAST). */
async function centralSizes(c: Awaited<ReturnType<typeof startBenchCentral>>): Promise<Size[]> {
  await c.db.query('VACUUM ANALYZE');
  const r = await c.db.query<{ table: string; bytes: string }>(
    `SELECT c.relname AS table, pg_total_relation_size(c.oid)::text AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r'`,
  );
  const out: Size[] = [];
  for (const row of r.rows) {
    const n = await c.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${row.table}"`);
    out.push({ table: row.table, rows: Number(n.rows[0]?.n), bytes: Number(row.bytes) });
  }
  return out;
}

/** SQLite's bytes per table of the till's file (dbstat), after a checkpoint. */
function tillSizes(path: string): { fileBytes: number; tables: Size[] } {
  const db = new Database(path);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
    const rows = db
      .prepare(`SELECT name AS "table", sum(pgsize) AS bytes FROM dbstat GROUP BY name`)
      .all() as { table: string; bytes: number }[];
    const tables = rows.map((r) => ({ table: r.table, rows: 0, bytes: r.bytes }));
    return { fileBytes: statSync(path).size, tables };
  } finally {
    db.close();
  }
}

const c = await startBenchCentral(pgUrl ? 'postgres' : 'pglite', ctx);
try {
  const t = await c.provision('bench-disk', 'bench-disk-1');
  const term = await startTerminal(c, ctx.tmp('disk-'), t);
  try {
    const first = await term.service.performFullSync('bench-setup');
    if (first.errors.length > 0) throw new Error(`setup sync failed: ${first.errors.join('; ')}`);
    const pos = new Database(term.path);
    pos.prepare('BEGIN').run();
    const add = pos.prepare(`INSERT INTO products (sku, name, price, active) VALUES (?, ?, ?, 1)`);
    for (let i = 0; i < 500; i++) add.run(`DISK-${i}`, `Product ${i}`, 1 + (i % 40) * 0.25);
    pos.prepare('COMMIT').run();
    pos.close();
    await term.service.pushPending('bench-setup');
    const before = await centralSizes(c);
    const tillBefore = tillSizes(term.path);

    const sim = new PosSimulator(term.path, { seed: 19 });
    const chunk = sim.db.transaction((k: number) => {
      for (let i = 0; i < k; i++) if (!sim.saleOnce()) throw new Error('the simulator found nothing to sell');
    });
    for (let done = 0; done < sales; done += 500) chunk(Math.min(500, sales - done));
    sim.close();
    ctx.progress('rung up', { sales });
    const r = await term.service.pushPending('bench');
    if (r.failed !== 0) throw new Error(`push failed: ${r.errors.join('; ')}`);
    ctx.progress('pushed', { pushed: r.pushed });

    const after = await centralSizes(c);
    const tillAfter = tillSizes(term.path);
    const grew = (a: readonly Size[], b: readonly Size[]) =>
      b
        .map((s) => {
          const was = a.find((x) => x.table === s.table);
          return { table: s.table, rows: s.rows - (was?.rows ?? 0), bytes: s.bytes - (was?.bytes ?? 0) };
        })
        .filter((s) => s.bytes > 0)
        .sort((x, y) => y.bytes - x.bytes);
    const central = grew(before, after);
    const till = grew(tillBefore.tables, tillAfter.tables);
    const total = central.reduce((n, s) => n + s.bytes, 0);
    console.log(`central on ${c.kind}, ${sales} sales (${r.pushed} changes pushed):`);
    for (const s of central) console.log(`  ${s.table.padEnd(28)} +${String(s.rows).padStart(7)} rows  ${(s.bytes / sales).toFixed(0).padStart(6)} bytes/sale`);
    console.log(`  ${'total'.padEnd(28)}                ${(total / sales).toFixed(0).padStart(6)} bytes/sale (${(total / 1e6).toFixed(1)} MB)`);
    console.log(`till's SQLite file: ${((tillAfter.fileBytes - tillBefore.fileBytes) / sales).toFixed(0)} bytes/sale, of which:`);
    for (const s of till.slice(0, 8)) console.log(`  ${s.table.padEnd(28)} ${(s.bytes / sales).toFixed(0).padStart(6)} bytes/sale`);
  } finally {
    await term.close();
  }
} finally {
  await c.close();
  dirs.cleanup();
}
