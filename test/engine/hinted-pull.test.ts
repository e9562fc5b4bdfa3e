/**
 * Delivery down, end to end: HQ changes a price by plain SQL and the till holds it
 * within a second or two, with the interval an hour away (the engine pulls on central's
 * `sync:changes` hint); a till that was disconnected pulls what it missed when it
 * comes back. Real central, real database, real socket, the engine's real schedule.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { SyncService } from '../../src/main/sync/sync-service.js';
import { onPostgres, useCentral } from '../helpers/central.js';
import { closeAll, engineConfig, startEngine, testLogger } from '../helpers/engine.js';
import { socketRegistered } from '../helpers/fleet.js';
import { waitUntil } from '../helpers/processes.js';

afterAll(closeAll);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const running: SyncService[] = [];
afterAll(async () => {
  for (const s of running) await s.stop();
});

describe('HQ change at the till', () => {
  const c = useCentral();

  it('a price changed by plain SQL at central is applied on the till within seconds, long before the interval', async () => {
    const product = randomUUID();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'Tea', 3)`, [product, `TEA-${product.slice(0, 6)}`]);
    const e = await startEngine(c, { initialSync: true });
    expect(e.row('products', product)).toMatchObject({ price: 3 });
    await e.service.stop();
    const service = new SyncService(e.store, engineConfig(c.url, e.terminal.apiKey, { realtime: true, syncInterval: 3600, heartbeatInterval: 3600 }), testLogger());
    running.push(service);
    await service.initialize(e.terminal.terminalId);
    await waitUntil('the start-up sync', () => service.status().lastSyncAt !== null, { timeout: 10_000 });
    await socketRegistered(c, e.terminal.terminalId);

    for (const price of [4.5, 5.25]) {
      const started = Date.now();
      await c.db.query('UPDATE products SET price = $2 WHERE id = $1', [product, price]);
      await waitUntil(`price ${price} on the till`, () => Number(e.row('products', product)?.price) === price, { timeout: 5_000, interval: 10 });
      expect(Date.now() - started).toBeLessThan(5_000);
    }

    // Disconnected (the socket down, so no hint can come), HQ changes it again; back, the till catches up.
    await service.stop();
    await c.db.query('UPDATE products SET price = 6 WHERE id = $1', [product]);
    const back = new SyncService(e.store, engineConfig(c.url, e.terminal.apiKey, { realtime: true, syncInterval: 3600, heartbeatInterval: 3600 }), testLogger());
    running.push(back);
    await back.initialize(e.terminal.terminalId);
    await waitUntil('price 6 after reconnecting', () => Number(e.row('products', product)?.price) === 6, { timeout: 10_000, interval: 10 });
  });

  // PGlite runs one transaction at a time: no other transaction can be open while HQ writes.
  it.skipIf(!onPostgres)('a change committed while an older transaction is still open reaches the till within a second of that transaction ending', async () => {
    const product = randomUUID();
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $2, 'Coffee', 3)`, [product, `COF-${product.slice(0, 6)}`]);
    const e = await startEngine(c, { initialSync: true });
    await e.service.stop();
    const service = new SyncService(e.store, engineConfig(c.url, e.terminal.apiKey, { realtime: true, syncInterval: 3600, heartbeatInterval: 3600 }), testLogger());
    running.push(service);
    await service.initialize(e.terminal.terminalId);
    await socketRegistered(c, e.terminal.terminalId);
    // A back-office transaction begins (and takes a transaction id) and stays open: pulls
    // serve nothing committed after it began until it ends (the gapless cursor).
    let release: () => void = () => undefined;
    let begun: () => void = () => undefined;
    const begunNow = new Promise<void>((r) => (begun = r));
    const office = c.db.transaction(async (tx) => {
      await tx.query('SELECT pg_current_xact_id()');
      begun();
      await new Promise<void>((r) => (release = r));
    });
    await begunNow;
    await c.db.query('UPDATE products SET price = 4 WHERE id = $1', [product]);
    await sleep(1_000); // hinted now, the pull would find nothing, and no hint would follow
    expect(Number(e.row('products', product)?.price)).toBe(3);
    release();
    await office;
    const ended = Date.now();
    await waitUntil('price 4 on the till', () => Number(e.row('products', product)?.price) === 4, { timeout: 5_000, interval: 10 });
    expect(Date.now() - ended).toBeLessThan(1_000);
  });

  it('a row merged by a hinted pull goes up to central at once, not with the next sale or the interval', async () => {
    const customer = randomUUID();
    await c.db.query(`INSERT INTO customers (id, name, loyalty_points) VALUES ($1, 'Merged', 10)`, [customer]);
    const e = await startEngine(c, { initialSync: true });
    expect(e.row('customers', customer)).toMatchObject({ loyalty_points: 10 });
    await e.service.stop();
    // The till's +5 was given up after its retries (failed): it is not pushed on its own.
    e.pos().prepare('UPDATE customers SET loyalty_points = loyalty_points + 5 WHERE server_id = ?').run(customer);
    e.store.capture.promote();
    e.store.base.db.prepare(`UPDATE tillsync_outbox SET status = 'failed', attempts = 3, last_error = 'given up' WHERE table_name = 'customers' AND server_id = ?`).run(customer);
    const service = new SyncService(e.store, engineConfig(c.url, e.terminal.apiKey, { realtime: true, syncInterval: 3600, heartbeatInterval: 3600 }), testLogger());
    running.push(service);
    const started = new Date().toISOString();
    await service.initialize(e.terminal.terminalId);
    // The start-up pass has ended (the earlier engine's last sync time is in the file too).
    await waitUntil('the start-up sync', () => (service.status().lastSyncAt ?? '') > started, { timeout: 10_000 });
    await socketRegistered(c, e.terminal.terminalId);

    // HQ adds 10 points: the hinted pull merges the counters (10 + 5 + 10) and queues the
    // merged row for central, which must get it without another commit at the till.
    await c.db.query('UPDATE customers SET loyalty_points = 20 WHERE id = $1', [customer]);
    await waitUntil('the merged row on the till', () => Number(e.row('customers', customer)?.loyalty_points) === 25, { timeout: 5_000, interval: 10 });
    await waitUntil(
      'the merged row at central',
      async () => Number((await c.db.query<{ p: number }>('SELECT loyalty_points AS p FROM customers WHERE id = $1', [customer])).rows[0]?.p) === 25,
      { timeout: 5_000, interval: 20 },
    );
    await waitUntil('its answer recorded', () => e.outbox({ serverId: customer, status: 'pending' }).length === 0, { timeout: 5_000, interval: 20 });
  });
});
