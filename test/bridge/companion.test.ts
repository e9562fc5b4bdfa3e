/**
 * The companion's core (src/main/companion.ts) without Electron: settings, the
 * terminal key and auto-start configuring a real sync engine against a real central,
 * all through the IPC contract served by `companion.host`.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Companion, type AutoStartPort, type CompanionDefaults, type KeyStore } from '../../src/main/companion.js';
import { SecretStore, type SafeStorageLike } from '../../src/main/secret-store.js';
import { SettingsStore } from '../../src/main/settings.js';
import { LocalStore } from '../../src/main/sync/store/index.js';
import type { SyncConfig } from '../../src/main/sync/sync-config.js';
import { defaultsFromEnv } from '../../src/main/engine-settings.js';
import { envOnlyKeys } from '../../src/agent/web-companion.js';
import type { EngineStatus, EventName, IpcResult, SettingsView, SyncRunResult } from '../../src/shared/ipc.js';
import { useCentral, type ProvisionedTerminal } from '../helpers/central.js';
import { closeAll, openPos, tempDir, testLogger } from '../helpers/engine.js';
import { ringUpSales, waitUntil } from '../helpers/processes.js';

const c = useCentral();
const TUNING: Partial<SyncConfig> = { realtime: false, heartbeatInterval: 3600, watchIntervalMs: 50 };
const settingsFs = { existsSync, readFileSync, writeFileSync, renameSync };

// ------------------------------------------------------------------ harness

/** A key store in memory; `refuse` makes it report a problem (as a keyring-less system would). */
class MemoryKeys implements KeyStore {
  key: string | undefined;
  refuse: string | undefined;
  saves = 0;
  problem(): Error | null {
    return this.refuse ? new Error(this.refuse) : null;
  }
  save(key: string): void {
    if (this.refuse) throw new Error(this.refuse);
    this.saves++;
    this.key = key;
  }
  load(): string | undefined {
    return this.key;
  }
  clear(): void {
    this.key = undefined;
  }
}

/** safeStorage stand-in: reversible, and visibly not the plain text. */
const fakeSafe = (backend = 'gnome_libsecret'): SafeStorageLike => ({
  isEncryptionAvailable: () => true,
  encryptString: (s) => Buffer.from(Buffer.from(s, 'utf8').map((b) => b ^ 0x5a)),
  decryptString: (b) => Buffer.from(b.map((x) => x ^ 0x5a)).toString('utf8'),
  getSelectedStorageBackend: () => backend,
});
const secretFs = { existsSync, readFileSync, writeFileSync, rmSync };

/** An auto-start port that remembers its calls; `failWith` makes `set` throw. */
function fakeAutoStart(initial: boolean): AutoStartPort & { enabled: boolean; calls: boolean[]; failWith: string | undefined } {
  const port = {
    enabled: initial,
    calls: [] as boolean[],
    failWith: undefined as string | undefined,
    isEnabled: () => port.enabled,
    set(v: boolean) {
      port.calls.push(v);
      if (port.failWith) throw new Error(port.failWith);
      port.enabled = v;
    },
  };
  return port;
}

interface SeenEvent {
  readonly event: EventName;
  readonly payload: unknown;
}

interface Harness {
  readonly companion: Companion;
  readonly dir: string;
  readonly settingsPath: string;
  readonly settings: SettingsStore;
  readonly events: SeenEvent[];
  /** The settings file's text (undefined when it does not exist). */
  file(): string | undefined;
  call<T = unknown>(channel: string, args?: unknown[]): Promise<IpcResult<T>>;
  /** A call that must answer ok; its value. */
  ok<T = unknown>(channel: string, args?: unknown[]): Promise<T>;
  /** A call that must fail; its error. */
  fails(channel: string, args?: unknown[]): Promise<{ code: string; message: string }>;
}

const running: Companion[] = [];
afterEach(async () => {
  for (const co of running.splice(0)) await co.stop();
});
afterAll(closeAll);

function harness(o: { dir?: string; keys?: KeyStore; autoStart?: AutoStartPort; defaults?: CompanionDefaults } = {}): Harness {
  const dir = o.dir ?? tempDir('tillsync-companion-');
  const settingsPath = join(dir, 'settings.json');
  const settings = new SettingsStore(settingsPath, settingsFs);
  const companion = new Companion({ settings, keys: o.keys ?? new MemoryKeys(), autoStart: o.autoStart, defaults: o.defaults, log: testLogger(), tuning: TUNING });
  running.push(companion);
  const events: SeenEvent[] = [];
  companion.host.subscribe((event, payload) => events.push({ event, payload }));
  const call = async <T,>(channel: string, args: unknown[] = []) => (await companion.host.invoke(channel, args)) as IpcResult<T>;
  return {
    companion,
    dir,
    settingsPath,
    settings,
    events,
    file: () => (existsSync(settingsPath) ? readFileSync(settingsPath, 'utf8') : undefined),
    call,
    async ok<T>(channel: string, args: unknown[] = []) {
      const r = await call<T>(channel, args);
      if (!r.ok) throw new Error(`${channel} failed: ${r.error.code}: ${r.error.message}`);
      return r.value;
    },
    async fails(channel: string, args: unknown[] = []) {
      const r = await call(channel, args);
      if (r.ok) throw new Error(`${channel} succeeded, but should have failed: ${JSON.stringify(r.value)}`);
      return r.error;
    },
  };
}

/** A POS database file for this terminal (as the POS app would have one). */
function posFile(terminalId: string, dir = tempDir('tillsync-pos-')): string {
  const path = join(dir, 'pos.sqlite');
  new LocalStore(path, terminalId, { create: true, warn: () => {} }).close();
  return path;
}

let stores = 0;
async function terminal(): Promise<ProvisionedTerminal> {
  return c.provision(`comp-${process.pid}-${Date.now().toString(36)}-${++stores}`);
}

/** Everything the engine needs, for `settings:set`. */
function fullSetup(t: ProvisionedTerminal, databasePath: string) {
  return { centralUrl: c.url, terminalId: t.terminalId, databasePath, apiKey: t.apiKey };
}

/** A companion set up through settings:set on a new terminal and POS file, its engine running. */
async function configured(o: Parameters<typeof harness>[0] = {}): Promise<{ t: ProvisionedTerminal; db: string; h: Harness }> {
  const t = await terminal();
  const db = posFile(t.terminalId);
  const h = harness(o);
  await h.companion.start();
  await h.ok('settings:set', [fullSetup(t, db)]);
  return { t, db, h };
}

/**
 * Rings up a completed sale in the POS file (once the engine has pulled the store row),
 * runs `sync:now` through the host and checks that the sale is at central.
 */
async function saleReachesCentral(h: Harness, t: ProvisionedTerminal, databasePath: string, prefix: string): Promise<void> {
  const pos = openPos(databasePath);
  try {
    const store = await waitUntil(
      `the store row of ${t.storeId} pulled into the POS file`,
      () => pos.prepare('SELECT id FROM stores WHERE server_id = ?').get(t.storeId) as { id: number } | undefined,
      { timeout: 15_000 },
    );
    const [number] = ringUpSales(pos, { storeLocalId: store.id, prefix, count: 1 });
    const run = await h.ok<SyncRunResult>('sync:now');
    expect(run).toMatchObject({ kind: 'INCREMENTAL', trigger: 'ui' });
    expect(run.errors).toEqual([]);
    await waitUntil(
      `sale ${number} at central`,
      async () => (await c.db.query('SELECT 1 FROM orders WHERE order_number = $1 AND store_id = $2', [number, t.storeId])).rows.length === 1,
      { timeout: 10_000 },
    );
  } finally {
    pos.close();
  }
}

const setupEvents = (h: Harness) => h.events.filter((e) => e.event === 'setupChanged').map((e) => e.payload as { configured: boolean; problem: string | null });

// ------------------------------------------------------------------ tests

describe('a companion that is not set up', () => {
  it('starts without throwing, names what is missing, refuses engine calls with NOT_CONFIGURED, and still serves settings', async () => {
    const h = harness();
    await expect(h.companion.start()).resolves.toBeUndefined();
    expect(h.companion.engine).toBeUndefined();
    const problem = h.companion.setupProblem;
    expect(problem).toMatch(/^Not set up yet/);
    for (const missing of ['central URL', 'terminal id', 'terminal key', 'POS database']) expect(problem).toContain(missing);

    for (const [channel, args] of [
      ['sync:status', []],
      ['sync:now', []],
      ['conflict:list', [{ status: 'open' }]],
      ['history:list', [{ limit: 5 }]],
    ] as const) {
      const r = await h.call(channel, [...args]);
      expect(r, channel).toEqual({ ok: false, error: { code: 'NOT_CONFIGURED', message: problem } });
    }
    // No login item here (web mode, a run from a checkout): auto-start does not apply, and is never reported as on.
    expect(await h.ok<SettingsView>('settings:get')).toEqual({ syncInterval: 300, autoStart: null, hasPin: false, hasKey: false });
    expect(setupEvents(h)).toEqual([{ configured: false, problem }]);

    // Part of the set-up: what is still missing is named, and only that.
    await h.ok('settings:set', [{ centralUrl: c.url, syncInterval: 60 }]);
    const after = h.companion.setupProblem;
    expect(after).not.toContain('central URL');
    expect(after).toContain('terminal id');
    expect(after).toContain('POS database');
    expect(await h.fails('sync:status')).toEqual({ code: 'NOT_CONFIGURED', message: after });
    expect(await h.ok<SettingsView>('settings:get')).toMatchObject({ centralUrl: c.url, syncInterval: 60, hasKey: false });
    expect(h.companion.engine).toBeUndefined();
  });

  it('a saved POS database path that does not exist is reported at start, not thrown', async () => {
    const dir = tempDir('tillsync-companion-');
    const t = await terminal();
    const missing = join(dir, 'nowhere', 'pos.sqlite');
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ centralUrl: c.url, terminalId: t.terminalId, databasePath: missing }));
    const keys = new MemoryKeys();
    keys.key = t.apiKey;
    const h = harness({ dir, keys });
    await expect(h.companion.start()).resolves.toBeUndefined();
    expect(h.companion.engine).toBeUndefined();
    expect(h.companion.setupProblem).toContain(`no file at ${missing}`);
    expect(await h.fails('sync:status')).toMatchObject({ code: 'NOT_CONFIGURED', message: expect.stringContaining('no file at') });
    expect(existsSync(missing)).toBe(false);
  });
});

describe('configuring through settings:set', () => {
  it('starts the engine: status for that terminal, setupChanged configured, and a sale reaches central on sync:now', async () => {
    const t = await terminal();
    const db = posFile(t.terminalId);
    const h = harness();
    await h.companion.start();
    expect(h.companion.engine).toBeUndefined();

    const view = await h.ok<SettingsView>('settings:set', [fullSetup(t, db)]);
    expect(view).toEqual({ centralUrl: c.url, terminalId: t.terminalId, databasePath: db, syncInterval: 300, autoStart: null, hasPin: false, hasKey: true });
    expect(h.companion.engine).toBeDefined();
    expect(h.companion.setupProblem).toBeNull();
    expect(setupEvents(h).at(-1)).toEqual({ configured: true, problem: null });
    expect(h.events.some((e) => e.event === 'statusChanged' && (e.payload as EngineStatus).terminalId === t.terminalId)).toBe(true);

    const status = await h.ok<EngineStatus>('sync:status');
    expect(status).toMatchObject({ terminalId: t.terminalId, centralUrl: c.url, paused: false });
    await saleReachesCentral(h, t, db, 'COMP');
    const history = await h.ok<{ trigger: string }[]>('history:list', [{ limit: 20 }]);
    expect(history.some((r) => r.trigger === 'ui')).toBe(true);
  });

  it('the set-up survives a restart: a new companion over the same data directory and key store starts its engine', async () => {
    const t = await terminal();
    const db = posFile(t.terminalId);
    const dir = tempDir('tillsync-companion-');
    const keys = new SecretStore(fakeSafe(), secretFs, join(dir, 'key.bin'), 'linux');
    const first = harness({ dir, keys });
    await first.companion.start();
    await first.ok('settings:set', [fullSetup(t, db)]);
    await first.companion.stop();
    expect(first.companion.engine).toBeUndefined();

    const second = harness({ dir, keys: new SecretStore(fakeSafe(), secretFs, join(dir, 'key.bin'), 'linux') });
    await second.companion.start();
    expect(second.companion.setupProblem).toBeNull();
    expect(await second.ok<EngineStatus>('sync:status')).toMatchObject({ terminalId: t.terminalId });
    await saleReachesCentral(second, t, db, 'RESTART');
  });
});

describe('secrets', () => {
  it('the key is never shown (hasKey) nor written to settings.json; the PIN is write-only (hasPin)', async () => {
    const t = await terminal();
    const db = posFile(t.terminalId);
    const dir = tempDir('tillsync-companion-');
    const keyPath = join(dir, 'key.bin');
    const h = harness({ dir, keys: new SecretStore(fakeSafe(), secretFs, keyPath, 'linux') });
    await h.companion.start();
    expect(await h.ok<SettingsView>('settings:get')).toMatchObject({ hasKey: false, hasPin: false });

    await h.ok('settings:set', [{ ...fullSetup(t, db), supervisorPin: '97531' }]);
    const view = await h.ok<SettingsView>('settings:get');
    expect(view).toMatchObject({ hasKey: true, hasPin: true });
    expect(Object.keys(view)).not.toContain('apiKey');
    expect(Object.keys(view)).not.toContain('supervisorPin');
    expect(Object.keys(view)).not.toContain('supervisorPinHash');
    const shown = JSON.stringify([view, await h.call('settings:set', [{ syncInterval: 300 }]), h.events]);
    expect(shown).not.toContain(t.apiKey);
    expect(shown).not.toContain('97531');
    expect(shown).not.toContain('scrypt');

    const file = h.file() ?? '';
    expect(file).not.toContain(t.apiKey);
    expect(file).not.toContain('97531');
    expect(file).toContain('supervisorPinHash');
    expect(readFileSync(keyPath).toString('utf8')).not.toContain(t.apiKey);
    expect(h.settings.verifyPin('97531')).toBe(true);
  });
});

describe('a change the engine cannot start with', () => {
  it('a POS database path to a missing file is refused, settings.json is unchanged and the engine keeps running', async () => {
    const { t, db, h } = await configured();
    const engine = h.companion.engine;
    const before = h.file();
    expect(before).toBeDefined();

    const missing = join(tempDir('tillsync-pos-'), 'typo.sqlite');
    const err = await h.fails('settings:set', [{ databasePath: missing, syncInterval: 120 }]);
    expect(err.code).toBe('INVALID_SETTINGS');
    expect(err.message).toContain(`POS database: no file at ${missing}`);
    expect(err.message).toContain('the settings were not changed');
    expect(h.file()).toBe(before);
    expect(existsSync(missing)).toBe(false);
    expect(await h.ok<SettingsView>('settings:get')).toMatchObject({ databasePath: db, syncInterval: 300 });
    expect(h.companion.engine).toBe(engine);
    expect(await h.ok<EngineStatus>('sync:status')).toMatchObject({ terminalId: t.terminalId });
    await saleReachesCentral(h, t, db, 'MISSING');
  });

  it("another terminal's id and key on this terminal's database are refused; the key and settings are put back and the old terminal syncs on", async () => {
    const t = await terminal();
    const other = await terminal();
    const db = posFile(t.terminalId);
    const keys = new MemoryKeys();
    const h = harness({ keys });
    await h.companion.start();
    await h.ok('settings:set', [fullSetup(t, db)]);
    // The engine has bound the file to its terminal.
    await h.ok('sync:now');
    const before = h.file();

    const err = await h.fails('settings:set', [{ terminalId: other.terminalId, apiKey: other.apiKey }]);
    expect(err.code).toBe('INVALID_SETTINGS');
    expect(err.message).toContain(`belongs to terminal ${t.terminalId}, not ${other.terminalId}`);
    expect(err.message).toContain('the settings were not changed');
    expect(h.file()).toBe(before);
    expect(keys.key).toBe(t.apiKey);
    expect(await h.ok<SettingsView>('settings:get')).toMatchObject({ terminalId: t.terminalId, hasKey: true });
    expect(h.companion.engine).toBeDefined();
    expect(h.companion.setupProblem).toBeNull();
    expect(await h.ok<EngineStatus>('sync:status')).toMatchObject({ terminalId: t.terminalId });
    expect(setupEvents(h).at(-1)).toEqual({ configured: true, problem: null });
    await saleReachesCentral(h, t, db, 'MISMATCH');
  });

  it('an invalid value never reaches the engine: refused by the contract or the settings file, nothing saved', async () => {
    const { h } = await configured();
    const engine = h.companion.engine;
    const before = h.file();
    expect(await h.fails('settings:set', [{ centralUrl: 'ftp://hq' }])).toMatchObject({ code: 'INVALID_ARGUMENTS' });
    expect(await h.fails('settings:set', [{ cron: 'every tuesday' }])).toMatchObject({ code: 'INVALID_SETTINGS', message: expect.stringContaining('cron') });
    expect(h.file()).toBe(before);
    expect(h.companion.engine).toBe(engine);
  });
});

describe('what restarts the engine', () => {
  it('a new sync interval restarts it (the old one stopped, the new one syncing); the PIN does not', async () => {
    const { t, db, h } = await configured();
    const first = h.companion.engine;
    expect(first?.config.syncInterval).toBe(300);

    expect(await h.ok<SettingsView>('settings:set', [{ syncInterval: 45 }])).toMatchObject({ syncInterval: 45 });
    const second = h.companion.engine;
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(second?.config.syncInterval).toBe(45);
    // Never two engines on one database: the replaced one is stopped.
    expect((await first?.performIncrementalSync('test'))?.errors).toEqual(['stopped']);
    expect(await h.ok<EngineStatus>('sync:status')).toMatchObject({ terminalId: t.terminalId });
    await saleReachesCentral(h, t, db, 'INTERVAL');

    await h.ok('settings:set', [{ supervisorPin: '1357' }]);
    expect(h.companion.engine).toBe(second);
    await h.ok('settings:set', [{ syncInterval: 45 }]);
    expect(h.companion.engine).toBe(second);
    await h.ok('settings:set', [{ cron: '*/5 * * * *' }]);
    expect(h.companion.engine).not.toBe(second);
    expect(h.companion.engine?.config.cron).toBe('*/5 * * * *');
    expect(await h.ok<EngineStatus>('sync:status')).toMatchObject({ terminalId: t.terminalId });
  });
});

describe('the key store', () => {
  it('web mode (envOnlyKeys): setting a key is refused with its reason and nothing is saved', async () => {
    const t = await terminal();
    const db = posFile(t.terminalId);
    const h = harness({ keys: envOnlyKeys, defaults: { centralUrl: c.url, terminalId: t.terminalId, databasePath: db, apiKey: t.apiKey } });
    await h.companion.start();
    const engine = h.companion.engine;
    expect(engine).toBeDefined();
    const err = await h.fails('settings:set', [{ apiKey: 'tsk_new-key-123', syncInterval: 99 }]);
    expect(err.code).toBe('INVALID_SETTINGS');
    expect(err.message).toBe(envOnlyKeys.problem()?.message);
    expect(err.message).toContain('CENTRAL_API_KEY');
    expect(h.file()).toBeUndefined();
    expect(await h.ok<SettingsView>('settings:get')).toMatchObject({ syncInterval: 300, hasKey: true });
    expect(h.companion.engine).toBe(engine);
    expect(h.companion.engine?.config.apiKey).toBe(t.apiKey);
  });

  it('a keyring-less system (plain-text backend): the key is refused with that reason, nothing written', async () => {
    const dir = tempDir('tillsync-companion-');
    const keyPath = join(dir, 'key.bin');
    const h = harness({ dir, keys: new SecretStore(fakeSafe('basic_text'), secretFs, keyPath, 'linux') });
    await h.companion.start();
    const err = await h.fails('settings:set', [{ apiKey: 'tsk_plain-text-key', centralUrl: c.url }]);
    expect(err.code).toBe('INVALID_SETTINGS');
    expect(err.message).toMatch(/plain text/);
    expect(existsSync(keyPath)).toBe(false);
    expect(h.file()).toBeUndefined();
    expect(await h.ok<SettingsView>('settings:get')).toMatchObject({ hasKey: false });
    expect((await h.ok<SettingsView>('settings:get')).centralUrl).toBeUndefined();
  });

  it('a key store whose key cannot be read falls back to the environment key', async () => {
    const t = await terminal();
    const db = posFile(t.terminalId);
    const broken: KeyStore = {
      problem: () => null,
      save: () => undefined,
      load: () => {
        throw new Error('cannot decrypt');
      },
      clear: () => undefined,
    };
    const h = harness({ keys: broken, defaults: { centralUrl: c.url, terminalId: t.terminalId, databasePath: db, apiKey: t.apiKey } });
    await h.companion.start();
    expect(h.companion.setupProblem).toBeNull();
    expect(await h.ok<SettingsView>('settings:get')).toMatchObject({ hasKey: true });
    expect(await h.ok<EngineStatus>('sync:status')).toMatchObject({ terminalId: t.terminalId });
  });
});

describe('auto-start', () => {
  it('settings:set autoStart calls the port; settings:get shows the port; a failing port puts the settings back', async () => {
    const port = fakeAutoStart(true);
    const h = harness({ autoStart: port });
    await h.companion.start();
    expect(await h.ok<SettingsView>('settings:get')).toMatchObject({ autoStart: true });

    expect(await h.ok<SettingsView>('settings:set', [{ autoStart: false }])).toMatchObject({ autoStart: false });
    expect(port.calls).toEqual([false]);
    expect(port.enabled).toBe(false);
    expect(JSON.parse(h.file() ?? '{}')).toMatchObject({ autoStart: false });

    // The port is what is shown (the user may have changed it outside the app).
    port.enabled = true;
    expect(await h.ok<SettingsView>('settings:get')).toMatchObject({ autoStart: true });
    port.enabled = false;

    port.failWith = 'login items are locked';
    const before = h.file();
    const err = await h.fails('settings:set', [{ autoStart: true, syncInterval: 77 }]);
    expect(err.code).toBe('INVALID_SETTINGS');
    expect(err.message).toContain('auto-start could not be changed: login items are locked');
    expect(port.calls).toEqual([false, true]);
    expect(h.file()).toBe(before);
    expect(await h.ok<SettingsView>('settings:get')).toMatchObject({ autoStart: false, syncInterval: 300 });
  });

  it('applyAutoStart applies the saved choice to the port, and only when it differs', async () => {
    const dir = tempDir('tillsync-companion-');
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ autoStart: false }));
    const port = fakeAutoStart(true);
    const h = harness({ dir, autoStart: port });
    h.companion.applyAutoStart();
    expect(port.calls).toEqual([false]);
    h.companion.applyAutoStart();
    expect(port.calls).toEqual([false]);
    port.failWith = 'nope';
    port.enabled = true;
    expect(() => h.companion.applyAutoStart()).not.toThrow();
  });
});

describe('conflict resolution needs the supervisor PIN', () => {
  it('no PIN set: PIN_NOT_SET; a PIN set through settings:set: a wrong one is WRONG_PIN, the right one gets through', async () => {
    const { h } = await configured();
    const resolve = (pin: string) => h.fails('conflict:resolve', [{ conflictId: 'no-such-conflict', resolution: 'CENTRAL_WINS', pin }]);
    expect(await resolve('1234')).toMatchObject({ code: 'PIN_NOT_SET' });

    await h.ok('settings:set', [{ supervisorPin: '2468' }]);
    expect(await resolve('1234')).toMatchObject({ code: 'WRONG_PIN' });
    expect(await resolve('24680')).toMatchObject({ code: 'WRONG_PIN' });
    expect(await resolve('2468')).toEqual({ code: 'FAILED', message: 'no open conflict no-such-conflict' });
  });
});

describe('defaults from the environment', () => {
  it('defaultsFromEnv maps the agent variables (file: URLs to absolute paths, blanks to nothing)', () => {
    expect(
      defaultsFromEnv({ CENTRAL_API_URL: ' http://hq:4000 ', TERMINAL_ID: 'till-1', CENTRAL_API_KEY: 'tsk_abcdefgh', DATABASE_URL: 'file:./data/pos.sqlite' }),
    ).toEqual({ centralUrl: 'http://hq:4000', terminalId: 'till-1', apiKey: 'tsk_abcdefgh', databasePath: resolve('data/pos.sqlite') });
    expect(defaultsFromEnv({ DATABASE_URL: 'file:///var/lib/pos/pos.db' }).databasePath).toBe('/var/lib/pos/pos.db');
    expect(defaultsFromEnv({ DATABASE_URL: '/srv/pos.db' }).databasePath).toBe('/srv/pos.db');
    expect(defaultsFromEnv({ CENTRAL_API_URL: '   ', TERMINAL_ID: '', DATABASE_URL: ' ' })).toEqual({
      centralUrl: undefined,
      terminalId: undefined,
      apiKey: undefined,
      databasePath: undefined,
    });
    expect(() => defaultsFromEnv({ DATABASE_URL: 'postgres://x/y' })).toThrow(/not a SQLite file/);
  });

  it('a companion with only the environment starts its engine, and saves nothing', async () => {
    const t = await terminal();
    const db = posFile(t.terminalId);
    const defaults = defaultsFromEnv({ CENTRAL_API_URL: c.url, TERMINAL_ID: t.terminalId, CENTRAL_API_KEY: t.apiKey, DATABASE_URL: `file:${db}` });
    const keys = new MemoryKeys();
    const h = harness({ keys, defaults });
    await h.companion.start();
    expect(h.companion.setupProblem).toBeNull();
    expect(await h.ok<SettingsView>('settings:get')).toEqual({ centralUrl: c.url, terminalId: t.terminalId, databasePath: db, syncInterval: 300, autoStart: null, hasPin: false, hasKey: true });
    expect(h.file()).toBeUndefined();
    expect(keys.saves).toBe(0);
    expect(await h.ok<EngineStatus>('sync:status')).toMatchObject({ terminalId: t.terminalId, centralUrl: c.url });
    await saleReachesCentral(h, t, db, 'ENV');
  });

  it('a saved setting wins over its variable', async () => {
    const t = await terminal();
    const db = posFile(t.terminalId);
    const dir = tempDir('tillsync-companion-');
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ centralUrl: c.url }));
    const h = harness({ dir, defaults: { centralUrl: 'http://127.0.0.1:9', terminalId: t.terminalId, databasePath: db, apiKey: t.apiKey } });
    await h.companion.start();
    expect(h.companion.engine?.config.centralUrl).toBe(c.url);
    expect(await h.ok<SettingsView>('settings:get')).toMatchObject({ centralUrl: c.url, terminalId: t.terminalId });
    await saleReachesCentral(h, t, db, 'WIN');
  });
});

/** A refused change leaves nothing half-applied: settings, key and login item are as before; other settings stay changeable. */
describe('a change that fails is put back whole', () => {
  it('a change that cannot be applied leaves the auto-start port as the settings say (it is put back too)', async () => {
    const port = fakeAutoStart(true);
    const { h } = await configured({ autoStart: port });
    const missing = join(tempDir('tillsync-pos-'), 'typo.sqlite');
    expect(await h.fails('settings:set', [{ autoStart: false, databasePath: missing }])).toMatchObject({ message: expect.stringContaining('the settings were not changed') });
    expect(JSON.parse(h.file() ?? '{}')).toMatchObject({ autoStart: true });
    expect(port.enabled).toBe(true);
  });

  it('a key saved with an auto-start change that fails is put back with the settings', async () => {
    const keys = new MemoryKeys();
    const port = fakeAutoStart(true);
    const { t, h } = await configured({ keys, autoStart: port });
    port.failWith = 'login items are locked';
    expect(await h.fails('settings:set', [{ apiKey: 'tsk_replacement-key', autoStart: false }])).toMatchObject({ message: expect.stringContaining('auto-start could not be changed') });
    expect(h.companion.engine?.config.apiKey).toBe(t.apiKey);
    expect(keys.key).toBe(t.apiKey);
  });

  it('while the engine cannot start (POS database moved), a PIN can still be set', async () => {
    const dir = tempDir('tillsync-companion-');
    const t = await terminal();
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ centralUrl: c.url, terminalId: t.terminalId, databasePath: join(dir, 'moved.sqlite') }));
    const keys = new MemoryKeys();
    keys.key = t.apiKey;
    const h = harness({ dir, keys });
    await h.companion.start();
    expect(h.companion.setupProblem).toContain('no file at');
    expect(await h.ok<SettingsView>('settings:set', [{ supervisorPin: '1234' }])).toMatchObject({ hasPin: true });
  });
});
