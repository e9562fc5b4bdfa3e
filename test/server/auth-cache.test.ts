/**
 * The authentication cache: a terminal key is looked up in PostgreSQL once and then
 * served from memory, and whatever changes a terminal's access (disabled, deleted,
 * re-keyed, moved to another store), through the admin API or anyone's SQL, ends the
 * cached entry at once on the instance that made it and by NOTIFY on every other
 * instance on the database, well before the TTL. Without notifications the TTL still
 * ends it.
 *
 * PGlite: the second instance shares the one in-process Database. PostgreSQL: it has
 * its own pool and listening connection on the same database, as another process would.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret, newApiKey } from '../../src/server/auth.js';
import { AUTH_NOTIFY_CHANNEL } from '../../src/server/db/migrate.js';
import { openPostgres, type Database } from '../../src/server/db/database.js';
import type { ServerConfigInput } from '../../src/server/config.js';
import { ApiClient, onPostgres, startCentral, testDatabase, type ProvisionedTerminal, type TestCentral, type TestDatabase } from '../helpers/central.js';
import { sleep, waitUntil } from '../helpers/processes.js';
import { closeSockets, openSocket, whenRefused } from '../helpers/socket.js';

const uid = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
/** Far longer than any wait below: only an invalidation can end a cached entry in these tests. */
const LONG_TTL = 60_000;
/** How long another instance may take to hear of a change (a NOTIFY crossing connections). */
const PROMPTLY = { timeout: 3000, interval: 10 };

const KEY_LOOKUP = 'FROM sync_terminals WHERE key_hash';

/**
 * A view of a Database that counts the key lookups made through it, can hold a
 * lookup's answer back (after PostgreSQL gave it), and can refuse to LISTEN on the
 * auth channel (notifications unavailable).
 */
class Probe {
  lookups = 0;
  hold: Promise<void> | undefined;
  heldOne: (() => void) | undefined;
  listenFails = false;

  constructor(private readonly inner: Database) {}

  get db(): Database {
    const inner = this.inner;
    return {
      ...inner,
      query: async <T extends object>(text: string, params?: readonly unknown[]) => {
        const r = await inner.query<T>(text, params);
        if (text.includes(KEY_LOOKUP)) {
          this.lookups++;
          if (this.hold) {
            this.heldOne?.();
            await this.hold;
          }
        }
        return r;
      },
      listen: async (channel, handler, onGap) => {
        if (this.listenFails && channel === AUTH_NOTIFY_CHANNEL) throw new Error('LISTEN is not available here');
        return inner.listen(channel, handler, onGap);
      },
      close: async () => undefined,
    };
  }
}

const heartbeat = (api: ApiClient, terminalId: string) => api.post('/api/sync/heartbeat', { terminalId, status: 'ONLINE' });
const status = async (api: ApiClient, terminalId: string) => (await heartbeat(api, terminalId)).status;

describe('the authentication cache', () => {
  let td: TestDatabase;
  let dbB: Database;
  let probeA: Probe;
  let probeB: Probe;
  let a: TestCentral;
  let b: TestCentral;
  const config: Partial<ServerConfigInput> = { authCacheTtlMs: LONG_TTL };

  beforeAll(async () => {
    td = await testDatabase();
    dbB = onPostgres ? openPostgres({ connectionString: td.url as string }) : td.db;
    probeA = new Probe(td.db);
    probeB = new Probe(dbB);
    a = await startCentral({ db: probeA.db, config });
    b = await startCentral({ db: probeB.db, config });
  });
  afterEach(() => closeSockets());
  afterAll(async () => {
    closeSockets();
    await a?.close();
    await b?.close();
    if (onPostgres) await dbB?.close();
    await td?.close();
  });

  /** A terminal whose key both instances have cached. */
  async function warmTerminal(): Promise<ProvisionedTerminal> {
    const t = await a.provision(uid('s'), uid('t'));
    expect(await status(t.api, t.terminalId)).toBe(200);
    expect(await status(new ApiClient(b.url, t.apiKey), t.terminalId)).toBe(200);
    return t;
  }
  const onB = (t: ProvisionedTerminal, key = t.apiKey) => new ApiClient(b.url, key);

  it('looks a key up once: further requests of the terminal ask PostgreSQL nothing about it', async () => {
    const t = await a.provision(uid('s'), uid('t'));
    const before = probeA.lookups;
    for (let i = 0; i < 10; i++) expect(await status(t.api, t.terminalId)).toBe(200);
    const pushed = await t.api.post('/api/sync/push', {
      terminalId: t.terminalId,
      changes: [{ changeId: randomUUID(), entityType: 'Customer', entityId: randomUUID(), operation: 'CREATE', data: { name: 'Cached' } }],
    });
    expect(pushed.status, pushed.text).toBe(200);
    expect(probeA.lookups - before).toBe(1);
  });

  it('a terminal disabled through the admin API is refused by its very next request on that instance, and promptly on the other', async () => {
    const t = await warmTerminal();
    expect((await a.admin.patch(`/api/terminals/${t.terminalId}`, { disabled: true })).status).toBe(200);

    // This instance: at once, for every kind of call.
    const push = await t.api.post('/api/sync/push', {
      terminalId: t.terminalId,
      changes: [{ changeId: randomUUID(), entityType: 'Customer', entityId: randomUUID(), operation: 'CREATE', data: { name: 'Late' } }],
    });
    expect(push.status, push.text).toBe(403);
    expect(push.body.code).toBe('TERMINAL_DISABLED');
    expect((await t.api.get('/api/sync/pull', { terminalId: t.terminalId, entityType: 'Product' })).status).toBe(403);
    expect(await status(t.api, t.terminalId)).toBe(403);

    // The other instance: by NOTIFY, long before its cached entry would expire.
    await waitUntil('B to refuse the disabled terminal', async () => (await status(onB(t), t.terminalId)) === 403, PROMPTLY);
    const socket = openSocket(b.url, t.apiKey).socket;
    expect((await whenRefused(socket, 'B accepted a disabled terminal socket')).message).toMatch(/disabled/);

    // Re-enabled through B: A lets it back in as promptly.
    expect((await b.admin.patch(`/api/terminals/${t.terminalId}`, { disabled: false })).status).toBe(200);
    expect(await status(onB(t), t.terminalId)).toBe(200);
    await waitUntil('A to accept the re-enabled terminal', async () => (await status(t.api, t.terminalId)) === 200, PROMPTLY);
  });

  it('a terminal disabled by SQL (the admin API not involved) is refused promptly by every instance', async () => {
    const t = await warmTerminal();
    await td.db.query('UPDATE sync_terminals SET disabled_at = now() WHERE id = $1', [t.terminalId]);
    for (const api of [t.api, onB(t)]) {
      await waitUntil(`${api.baseUrl} to refuse the terminal`, async () => (await status(api, t.terminalId)) === 403, PROMPTLY);
    }
  });

  it('a re-keyed terminal: the old key is refused promptly by every instance, the new one works', async () => {
    const t = await warmTerminal();
    const newKey = newApiKey();
    await td.db.query('UPDATE sync_terminals SET key_hash = $2 WHERE id = $1', [t.terminalId, hashSecret(newKey)]);
    for (const api of [t.api, onB(t)]) {
      await waitUntil(`${api.baseUrl} to refuse the old key`, async () => (await status(api, t.terminalId)) === 401, PROMPTLY);
    }
    expect(await status(new ApiClient(a.url, newKey), t.terminalId)).toBe(200);
    expect(await status(onB(t, newKey), t.terminalId)).toBe(200);
  });

  it('a deleted terminal is refused promptly by every instance', async () => {
    const t = await warmTerminal();
    await td.db.query('DELETE FROM sync_terminals WHERE id = $1', [t.terminalId]);
    for (const api of [t.api, onB(t)]) {
      await waitUntil(`${api.baseUrl} to refuse the deleted terminal`, async () => (await status(api, t.terminalId)) === 401, PROMPTLY);
    }
  });

  it('a terminal moved to another store acts for its new store on every instance', async () => {
    const t = await warmTerminal();
    const store = uid('moved');
    expect((await a.admin.post('/api/stores', { id: store, name: 'New home' })).status).toBe(201);
    await td.db.query('UPDATE sync_terminals SET store_id = $2 WHERE id = $1', [t.terminalId, store]);
    for (const api of [t.api, onB(t)]) {
      await waitUntil(
        `${api.baseUrl} to push into the new store`,
        async () => {
          const orderId = randomUUID();
          const r = await api.post('/api/sync/push', {
            terminalId: t.terminalId,
            changes: [
              { changeId: randomUUID(), entityType: 'SaleOrder', entityId: orderId, operation: 'CREATE', data: { order_number: uid('n'), status: 'pending' } },
            ],
          });
          expect(r.status, r.text).toBe(200);
          const row = await td.db.query<{ store_id: string }>('SELECT store_id FROM orders WHERE id = $1', [orderId]);
          return row.rows[0]?.store_id === store;
        },
        PROMPTLY,
      );
    }
  });

  it.skipIf(!onPostgres)('a lost listening connection is opened again: later changes still reach every instance promptly', async () => {
    const t = await warmTerminal();
    const listeners = async () =>
      (
        await td.db.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`,
        )
      ).rows.map((r) => r.pid);
    const before = await listeners();
    expect(before.length).toBeGreaterThanOrEqual(2); // A's and B's
    await td.db.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [before]);
    await waitUntil('both instances to listen again', async () => {
      const now = await listeners();
      return now.length >= before.length && now.every((pid) => !before.includes(pid));
    });
    await td.db.query('UPDATE sync_terminals SET disabled_at = now() WHERE id = $1', [t.terminalId]);
    for (const api of [t.api, onB(t)]) {
      await waitUntil(`${api.baseUrl} to refuse the terminal`, async () => (await status(api, t.terminalId)) === 403, PROMPTLY);
    }
  });

  it('a lookup answered before a change but finished after it is used once and not kept', async () => {
    const t = await a.provision(uid('s'), uid('t'));
    let release: () => void = () => undefined;
    probeA.hold = new Promise<void>((r) => {
      release = r;
    });
    const looked = new Promise<void>((r) => {
      probeA.heldOne = r;
    });
    // The first request's lookup has its (enabled) answer; it is held back while the terminal is disabled.
    const inFlight = heartbeat(t.api, t.terminalId);
    await looked;
    probeA.hold = undefined;
    expect((await a.admin.patch(`/api/terminals/${t.terminalId}`, { disabled: true })).status).toBe(200);
    release();
    expect((await inFlight).status).toBe(200); // was admitted before the change
    expect(await status(t.api, t.terminalId)).toBe(403);
  });
});

describe('without notifications', () => {
  let td: TestDatabase;
  let probe: Probe;
  let c: TestCentral;
  const ttlMs = 400;

  beforeAll(async () => {
    td = await testDatabase();
    probe = new Probe(td.db);
    probe.listenFails = true;
    c = await startCentral({ db: probe.db, config: { authCacheTtlMs: ttlMs } });
  });
  afterAll(async () => {
    await c?.close();
    await td?.close();
  });

  it('the central still starts, caches keys, and a cached key ends with its TTL', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    const before = probe.lookups;
    expect(await status(t.api, t.terminalId)).toBe(200);
    expect(await status(t.api, t.terminalId)).toBe(200);
    expect(probe.lookups - before).toBe(1);

    await td.db.query('UPDATE sync_terminals SET disabled_at = now() WHERE id = $1', [t.terminalId]);
    await sleep(ttlMs + 100);
    expect(await status(t.api, t.terminalId)).toBe(403);
  });

  it('the admin API still refuses a disabled terminal at once on this instance', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    expect(await status(t.api, t.terminalId)).toBe(200);
    expect((await c.admin.patch(`/api/terminals/${t.terminalId}`, { disabled: true })).status).toBe(200);
    expect(await status(t.api, t.terminalId)).toBe(403);
  });
});

describe('TTL 0', () => {
  let td: TestDatabase;
  let probe: Probe;
  let c: TestCentral;

  beforeAll(async () => {
    td = await testDatabase();
    probe = new Probe(td.db);
    c = await startCentral({ db: probe.db, config: { authCacheTtlMs: 0 } });
  });
  afterAll(async () => {
    await c?.close();
    await td?.close();
  });

  it('asks PostgreSQL on every request', async () => {
    const t = await c.provision(uid('s'), uid('t'));
    const before = probe.lookups;
    for (let i = 0; i < 3; i++) expect(await status(t.api, t.terminalId)).toBe(200);
    expect(probe.lookups - before).toBe(3);
  });
});
