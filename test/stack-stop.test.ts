/**
 * `npm start` as a user runs it, stopped through npm: SIGINT to npm's own process only
 * (not its process group, as a supervisor or `kill -INT <npm pid>` does). npm forwards
 * it to its script; the stack must receive it and stop every process it started, with
 * the POS file and central's database left consistent: every sale the simulator rang up
 * reaches central exactly once afterwards. The stack prints the companion's link once
 * and the simulator's summary once.
 */
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openPglite } from '../src/server/db/database.js';
import { ApiClient, startCentral } from './helpers/central.js';
import { agentEnv, cleanEnv, freePort, ROOT, runTillsync, waitUntil } from './helpers/processes.js';

const root = mkdtempSync(join(tmpdir(), 'tillsync-stack-stop-'));
let npm: ChildProcess | undefined;
let output = '';

afterAll(() => {
  // Only if the test failed half way: the whole group, so nothing outlives it.
  if (npm?.pid && npm.exitCode === null) {
    try {
      process.kill(-npm.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(root, { recursive: true, force: true });
});

/** A process as /proc shows it: its process group, state and command line. */
function proc(pid: number): { pgrp: number; state: string; cmd: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', pgrp: Number(fields[2]), cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() };
  } catch {
    return undefined; // gone
  }
}

/** Every process of a process group (npm and all it started, their children included). */
function group(pgid: number): { pid: number; cmd: string }[] {
  const members: { pid: number; cmd: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = proc(Number(name));
    if (p && p.pgrp === pgid && p.state !== 'Z') members.push({ pid: Number(name), cmd: p.cmd });
  }
  return members;
}

const alive = (pid: number) => {
  const p = proc(pid);
  return p !== undefined && p.state !== 'Z';
};
const linesWith = (text: string, needle: string) => text.split('\n').filter((l) => l.includes(needle));

it.skipIf(process.platform !== 'linux')(
  'SIGINT to the npm start process stops central, the companion and the simulator; nothing is lost; the link and the summary print once',
  { timeout: 180_000 },
  async () => {
    const port = await freePort();
    const uiPort = await freePort();
    const data = join(root, 'data');
    // `npm start` without its prestart build (the suite's global setup built the UI): the very script users run.
    npm = spawn('npm', ['start', '--ignore-scripts'], {
      cwd: ROOT,
      env: cleanEnv({ TILLSYNC_DATA_ROOT: data, PORT: String(port), TILLSYNC_UI_PORT: String(uiPort), TILLSYNC_DEMO_RATE: '5', TILLSYNC_OPEN_BROWSER: '0', LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, as a terminal's job: the test sees every process in it
    });
    npm.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    npm.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const pid = npm.pid as number;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => npm?.once('exit', (code, signal) => resolve({ code, signal })));
    const diagnose = () => output.slice(-4000);

    await waitUntil('the banner', () => output.includes('stop with Ctrl-C'), { timeout: 90_000, interval: 100, diagnose });
    const stack = JSON.parse(readFileSync(join(data, 'stack.json'), 'utf8')) as { adminToken: string; terminal: { terminalId: string; apiKey: string } };
    const admin = new ApiClient(`http://127.0.0.1:${port}`, stack.adminToken);
    await waitUntil(
      'sales at central',
      async () => ((await admin.get('/api/sync/status', { terminalId: 'demo-terminal' })).body?.tables?.SaleOrder?.synced ?? 0) >= 3,
      { timeout: 60_000, interval: 250, diagnose },
    );

    // Everything npm started: the stack, the companion and the simulator (and their tsx helpers).
    const members = group(pid);
    const has = (what: RegExp) => members.some((m) => what.test(m.cmd));
    expect(has(/src\/stack\/main\.ts/), JSON.stringify(members)).toBe(true);
    expect(has(/tillsync\.mjs ui\b/), JSON.stringify(members)).toBe(true);
    expect(has(/tillsync\.mjs simulate\b/), JSON.stringify(members)).toBe(true);

    process.kill(pid, 'SIGINT'); // npm's own process, not its group
    const gone = await waitUntil('every process npm started to exit', () => (members.every((m) => !alive(m.pid)) ? true : undefined), {
      timeout: 60_000,
      interval: 100,
      diagnose: () => `${JSON.stringify(members.filter((m) => alive(m.pid)))}\n${diagnose()}`,
    });
    expect(gone).toBe(true);
    expect(await exited).toEqual({ code: 0, signal: null });

    // Printed once each: the companion's link (the banner's line) and the simulator's summary.
    expect(linesWith(output, `127.0.0.1:${uiPort}/?token=`), output).toHaveLength(1);
    expect(linesWith(output, 'companion: http://127.0.0.1:')).toHaveLength(1);
    expect(linesWith(output, '"elapsedSeconds"'), output).toHaveLength(1);

    // The POS file is whole, and central's database opens: every sale rung up reaches central exactly once.
    const posPath = join(data, 'demo-pos.db');
    const pos = new Database(posPath, { readonly: true, fileMustExist: true });
    const integrity = pos.pragma('integrity_check', { simple: true });
    const sold = (pos.prepare('SELECT order_number FROM orders').all() as { order_number: string }[]).map((r) => r.order_number).sort();
    pos.close();
    expect(integrity).toBe('ok');
    expect(sold.length).toBeGreaterThanOrEqual(3);
    expect(existsSync(join(data, 'central'))).toBe(true);
    const db = await openPglite(join(data, 'central'));
    const central = await startCentral({ db });
    try {
      const terminal = stack.terminal;
      const sync = await runTillsync(['sync'], agentEnv({ databasePath: posPath, centralUrl: central.url, apiKey: terminal.apiKey, terminalId: terminal.terminalId }), 60_000);
      expect(sync.code, `${sync.stdout}\n${sync.stderr}`).toBe(0);
      const atCentral = await db.query<{ order_number: string; n: number }>('SELECT order_number, count(*)::int AS n FROM orders GROUP BY order_number');
      expect(atCentral.rows.filter((r) => r.n !== 1)).toEqual([]);
      expect(atCentral.rows.map((r) => r.order_number).sort()).toEqual(sold);
    } finally {
      await central.close();
      await db.close();
    }
  },
);
