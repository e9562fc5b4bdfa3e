/**
 * Crashes at the process level (invariant 1, "nothing is lost"): the agent killed
 * with SIGKILL in the middle of a push and of a pull, and central killed in the
 * middle of a sync. Sales are written by the POS's own connection after the engine
 * installed its triggers; the agent is `node bin/tillsync.mjs agent`.
 */
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/server/db/database.js';
import { onPostgres, testDatabase, useCentral, type ProvisionedTerminal, type TestDatabase } from '../helpers/central.js';
import {
  addLocalStore,
  killAll,
  modeOf,
  newTerminalDb,
  openPos,
  openReader,
  outboxSummary,
  provisionOn,
  ringUpSales,
  startAgent,
  startCentralProcess,
  tempDir,
  waitUntil,
  type AgentSettings,
  type CentralProcess,
  type Proc,
} from '../helpers/processes.js';
import { answersOfTerminal, count, settled, type WithDb } from '../helpers/sync.js';

const readers: Database.Database[] = [];
const reader = (path: string) => {
  const r = openReader(path);
  readers.push(r);
  return r;
};

let dir: ReturnType<typeof tempDir>;
beforeAll(() => {
  dir = tempDir('tillsync-crash-');
});
afterEach(async () => {
  await killAll();
  for (const r of readers.splice(0)) r.close();
});
afterAll(() => dir?.remove());

/** A terminal database with the store row and `sales` completed sales, written by the POS after the engine installed its triggers. */
async function seededTerminal(name: string, storeId: string, sales: number, prefix: string): Promise<{ path: string; orderNumbers: string[] }> {
  const path = await newTerminalDb(join(dir.path, `${name}.db`));
  const pos = openPos(path);
  try {
    const store = addLocalStore(pos, storeId);
    const orderNumbers = ringUpSales(pos, { storeLocalId: store, prefix, count: sales, perTransaction: 50 });
    return { path, orderNumbers };
  } finally {
    pos.close();
  }
}

/** Central holds each sale of the terminal exactly once: orders by id and by number, one line and one payment each. */
async function expectEachSaleOnce(c: WithDb, storeId: string, path: string, orderNumbers: string[]): Promise<void> {
  const n = orderNumbers.length;
  const orders = await c.db.query<{ n: number; ids: number; numbers: number }>(
    'SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, count(DISTINCT order_number)::int AS numbers FROM orders WHERE store_id = $1',
    [storeId],
  );
  expect(orders.rows[0]).toEqual({ n, ids: n, numbers: n });
  const dupes = await c.db.query('SELECT order_number, count(*)::int AS n FROM orders WHERE store_id = $1 GROUP BY order_number HAVING count(*) > 1', [storeId]);
  expect(dupes.rows).toEqual([]);
  expect(await count(c, 'order_items WHERE store_id = $1', [storeId])).toBe(n);
  expect(await count(c, 'payments WHERE store_id = $1', [storeId])).toBe(n);
  const central = await c.db.query<{ id: string; order_number: string }>('SELECT id, order_number FROM orders WHERE store_id = $1', [storeId]);
  const local = reader(path).prepare('SELECT server_id, order_number FROM orders').all() as { server_id: string; order_number: string }[];
  expect(new Map(central.rows.map((r) => [r.id, r.order_number]))).toEqual(new Map(local.map((r) => [r.server_id, r.order_number])));
  expect(new Set(central.rows.map((r) => r.order_number))).toEqual(new Set(orderNumbers));
}

describe('the agent killed with SIGKILL', () => {
  const central = useCentral();

  it('in the middle of a push loses and duplicates nothing after restart', { timeout: 90_000 }, async () => {
    const t = await central.provision('crash-push', 'crash-push-t1');
    const SALES = 600;
    const { path, orderNumbers } = await seededTerminal('push', t.storeId, SALES, 'PUSH');
    const entries = outboxSummary(reader(path));
    expect(entries).toMatchObject({ total: SALES * 3, pending: SALES * 3 });
    const settings: AgentSettings = { databasePath: path, centralUrl: central.url, apiKey: t.apiKey, terminalId: t.terminalId };
    const tuning = { TILLSYNC_BATCH_SIZE: '20', LOG_LEVEL: 'warn' };
    const ordersAtCentral = () => count(central, 'orders WHERE store_id = $1', [t.storeId]);

    // Two crashes at different points of the backlog, then a run to the end.
    const killedAt: number[] = [];
    for (const fraction of [0.15, 0.5]) {
      const before = await ordersAtCentral();
      const agent = startAgent(settings, tuning);
      const seen = await waitUntil(
        `central to hold more than ${Math.round(fraction * 100)}% of the orders (agent pushing)`,
        async () => {
          const n = await ordersAtCentral();
          return n > Math.max(before, fraction * SALES) ? n : 0;
        },
        { timeout: 30_000, interval: 10, diagnose: () => agent.tail() },
      );
      const exit = await agent.kill();
      expect(exit.signal).toBe('SIGKILL');
      const after = await ordersAtCentral();
      killedAt.push(after);
      expect(seen, 'killed mid-way').toBeLessThan(SALES);
      expect(after, 'the kill left part of the backlog unsent').toBeLessThan(SALES);
    }
    expect(killedAt[1]).toBeGreaterThan(killedAt[0] as number);

    const agent = startAgent(settings, tuning);
    const r = reader(path);
    await waitUntil(
      'every order at central and every outbox entry synced',
      async () => (await ordersAtCentral()) >= SALES && outboxSummary(r).synced === SALES * 3,
      { timeout: 45_000, diagnose: () => `${JSON.stringify(outboxSummary(r))}\n${agent.tail()}` },
    );
    expect(outboxSummary(r)).toEqual({ total: SALES * 3, pending: 0, failed: 0, synced: SALES * 3, conflict: 0 });
    await expectEachSaleOnce(central, t.storeId, path, orderNumbers);
    // Central settled every change id once.
    expect(await answersOfTerminal(central, t.terminalId)).toBe(SALES * 3);
    const stop = await agent.stop();
    expect(stop.code, agent.tail()).toBe(0);
  });

  it('in the middle of a pull leaves each product exactly once with central values, and pulling created no outbox entries', { timeout: 90_000 }, async () => {
    const t = await central.provision('crash-pull', 'crash-pull-t1');
    const PRODUCTS = 3000;
    await central.db.query(
      `INSERT INTO products (id, sku, name, price, cost, unit, active)
       SELECT 'crash-pull-' || lpad(g::text, 5, '0'), 'SKU-' || g, 'Product ' || g, (g % 97) + 0.25, (g % 13) + 0.5, 'pc', g % 2 = 0
       FROM generate_series(1, $1::int) AS g`,
      [PRODUCTS],
    );
    await settled(central);
    const path = await newTerminalDb(join(dir.path, 'pull.db'));
    const r = reader(path);
    const localProducts = () => (r.prepare('SELECT count(*) AS n FROM products').get() as { n: number }).n;
    const settings: AgentSettings = { databasePath: path, centralUrl: central.url, apiKey: t.apiKey, terminalId: t.terminalId };
    const tuning = { TILLSYNC_PULL_PAGE_SIZE: '50', LOG_LEVEL: 'warn' };

    const killedAt: number[] = [];
    for (const fraction of [0.1, 0.5]) {
      const before = localProducts();
      const agent = startAgent(settings, tuning);
      const seen = await waitUntil(
        `the terminal to hold more than ${Math.round(fraction * 100)}% of the products (agent pulling)`,
        () => {
          const n = localProducts();
          return n > Math.max(before, fraction * PRODUCTS) ? n : 0;
        },
        { timeout: 30_000, interval: 5, diagnose: () => agent.tail() },
      );
      await agent.kill();
      const after = localProducts();
      killedAt.push(after);
      expect(seen, 'killed mid-way').toBeLessThan(PRODUCTS);
      expect(after, 'the kill left part of the table unpulled').toBeLessThan(PRODUCTS);
    }
    expect(killedAt[1]).toBeGreaterThan(killedAt[0] as number);

    const agent = startAgent(settings, tuning);
    await waitUntil(
      'every product on the terminal and the startup pass finished',
      () => localProducts() >= PRODUCTS && (r.prepare(`SELECT count(*) AS n FROM tillsync_history WHERE finished_at IS NOT NULL AND errors IS NULL`).get() as { n: number }).n > 0,
      { timeout: 45_000, diagnose: () => agent.tail() },
    );
    const local = r.prepare('SELECT server_id, sku, name, price, cost, unit, active FROM products ORDER BY server_id').all() as Record<string, unknown>[];
    expect(local).toHaveLength(PRODUCTS);
    expect(new Set(local.map((p) => p.server_id)).size).toBe(PRODUCTS);
    const remote = await central.db.query<Record<string, unknown>>(
      `SELECT id AS server_id, sku, name, price, cost, unit, CASE WHEN active THEN 1 ELSE 0 END AS active FROM products WHERE id LIKE 'crash-pull-%' ORDER BY id`,
    );
    expect(local).toEqual(remote.rows);
    // No echo: applying pulled rows captured nothing, on any connection.
    expect(outboxSummary(r)).toEqual({ total: 0, pending: 0, failed: 0, synced: 0, conflict: 0 });
    expect((r.prepare(`SELECT count(*) AS n FROM tillsync_row_state WHERE table_name = 'products'`).get() as { n: number }).n).toBe(PRODUCTS);
    expect((agent.exit ?? (await agent.stop())).code, agent.tail()).toBe(0);
  });
});

describe('central killed with SIGKILL in the middle of a sync', () => {
  let tdb: TestDatabase | undefined;
  let data: ReturnType<typeof tempDir> | undefined;
  afterAll(async () => {
    await killAll();
    await tdb?.close();
    data?.remove();
  });

  it('the agent goes offline, recovers by itself when central is back on the same port and data, its socket registers again, and every sale arrives exactly once', { timeout: 120_000 }, async () => {
    // Central as a process: on PostgreSQL when TEST_DATABASE_URL is set, else PGlite on disk.
    if (onPostgres) tdb = await testDatabase();
    else data = tempDir('tillsync-central-data-');
    const where = tdb ? { databaseUrl: tdb.url as string } : { dataDir: (data as { path: string }).path };
    let c: CentralProcess = await startCentralProcess({ ...where, env: { TILLSYNC_AUTO_SYNC: 'false' } });
    const t: ProvisionedTerminal = await provisionOn(c.url, 'crash-central', 'crash-central-t1');
    const SALES = 600;
    const { path, orderNumbers } = await seededTerminal('central', t.storeId, SALES, 'CEN');
    const r = reader(path);
    const synced = () => outboxSummary(r).synced;

    const agent: Proc = startAgent(
      { databasePath: path, centralUrl: c.url, apiKey: t.apiKey, terminalId: t.terminalId },
      { TILLSYNC_BATCH_SIZE: '20', TILLSYNC_RETRY_DELAY: '200', LOG_LEVEL: 'info' },
    );
    await waitUntil('the agent to have pushed part of the backlog', () => synced() > SALES * 3 * 0.15, {
      timeout: 30_000,
      interval: 10,
      diagnose: () => agent.tail(),
    });
    const centralExit = await c.proc.kill();
    expect(centralExit.signal).toBe('SIGKILL');
    const atKill = synced();
    expect(atKill, 'central died with part of the backlog unsent').toBeLessThan(SALES * 3);

    await waitUntil('the agent to notice central is gone (mode OFFLINE)', () => modeOf(r) === 'OFFLINE', { timeout: 20_000, diagnose: () => agent.tail() });
    expect(agent.exit, 'the agent keeps running while central is down').toBeUndefined();

    c = await startCentralProcess({ ...where, port: c.port, env: { TILLSYNC_AUTO_SYNC: 'false' } });
    await waitUntil('the agent back online with every outbox entry synced', () => modeOf(r) === 'ONLINE' && synced() === SALES * 3, {
      timeout: 60_000,
      diagnose: () => `${JSON.stringify(outboxSummary(r))}\n${agent.tail()}`,
    });
    expect(agent.stdout()).toContain('central unreachable: offline');
    expect(agent.stdout()).toContain('central reachable: online');
    expect(outboxSummary(r)).toEqual({ total: SALES * 3, pending: 0, failed: 0, synced: SALES * 3, conflict: 0 });
    // Its socket found the new central too (triggers reach it again).
    await waitUntil(
      'the agent socket registered with the restarted central',
      async () => {
        const list = await c.admin.get('/api/terminals');
        return (list.body.terminals as { terminalId: string; connected: boolean }[]).some((x) => x.terminalId === t.terminalId && x.connected);
      },
      { timeout: 30_000, diagnose: () => agent.tail() },
    );
    expect((await agent.stop()).code, agent.tail()).toBe(0);

    if (tdb) {
      await expectEachSaleOnce(tdb, t.storeId, path, orderNumbers);
      await c.proc.stop();
    } else {
      // PGlite on disk belongs to one process: stop central, then look at its data.
      expect((await c.proc.stop()).code, c.proc.tail()).toBe(0);
      const db = await openPglite((data as { path: string }).path);
      try {
        await expectEachSaleOnce({ db }, t.storeId, path, orderNumbers);
        expect(await answersOfTerminal({ db }, t.terminalId)).toBe(SALES * 3);
      } finally {
        await db.close();
      }
    }
  });
});
