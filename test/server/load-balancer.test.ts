/**
 * Central behind a load balancer (issue 19): two central processes on one PostgreSQL
 * behind a TCP balancer that sends new connections only to instances whose /readyz is
 * 200 (test/helpers/balancer.ts), a till (the agent process) selling continuously
 * through it, and SIGTERM to the instance carrying the till's socket and pushes while a
 * push forwarded to it is unanswered. The drained instance exits 0; the push it had
 * under way is answered 200; every sale reaches central exactly once; the till's outbox
 * drains; nobody sees a 5xx; the till's socket is back, on the other instance.
 *
 * On PGlite the two instances cannot run side by side (a PGlite database belongs to the
 * one process that opened it), so B starts on A's data directory once A has exited: a
 * rolling restart behind the balancer, with the same assertions (sales rung up while
 * no instance is ready wait in the till's outbox).
 */
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startBalancer, type Balancer, type Exchange } from '../helpers/balancer.js';
import { openPglite } from '../../src/server/db/database.js';
import { onPostgres, testDatabase, type TestDatabase } from '../helpers/central.js';
import {
  addLocalStore,
  freePort,
  killAll,
  newTerminalDb,
  openPos,
  openReader,
  outboxSummary,
  provisionOn,
  ringUpSales,
  sleep,
  startAgent,
  startCentralProcess,
  tempDir,
  waitUntil,
  type CentralProcess,
} from '../helpers/processes.js';

/** Sales rung up in all, one every SALE_EVERY_MS; the drain comes after DRAIN_AFTER of them. */
const SALES = 150;
const DRAIN_AFTER = 30;
const SALE_EVERY_MS = 20;

describe('two central instances behind a load balancer, one drained mid-push', () => {
  let tdb: TestDatabase | undefined;
  let lb: Balancer | undefined;
  let dir: ReturnType<typeof tempDir> | undefined;
  const connections: Database.Database[] = [];
  afterAll(async () => {
    await lb?.close();
    await killAll();
    for (const c of connections.splice(0)) c.close();
    await tdb?.close();
    dir?.remove();
  });

  it('nothing lost, no 5xx, the drained instance exits 0 and the socket moves to the other', { timeout: 180_000 }, async () => {
    dir = tempDir('tillsync-lb-');
    const centralDir = join(dir.path, 'central');
    tdb = onPostgres ? await testDatabase() : undefined;
    // Both on one PostgreSQL database; on PGlite, B on A's data directory after A.
    const where = tdb ? { databaseUrl: tdb.url as string } : { dataDir: centralDir };
    const env = { TILLSYNC_DRAIN_TIMEOUT_MS: '20000', TILLSYNC_AUTO_SYNC: 'off', TILLSYNC_PURGE_INTERVAL: '0' };
    const a = await startCentralProcess({ ...where, env });
    // B is started later: until then every connection the till opens (its HTTP and its socket) is A's.
    const later: { b?: CentralProcess } = {};
    const bPort = await freePort();
    const startB = async () => {
      later.b = await startCentralProcess({ ...where, port: bPort, env });
      return later.b;
    };
    lb = await startBalancer([
      { name: 'A', port: a.port },
      { name: 'B', port: bPort },
    ]);
    const balancer = lb;
    const diagnose = () => `${a.proc.tail(2000)}\n${later.b?.proc.tail(2000) ?? ''}\n${agent.tail(3000)}`;

    const t = await provisionOn(balancer.url, 'lb-store', 'lb-till');
    const path = await newTerminalDb(join(dir.path, 'till.db'));
    const pos = openPos(path);
    connections.push(pos);
    const storeLocalId = addLocalStore(pos, t.storeId);
    const reader = openReader(path);
    connections.push(reader);
    const agent = startAgent({ databasePath: path, centralUrl: balancer.url, apiKey: t.apiKey, terminalId: t.terminalId });
    const upgrades = () => balancer.exchanges.filter((e) => e.path.startsWith('/socket.io/') && e.status === 101);
    await waitUntil('the till socket on A', () => upgrades().some((e) => e.backend === 'A'), { diagnose, timeout: 30_000 });

    const bStarted = onPostgres ? startB() : a.proc.exited.then(startB);
    if (onPostgres) await bStarted;
    await waitUntil('B ready at the balancer', () => !onPostgres || balancer.ready().includes('B'), { diagnose });

    // SIGTERM to A while a push forwarded to it is unanswered, once DRAIN_AFTER sales are rung
    // up. A moment after forwarding, so that A has read the request: a request still unread
    // in a connection's buffer when the drain closes idle connections is lost like any request
    // on a keep-alive connection closing under it (the till retries it; HTTP/1.1 keep-alive's
    // own race), and this test is about the push A has under way.
    let armed = false;
    let waiting = false;
    let inFlight: Exchange | undefined;
    let upgradesBefore = 0;
    balancer.onRequest((e) => {
      if (!armed || waiting || inFlight || e.backend !== 'A' || e.method !== 'POST' || e.path !== '/api/sync/push') return;
      waiting = true;
      setTimeout(() => {
        waiting = false;
        if (e.status !== undefined) return; // answered already: the next one
        inFlight = e;
        upgradesBefore = upgrades().length;
        a.proc.child.kill('SIGTERM');
      }, 2);
    });

    const numbers: string[] = [];
    for (let i = 0; i < SALES; i++) {
      numbers.push(...ringUpSales(pos, { storeLocalId, prefix: `LB${i}`, count: 1 }));
      if (i + 1 === DRAIN_AFTER) armed = true;
      await sleep(SALE_EVERY_MS);
    }
    expect(inFlight, 'a push was forwarded to A after the drain was armed').toBeDefined();

    const exit = await a.proc.exited;
    expect(exit, a.proc.tail()).toEqual({ code: 0, signal: null });
    expect(inFlight?.status, 'the push in flight when A was told to stop').toBe(200);
    expect(a.proc.stdout()).toMatch(/"msg":"drained; exiting"/);
    const b = await bStarted;

    // Every sale at central exactly once, and the till's outbox empty.
    await waitUntil('the outbox drained', () => outboxSummary(reader).pending === 0, { timeout: 60_000, diagnose });
    const local = reader.prepare('SELECT server_id AS id FROM orders ORDER BY id').all() as { id: string | null }[];
    expect(local).toHaveLength(SALES);
    const ordersAtCentral = async () => {
      const sql = 'SELECT id, order_number FROM orders WHERE store_id = $1';
      if (tdb) return (await tdb.db.query<{ id: string; order_number: string }>(sql, [t.storeId])).rows;
      // PGlite: read once B has stopped (its database is B's while it runs).
      expect((await b.proc.stop()).code, b.proc.tail()).toBe(0);
      const db = await openPglite(centralDir);
      try {
        return (await db.query<{ id: string; order_number: string }>(sql, [t.storeId])).rows;
      } finally {
        await db.close();
      }
    };

    // The socket came back, on B.
    await waitUntil('the socket upgraded again after the drain', () => upgrades().length > upgradesBefore, { diagnose });
    expect(upgrades().slice(upgradesBefore).map((e) => e.backend)).toEqual(['B']);
    await waitUntil('B to show the till connected', async () => {
      const r = await b.admin.get('/api/terminals');
      return (r.body.terminals as { terminalId: string; connected: boolean }[]).some((x) => x.terminalId === t.terminalId && x.connected);
    }, { diagnose });

    // Every sale at central exactly once (B stops first on PGlite: last, as it must still answer above).
    expect((await agent.stop()).code, agent.tail()).toBe(0);
    const central = await ordersAtCentral();
    expect(central.map((r) => r.id).sort()).toEqual(local.map((r) => r.id).sort());
    expect(central.map((r) => r.order_number).sort()).toEqual([...numbers].sort());
    expect(outboxSummary(reader)).toMatchObject({ pending: 0, failed: 0, conflict: 0 });

    // Nobody saw a 5xx: every response through the balancer, by status.
    const statuses = new Map<string, number>();
    for (const e of balancer.exchanges) statuses.set(String(e.status ?? 'none'), (statuses.get(String(e.status ?? 'none')) ?? 0) + 1);
    const serverErrors = balancer.exchanges.filter((e) => e.status !== undefined && e.status >= 500);
    expect(serverErrors, JSON.stringify([...statuses])).toEqual([]);
    const pushes = balancer.exchanges.filter((e) => e.path === '/api/sync/push');
    expect(pushes.filter((e) => e.backend === 'A').length).toBeGreaterThan(0);
    expect(pushes.filter((e) => e.backend === 'B').length).toBeGreaterThan(0);

    if (!b.proc.exit) expect((await b.proc.stop()).code, b.proc.tail()).toBe(0);
  });
});
