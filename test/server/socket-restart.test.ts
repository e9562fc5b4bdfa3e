/**
 * A plain socket.io client across a graceful restart of central (SIGTERM, then the
 * same port and database again), written exactly like the seed's example:
 *
 *   const socket = io('http://central-server:4000');
 *   socket.emit('terminal:register', { terminalId: 'terminal-123' });
 *   socket.on('sync:trigger', (data) => { ... });
 *
 * (plus `auth: { token }`, which central requires). It registers once, right after
 * io(), not in a 'connect' handler, and has no reconnect logic of its own: whatever
 * brings it back after the restart and gets it the SERVER_RESTART trigger the seed
 * promises must be socket.io-client's defaults and central. A client that registers
 * in its 'connect' handler is checked beside it, and the seed's client after a lost
 * connection with central up (it must be registered again there too).
 *
 * Restarted central runs as separate processes: PGlite on disk by default,
 * PostgreSQL when TEST_DATABASE_URL is set. Two instances need PostgreSQL (PGlite is
 * one process's).
 */
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SyncTrigger } from '../../src/shared/protocol.js';
import { ApiClient, onPostgres, testDatabase, useCentral, type TestDatabase } from '../helpers/central.js';
import { killAll, provisionOn, startCentralProcess, tempDir, waitUntil, type CentralProcess, type CentralProcessOptions } from '../helpers/processes.js';

/** What a restarted central is started with: auto-sync on, soon (the seed's 2 s shortened). */
const RESTARTED = { TILLSYNC_AUTO_SYNC: 'true', TILLSYNC_AUTO_SYNC_DELAY_MS: '300' };
/** The first start: no auto-sync, so every SERVER_RESTART trigger seen comes from a restart. */
const FIRST = { TILLSYNC_AUTO_SYNC: 'false' };

interface PlainClient {
  readonly name: string;
  readonly terminalId: string;
  readonly socket: Socket;
  readonly triggers: SyncTrigger[];
  /** Every disconnect reason, in order. */
  readonly disconnects: string[];
  /** How often it connected (1 + its reconnects). */
  connects: number;
  describe(): string;
}

const clients: PlainClient[] = [];

function track(name: string, terminalId: string, socket: Socket): PlainClient {
  const c: PlainClient = {
    name,
    terminalId,
    socket,
    triggers: [],
    disconnects: [],
    connects: 0,
    describe: () =>
      `${name}: connected=${socket.connected} active=${socket.active} connects=${c.connects} disconnects=${JSON.stringify(c.disconnects)} triggers=${JSON.stringify(c.triggers)}`,
  };
  socket.on('connect', () => c.connects++);
  socket.on('disconnect', (reason) => c.disconnects.push(reason));
  clients.push(c);
  return c;
}

/** The seed's example, word for word but for the key: io(url), register once, listen. */
function seedClient(url: string, terminalId: string, token: string): PlainClient {
  const socket = io(url, { auth: { token } });
  socket.emit('terminal:register', { terminalId });
  const c = track('seed client (registers once)', terminalId, socket);
  socket.on('sync:trigger', (data: SyncTrigger) => c.triggers.push(data));
  return c;
}

/** The other common way: register in the 'connect' handler, so again on every reconnect. */
function registerOnConnectClient(url: string, terminalId: string, token: string): PlainClient {
  const socket = io(url, { auth: { token } });
  socket.on('connect', () => socket.emit('terminal:register', { terminalId }));
  const c = track('client registering on connect', terminalId, socket);
  socket.on('sync:trigger', (data: SyncTrigger) => c.triggers.push(data));
  return c;
}

/** Whether this central counts the terminal as connected: a socket of it registered there. */
async function registeredIn(admin: ApiClient, terminalId: string): Promise<boolean> {
  const list = await admin.get('/api/terminals');
  return (list.body.terminals as { terminalId: string; connected: boolean }[]).some((t) => t.terminalId === terminalId && t.connected);
}
const registered = (c: CentralProcess, terminalId: string) => registeredIn(c.admin, terminalId);

/** SIGTERM: must exit 0, promptly, with plain clients connected. */
async function sigterm(c: CentralProcess): Promise<void> {
  const t0 = Date.now();
  const exit = await c.proc.stop('SIGTERM', 10_000);
  expect(exit, c.proc.tail()).toEqual({ code: 0, signal: null });
  expect(Date.now() - t0, 'SIGTERM took too long').toBeLessThan(5_000);
}

/** Waits until `client` holds a SERVER_RESTART trigger not among `before` (triggerIds); returns it. */
async function restartTrigger(client: PlainClient, before: ReadonlySet<string | undefined>, central: () => string): Promise<SyncTrigger> {
  return waitUntil(
    `${client.name} to receive a new SERVER_RESTART trigger`,
    () => client.triggers.find((t) => t.reason === 'SERVER_RESTART' && !before.has(t.triggerId)),
    // The restarted central starts in a few seconds; socket.io-client's default backoff
    // (1 s doubling to 5 s, +-50%) brings the client back within about 5 s of that.
    { timeout: 30_000, interval: 50, diagnose: () => `${client.describe()}\n${central()}` },
  );
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.disconnect();
  await killAll();
});

describe('a plain socket.io client across a graceful restart of central', () => {
  let tdb: TestDatabase | undefined;
  let data: ReturnType<typeof tempDir> | undefined;
  afterAll(async () => {
    await killAll();
    await tdb?.close();
    data?.remove();
  });

  it('reconnects by itself after SIGTERM and receives the SERVER_RESTART trigger of the central started again on the same port and database', { timeout: 90_000 }, async () => {
    if (onPostgres) tdb = await testDatabase();
    else data = tempDir('tillsync-socket-restart-');
    const where: CentralProcessOptions = tdb ? { databaseUrl: tdb.url as string } : { dataDir: (data as { path: string }).path };
    const first = await startCentralProcess({ ...where, env: FIRST });
    const seed = await provisionOn(first.url, 'restart-store', 'restart-seed');
    const other = await provisionOn(first.url, 'restart-store', 'restart-on-connect');
    const a = seedClient(first.url, seed.terminalId, seed.apiKey);
    const b = registerOnConnectClient(first.url, other.terminalId, other.apiKey);
    for (const cl of [a, b]) {
      await waitUntil(`${cl.name} registered`, () => registered(first, cl.terminalId), { diagnose: () => `${cl.describe()}\n${first.proc.tail()}` });
    }

    await sigterm(first);
    // Seen by the client as a lost transport, which socket.io-client reconnects after;
    // not 'io server disconnect', after which it never does.
    for (const cl of [a, b]) {
      await waitUntil(`${cl.name} to see the disconnect`, () => cl.disconnects.length > 0, { timeout: 5_000, diagnose: cl.describe });
      expect(cl.disconnects, cl.describe()).toEqual(['transport close']);
      expect(cl.socket.active, `${cl.name} gave up reconnecting`).toBe(true);
    }

    const again = await startCentralProcess({ ...where, port: first.port, env: RESTARTED });
    for (const cl of [a, b]) {
      const t = await restartTrigger(cl, new Set(), () => again.proc.tail());
      expect(t).toMatchObject({ type: 'FULL', terminalId: cl.terminalId, reason: 'SERVER_RESTART' });
      expect(cl.connects, cl.describe()).toBe(2);
    }
    // Both count as registered at the restarted central, the seed client without registering again.
    expect(await registered(again, seed.terminalId)).toBe(true);
    expect(await registered(again, other.terminalId)).toBe(true);
    await sigterm(again);
  });
});

describe('a plain socket.io client whose connection drops while central stays up', () => {
  const c = useCentral();

  it('is registered again when it reconnects, without registering again, and gets the triggers asked from then on', async () => {
    const t = await c.provision('blip-store', 'blip-seed');
    const client = seedClient(c.url, t.terminalId, t.apiKey);
    await waitUntil('the client registered', () => client.connects === 1 && registeredIn(c.admin, t.terminalId), { diagnose: client.describe });
    // A lost transport, as a network blip would leave it (socket.io-client reconnects after it).
    client.socket.io.engine.close();
    await waitUntil('the client back', () => client.connects === 2, { diagnose: client.describe });
    expect((await c.admin.post('/api/sync/all', { terminalId: t.terminalId, reason: 'AFTER_BLIP' })).status).toBe(200);
    await waitUntil('the trigger asked after the reconnect', () => client.triggers.some((x) => x.reason === 'AFTER_BLIP'), { diagnose: client.describe });
    expect(client.triggers.map((x) => x.reason)).toEqual(['AFTER_BLIP']);
  });
});

describe.skipIf(!onPostgres)('a plain socket.io client across a rolling restart of two instances on one PostgreSQL', () => {
  // Skipped on PGlite: its database belongs to one process, so two central processes cannot share it.
  let tdb: TestDatabase | undefined;
  afterAll(async () => {
    await killAll();
    await tdb?.close();
  });

  it("on A: comes back by itself when A restarts, gets A's SERVER_RESTART, then B's through NOTIFY when B restarts", { timeout: 120_000 }, async () => {
    tdb = await testDatabase();
    const databaseUrl = tdb.url as string;
    let a = await startCentralProcess({ databaseUrl, env: FIRST });
    let b = await startCentralProcess({ databaseUrl, env: FIRST });
    const t = await provisionOn(a.url, 'rolling-store', 'rolling-seed');
    const client = seedClient(a.url, t.terminalId, t.apiKey);
    await waitUntil('the client registered on A', () => registered(a, t.terminalId), { diagnose: () => `${client.describe()}\n${a.proc.tail()}` });
    // B sees it through the shared database only as a terminal, not as its socket.
    expect(await registered(b, t.terminalId)).toBe(false);

    await sigterm(a);
    a = await startCentralProcess({ databaseUrl, port: a.port, env: RESTARTED });
    const fromA = await restartTrigger(client, new Set(), () => a.proc.tail());
    expect(fromA).toMatchObject({ type: 'FULL', terminalId: t.terminalId, reason: 'SERVER_RESTART' });
    expect(client.disconnects, client.describe()).toEqual(['transport close']);

    // B restarts: the client stays on A, which delivers B's trigger live (LISTEN/NOTIFY).
    await sigterm(b);
    b = await startCentralProcess({ databaseUrl, port: b.port, env: RESTARTED });
    const fromB = await restartTrigger(client, new Set([fromA.triggerId]), () => `${b.proc.tail()}\n${a.proc.tail()}`);
    expect(fromB).toMatchObject({ type: 'FULL', terminalId: t.terminalId, reason: 'SERVER_RESTART' });
    expect(client.disconnects, 'B restarting does not touch a socket on A').toEqual(['transport close']);
    expect(client.connects).toBe(2);
    await sigterm(a);
    await sigterm(b);
  });
});
