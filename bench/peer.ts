/**
 * 8. A peer, side by side: PouchDB replication of N order documents to
 * express-pouchdb on loopback, against TillSync pushing the same N sales to central.
 *
 * The POS simulator rings N sales into a terminal's SQLite file (no loyalty
 * customers, so a sale is an order, its lines, its payments and its stock
 * movements). TillSync pushes them with `SyncService.pushPending()` to central on
 * PGlite until every change is acknowledged (and, when PostgreSQL is reachable,
 * afterwards to a central on PostgreSQL: its own terminal, N sales from the same
 * seeds). The PouchDB side gets one document per order built from those same
 * rows, in the wire form TillSync sends (the order with its lines, payments and
 * stock movements embedded), in a PouchDB on the memory adapter, replicated with
 * `PouchDB.replicate(source, url)` (default options) to a fresh database of
 * express-pouchdb (memory adapter, 127.0.0.1). Both servers run in this process,
 * as central does in every benchmark here.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { localToWire, type LocalRow } from '../src/main/sync/mapping.js';
import type { LocalStore } from '../src/main/sync/store/index.js';
import { PosSimulator } from '../src/agent/simulator.js';
import { entryForTable, type CatalogEntry, type WireRow } from '../src/shared/catalog/index.js';
import { median, round, sleep, startBenchCentral, startTerminal, type BenchCentral, type Benchmark, type BenchContext, type Row } from './lib.js';

// ------------------------------------------------------------------ PouchDB, narrowly typed

interface PouchDoc {
  readonly _id: string;
  readonly [field: string]: unknown;
}

interface BulkResult {
  readonly ok?: boolean;
  readonly error?: string;
  readonly reason?: string;
}

interface ReplicationResult {
  readonly ok: boolean;
  readonly docs_read: number;
  readonly docs_written: number;
  readonly doc_write_failures: number;
  readonly errors: readonly unknown[];
}

interface PouchDatabase {
  bulkDocs(docs: readonly PouchDoc[]): Promise<BulkResult[]>;
  info(): Promise<{ readonly doc_count: number }>;
  destroy(): Promise<unknown>;
}

interface PouchStatic {
  new (name: string, opts?: { readonly adapter?: string }): PouchDatabase;
  plugin(plugin: unknown): PouchStatic;
  defaults(opts: { readonly adapter: string }): PouchStatic;
  replicate(source: PouchDatabase | string, target: PouchDatabase | string, opts?: { readonly batch_size?: number }): Promise<ReplicationResult>;
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
type ExpressPouchDB = (pouch: PouchStatic, opts: { readonly mode: string; readonly inMemoryConfig: boolean }) => RequestHandler;

let pouchCache: PouchStatic | undefined;

/** pouchdb-core with the memory and http adapters and replication (CommonJS, no types). */
function pouch(): PouchStatic {
  if (!pouchCache) {
    const require = createRequire(import.meta.url);
    const core = require('pouchdb-core') as PouchStatic;
    pouchCache = core.plugin(require('pouchdb-adapter-memory')).plugin(require('pouchdb-adapter-http')).plugin(require('pouchdb-replication'));
  }
  return pouchCache;
}

/** express-pouchdb (its own express app) over memory databases, on an ephemeral port of 127.0.0.1. */
async function startPouchServer(): Promise<{ url: string; close(): Promise<void> }> {
  const require = createRequire(import.meta.url);
  const expressPouchDB = require('express-pouchdb') as ExpressPouchDB;
  // A subclass, so the server's plugins do not wrap the client's databases.
  const app = expressPouchDB(pouch().defaults({ adapter: 'memory' }), { mode: 'minimumForPouchDB', inMemoryConfig: true });
  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ------------------------------------------------------------------ the same sales on both sides

function entry(table: string): CatalogEntry {
  const e = entryForTable(table);
  if (!e) throw new Error(`no catalog entry for ${table}`);
  return e;
}

/** Each order of `orderIds` as one document: the order's wire row with its lines, payments and stock movements. */
function saleDocs(store: LocalStore, orderIds: readonly number[]): PouchDoc[] {
  store.capture.promote(); // central ids are given when the capture log moves into the outbox
  const ids = JSON.stringify(orderIds);
  const rowsOf = (table: string, column: string) =>
    store.base.db.prepare(`SELECT * FROM "${table}" WHERE "${column}" IN (SELECT value FROM json_each(?)) ORDER BY id`).all(ids) as LocalRow[];
  const wire = (table: string, row: LocalRow): WireRow => {
    const serverId = row.server_id;
    if (typeof serverId !== 'string') throw new Error(`${table} row ${String(row.id)} has no central id`);
    return localToWire(entry(table), serverId, row, store.base.fk).row;
  };
  const children = (table: string) => {
    const byOrder = new Map<number, WireRow[]>();
    for (const r of rowsOf(table, 'order_id')) {
      const list = byOrder.get(Number(r.order_id)) ?? [];
      list.push(wire(table, r));
      byOrder.set(Number(r.order_id), list);
    }
    return byOrder;
  };
  const items = children('order_items');
  const payments = children('payments');
  const stock = children('inventory_transactions');
  return rowsOf('orders', 'id').map((o) => {
    const id = Number(o.id);
    const { id: serverId, ...order } = wire('orders', o);
    return { _id: String(serverId), type: 'sale', ...order, items: items.get(id) ?? [], payments: payments.get(id) ?? [], stock: stock.get(id) ?? [] };
  });
}

/** A terminal of a central, with the store pulled and a product range pushed (setup, not measured). */
async function salesTerminal(c: BenchCentral, ctx: BenchContext, name: string) {
  const storeId = `bench-peer-${randomBytes(3).toString('hex')}`;
  const key = await c.provision(storeId, name);
  const t = await startTerminal(c, ctx.tmp('peer-'), key);
  try {
    // The store row comes from central, as on a real till.
    const first = await t.service.performFullSync('bench-setup');
    if (first.errors.length > 0) throw new Error(`setup sync failed: ${first.errors.join('; ')}`);
    const pos = new Database(t.path);
    try {
      pos.pragma('busy_timeout = 5000');
      const add = pos.prepare(`INSERT INTO products (sku, name, price, active) VALUES (?, ?, ?, 1)`);
      const tag = randomBytes(3).toString('hex');
      pos.transaction(() => {
        for (let i = 0; i < 200; i++) add.run(`PEER-${tag}-${i}`, `Product ${i}`, 1 + (i % 40) * 0.25);
      })();
    } finally {
      pos.close();
    }
    const products = await t.service.pushPending('bench-setup');
    if (products.pushed !== 200 || products.failed !== 0) throw new Error(`setup push of products failed: ${products.errors.join('; ')}`);
    return { ...t, key };
  } catch (err) {
    await t.close();
    throw err;
  }
}

type SalesTerminal = Awaited<ReturnType<typeof salesTerminal>>;

/** Rings `n` sales (setup); the orders' local ids. */
function ringUp(t: SalesTerminal, n: number, seed: number): number[] {
  const sim = new PosSimulator(t.path, { seed, customerShare: 0 });
  try {
    const ids: number[] = [];
    // Each sale is its own (nested) transaction as at a till; an outer transaction per
    // 500 sales only spares the setup a disk sync per sale. The triggers capture the same.
    const chunk = sim.db.transaction((k: number) => {
      for (let i = 0; i < k; i++) {
        const s = sim.saleOnce();
        if (!s) throw new Error('the simulator found nothing to sell');
        ids.push(s.orderId);
      }
    });
    while (ids.length < n) chunk(Math.min(500, n - ids.length));
    return ids;
  } finally {
    sim.close();
  }
}

/**
 * Before a timed part: lets timers overdue after long synchronous setup fire (an idle
 * keep-alive socket the server closes meanwhile would otherwise reset the first
 * request), then makes one request so the timed part starts on an open connection.
 */
async function idle(url: string): Promise<void> {
  await sleep(50);
  await fetch(url).then((r) => r.arrayBuffer());
}

async function centralOrders(c: BenchCentral): Promise<number> {
  const r = await c.db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders');
  return Number(r.rows[0]?.n);
}

/** TillSync pushes every pending change; orders per second until all are acknowledged. */
async function tillsyncPush(c: BenchCentral, t: SalesTerminal, orders: number): Promise<number> {
  const before = await centralOrders(c);
  await idle(`${c.url}/healthz`);
  const t0 = performance.now();
  const r = await t.service.pushPending('bench');
  const seconds = (performance.now() - t0) / 1000;
  const pending = (t.store.base.db.prepare(`SELECT count(*) AS n FROM tillsync_outbox WHERE status != 'synced'`).get() as { n: number }).n;
  const after = await centralOrders(c);
  if (r.failed !== 0 || pending !== 0 || after - before !== orders) {
    throw new Error(`TillSync: ${after - before} of ${orders} orders at central, ${pending} entries not synced, ${r.failed} failed: ${r.errors.join('; ')}`);
  }
  return orders / seconds;
}

/** PouchDB replicates `docs` from a memory database to a fresh remote one; orders per second. */
async function pouchReplicate(remoteBase: string, docs: readonly PouchDoc[]): Promise<number> {
  const PouchDB = pouch();
  const tag = randomBytes(4).toString('hex');
  const source = new PouchDB(`bench-src-${tag}`, { adapter: 'memory' });
  const targetUrl = `${remoteBase}/bench-orders-${tag}`;
  try {
    for (let i = 0; i < docs.length; i += 500) {
      const res = await source.bulkDocs(docs.slice(i, i + 500));
      const bad = res.find((x) => x.error);
      if (bad) throw new Error(`PouchDB bulkDocs: ${bad.error} ${bad.reason ?? ''}`);
    }
    await idle(remoteBase);
    const t0 = performance.now();
    const r = await PouchDB.replicate(source, targetUrl);
    const seconds = (performance.now() - t0) / 1000;
    if (!r.ok || r.docs_written !== docs.length || r.doc_write_failures !== 0) {
      throw new Error(`PouchDB replication wrote ${r.docs_written} of ${docs.length} documents (${r.doc_write_failures} failures)`);
    }
    const info = await new PouchDB(targetUrl).info();
    if (info.doc_count !== docs.length) throw new Error(`the target holds ${info.doc_count} of ${docs.length} documents`);
    return docs.length / seconds;
  } finally {
    await source.destroy().catch(() => undefined);
    await new PouchDB(targetUrl)
      .destroy()
      .catch(() => undefined);
  }
}

export const peerBench: Benchmark = {
  id: 'peer',
  title: 'peer: PouchDB replication to express-pouchdb vs TillSync pushPending() (orders)',
  async run(ctx: BenchContext): Promise<Row[]> {
    const n = ctx.quick ? 500 : 5000;
    const warm = ctx.quick ? 100 : 300;
    // PostgreSQL is extra: every run in quick mode, one in full mode (keeps the benchmark near 3 minutes).
    const pgRuns = ctx.pgUrl ? (ctx.quick ? ctx.runs : 1) : 0;
    const closers: (() => Promise<void>)[] = [];
    const closeAll = async () => {
      for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
    };
    try {
      const pouchServer = await startPouchServer();
      closers.push(() => pouchServer.close());
      const c = await startBenchCentral('pglite', ctx);
      closers.push(() => c.close());
      const t = await salesTerminal(c, ctx, 'bench-peer-pglite');
      closers.push(() => t.close());

      // Warm-up: both paths once, on a few sales.
      ringUp(t, warm, 7);
      await tillsyncPush(c, t, warm);
      await pouchReplicate(pouchServer.url, saleDocs(t.store, ringUp(t, warm, 8)));
      await tillsyncPush(c, t, warm); // those sales were only for PouchDB; pushed here, unmeasured
      ctx.progress('peer: warmed up', { orders: warm });

      const pouchRates: number[] = [];
      const tsRates: number[] = [];
      let items = 0;
      let payments = 0;
      let entries = 0;
      for (let run = 0; run < ctx.runs; run++) {
        // The same sales for both sides: TillSync pushes the outbox, PouchDB replicates documents built from those rows.
        const ids = ringUp(t, n, 1000 + run);
        const docs = saleDocs(t.store, ids);
        entries = (t.store.base.db.prepare(`SELECT count(*) AS n FROM tillsync_outbox WHERE status = 'pending'`).get() as { n: number }).n;
        items = docs.reduce((s, d) => s + (d.items as unknown[]).length, 0);
        payments = docs.reduce((s, d) => s + (d.payments as unknown[]).length, 0);
        const order = run % 2 === 0 ? (['pouchdb', 'tillsync'] as const) : (['tillsync', 'pouchdb'] as const);
        for (const side of order) {
          if (side === 'pouchdb') pouchRates.push(await pouchReplicate(pouchServer.url, docs));
          else tsRates.push(await tillsyncPush(c, t, n));
        }
        ctx.progress('peer run', { run: run + 1, of: ctx.runs, pouchdbOrdersPerSecond: round(pouchRates.at(-1) ?? 0), tillsyncOrdersPerSecond: round(tsRates.at(-1) ?? 0) });
      }
      const batchSize = t.service.config.batchSize;
      await closeAll();

      const pgRates: number[] = [];
      if (pgRuns > 0) {
        const pc = await startBenchCentral('postgres', ctx);
        closers.push(() => pc.close());
        const pt = await salesTerminal(pc, ctx, 'bench-peer-postgres');
        closers.push(() => pt.close());
        ringUp(pt, warm, 7);
        await tillsyncPush(pc, pt, warm);
        for (let run = 0; run < pgRuns; run++) {
          ringUp(pt, n, 1000 + run);
          pgRates.push(await tillsyncPush(pc, pt, n));
          ctx.progress('peer run (PostgreSQL)', { run: run + 1, of: pgRuns, tillsyncOrdersPerSecond: round(pgRates.at(-1) ?? 0) });
        }
        await closeAll();
      }

      const ratios = tsRates.map((v, i) => v / (pouchRates[i] as number));
      const content = `N = ${n} orders (${items} lines, ${payments} payments, stock movements; ${entries} outbox entries for TillSync)`;
      const rows: Row[] = [
        {
          id: '8 pouchdb',
          what: 'PouchDB.replicate(memory -> express-pouchdb), one doc per order',
          value: median(pouchRates),
          unit: 'orders/s',
          runs: pouchRates.map((v) => round(v)),
          note: `${content}; default batch_size (100); loopback, same process`,
        },
        {
          id: '8 tillsync',
          what: 'SyncService.pushPending() to central on PGlite',
          value: median(tsRates),
          unit: 'orders/s',
          runs: tsRates.map((v) => round(v)),
          note: `${content}; batches of ${batchSize} changes; loopback, same process`,
        },
      ];
      if (pgRates.length > 0) {
        rows.push({
          id: '8 tillsync postgres',
          what: 'SyncService.pushPending() to central on PostgreSQL',
          value: median(pgRates),
          unit: 'orders/s',
          runs: pgRates.map((v) => round(v)),
          note: `N = ${n} orders from the same seeds, own terminal; ${pgRates.length} run(s)`,
        });
      }
      rows.push({
        id: '8 ratio',
        what: 'TillSync (PGlite) / PouchDB',
        value: median(ratios),
        unit: 'x',
        runs: ratios.map((v) => round(v, 2)),
        note: `median of the per-run ratios; N = ${n} orders`,
      });
      return rows;
    } finally {
      await closeAll();
    }
  },
};
