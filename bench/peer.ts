/**
 * 8. A peer, side by side: PouchDB replication of N order documents to
 * express-pouchdb on loopback, against TillSync pushing the same N sales to central.
 * Twice: with PouchDB in memory, and with every side on disk.
 *
 * The POS simulator rings N sales into a terminal's SQLite file (no loyalty
 * customers, so a sale is an order, its lines, its payments and its stock
 * movements). TillSync pushes them with `SyncService.pushPending()` to central until
 * every change is acknowledged. The PouchDB side gets one document per order built
 * from those same rows, in the wire form TillSync sends (the order with its lines,
 * payments and stock movements embedded), replicated with
 * `PouchDB.replicate(source, url)` (default options) to a fresh database of
 * express-pouchdb on 127.0.0.1. Both servers run in this process, as central does in
 * every benchmark here. The two sides' runs alternate and the ratio is taken per run.
 *
 * In memory (as before): PouchDB's memory adapter at both ends, against TillSync to
 * central on PGlite (in a temp dir).
 *
 * Durable: PouchDB's LevelDB adapter (leveldown) on disk at both ends, in a temp dir,
 * against TillSync to central on PostgreSQL (PGlite when no server is reachable; the
 * row says which). The express-pouchdb side (the central's part) writes with LevelDB's
 * `sync: true`, so every write reaches the disk before it is answered, as a
 * PostgreSQL commit does (fsync on, synchronous_commit on); the local PouchDB keeps
 * LevelDB's default (written to its log, no fsync per write), as the terminal's SQLite
 * does (WAL, synchronous = NORMAL). A write that did not go through the synced
 * writer fails the run.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { localToWire, type LocalRow } from '../src/main/sync/mapping.js';
import type { LocalStore } from '../src/main/sync/store/index.js';
import { PosSimulator } from '../src/agent/simulator.js';
import { entryForTable, type CatalogEntry, type WireRow } from '../src/shared/catalog/index.js';
import type { Database as CentralDb } from '../src/server/db/database.js';
import { ANSWER_COLUMNS, median, rawUpserter, round, sleep, startBenchCentral, startTerminal, type BenchCentral, type Benchmark, type BenchContext, type DbKind, type Row } from './lib.js';

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

/** A leveldown-compatible store constructor (what PouchDB's LevelDB adapter opens a database with). */
type LevelDownFactory = (location: string) => LevelDownStore;

type NodeCallback = (err?: Error | null) => void;

/** The parts of a leveldown instance (abstract-leveldown 7) that write. */
interface LevelDownStore {
  _put(key: unknown, value: unknown, options: Record<string, unknown>, callback: NodeCallback): void;
  _del(key: unknown, options: Record<string, unknown>, callback: NodeCallback): void;
  _batch(operations: readonly unknown[], options: Record<string, unknown>, callback: NodeCallback): void;
  _chainedBatch(): { _write(options: Record<string, unknown>, callback: NodeCallback): void };
}

interface PouchOptions {
  readonly adapter?: string;
  /** Prepended to every database name: for LevelDB, the directory the databases live in. */
  readonly prefix?: string;
  /** The LevelDB adapter's store constructor (leveldown by default). */
  readonly db?: LevelDownFactory;
}

interface PouchStatic {
  new (name: string, opts?: PouchOptions): PouchDatabase;
  plugin(plugin: unknown): PouchStatic;
  defaults(opts: PouchOptions): PouchStatic;
  replicate(source: PouchDatabase | string, target: PouchDatabase | string, opts?: { readonly batch_size?: number }): Promise<ReplicationResult>;
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
type ExpressPouchDB = (pouch: PouchStatic, opts: { readonly mode: string; readonly inMemoryConfig: boolean }) => RequestHandler;

let pouchCache: PouchStatic | undefined;
let syncedCache: LevelDownFactory | undefined;

/** pouchdb-core with the memory, LevelDB and http adapters and replication (CommonJS, no types). */
function pouch(): PouchStatic {
  if (!pouchCache) {
    const require = createRequire(import.meta.url);
    const core = require('pouchdb-core') as PouchStatic;
    pouchCache = core
      .plugin(require('pouchdb-adapter-memory'))
      .plugin(require('pouchdb-adapter-leveldb'))
      .plugin(require('pouchdb-adapter-http'))
      .plugin(require('pouchdb-replication'));
  }
  return pouchCache;
}

/** Writes that went through `syncedLevelDown()`'s stores (each one on disk before it was answered). */
const syncedWrites = { n: 0 };

/**
 * The leveldown that PouchDB's LevelDB adapter uses, with every write made with
 * `sync: true` (LevelDB syncs its log before answering, as a PostgreSQL commit
 * does). Its name keys the adapter's cache of open stores, so it never shares one
 * with plain leveldown.
 */
function syncedLevelDown(): LevelDownFactory {
  if (!syncedCache) {
    // leveldown as the adapter itself resolves it (it is the adapter's dependency, not ours).
    const fromAdapter = createRequire(createRequire(import.meta.url).resolve('pouchdb-adapter-leveldb'));
    const leveldown = fromAdapter('leveldown') as LevelDownFactory;
    const synced = (options: Record<string, unknown>) => {
      syncedWrites.n++;
      return { ...options, sync: true };
    };
    syncedCache = function syncedLeveldown(location: string): LevelDownStore {
      const store = leveldown(location);
      const put = store._put.bind(store);
      const del = store._del.bind(store);
      const batch = store._batch.bind(store);
      const chained = store._chainedBatch.bind(store);
      store._put = (key, value, options, callback) => put(key, value, synced(options), callback);
      store._del = (key, options, callback) => del(key, synced(options), callback);
      store._batch = (operations, options, callback) => batch(operations, synced(options), callback);
      store._chainedBatch = () => {
        const b = chained();
        const write = b._write.bind(b);
        b._write = (options, callback) => write(synced(options), callback);
        return b;
      };
      return store;
    };
  }
  return syncedCache;
}

/** Where PouchDB keeps its databases: in memory, or LevelDB on disk under `dir`. */
type PouchStorage = { readonly kind: 'memory' } | { readonly kind: 'leveldb'; readonly dir: string };

/** express-pouchdb (its own express app) over memory databases or synced LevelDB ones, on an ephemeral port of 127.0.0.1. */
async function startPouchServer(storage: PouchStorage): Promise<{ url: string; close(): Promise<void> }> {
  const require = createRequire(import.meta.url);
  const expressPouchDB = require('express-pouchdb') as ExpressPouchDB;
  // A subclass, so the server's plugins do not wrap the client's databases.
  const serverPouch =
    storage.kind === 'memory'
      ? pouch().defaults({ adapter: 'memory' })
      : pouch().defaults({ adapter: 'leveldb', prefix: `${storage.dir}/`, db: syncedLevelDown() });
  const app = expressPouchDB(serverPouch, { mode: 'minimumForPouchDB', inMemoryConfig: true });
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

/**
 * PouchDB replicates `docs` from a local database (memory, or LevelDB under the
 * storage's dir with LevelDB's default writes) to a fresh remote one; orders per second.
 */
async function pouchReplicate(remoteBase: string, docs: readonly PouchDoc[], storage: PouchStorage): Promise<number> {
  const PouchDB = pouch();
  const tag = randomBytes(4).toString('hex');
  const source = storage.kind === 'memory' ? new PouchDB(`bench-src-${tag}`, { adapter: 'memory' }) : new PouchDB(join(storage.dir, `bench-src-${tag}`), { adapter: 'leveldb' });
  const targetUrl = `${remoteBase}/bench-orders-${tag}`;
  try {
    for (let i = 0; i < docs.length; i += 500) {
      const res = await source.bulkDocs(docs.slice(i, i + 500));
      const bad = res.find((x) => x.error);
      if (bad) throw new Error(`PouchDB bulkDocs: ${bad.error} ${bad.reason ?? ''}`);
    }
    await idle(remoteBase);
    const synced0 = syncedWrites.n;
    const t0 = performance.now();
    const r = await PouchDB.replicate(source, targetUrl);
    const seconds = (performance.now() - t0) / 1000;
    if (!r.ok || r.docs_written !== docs.length || r.doc_write_failures !== 0) {
      throw new Error(`PouchDB replication wrote ${r.docs_written} of ${docs.length} documents (${r.doc_write_failures} failures)`);
    }
    // On disk, the server's writes must have gone through the synced store (no quiet fallback to another one).
    if (storage.kind === 'leveldb' && syncedWrites.n - synced0 < Math.ceil(docs.length / 100)) {
      throw new Error(`the LevelDB server made ${syncedWrites.n - synced0} synced writes for ${docs.length} documents`);
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

// ------------------------------------------------------------------ the ceiling: the same rows, no sync

/** A sale's tables at central and the column that ties a row to its order (null: the order itself). */
const SALE_TABLES = [
  ['orders', null],
  ['order_items', 'order_id'],
  ['payments', 'order_id'],
  ['inventory_transactions', 'order_id'],
] as const;

/** Rows of one raw upsert statement at most, as TillSync's batches of changes. */
const RAW_BATCH = 500;

/** The trigger-free copies of a sale's tables the ceiling writes into: their columns and their upsert. */
interface RawCopies {
  readonly tables: readonly {
    readonly table: string;
    readonly via: string | null;
    readonly copy: string;
    readonly cols: readonly string[];
    readonly upsert: ReturnType<typeof rawUpserter>;
  }[];
}

/**
 * Copies of a sale's four tables for the ceiling, made once per side-by-side so they
 * grow run by run as central's own tables do: each table's columns, defaults and
 * indexes (`LIKE ... INCLUDING DEFAULTS INCLUDING INDEXES`: its primary key and
 * secondary indexes), no foreign keys, no triggers, without the push's answer columns.
 */
async function rawCopies(db: CentralDb): Promise<RawCopies> {
  const tables: RawCopies['tables'][number][] = [];
  for (const [table, via] of SALE_TABLES) {
    const copy = `bench_raw_${table}`;
    await db.query(`DROP TABLE IF EXISTS ${copy}`);
    await db.query(`CREATE TABLE ${copy} (LIKE ${table} INCLUDING DEFAULTS INCLUDING INDEXES)`);
    for (const c of ANSWER_COLUMNS) await db.query(`ALTER TABLE ${copy} DROP COLUMN IF EXISTS ${c}`);
    const cols = (
      await db.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema() ORDER BY ordinal_position`,
        [copy],
      )
    ).rows.map((r) => r.column_name);
    tables.push({ table, via, copy, cols, upsert: rawUpserter(copy, cols) });
  }
  return { tables };
}

/** Rows in each copy. */
async function copiedRows(db: CentralDb, copies: RawCopies): Promise<number[]> {
  const counts: number[] = [];
  for (const t of copies.tables) counts.push(Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t.copy}`)).rows[0]?.n));
  return counts;
}

/**
 * The ceiling, at this benchmark's batch size, of a sync that stores a sale as rows of
 * this database's tables: the rows central stored for `orderIds` (the sales just
 * pushed) upserted into the copies, whole sales of at most RAW_BATCH rows a
 * transaction, one multi-row `INSERT ... ON CONFLICT DO UPDATE` per table, with no
 * sync work around them (no answers, change log, stamps, conflict checks or foreign
 * keys). Orders per second; every row read must land in its copy.
 */
async function rawSalesUpsertRate(db: CentralDb, copies: RawCopies, orderIds: readonly string[]): Promise<number> {
  const tables: { copy: string; upsert: RawCopies['tables'][number]['upsert']; byOrder: Map<string, Record<string, unknown>[]>; rows: number }[] = [];
  for (const t of copies.tables) {
    const key = t.via ?? 'id';
    const rows = (await db.query<Record<string, unknown>>(`SELECT ${t.cols.map((c) => `"${c}"`).join(', ')} FROM ${t.table} WHERE "${key}" = ANY($1::text[]) ORDER BY id`, [orderIds]))
      .rows;
    const byOrder = new Map<string, Record<string, unknown>[]>();
    for (const r of rows) {
      const order = String(r[key]);
      const list = byOrder.get(order) ?? [];
      list.push(r);
      byOrder.set(order, list);
    }
    tables.push({ copy: t.copy, upsert: t.upsert, byOrder, rows: rows.length });
  }
  const stored = tables[0]?.byOrder.size ?? 0;
  if (stored !== orderIds.length) throw new Error(`central holds ${stored} of the ${orderIds.length} orders to copy`);
  // Whole sales per transaction, as a TillSync batch carries whole transaction groups.
  const chunks: string[][] = [];
  let chunk: string[] = [];
  let rowsInChunk = 0;
  for (const id of orderIds) {
    const n = tables.reduce((sum, t) => sum + (t.byOrder.get(id)?.length ?? 0), 0);
    if (chunk.length > 0 && rowsInChunk + n > RAW_BATCH) {
      chunks.push(chunk);
      chunk = [];
      rowsInChunk = 0;
    }
    chunk.push(id);
    rowsInChunk += n;
  }
  if (chunk.length > 0) chunks.push(chunk);
  const before = await copiedRows(db, copies);
  const t0 = performance.now();
  for (const ids of chunks) {
    await db.transaction(async (tx) => {
      for (const t of tables) {
        const rows = ids.flatMap((id) => t.byOrder.get(id) ?? []);
        if (rows.length === 0) continue;
        const { sql, params } = t.upsert(rows);
        await tx.query(sql, params);
      }
    });
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = await copiedRows(db, copies);
  tables.forEach((t, i) => {
    const added = (after[i] as number) - (before[i] as number);
    if (added !== t.rows) throw new Error(`the raw upsert added ${added} of ${t.rows} rows to ${t.copy}`);
  });
  return orderIds.length / seconds;
}

/** One side-by-side: a PouchDB server and a central with its terminal, warmed up, then `runs` alternating pairs. */
async function sideBySide(
  ctx: BenchContext,
  storage: PouchStorage,
  kind: DbKind,
  label: string,
  n: number,
  warm: number,
): Promise<{ pouch: number[]; tillsync: number[]; raw: number[]; ratios: number[]; rawRatios: number[]; shares: number[]; items: number; payments: number; entries: number; batchSize: number }> {
  const closers: (() => Promise<void>)[] = [];
  try {
    const pouchServer = await startPouchServer(storage);
    closers.push(() => pouchServer.close());
    const c = await startBenchCentral(kind, ctx);
    closers.push(() => c.close());
    const t = await salesTerminal(c, ctx, `bench-peer-${kind}`);
    closers.push(() => t.close());
    const copies = await rawCopies(c.db);

    // Warm-up: both paths once, on a few sales.
    ringUp(t, warm, 7);
    await tillsyncPush(c, t, warm);
    await pouchReplicate(pouchServer.url, saleDocs(t.store, ringUp(t, warm, 8)), storage);
    await tillsyncPush(c, t, warm); // those sales were only for PouchDB; pushed here, unmeasured
    ctx.progress(`peer (${label}): warmed up`, { orders: warm });

    const pouchRates: number[] = [];
    const tsRates: number[] = [];
    const rawRates: number[] = [];
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
        if (side === 'pouchdb') pouchRates.push(await pouchReplicate(pouchServer.url, docs, storage));
        else tsRates.push(await tillsyncPush(c, t, n));
      }
      // The ceiling, after both: the rows central stored for these sales, upserted with no sync at all.
      rawRates.push(await rawSalesUpsertRate(c.db, copies, docs.map((d) => d._id)));
      ctx.progress(`peer run (${label})`, {
        run: run + 1,
        of: ctx.runs,
        pouchdbOrdersPerSecond: round(pouchRates.at(-1) ?? 0),
        tillsyncOrdersPerSecond: round(tsRates.at(-1) ?? 0),
        rawUpsertOrdersPerSecond: round(rawRates.at(-1) ?? 0),
      });
    }
    const ratios = tsRates.map((v, i) => v / (pouchRates[i] as number));
    const rawRatios = rawRates.map((v, i) => v / (pouchRates[i] as number));
    const shares = tsRates.map((v, i) => v / (rawRates[i] as number));
    return { pouch: pouchRates, tillsync: tsRates, raw: rawRates, ratios, rawRatios, shares, items, payments, entries, batchSize: t.service.config.batchSize };
  } finally {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
  }
}

/** The ceiling's rows of one side-by-side: its rate, it over PouchDB, TillSync's share of it. */
function ceilingRows(id: string, db: string, peer: string, r: { raw: number[]; rawRatios: number[]; shares: number[] }, pairs: string): Row[] {
  return [
    {
      id,
      what: `raw upsert of the same sales' rows into ${db}, no sync (the ceiling of a relational store, ${RAW_BATCH}-row batches)`,
      value: median(r.raw),
      unit: 'orders/s',
      runs: r.raw.map((v) => round(v)),
      note: `after each pair, the rows central stored for that run's sales upserted into copies of orders, order_items, payments and inventory_transactions (their defaults and indexes; no foreign keys, no triggers, no answer columns), made once and growing run by run as central's tables do; whole sales of at most ${RAW_BATCH} rows a transaction, one multi-row INSERT ... ON CONFLICT DO UPDATE per table, from this process: the ceiling at this batch size`,
    },
    {
      id: `${id} ratio`,
      what: `that ceiling / ${peer}`,
      value: median(r.rawRatios),
      unit: 'x',
      runs: r.rawRatios.map((v) => round(v, 2)),
      note: `${pairs}; what TillSync / ${peer} could reach at most if sync cost nothing beyond the rows' own upsert`,
    },
    {
      id: `${id} share`,
      what: `TillSync as a share of that ceiling`,
      value: median(r.shares) * 100,
      unit: '%',
      runs: r.shares.map((v) => round(v * 100)),
      note: pairs,
    },
  ];
}

export const peerBench: Benchmark = {
  id: 'peer',
  title: 'peer: PouchDB replication to express-pouchdb vs TillSync pushPending() (orders), in memory and durable',
  async run(ctx: BenchContext): Promise<Row[]> {
    const n = ctx.quick ? 500 : 5000;
    const warm = ctx.quick ? 100 : 300;
    const pairs = `median of the per-run ratios, runs alternating; N = ${n} orders`;

    // In memory: PouchDB's memory adapter at both ends, TillSync to central on PGlite.
    const mem = await sideBySide(ctx, { kind: 'memory' }, 'pglite', 'in memory', n, warm);
    const content = `N = ${n} orders (${mem.items} lines, ${mem.payments} payments, stock movements; ${mem.entries} outbox entries for TillSync)`;

    // Durable: LevelDB on disk at both ends of PouchDB (the server's writes synced), TillSync to central on PostgreSQL.
    const durableKind: DbKind = ctx.pgUrl ? 'postgres' : 'pglite';
    const durableDb = durableKind === 'postgres' ? 'PostgreSQL' : 'PGlite on disk (PostgreSQL not reachable)';
    const dur = await sideBySide(ctx, { kind: 'leveldb', dir: ctx.tmp('peer-leveldb-') }, durableKind, 'durable', n, warm);

    const leveldbNote = "LevelDB (leveldown) in a temp dir; express-pouchdb's writes with sync: true (on disk before answered), the local one LevelDB's default (no fsync per write)";
    return [
      {
        id: '8 pouchdb',
        what: 'PouchDB.replicate(memory -> express-pouchdb), one doc per order',
        value: median(mem.pouch),
        unit: 'orders/s',
        runs: mem.pouch.map((v) => round(v)),
        note: `${content}; memory adapter at both ends; default batch_size (100); loopback, same process`,
      },
      {
        id: '8 tillsync',
        what: 'SyncService.pushPending() to central on PGlite',
        value: median(mem.tillsync),
        unit: 'orders/s',
        runs: mem.tillsync.map((v) => round(v)),
        note: `${content}; batches of ${mem.batchSize} changes; loopback, same process`,
      },
      {
        id: '8 ratio',
        what: 'TillSync (PGlite) / PouchDB (memory)',
        value: median(mem.ratios),
        unit: 'x',
        runs: mem.ratios.map((v) => round(v, 2)),
        note: pairs,
      },
      ...ceilingRows('8 ceiling', 'PGlite', 'PouchDB (memory)', mem, pairs),
      {
        id: '8 pouchdb leveldb',
        what: 'PouchDB.replicate(LevelDB on disk -> express-pouchdb on LevelDB, writes synced), one doc per order',
        value: median(dur.pouch),
        unit: 'orders/s',
        runs: dur.pouch.map((v) => round(v)),
        note: `N = ${n} orders (${dur.items} lines, ${dur.payments} payments); ${leveldbNote}; default batch_size (100); loopback, same process`,
      },
      {
        id: `8 tillsync ${durableKind}`,
        what: `SyncService.pushPending() to central on ${durableDb}, beside PouchDB on LevelDB`,
        value: median(dur.tillsync),
        unit: 'orders/s',
        runs: dur.tillsync.map((v) => round(v)),
        note: `the same N sales (${dur.entries} outbox entries), own terminal (SQLite, WAL, synchronous = NORMAL); batches of ${dur.batchSize} changes`,
      },
      {
        id: '8 ratio durable',
        what: `TillSync (${durableKind === 'postgres' ? 'PostgreSQL' : 'PGlite'}) / PouchDB (LevelDB, synced)`,
        value: median(dur.ratios),
        unit: 'x',
        runs: dur.ratios.map((v) => round(v, 2)),
        note: pairs,
      },
      ...ceilingRows('8 ceiling durable', durableKind === 'postgres' ? 'PostgreSQL' : 'PGlite', 'PouchDB (LevelDB, synced)', dur, pairs),
    ];
  },
};
