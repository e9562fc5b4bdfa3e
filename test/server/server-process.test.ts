/**
 * The real server as a child process (`npm run server`'s entry point): first-start
 * admin token, persistence in PGlite on disk, graceful SIGTERM, bad configuration.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../helpers/central.js';
import { freePort, nodeArgs } from '../helpers/processes.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const TOKEN_LINE = /admin token[^:\n]*:\s*(\S+)/i;

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => { stdout: string; stderr: string };
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

/** The server's environment: ours without any database or admin settings, plus `extra`. */
function serverEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k === 'DATABASE_URL' || k === 'POSTGRES_URL_REMOTE' || k === 'TEST_DATABASE_URL' || k === 'PORT' || k === 'HOST' || k.startsWith('TILLSYNC_')) {
      delete env[k];
    }
  }
  return { ...env, LOG_LEVEL: 'info', ...extra };
}

function spawnServer(env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, nodeArgs('src/server/main.ts'), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      res({ code, signal });
    }),
  );
  return { child, output: () => ({ stdout, stderr }), exited };
}

/** Starts the server and waits until it logs that it is listening. */
async function startServer(dataDir: string): Promise<Running> {
  const port = await freePort();
  const s = spawnServer(serverEnv({ PORT: String(port), HOST: '127.0.0.1', TILLSYNC_DATA_DIR: dataDir }));
  const deadline = Date.now() + 45_000;
  for (;;) {
    const { stdout, stderr } = s.output();
    if (stdout.includes('central sync server listening')) break;
    const early = await Promise.race([s.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 100))]);
    if (early) throw new Error(`server exited early (${JSON.stringify(early)}):\n${stdout}\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`server did not start within 45 s:\n${stdout}\n${stderr}`);
  }
  return { ...s, url: `http://127.0.0.1:${port}` };
}

/** SIGTERM; resolves to the exit and how long it took. */
async function stop(r: Running): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const t0 = Date.now();
  r.child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 15_000));
  const result = await Promise.race([r.exited, timeout]);
  if (result === 'timeout') {
    r.child.kill('SIGKILL');
    throw new Error('server did not exit within 15 s of SIGTERM');
  }
  return { ...result, ms: Date.now() - t0 };
}

let dataDir: string;

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'tillsync-central-'));
});

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the server process', () => {
  let token: string;
  let terminal: { terminalId: string; apiKey: string };

  it('first start on an empty data dir prints a generated admin token once, and it works', { timeout: 90_000 }, async () => {
    const r = await startServer(dataDir);
    try {
      const { stdout, stderr } = r.output();
      const m = TOKEN_LINE.exec(stdout);
      expect(m, stdout).not.toBeNull();
      token = (m as RegExpExecArray)[1] as string;
      expect(token.length).toBeGreaterThanOrEqual(32);
      // Once: the token appears nowhere else in the output, not even in the logs.
      expect(stdout.split(token).length - 1).toBe(1);
      expect(stderr).not.toContain(token);

      const health = await new ApiClient(r.url, undefined).get('/healthz');
      expect(health.status, health.text).toBe(200);
      expect(health.body).toEqual({ status: 'ok', database: 'pglite' });

      const admin = new ApiClient(r.url, token);
      expect((await admin.post('/api/stores', { id: 'proc-store', name: 'Process store' })).status).toBe(201);
      const t = await admin.post('/api/terminals', { storeId: 'proc-store', terminalId: 'proc-till' });
      expect(t.status, t.text).toBe(201);
      terminal = { terminalId: t.body.terminalId, apiKey: t.body.apiKey };
      expect((await new ApiClient(r.url, `${token}x`).get('/api/terminals')).status).toBe(401);
    } finally {
      const exit = await stop(r);
      expect(exit.code, r.output().stderr).toBe(0);
      expect(exit.ms).toBeLessThan(5_000);
    }
  });

  it('second start on the same data dir prints no token; the first token and the data persisted', { timeout: 90_000 }, async () => {
    expect(token, 'the first start must have run').toBeDefined();
    const r = await startServer(dataDir);
    try {
      const { stdout, stderr } = r.output();
      expect(stdout).not.toMatch(TOKEN_LINE);
      expect(stdout).not.toContain('tsa_');
      expect(stdout + stderr).not.toContain(token);

      const admin = new ApiClient(r.url, token);
      const list = await admin.get('/api/terminals');
      expect(list.status, list.text).toBe(200);
      expect((list.body.terminals as { terminalId: string; storeId: string }[]).map((x) => [x.terminalId, x.storeId])).toEqual([
        ['proc-till', 'proc-store'],
      ]);
      const hb = await new ApiClient(r.url, terminal.apiKey).post('/api/sync/heartbeat', { terminalId: terminal.terminalId, status: 'ONLINE' });
      expect(hb.status, hb.text).toBe(200);
      const store = await admin.post('/api/stores', { id: 'proc-store', name: 'Again' });
      expect(store.status).toBe(409);
    } finally {
      const exit = await stop(r);
      expect(exit.code, r.output().stderr).toBe(0);
      expect(exit.ms).toBeLessThan(5_000);
    }
  });

  it('SIGTERM with a registered socket and a keep-alive connection open still exits 0 promptly', { timeout: 90_000 }, async () => {
    expect(token).toBeDefined();
    const r = await startServer(dataDir);
    const socket = connect(r.url, { auth: { token: terminal.apiKey }, transports: ['websocket'], reconnection: false, forceNew: true });
    // Listen at once: the socket may connect while the request below is in flight.
    const registered = new Promise<unknown>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no terminal:register reply within 10 s:\n${r.output().stdout}`)), 10_000);
      socket.on('connect_error', (err) => {
        clearTimeout(timer);
        rej(err);
      });
      socket.on('connect', () =>
        socket.emit('terminal:register', { terminalId: terminal.terminalId }, (x: unknown) => {
          clearTimeout(timer);
          res(x);
        }),
      );
    });
    registered.catch(() => undefined); // awaited below; never an unhandled rejection
    try {
      // The heartbeat of the previous run was persisted.
      const list = await new ApiClient(r.url, token).get('/api/terminals');
      expect(list.status).toBe(200);
      const t = (list.body.terminals as { terminalId: string; lastHeartbeatAt: string | null }[])[0];
      expect(t?.lastHeartbeatAt).not.toBeNull();
      const reply = await registered;
      expect(reply).toEqual({ ok: true });
    } finally {
      const exit = await stop(r);
      socket.disconnect();
      expect(exit.code, r.output().stderr).toBe(0);
      expect(exit.ms).toBeLessThan(5_000);
    }
  });
});

describe('bad configuration', () => {
  it.each([
    ['PORT', { PORT: 'abc' }],
    ['TILLSYNC_ADMIN_TOKEN', { TILLSYNC_ADMIN_TOKEN: 'short' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://db/pos' }],
  ])('a bad %s makes it exit non-zero with a message naming it', { timeout: 60_000 }, async (name, extra) => {
    const dir = mkdtempSync(join(tmpdir(), 'tillsync-badcfg-'));
    try {
      const s = spawnServer(serverEnv({ TILLSYNC_DATA_DIR: dir, ...extra }));
      const timeout = new Promise<'timeout'>((res) => setTimeout(() => res('timeout'), 30_000));
      const exit = await Promise.race([s.exited, timeout]);
      if (exit === 'timeout') {
        s.child.kill('SIGKILL');
        throw new Error(`still running with a bad ${name}:\n${s.output().stdout}`);
      }
      const { stdout, stderr } = s.output();
      expect(exit.code, stdout + stderr).not.toBe(0);
      expect(exit.code).not.toBeNull();
      expect(stderr).toContain(name);
      expect(stdout).not.toContain('listening');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
