/**
 * 1. Capture overhead: the POS writing with and without TillSync's capture triggers.
 *
 * Two identical POS databases (the catalog's tables, a store, 200 products), one with
 * the triggers the engine installs and one with them dropped. The POS simulator
 * rings up the same seeded sales into each (an order, 1-4 lines, payments, stock,
 * loyalty customers: one transaction per sale, as a POS does), and a plain insert of
 * order rows measures the single-table case. Runs alternate between the two files.
 *
 * The triggers only append to the capture log; the engine later moves it into the
 * outbox (central ids, change ids, groups) in its own transaction, off the POS's
 * path. That deferred work is measured too (store.capture.promote after each run's
 * sales), so the whole cost of capture is on the table, not only the POS's share.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { LocalStore } from '../src/main/sync/store/index.js';
import { PosSimulator } from '../src/agent/simulator.js';
import { median, round, type Benchmark, type BenchContext, type Row } from './lib.js';

function makePos(path: string, triggers: boolean): void {
  const store = new LocalStore(path, 'bench-capture', { create: true });
  store.close();
  const db = new Database(path);
  db.exec(`INSERT INTO stores (name, code, currency) VALUES ('Bench shop', 'BENCH', 'EUR')`);
  const add = db.prepare(`INSERT INTO products (sku, name, price, active) VALUES (?, ?, ?, 1)`);
  db.transaction(() => {
    for (let i = 0; i < 200; i++) add.run(`SKU-${i}`, `Product ${i}`, 1 + (i % 40) * 0.25);
  })();
  if (!triggers) {
    const names = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tillsync%'`).all() as { name: string }[];
    for (const { name } of names) db.exec(`DROP TRIGGER "${name}"`);
  }
  db.close();
}

/** Sales per second of `n` simulated sales on one file. */
function salesRate(path: string, n: number, seed: number): number {
  const sim = new PosSimulator(path, { seed });
  try {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sim.saleOnce();
    return n / (Number(process.hrtime.bigint() - t0) / 1e9);
  } finally {
    sim.close();
  }
}

/** The engine moving what the sales captured into the outbox: entries and seconds. */
function promoteTime(path: string): { entries: number; seconds: number } {
  const store = new LocalStore(path, 'bench-capture');
  try {
    const t0 = process.hrtime.bigint();
    const entries = store.capture.promote();
    return { entries, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  } finally {
    store.close();
  }
}

/** Single-row inserts of order rows (one transaction each, like a POS), rows per second. */
function insertRate(path: string, n: number): number {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  const ins = db.prepare(`INSERT INTO orders (store_id, order_number, status, subtotal, tax_total, total) VALUES (1, ?, 'pending', 10, 2, 12)`);
  const tag = Math.random().toString(36).slice(2, 8);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) ins.run(`INS-${tag}-${i}`);
  const rate = n / (Number(process.hrtime.bigint() - t0) / 1e9);
  db.close();
  return rate;
}

export const captureBench: Benchmark = {
  id: 'capture',
  title: 'capture overhead: POS writes with and without the capture triggers',
  async run(ctx: BenchContext): Promise<Row[]> {
    const dir = ctx.tmp('capture-');
    const withPath = join(dir, 'with.db');
    const withoutPath = join(dir, 'without.db');
    makePos(withPath, true);
    makePos(withoutPath, false);
    const sales = ctx.quick ? 300 : 2000;
    const inserts = ctx.quick ? 2000 : 20000;
    // Warm-up: page cache, statement caches, JIT.
    salesRate(withPath, 50, 1);
    salesRate(withoutPath, 50, 1);
    promoteTime(withPath);
    const saleWith: number[] = [];
    const saleWithout: number[] = [];
    const insWith: number[] = [];
    const insWithout: number[] = [];
    const promoteRates: number[] = [];
    const wholeRatios: number[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      const seed = 1000 + r;
      // Alternate which file goes first so neither always gets the warmer cache.
      const order = r % 2 === 0 ? [true, false] : [false, true];
      for (const withTriggers of order) {
        const rate = salesRate(withTriggers ? withPath : withoutPath, sales, seed);
        (withTriggers ? saleWith : saleWithout).push(rate);
      }
      // The engine's deferred share of those sales, and capture's whole cost per sale.
      const p = promoteTime(withPath);
      promoteRates.push(p.entries / p.seconds);
      wholeRatios.push((sales / (saleWith.at(-1) as number) + p.seconds) / (sales / (saleWithout.at(-1) as number)));
      for (const withTriggers of order) {
        const rate = insertRate(withTriggers ? withPath : withoutPath, inserts);
        (withTriggers ? insWith : insWithout).push(rate);
      }
      ctx.progress('capture run', { run: r + 1, salesPerSecondWith: round(saleWith.at(-1) ?? 0), salesPerSecondWithout: round(saleWithout.at(-1) ?? 0) });
    }
    // The ratio is taken per run (with/without in the same run), then the median.
    const saleRatios = saleWith.map((w, i) => (saleWithout[i] as number) / w);
    const insRatios = insWith.map((w, i) => (insWithout[i] as number) / w);
    const saleRatio = median(saleRatios);
    const insRatio = median(insRatios);
    return [
      { id: '1 capture', what: `POS sales/s without capture triggers (${sales} sales)`, value: median(saleWithout), unit: 'sales/s', runs: saleWithout },
      { id: '1 capture', what: 'POS sales/s with capture triggers', value: median(saleWith), unit: 'sales/s', runs: saleWith },
      { id: '1 capture', what: 'capture overhead, whole sales (time with / without)', value: saleRatio, unit: 'x', budget: '<= 1.6x', ok: saleRatio <= 1.6, runs: saleRatios },
      { id: '1 capture', what: 'engine: captured writes moved into the outbox (off the POS path)', value: median(promoteRates), unit: 'entries/s', runs: promoteRates },
      { id: '1 capture', what: 'whole sales, POS time with triggers + engine moving them / without', value: median(wholeRatios), unit: 'x', runs: wholeRatios },
      { id: '1 capture', what: `single-row order inserts/s without triggers (${inserts} rows)`, value: median(insWithout), unit: 'rows/s', runs: insWithout },
      { id: '1 capture', what: 'single-row order inserts/s with triggers', value: median(insWith), unit: 'rows/s', runs: insWith },
      { id: '1 capture', what: 'capture overhead, single-row inserts (time with / without)', value: insRatio, unit: 'x', budget: '<= 1.6x', ok: insRatio <= 1.6, runs: insRatios },
    ];
  },
};
