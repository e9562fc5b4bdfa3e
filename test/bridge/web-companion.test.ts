/**
 * Web mode (src/agent/web-companion.ts): the companion with the bridge host on 127.0.0.1,
 * serving the built renderer without a token and the IPC contract with one.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AgentConfigError, defaultsFromEnv } from '../../src/main/engine-settings.js';
import { startWebCompanion, type WebCompanion } from '../../src/agent/web-companion.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, tempDir, testLogger } from '../helpers/engine.js';
import { freePort } from '../helpers/processes.js';
import { LocalStore } from '../../src/main/sync/store/index.js';

const c = useCentral();
const TUNING = { realtime: false, heartbeatInterval: 3600, watchIntervalMs: 50 };
const INDEX = '<!doctype html><html><head><script type="module" src="/assets/app.js"></script></head><body>till</body></html>';
const APP = 'console.log("tillsync renderer");';
const OUTSIDE = 'SECRET-OUTSIDE-THE-RENDERER';

const webs: WebCompanion[] = [];
afterEach(async () => {
  for (const w of webs.splice(0)) await w.close();
});
afterAll(closeAll);

/**
 * A built renderer in a temp dir: `<base>/renderer/{index.html,assets/app.js}`, with
 * files next to it (`<base>/package.json`, `<base>/renderer-evil/x.txt`) that must never be served.
 */
function renderer(): string {
  const base = tempDir('tillsync-web-');
  const dir = join(base, 'renderer');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'assets', 'app.js'), APP);
  writeFileSync(join(base, 'package.json'), JSON.stringify({ name: OUTSIDE }));
  mkdirSync(join(base, 'renderer-evil'));
  writeFileSync(join(base, 'renderer-evil', 'x.txt'), OUTSIDE);
  return dir;
}

async function start(env: NodeJS.ProcessEnv = {}, opts: { port?: number; token?: string } = {}): Promise<WebCompanion> {
  const w = await startWebCompanion({ dataDir: join(tempDir('tillsync-web-data-'), 'companion'), env, log: testLogger(), rendererDir: renderer(), tuning: TUNING, ...opts });
  webs.push(w);
  return w;
}

/** A GET with the path sent exactly as written (fetch would normalise `..` and `%2e%2e` away). */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((res, rej) => {
    const req = request({ host: hostname, port, path, method: 'GET' }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d: string) => (body += d));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', rej);
    req.end();
  });
}

/** A call over HTTP; `token` null sends none. */
async function ipc(w: WebCompanion, channel: string, args: unknown[], token: string | null = w.bridge.token) {
  const r = await fetch(`${w.bridge.url}/ipc/${channel}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ args }),
  });
  return { status: r.status, body: (await r.json()) as { ok: boolean; value?: Record<string, unknown>; error?: { code: string; message: string } } };
}

describe('startWebCompanion', () => {
  it('refuses to start without a built renderer, saying how to build it', async () => {
    const missing = join(tempDir('tillsync-web-'), 'out', 'renderer');
    await expect(startWebCompanion({ dataDir: tempDir('tillsync-web-data-'), env: {}, log: testLogger(), rendererDir: missing })).rejects.toThrow(/npm run build/);
    await expect(startWebCompanion({ dataDir: tempDir('tillsync-web-data-'), env: {}, log: testLogger(), rendererDir: missing })).rejects.toThrow(missing);
  });

  it('serves the renderer without a token, with the content security policy; scripts as JavaScript', async () => {
    const w = await start();
    expect(new URL(w.bridge.url).hostname).toBe('127.0.0.1');
    const page = await fetch(`${w.bridge.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toBe(INDEX);
    const index = await fetch(`${w.bridge.url}/index.html`);
    expect(await index.text()).toBe(INDEX);

    const js = await fetch(`${w.bridge.url}/assets/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await js.text()).toBe(APP);
    expect((await fetch(`${w.bridge.url}/assets/nothing.js`)).status).toBe(404);
  });

  it('never serves a file outside the renderer directory', async () => {
    const w = await start();
    for (const path of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/%2E%2E/package.json',
      '/assets/../../package.json',
      '/..%2fpackage.json',
      '/assets/%2e%2e%2f%2e%2e%2fpackage.json',
      '/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/..%5cpackage.json',
      '/../renderer-evil/x.txt',
      '/..%2frenderer-evil%2fx.txt',
      '/%2e%2e%2frenderer-evil%2fx.txt',
      '/%00',
      '/%',
    ]) {
      const r = await rawGet(w.bridge.url, path);
      expect(r.status, path).not.toBe(200);
      expect(r.body, path).not.toContain(OUTSIDE);
      expect(r.body, path).not.toContain('root:');
    }
    // The server is still fine afterwards.
    expect((await rawGet(w.bridge.url, '/assets/app.js')).body).toBe(APP);
  });

  it('the IPC calls need the token: without it 401, with it the companion answers', async () => {
    const w = await start({}, { token: 'a-test-token-of-enough-length' });
    expect(w.bridge.token).toBe('a-test-token-of-enough-length');
    expect(w.bridge.pageUrl).toBe(`${w.bridge.url}/?token=a-test-token-of-enough-length`);
    const none = await ipc(w, 'sync:status', [], null);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect((await ipc(w, 'sync:status', [], 'a-wrong-token-of-enough-lengt')).status).toBe(401);
    expect((await ipc(w, 'settings:set', [{ syncInterval: 60 }], null)).status).toBe(401);
    expect(w.companion.view().syncInterval).toBe(300);
    expect((await fetch(`${w.bridge.url}/events`)).status).toBe(401);

    const status = await ipc(w, 'sync:status', []);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ ok: false, error: { code: 'NOT_CONFIGURED', message: expect.stringContaining('Not set up yet') } });
    const settings = await ipc(w, 'settings:get', []);
    expect(settings.body).toEqual({ ok: true, value: { syncInterval: 300, autoStart: null, hasPin: false, hasKey: false } });
  });

  it('configured by the environment: the engine runs; settings are saved in the data directory; a key is refused (no keyring)', async () => {
    const t = await c.provision(`web-${process.pid}-${Date.now().toString(36)}`);
    const db = join(tempDir('tillsync-web-pos-'), 'pos.sqlite');
    new LocalStore(db, t.terminalId, { create: true, warn: () => {} }).close();
    const dataDir = join(tempDir('tillsync-web-data-'), 'nested', 'companion');
    const w = await startWebCompanion({
      dataDir,
      env: { CENTRAL_API_URL: c.url, TERMINAL_ID: t.terminalId, CENTRAL_API_KEY: t.apiKey, DATABASE_URL: `file:${db}` },
      log: testLogger(),
      rendererDir: renderer(),
      tuning: TUNING,
    });
    webs.push(w);
    expect(w.companion.setupProblem).toBeNull();
    expect((await ipc(w, 'sync:status', [])).body).toMatchObject({ ok: true, value: { terminalId: t.terminalId, centralUrl: c.url } });
    expect((await ipc(w, 'sync:now', [])).body).toMatchObject({ ok: true, value: { kind: 'INCREMENTAL', trigger: 'ui', errors: [] } });

    // The engine restarts on a new interval; the renderer hears of it as an event.
    const events = await fetch(`${w.bridge.url}/events?token=${encodeURIComponent(w.bridge.token)}`);
    expect(events.status).toBe(200);
    const reader = (events.body as ReadableStream<Uint8Array>).getReader();
    const set = await ipc(w, 'settings:set', [{ syncInterval: 60 }]);
    expect(set.body).toMatchObject({ ok: true, value: { syncInterval: 60, hasKey: true } });
    let seen = '';
    const decoder = new TextDecoder();
    const deadline = Date.now() + 10_000;
    while (!seen.includes('event: setupChanged') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value);
    }
    expect(seen).toContain('event: setupChanged\ndata: {"configured":true,"problem":null}');
    expect(JSON.parse(readFileSync(join(dataDir, 'settings.json'), 'utf8'))).toMatchObject({ syncInterval: 60 });
    expect(w.companion.engine?.config.syncInterval).toBe(60);

    const key = await ipc(w, 'settings:set', [{ apiKey: 'tsk_another-key' }]);
    expect(key.body).toMatchObject({ ok: false, error: { code: 'INVALID_SETTINGS', message: expect.stringContaining('CENTRAL_API_KEY') } });
    expect(readFileSync(join(dataDir, 'settings.json'), 'utf8')).not.toContain('tsk_another-key');
    expect(w.companion.engine?.config.apiKey).toBe(t.apiKey);

    // Closing ends the event stream. (A client that cancels its stream first leaves close() waiting ~4 s on the keep-alive timeout.)
    webs.splice(webs.indexOf(w), 1);
    await w.close();
    let ended = false;
    for (let i = 0; i < 100 && !ended; i++) ended = (await reader.read()).done;
    expect(ended).toBe(true);
    expect(w.companion.engine).toBeUndefined();
    await expect(fetch(`${w.bridge.url}/`)).rejects.toThrow();
  });

  it('a port already in use is a clear error', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((res) => blocker.listen(port, '127.0.0.1', res));
    try {
      await expect(start({}, { port })).rejects.toThrow(/in use/);
      await expect(start({}, { port })).rejects.toThrow(String(port));
    } finally {
      await new Promise<void>((res) => blocker.close(() => res()));
    }
  });
});

describe("the agent's timing variables as defaults", () => {
  /** A configured companion started with the agent's environment plus `extra`. */
  async function configured(extra: Record<string, string>): Promise<{ w: WebCompanion; dataDir: string }> {
    const t = await c.provision(`web-timing-${process.pid}-${Date.now().toString(36)}`);
    const db = join(tempDir('tillsync-web-pos-'), 'pos.sqlite');
    new LocalStore(db, t.terminalId, { create: true, warn: () => {} }).close();
    const dataDir = join(tempDir('tillsync-web-data-'), 'companion');
    const env = { CENTRAL_API_URL: c.url, TERMINAL_ID: t.terminalId, CENTRAL_API_KEY: t.apiKey, DATABASE_URL: `file:${db}`, ...extra };
    const w = await startWebCompanion({ dataDir, env, log: testLogger(), rendererDir: renderer(), tuning: TUNING });
    webs.push(w);
    expect(w.companion.setupProblem).toBeNull();
    return { w, dataDir };
  }

  it('TILLSYNC_SYNC_INTERVAL is the interval the engine runs with and Settings show, until Settings set one', async () => {
    const { w, dataDir } = await configured({ TILLSYNC_SYNC_INTERVAL: '30' });
    expect(w.companion.engine?.config.syncInterval).toBe(30);
    expect((await ipc(w, 'settings:get', [])).body).toMatchObject({ ok: true, value: { syncInterval: 30 } });

    // Another setting saved does not freeze the default into the file.
    expect((await ipc(w, 'settings:set', [{ supervisorPin: '2468' }])).body).toMatchObject({ ok: true, value: { syncInterval: 30, hasPin: true } });
    expect(JSON.parse(readFileSync(join(dataDir, 'settings.json'), 'utf8'))).not.toHaveProperty('syncInterval');

    // A value chosen in Settings wins over the environment's.
    expect((await ipc(w, 'settings:set', [{ syncInterval: 120 }])).body).toMatchObject({ ok: true, value: { syncInterval: 120 } });
    expect(w.companion.engine?.config.syncInterval).toBe(120);
  });

  it('TILLSYNC_CRON is the schedule until Settings clear it, and a cleared cron stays cleared', async () => {
    const { w, dataDir } = await configured({ TILLSYNC_CRON: '*/10 * * * *' });
    expect(w.companion.engine?.config.cron).toBe('*/10 * * * *');
    expect((await ipc(w, 'settings:get', [])).body).toMatchObject({ ok: true, value: { cron: '*/10 * * * *', syncInterval: 300 } });

    const cleared = await ipc(w, 'settings:set', [{ cron: '' }]);
    expect(cleared.body.ok, JSON.stringify(cleared.body)).toBe(true);
    expect(cleared.body.value).not.toHaveProperty('cron');
    expect(w.companion.engine?.config.cron).toBeUndefined();
    expect(JSON.parse(readFileSync(join(dataDir, 'settings.json'), 'utf8'))).toMatchObject({ cron: '' });
  });

  it('a bad TILLSYNC_SYNC_INTERVAL or TILLSYNC_CRON is an error naming the variable', () => {
    expect(() => defaultsFromEnv({ TILLSYNC_SYNC_INTERVAL: 'often' })).toThrow(AgentConfigError);
    expect(() => defaultsFromEnv({ TILLSYNC_SYNC_INTERVAL: 'often' })).toThrow(/TILLSYNC_SYNC_INTERVAL/);
    expect(() => defaultsFromEnv({ TILLSYNC_CRON: 'now and then' })).toThrow(/TILLSYNC_CRON/);
    expect(defaultsFromEnv({ TILLSYNC_SYNC_INTERVAL: ' 45 ' })).toMatchObject({ syncInterval: 45, cron: undefined });
    expect(defaultsFromEnv({})).toMatchObject({ syncInterval: undefined, cron: undefined });
  });
});
