/**
 * Offline periods and failed entries, with the engine (SyncService) in this process
 * and the POS writing through its own connection: a long offline period ends by
 * itself with CRITICAL sales first; entries that exhausted their attempts end
 * 'failed' and are retried later, never forgotten.
 */
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalStore } from '../../src/main/sync/store/index.js';
import { SyncService } from '../../src/main/sync/sync-service.js';
import { DEFAULT_SYNC_CONFIG, type SyncConfig } from '../../src/main/sync/sync-config.js';
import { ADMIN_TOKEN, ApiClient, startCentral, testDatabase, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';
import { addLocalStore, freePort, historyOf, killAll, newTerminalDb, openPos, outboxSummary, ringUpSales, sleep, tempDir, waitUntil } from '../helpers/processes.js';
import { count } from '../helpers/sync.js';

const silent = pino({ level: 'silent' });

interface Engine {
  readonly store: LocalStore;
  readonly service: SyncService;
}

const engines: Engine[] = [];
const connections: Database.Database[] = [];
const centrals: TestCentral[] = [];
const databases: TestDatabase[] = [];
let dir: ReturnType<typeof tempDir>;

beforeAll(() => {
  dir = tempDir('tillsync-offline-');
});
afterEach(async () => {
  for (const e of engines.splice(0)) {
    await e.service.stop();
    e.store.close();
  }
  for (const c of connections.splice(0)) c.close();
  for (const c of centrals.splice(0)) await c.close();
  await killAll();
});
afterAll(async () => {
  for (const d of databases.splice(0)) await d.close();
  dir?.remove();
});

async function database(): Promise<TestDatabase> {
  const d = await testDatabase();
  databases.push(d);
  return d;
}

/** A central on `db`, listening on `port` (so it can go away and come back at the same address). */
async function central(db: TestDatabase, port: number): Promise<TestCentral> {
  const c = await startCentral({ db: db.db, config: { port } });
  centrals.push(c);
  return c;
}

async function stopCentral(c: TestCentral): Promise<void> {
  await c.close();
  centrals.splice(centrals.indexOf(c), 1);
}

/** A terminal database with its store row; returns the path, the POS's connection and the store's local id. */
async function terminalDb(name: string, storeId: string): Promise<{ path: string; pos: Database.Database; store: number }> {
  const path = await newTerminalDb(join(dir.path, `${name}.db`));
  const pos = openPos(path);
  connections.push(pos);
  return { path, pos, store: addLocalStore(pos, storeId) };
}

/** The engine on `path`, started (schedule, watcher, heartbeat) for terminal `t`. */
async function startEngine(path: string, t: ProvisionedTerminal, url: string, config: Partial<SyncConfig>): Promise<Engine> {
  const store = new LocalStore(path, t.terminalId);
  const service = new SyncService(store, { ...DEFAULT_SYNC_CONFIG, centralUrl: url, apiKey: t.apiKey, ...config }, silent);
  const e = { store, service };
  engines.push(e);
  await service.initialize(t.terminalId);
  return e;
}

const statusOf = (e: Engine) => e.service.status();

describe('a long offline period', () => {
  it('ends by itself when central is back, and everything arrives with CRITICAL sales committed before lower priorities', { timeout: 60_000 }, async () => {
    const db = await database();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let c = await central(db, port);
    const t = await c.provision('offline-store', 'offline-t1');
    await stopCentral(c); // central goes away before the terminal ever reaches it

    const { path, pos, store } = await terminalDb('offline', t.storeId);
    const engine = await startEngine(path, t, url, { retryDelay: 100, syncInterval: 3600, heartbeatInterval: 3600, batchSize: 25, realtime: false });
    await waitUntil('the engine to see it is offline', () => statusOf(engine).connection === 'offline', { timeout: 10_000 });

    // The till keeps selling, and everything else keeps being written, while offline.
    const K = 40;
    const customer = pos.prepare(`INSERT INTO customers (name, email, loyalty_points, total_spent, visit_count) VALUES (?, ?, 0, 0, 0)`);
    const product = pos.prepare(`INSERT INTO products (sku, name, price, unit, active) VALUES (?, ?, ?, 'pc', 1)`);
    const audit = pos.prepare(`INSERT INTO audit_logs (store_id, action, entity, details, occurred_at) VALUES (?, 'sale.open', 'order', '{"till":1}', ?)`);
    for (let i = 0; i < K; i++) {
      audit.run(store, new Date().toISOString());
      customer.run(`Customer ${i}`, `c${i}@example.test`);
      product.run(`OFF-${i}`, `Local product ${i}`, 1 + i);
      ringUpSales(pos, { storeLocalId: store, prefix: `OFFC-${i}`, count: 1 });
      ringUpSales(pos, { storeLocalId: store, prefix: `OFFP-${i}`, count: 1, status: 'pending' });
    }
    await sleep(300); // the watcher has seen the commits; offline, it pushes nothing
    const offline = statusOf(engine);
    expect(offline.connection).toBe('offline');
    expect(offline.tables.SaleOrder).toMatchObject({ pending: 2 * K, synced: 0, failed: 0 });
    expect(offline.tables.Payment).toMatchObject({ pending: K, synced: 0 });
    expect(offline.tables.SaleOrderItem).toMatchObject({ pending: 2 * K });
    expect(offline.tables.Customer).toMatchObject({ pending: K });
    expect(offline.tables.Product).toMatchObject({ pending: K });
    expect(offline.tables.AuditLog).toMatchObject({ pending: K });
    expect(offline.totals.pending).toBe(8 * K);
    engine.store.capture.promote();
    expect(engine.store.base.db.prepare(`SELECT DISTINCT created_in_mode AS m FROM tillsync_outbox`).all()).toEqual([{ m: 'OFFLINE' }]);

    // Central is back at the same address; no call to the engine from here on.
    c = await central(db, port);
    await waitUntil('the engine back online with every entry synced', () => {
      const s = statusOf(engine);
      return s.connection === 'online' && s.totals.synced === 8 * K && s.totals.pending === 0;
    }, { timeout: 30_000, diagnose: () => JSON.stringify(statusOf(engine).totals) });
    await waitUntil('the back-online pass to finish', () => historyOf(engine.store.base.db).some((h) => h.trigger === 'back-online' && h.finished_at !== null), {
      timeout: 10_000,
      diagnose: () => JSON.stringify(historyOf(engine.store.base.db)),
    });

    expect(await count(c, 'orders WHERE store_id = $1', [t.storeId])).toBe(2 * K);
    expect(await count(c, 'payments WHERE store_id = $1', [t.storeId])).toBe(K);
    expect(await count(c, `customers WHERE email LIKE '%@example.test'`)).toBe(K);
    expect(await count(c, `products WHERE sku LIKE 'OFF-%'`)).toBe(K);
    expect(await count(c, 'audit_logs WHERE store_id = $1', [t.storeId])).toBe(K);

    // Commit order at central: the transaction that wrote each row (its xmin; a sale's tables keep no change log).
    const tiers = await c.db.query<{ tier: string; first: number; last: number; n: number }>(
      `WITH w AS (
         SELECT xmin::text::bigint AS tx, CASE WHEN status = 'completed' THEN 'CRITICAL' ELSE 'HIGH' END AS tier FROM orders WHERE sync_origin = $1
         UNION ALL SELECT xmin::text::bigint, 'CRITICAL' FROM payments WHERE sync_origin = $1
         UNION ALL SELECT xmin::text::bigint, 'MEDIUM' FROM customers WHERE sync_origin = $1
         UNION ALL SELECT xmin::text::bigint, 'MEDIUM' FROM products WHERE sync_origin = $1
         UNION ALL SELECT xmin::text::bigint, 'BACKGROUND' FROM audit_logs WHERE sync_origin = $1)
       SELECT tier, min(tx)::text AS first, max(tx)::text AS last, count(*)::int AS n FROM w GROUP BY tier`,
      [t.terminalId],
    );
    const by = new Map(tiers.rows.map((r) => [r.tier, { first: BigInt(r.first), last: BigInt(r.last), n: r.n }]));
    // Each transaction's rows per tier, in commit order: what a failure below prints.
    const order = await c.db.query<{ tx: string; rows: string }>(
      `WITH w AS (
         SELECT xmin::text::bigint AS tx, 'orders ' || status AS what FROM orders WHERE sync_origin = $1
         UNION ALL SELECT xmin::text::bigint, 'payments' FROM payments WHERE sync_origin = $1
         UNION ALL SELECT xmin::text::bigint, 'customers' FROM customers WHERE sync_origin = $1
         UNION ALL SELECT xmin::text::bigint, 'products' FROM products WHERE sync_origin = $1
         UNION ALL SELECT xmin::text::bigint, 'audit_logs' FROM audit_logs WHERE sync_origin = $1)
       SELECT tx::text, string_agg(what || ' x' || n, ', ') AS rows FROM (SELECT tx, what, count(*) AS n FROM w GROUP BY tx, what) g GROUP BY tx ORDER BY tx`,
      [t.terminalId],
    );
    const commits = order.rows.map((r) => `${r.tx}: ${r.rows}`).join('\n');
    expect(Object.fromEntries([...by].map(([k, v]) => [k, v.n]))).toEqual({ CRITICAL: 2 * K, HIGH: K, MEDIUM: 2 * K, BACKGROUND: K });
    const tier = (name: string) => by.get(name) as { first: bigint; last: bigint };
    // Every CRITICAL change committed no later than any lower one (a batch may carry both at the boundary).
    for (const lower of ['HIGH', 'MEDIUM', 'BACKGROUND']) {
      expect(tier('CRITICAL').last <= tier(lower).first, `CRITICAL before ${lower}; transactions:\n${commits}`).toBe(true);
    }
    expect(tier('HIGH').last <= tier('MEDIUM').first, `HIGH before MEDIUM; transactions:\n${commits}`).toBe(true);
    expect(tier('MEDIUM').last <= tier('BACKGROUND').first, `MEDIUM before BACKGROUND; transactions:\n${commits}`).toBe(true);
    // ...and the first CRITICAL transactions carried nothing else.
    expect(tier('CRITICAL').first < tier('MEDIUM').first, `transactions:\n${commits}`).toBe(true);
  });
});

describe('failed entries', () => {
  let db: TestDatabase;
  let c: TestCentral;
  beforeAll(async () => {
    db = await database();
  });

  it('a push central refuses ends failed after maxRetries; once the cause is gone, retryFailed() puts it back and it is delivered exactly once', { timeout: 60_000 }, async () => {
    c = await central(db, 0);
    const t = await c.provision('refused-store', 'failed-t1');
    const admin = new ApiClient(c.url, ADMIN_TOKEN);
    const { path, pos, store } = await terminalDb('refused', t.storeId);
    const engine = await startEngine(path, t, c.url, { retryDelay: 20, maxRetries: 2, syncInterval: 3600, heartbeatInterval: 3600, realtime: false });
    await waitUntil('the startup pass', () => historyOf(engine.store.base.db).some((h) => h.trigger === 'startup' && h.finished_at !== null));

    // Central refuses this terminal (disabled by mistake): every push is a 403.
    expect((await admin.patch(`/api/terminals/${t.terminalId}`, { disabled: true })).status).toBe(200);
    const numbers = ringUpSales(pos, { storeLocalId: store, prefix: 'REF', count: 3 });
    await waitUntil(
      'every entry failed after its attempts',
      async () => {
        await engine.service.performIncrementalSync('test');
        return outboxSummary(engine.store.base.db).failed === 9;
      },
      { timeout: 20_000, interval: 50, diagnose: () => JSON.stringify(outboxSummary(engine.store.base.db)) },
    );
    const errors = engine.store.base.db.prepare(`SELECT DISTINCT last_error AS e FROM tillsync_outbox WHERE status = 'failed'`).all() as { e: string }[];
    expect(errors.map((x) => x.e).join('\n')).toMatch(/disabled/i);
    expect(statusOf(engine).totals).toMatchObject({ failed: 9, pending: 0 });
    expect(await count(c, 'orders WHERE store_id = $1', [t.storeId])).toBe(0);
    // Failed is not forgotten: a full pass keeps them, still failed.
    await engine.service.performFullSync('test');
    expect(outboxSummary(engine.store.base.db).failed).toBe(9);

    // The cause is gone; the entries go back to the queue and are delivered.
    expect((await admin.patch(`/api/terminals/${t.terminalId}`, { disabled: false })).status).toBe(200);
    expect(engine.store.outbox.retryFailed()).toBe(9);
    await engine.service.performIncrementalSync('retry-failed');
    await waitUntil('every entry synced', () => outboxSummary(engine.store.base.db).synced === 9, { diagnose: () => JSON.stringify(outboxSummary(engine.store.base.db)) });
    const orders = await c.db.query<{ order_number: string }>('SELECT order_number FROM orders WHERE store_id = $1 ORDER BY order_number', [t.storeId]);
    expect(orders.rows.map((r) => r.order_number)).toEqual(numbers);
    expect(await count(c, 'payments WHERE store_id = $1', [t.storeId])).toBe(3);
    expect(await count(c, 'order_items WHERE store_id = $1', [t.storeId])).toBe(3);
  });

  it('entries whose attempts ran out while central was unreachable end failed, and are delivered by themselves once central is back', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    c = await central(db, port);
    const t = await c.provision('unreachable-store', 'failed-t2');
    const { path, pos, store } = await terminalDb('unreachable', t.storeId);
    const engine = await startEngine(path, t, url, {
      retryDelay: 30,
      maxRetries: 3,
      syncInterval: 0.25,
      heartbeatInterval: 3600,
      failedRetryIntervalMs: 4000,
      realtime: false,
    });
    await waitUntil('the startup pass', () => historyOf(engine.store.base.db).some((h) => h.trigger === 'startup' && h.finished_at !== null));
    await stopCentral(c);

    const numbers = ringUpSales(pos, { storeLocalId: store, prefix: 'UNR', count: 4 });
    await waitUntil('every entry failed after maxRetries attempts', () => outboxSummary(engine.store.base.db).failed === 12, {
      timeout: 20_000,
      interval: 10,
      diagnose: () => JSON.stringify(outboxSummary(engine.store.base.db)),
    });
    expect(statusOf(engine).connection).toBe('offline');

    // Central comes back; nobody touches the engine: recovery and the failed-entry timer do it.
    c = await central(db, port);
    await waitUntil('every entry synced', () => outboxSummary(engine.store.base.db).synced === 12, {
      timeout: 30_000,
      diagnose: () => JSON.stringify(outboxSummary(engine.store.base.db)),
    });
    // Back online, the engine puts failed entries back in the queue itself (or the retry timer does).
    // The pass is in History once it ends: a full pass pulls after it has pushed.
    await waitUntil('the recovery pass in History', () => historyOf(engine.store.base.db).some((h) => h.trigger === 'back-online' || h.trigger === 'retry-failed'), {
      timeout: 10_000,
      diagnose: () => JSON.stringify(historyOf(engine.store.base.db).map((h) => [h.trigger, h.finished_at !== null])),
    });
    const orders = await c.db.query<{ order_number: string }>('SELECT order_number FROM orders WHERE store_id = $1 ORDER BY order_number', [t.storeId]);
    expect(orders.rows.map((r) => r.order_number)).toEqual(numbers);
  });

  it('a sale whose data central refuses ends failed without holding back the sales sent with it, and is delivered once the POS corrects it', { timeout: 60_000 }, async () => {
    c = await central(db, 0);
    const t = await c.provision('poison-store', 'failed-t3');
    const { path, pos, store } = await terminalDb('poison', t.storeId);
    const engine = await startEngine(path, t, c.url, { retryDelay: 20, maxRetries: 2, syncInterval: 3600, heartbeatInterval: 3600, realtime: false });
    await waitUntil('the startup pass', () => historyOf(engine.store.base.db).some((h) => h.trigger === 'startup' && h.finished_at !== null));
    engine.service.pause(); // the five sales go up in one batch, below

    // The third sale's note holds a NUL character, which PostgreSQL cannot store.
    const numbers = ringUpSales(pos, { storeLocalId: store, prefix: 'NUL', count: 5, perTransaction: 5, notes: (i) => (i === 2 ? 'bad\u0000note' : 'ok') });
    const bad = numbers[2] as string;
    engine.service.resume();
    await waitUntil(
      'the refused sale failed',
      async () => {
        await engine.service.performIncrementalSync('test');
        const f = engine.store.base.db.prepare(`SELECT count(*) AS n FROM tillsync_outbox WHERE status = 'failed'`).get() as { n: number };
        const p = engine.store.base.db.prepare(`SELECT count(*) AS n FROM tillsync_outbox WHERE status = 'pending'`).get() as { n: number };
        return f.n > 0 && p.n === 0;
      },
      { timeout: 20_000, interval: 50, diagnose: () => JSON.stringify(outboxSummary(engine.store.base.db)) },
    );
    const good = numbers.filter((n) => n !== bad);
    const atCentral = async () =>
      (await c.db.query<{ order_number: string }>('SELECT order_number FROM orders WHERE store_id = $1 ORDER BY order_number', [t.storeId])).rows.map((r) => r.order_number);
    expect(await atCentral(), 'the four good sales are at central').toEqual(good);
    const failedOrders = engine.store.base.db
      .prepare(`SELECT DISTINCT o.order_number AS n FROM tillsync_outbox x JOIN orders o ON o.server_id = x.server_id WHERE x.status = 'failed' AND x.table_name = 'orders'`)
      .all() as { n: string }[];
    expect(failedOrders.map((r) => r.n)).toEqual([bad]);

    // The POS corrects the note; the failed entries go back to the queue and the sale arrives once.
    pos.prepare(`UPDATE orders SET notes = 'corrected' WHERE order_number = ?`).run(bad);
    engine.store.outbox.retryFailed();
    await waitUntil(
      'every entry settled',
      async () => {
        await engine.service.performIncrementalSync('test');
        const s = outboxSummary(engine.store.base.db);
        return s.pending === 0 && s.failed === 0;
      },
      { timeout: 20_000, interval: 50, diagnose: () => JSON.stringify(outboxSummary(engine.store.base.db)) },
    );
    expect(await atCentral()).toEqual(numbers);
    const row = await c.db.query<{ notes: string }>('SELECT notes FROM orders WHERE order_number = $1', [bad]);
    expect(row.rows).toEqual([{ notes: 'corrected' }]);
    expect(await count(c, 'payments WHERE store_id = $1', [t.storeId])).toBe(5);
  });
});

