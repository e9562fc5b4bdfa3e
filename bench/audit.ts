/**
 * The convergence audit (`tillsync audit`) of a big catalogue in step: 100,000 products
 * seeded at central by SQL, first-synced to a terminal, then audited (the products
 * table alone, and every table). In step, the bisection needs the top-level digest
 * only: one request per table. Then one product changed behind sync's back at central:
 * how many requests and how long the bisection takes to name it.
 *
 *   npx tsx bench/audit.ts [--rows 100000] [--runs 5]     (PostgreSQL with TEST_DATABASE_URL, else PGlite)
 */
import { parseArgs } from 'node:util';
import { readTillTable } from '../src/main/sync/audit-rows.js';
import { runAudit } from '../src/main/sync/audit.js';
import { entryForTable } from '../src/shared/catalog/index.js';
import { median, round, startBenchCentral, startTerminal, table, tempDirs, type BenchContext, type Row } from './lib.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '100000' }, runs: { type: 'string', default: '5' } } });
const size = Number(values.rows);
const runs = Number(values.runs);
const dirs = tempDirs();
const pgUrl = process.env.TEST_DATABASE_URL || undefined;
const ctx: BenchContext = { quick: false, runs, pgUrl, tmp: dirs.tmp, progress: (msg, data) => process.stderr.write(`${msg} ${JSON.stringify(data ?? {})}\n`) };

const c = await startBenchCentral(pgUrl ? 'postgres' : 'pglite', ctx);
try {
  await c.db.query(
    `INSERT INTO products (id, sku, barcode, name, description, price, cost, unit, active, created_at, updated_at)
     SELECT 'p-' || lpad(i::text, 8, '0'), 'SKU-' || i, '40' || lpad(i::text, 11, '0'), 'Product ' || i, 'A product of the bench catalogue',
            round((1 + (i % 500) * 0.1)::numeric, 2), round((0.5 + (i % 500) * 0.05)::numeric, 2), 'each', true, now(), now()
     FROM generate_series(1, $1::int) AS i`,
    [size],
  );
  const t = await c.provision('bench-store', 'bench-audit');
  const term = await startTerminal(c, ctx.tmp('audit-'), t);
  try {
    const first = await term.service.performFullSync('bench');
    ctx.progress('first sync', { pulled: first.pulled, ms: first.durationMs });
    const audit = (tableName?: string) => runAudit({ store: term.store, client: term.service.client, terminalId: t.terminalId, table: tableName });
    const times = { products: [] as number[], all: [] as number[], differs: [] as number[] };
    let requests = { products: 0, all: 0, differs: 0 };
    for (let r = 0; r < runs; r++) {
      const p = await audit('products');
      if (!p.inStep) throw new Error('the catalogue is not in step after the first sync');
      times.products.push(p.durationMs);
      requests.products = p.tables[0]?.requests ?? 0;
      const all = await audit();
      if (!all.inStep) throw new Error('not every table is in step after the first sync');
      times.all.push(all.durationMs);
      requests.all = all.tables.reduce((n, x) => n + x.requests, 0);
    }
    // Where the time of one in-step audit goes: the till reading and hashing its rows, and central answering the one request.
    const products = entryForTable('products');
    if (!products) throw new Error('no products table');
    const tillSide: number[] = [];
    const centralSide: number[] = [];
    for (let r = 0; r < runs; r++) {
      let t0 = Date.now();
      readTillTable(term.store.base.db, products);
      tillSide.push(Date.now() - t0);
      t0 = Date.now();
      await term.service.client.audit({ terminalId: t.terminalId, entityType: 'Product', ranges: [{ after: null, upTo: null }], schemaHash: products.schemaHash });
      centralSide.push(Date.now() - t0);
    }
    await c.db.transaction(async (tx) => {
      await tx.query('SET LOCAL session_replication_role = replica');
      await tx.query(`UPDATE products SET price = price + 1 WHERE id = 'p-00012345'`);
    });
    for (let r = 0; r < runs; r++) {
      const d = await audit('products');
      const found = d.tables[0]?.differences.map((x) => x.id) ?? [];
      if (found.join() !== 'p-00012345') throw new Error(`the audit found ${found.join(', ')}`);
      times.differs.push(d.durationMs);
      requests = { ...requests, differs: d.tables[0]?.requests ?? 0 };
    }
    const db = pgUrl ? 'PostgreSQL' : 'PGlite';
    const rows: Row[] = [
      { id: 'audit', what: `audit of ${size.toLocaleString('en-US')} products in step (${db})`, value: median(times.products), unit: 'ms', runs: times.products, note: `${requests.products} request` },
      { id: 'audit', what: '  of which the till reads and hashes its rows', value: median(tillSide), unit: 'ms', runs: tillSide },
      { id: 'audit', what: '  of which central answers the one request', value: median(centralSide), unit: 'ms', runs: centralSide },
      { id: 'audit', what: `audit of every table, the same till (${db})`, value: median(times.all), unit: 'ms', runs: times.all, note: `${requests.all} requests` },
      { id: 'audit', what: `audit naming 1 product changed behind sync (${db})`, value: median(times.differs), unit: 'ms', runs: times.differs, note: `${requests.differs} requests` },
    ];
    process.stdout.write(`${table(rows.map((x) => ({ ...x, value: round(x.value, 0) })))}\n`);
  } finally {
    await term.close();
  }
} finally {
  await c.close();
  dirs.cleanup();
}
