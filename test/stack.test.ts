/**
 * `npm start`: the whole local stack on embedded defaults, as a user runs it: central
 * on PGlite, the demo terminal's agent and the POS simulator. Sales rung up by the
 * simulator reach central, and Ctrl-C stops everything cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ApiClient } from './helpers/central.js';
import { freePort } from './helpers/processes.js';

const root = mkdtempSync(join(tmpdir(), 'tillsync-stack-'));
let proc: ChildProcess | undefined;
let output = '';

afterAll(() => {
  if (proc && proc.exitCode === null) proc.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

it('npm start brings up central, the demo till in the companion (web UI) and the simulator; sales reach central; SIGINT stops it all', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const uiPort = await freePort();
  // As in a fresh clone: the data folder does not exist yet, and the stack's own defaults apply.
  const data = join(root, 'data');
  const env: NodeJS.ProcessEnv = { ...process.env, TILLSYNC_DATA_ROOT: data, PORT: String(port), TILLSYNC_UI_PORT: String(uiPort), TILLSYNC_DEMO_RATE: '5', LOG_LEVEL: 'warn', DATABASE_URL: '', POSTGRES_URL_REMOTE: '' };
  delete env.TILLSYNC_SYNC_INTERVAL;
  delete env.TILLSYNC_CRON;
  proc = spawn(process.execPath, ['--import', 'tsx', 'src/stack/main.ts'], {
    cwd: new URL('..', import.meta.url).pathname,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));

  const stack = await until('the stack file', async () => JSON.parse(readFileSync(join(data, 'stack.json'), 'utf8')) as { adminToken: string; terminal?: { terminalId: string } });
  const admin = new ApiClient(`http://127.0.0.1:${port}`, stack.adminToken);
  const health = await until('central', async () => ((await admin.get('/healthz')).status === 200 ? true : undefined));
  expect(health).toBe(true);

  // The simulator sells from its own process; the agent pushes; central counts them for the demo terminal.
  const synced = await until('sales at central', async () => {
    const s = await admin.get('/api/sync/status', { terminalId: 'demo-terminal' });
    const n = s.body?.tables?.SaleOrder?.synced as number | undefined;
    return n !== undefined && n >= 3 ? n : undefined;
  });
  expect(synced).toBeGreaterThanOrEqual(3);
  const terminals = await admin.get('/api/terminals');
  expect(terminals.body.terminals.map((t: { terminalId: string }) => t.terminalId)).toContain('demo-terminal');
  expect(output).toContain('TillSync local stack');

  // The companion UI: the page is served, and the link's token opens the engine's IPC.
  const link = /companion: (http:\/\/127\.0\.0\.1:(\d+)\/\?token=(\S+))/.exec(output);
  expect(link?.[2]).toBe(String(uiPort));
  const page = await fetch(`http://127.0.0.1:${uiPort}/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('<div id="root">');
  const call = (token: string) =>
    fetch(`http://127.0.0.1:${uiPort}/ipc/sync:status`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"args":[]}' });
  expect((await call('wrong-token-wrong-token')).status).toBe(401);
  const status = (await (await call(link?.[3] ?? '')).json()) as { ok: boolean; value?: { terminalId: string } };
  expect(status).toMatchObject({ ok: true, value: { terminalId: 'demo-terminal' } });
  // The stack's sync interval (TILLSYNC_SYNC_INTERVAL=30) is the companion's: its Settings show it.
  const settings = await fetch(`http://127.0.0.1:${uiPort}/ipc/settings:get`, {
    method: 'POST',
    headers: { authorization: `Bearer ${link?.[3] ?? ''}`, 'content-type': 'application/json' },
    body: '{"args":[]}',
  });
  expect(await settings.json()).toMatchObject({ ok: true, value: { syncInterval: 30 } });

  const exit = new Promise<number | null>((resolve) => proc?.once('exit', (code) => resolve(code)));
  proc.kill('SIGINT');
  expect(await exit).toBe(0);
});
