/**
 * The agent process (`node bin/tillsync.mjs agent`) and what it does between
 * schedules: the CRITICAL fast path (another process's commit, noticed through
 * SQLite's data_version), socket.io triggers and acknowledgements, a full pass after
 * central comes back, and heartbeats carrying the outbox counts.
 */
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { LocalStore } from '../../src/main/sync/store/index.js';
import { SyncService } from '../../src/main/sync/sync-service.js';
import { DEFAULT_SYNC_CONFIG } from '../../src/main/sync/sync-config.js';
import { startCentral, testDatabase, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';
import {
  addLocalStore,
  cleanEnv,
  freePort,
  historyOf,
  killAll,
  newTerminalDb,
  openPos,
  openReader,
  outboxSummary,
  ringUpSales,
  sleep,
  spawnProc,
  startAgent,
  tempDir,
  waitUntil,
  type AgentSettings,
  type Proc,
} from '../helpers/processes.js';
import { count } from '../helpers/sync.js';

let dir: ReturnType<typeof tempDir>;
let tdb: TestDatabase;
const connections: Database.Database[] = [];

beforeAll(async () => {
  dir = tempDir('tillsync-realtime-');
  tdb = await testDatabase();
});
afterAll(async () => {
  await killAll();
  for (const c of connections.splice(0)) c.close();
  await tdb?.close();
  dir?.remove();
});

/** A new terminal database with its store row; a read-only connection to watch it. */
async function terminal(name: string, storeId: string): Promise<{ path: string; reader: Database.Database }> {
  const path = await newTerminalDb(join(dir.path, `${name}.db`));
  const pos = openPos(path);
  addLocalStore(pos, storeId);
  pos.close();
  const reader = openReader(path);
  connections.push(reader);
  return { path, reader };
}

const startupDone = (reader: Database.Database) => historyOf(reader).some((h) => h.trigger === 'startup' && h.finished_at !== null);

/** Whether central's fleet list shows the terminal's socket as connected. */
async function socketConnected(c: TestCentral, terminalId: string): Promise<boolean> {
  const r = await c.admin.get('/api/terminals');
  return (r.body.terminals as { terminalId: string; connected: boolean }[]).some((x) => x.terminalId === terminalId && x.connected);
}

describe('the CRITICAL fast path', () => {
  let c: TestCentral;
  beforeAll(async () => {
    c = await startCentral({ db: tdb.db });
  });
  afterEach(killAll);
  afterAll(async () => c?.close());

  it('a completed sale committed by another process reaches central without waiting for the sync interval', { timeout: 60_000 }, async () => {
    const t = await c.provision('fast-store', 'fast-t1');
    const { path, reader } = await terminal('fast', t.storeId);
    const agent = startAgent(
      { databasePath: path, centralUrl: c.url, apiKey: t.apiKey, terminalId: t.terminalId },
      { TILLSYNC_SYNC_INTERVAL: '3600', TILLSYNC_HEARTBEAT_INTERVAL: '3600' },
    );
    await waitUntil('the startup pass', () => startupDone(reader), { diagnose: () => agent.tail() });

    // The POS, a process of its own, rings up a completed sale.
    const pos = spawnProc('pos', ['--import', 'tsx', 'test/fixtures/proc-sale.ts', path, 'FAST-1', 'completed'], cleanEnv());
    expect((await pos.exited).code, pos.tail()).toBe(0);
    const sale = JSON.parse(pos.stdout().trim()) as { orderNumber: string };

    await waitUntil('the sale at central', async () => (await count(c, 'orders WHERE order_number = $1 AND store_id = $2', [sale.orderNumber, t.storeId])) === 1, {
      timeout: 10_000,
      diagnose: () => agent.tail(),
    });
    expect(await count(c, 'payments WHERE store_id = $1', [t.storeId])).toBe(1);
    expect(await count(c, 'order_items WHERE store_id = $1', [t.storeId])).toBe(1);
    await waitUntil('the sale synced locally', () => outboxSummary(reader).synced === 3);
    // No pass ran besides the startup one: the commit itself was the signal (History lists its push, kind CRITICAL).
    expect(historyOf(reader).filter((h) => h.trigger !== 'commit').map((h) => h.trigger)).toEqual(['startup']);
    expect(historyOf(reader).some((h) => h.trigger === 'commit' && h.kind === 'CRITICAL' && h.pushed > 0)).toBe(true);
    expect((await agent.stop()).code, agent.tail()).toBe(0);
  });
});

/** POST /api/sync/all for the terminal; waits for the pass it causes and central's record of the ack. */
async function triggerAndAck(c: TestCentral, t: ProvisionedTerminal, reader: Database.Database, reason: string, diagnose: () => string): Promise<void> {
  const before = historyOf(reader).length;
  const r = await t.api.post('/api/sync/all', { terminalId: t.terminalId, type: 'FULL', reason });
  expect(r.status, r.text).toBe(200);
  expect(r.body.triggered).toEqual([t.terminalId]);
  await waitUntil(
    `a pass with trigger trigger:${reason}`,
    () => historyOf(reader).slice(before).some((h) => h.trigger === `trigger:${reason}` && h.kind === 'FULL' && h.finished_at !== null),
    { timeout: 10_000, diagnose: () => `${JSON.stringify(historyOf(reader))}\n${diagnose()}` },
  );
  await waitUntil(
    `central to record the sync:ack of the ${reason} trigger`,
    async () => {
      const rows = await c.db.query<{ acked_at: string | null }>('SELECT acked_at FROM sync_triggers WHERE terminal_id = $1 AND reason = $2', [t.terminalId, reason]);
      return rows.rows.length === 1 && rows.rows[0]?.acked_at !== null;
    },
    { timeout: 10_000, diagnose },
  );
}

describe('socket.io triggers and reconnects of the agent process', () => {
  let port = 0;
  let c: TestCentral;
  let t: ProvisionedTerminal;
  let agent: Proc;
  let reader: Database.Database;

  beforeAll(async () => {
    port = await freePort();
    c = await startCentral({ db: tdb.db, config: { port } });
    t = await c.provision('socket-store', 'socket-t1');
    const term = await terminal('socket', t.storeId);
    reader = term.reader;
    const settings: AgentSettings = { databasePath: term.path, centralUrl: `http://127.0.0.1:${port}`, apiKey: t.apiKey, terminalId: t.terminalId };
    agent = startAgent(settings, { TILLSYNC_SYNC_INTERVAL: '3600', TILLSYNC_HEARTBEAT_INTERVAL: '1', TILLSYNC_RETRY_DELAY: '200' });
    await waitUntil('the startup pass', () => startupDone(reader), { diagnose: () => agent.tail() });
    await waitUntil('the agent socket registered', () => socketConnected(c, t.terminalId), { diagnose: () => agent.tail() });
  });
  afterAll(async () => {
    await agent?.stop();
    await c?.close();
  });

  it('POST /api/sync/all makes the agent run a sync and sync:ack it', { timeout: 30_000 }, async () => {
    await triggerAndAck(c, t, reader, 'MANUAL', () => agent.tail());
  });

  it('the agent keeps running while central restarts gracefully, and runs a full pass by itself when it is back (reconnect or back-online)', { timeout: 60_000 }, async () => {
    const before = historyOf(reader).length;
    await c.close(); // what central does on SIGTERM
    await sleep(2_000); // long enough for a heartbeat to miss central
    const exitWhileDown = agent.exit;
    c = await startCentral({ db: tdb.db, config: { port } });
    expect(exitWhileDown, `the agent exited while central was down:\n${agent.tail()}`).toBeUndefined();
    const pass = await waitUntil(
      'a full pass after the restart',
      () => historyOf(reader).slice(before).find((h) => h.kind === 'FULL' && ['reconnect', 'back-online'].includes(h.trigger) && h.finished_at !== null),
      { timeout: 30_000, diagnose: () => `${JSON.stringify(historyOf(reader))}\n${agent.tail()}` },
    );
    expect(pass.errors).toBeNull();
  });

  it("after central's graceful restart the agent's socket is registered again and triggers still reach it", { timeout: 60_000 }, async () => {
    await waitUntil('the agent socket registered again', () => socketConnected(c, t.terminalId), {
      timeout: 10_000,
      diagnose: () => `agent exit: ${JSON.stringify(agent.exit)}\n${agent.tail()}`,
    });
    await triggerAndAck(c, t, reader, 'AFTER_RESTART', () => agent.tail());
  });
});

describe('socket.io reconnect of the engine in process', () => {
  it("the engine's socket registers again after central's graceful restart, and a trigger sent then is run and acknowledged", { timeout: 60_000 }, async () => {
    const port = await freePort();
    let c = await startCentral({ db: tdb.db, config: { port } });
    const t = await c.provision('socket-store', 'socket-t2');
    const { path, reader } = await terminal('socket-in-process', t.storeId);
    const store = new LocalStore(path, t.terminalId);
    const service = new SyncService(
      store,
      { ...DEFAULT_SYNC_CONFIG, centralUrl: `http://127.0.0.1:${port}`, apiKey: t.apiKey, syncInterval: 3600, heartbeatInterval: 3600, retryDelay: 200 },
      pino({ level: 'silent' }),
    );
    try {
      await service.initialize(t.terminalId);
      await waitUntil('the engine socket registered', () => socketConnected(c, t.terminalId));
      await triggerAndAck(c, t, reader, 'BEFORE_RESTART', () => '');
      await c.close();
      await sleep(1_000);
      c = await startCentral({ db: tdb.db, config: { port } });
      await waitUntil('the engine socket registered again', () => socketConnected(c, t.terminalId), { timeout: 10_000 });
      await triggerAndAck(c, t, reader, 'AFTER_RESTART_2', () => '');
    } finally {
      await service.stop();
      store.close();
      await c.close();
    }
  });
});

describe('heartbeats', () => {
  let c: TestCentral;
  beforeAll(async () => {
    c = await startCentral({ db: tdb.db });
  });
  afterEach(killAll);
  afterAll(async () => c?.close());

  it("carry the outbox counts: after a heartbeat, GET /api/sync/status shows the terminal's pending counts per table", { timeout: 60_000 }, async () => {
    const t = await c.provision('beat-store', 'beat-t1');
    const { path, reader } = await terminal('beat', t.storeId);
    const agent = startAgent(
      { databasePath: path, centralUrl: c.url, apiKey: t.apiKey, terminalId: t.terminalId },
      { TILLSYNC_SYNC_INTERVAL: '3600', TILLSYNC_HEARTBEAT_INTERVAL: '1' },
    );
    await waitUntil('the startup pass', () => startupDone(reader), { diagnose: () => agent.tail() });

    // Lower priorities wait for the (hour-long) interval; a completed sale goes at once.
    const pos = openPos(path);
    try {
      const store = (pos.prepare('SELECT id FROM stores LIMIT 1').get() as { id: number }).id;
      for (let i = 0; i < 3; i++) pos.prepare(`INSERT INTO customers (name, email) VALUES (?, ?)`).run(`Beat ${i}`, `beat${i}@example.test`);
      for (let i = 0; i < 2; i++) pos.prepare(`INSERT INTO audit_logs (store_id, action) VALUES (?, 'drawer.open')`).run(store);
      ringUpSales(pos, { storeLocalId: store, prefix: 'BEAT-P', count: 1, status: 'pending' });
      ringUpSales(pos, { storeLocalId: store, prefix: 'BEAT-C', count: 1, status: 'completed' });
    } finally {
      pos.close();
    }

    const expected = { Customer: 3, AuditLog: 2, SaleOrder: 1, SaleOrderItem: 1 };
    const status = await waitUntil(
      "central's status to show the terminal's pending counts",
      async () => {
        const r = await t.api.get('/api/sync/status', { terminalId: t.terminalId });
        if (r.status !== 200) throw new Error(`${r.status} ${r.text}`);
        const tables = r.body.tables as Record<string, { pending: number; failed: number; synced: number; conflicts: number }>;
        const ok = Object.entries(expected).every(([k, n]) => tables[k]?.pending === n) && tables.Payment?.synced === 1;
        return ok ? r.body : undefined;
      },
      { timeout: 15_000, diagnose: () => agent.tail() },
    );
    expect(status.terminalId).toBe(t.terminalId);
    expect(status.totals.pending).toBe(7);
    expect(status.totals.failed).toBe(0);
    expect(status.tables.Payment).toMatchObject({ pending: 0, synced: 1 });
    expect(status.tables.SaleOrder).toMatchObject({ pending: 1, synced: 1 });
    expect(status.tables.Product).toEqual({ pending: 0, failed: 0, synced: 0, conflicts: 0 });
    // The same numbers the terminal has.
    const local = reader.prepare(`SELECT table_name, count(*) AS n FROM tillsync_outbox WHERE status = 'pending' GROUP BY table_name ORDER BY table_name`).all();
    expect(local).toEqual([
      { table_name: 'audit_logs', n: 2 },
      { table_name: 'customers', n: 3 },
      { table_name: 'order_items', n: 1 },
      { table_name: 'orders', n: 1 },
    ]);
    expect((await agent.stop()).code, agent.tail()).toBe(0);
  });
});
