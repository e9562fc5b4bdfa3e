/**
 * The real Electron app, driven by Playwright's `_electron`: it boots, the window is
 * sandboxed and isolated, the preload's typed bridge reaches the engine over IPC,
 * an untrusted frame gets nothing, and the tray follows the engine's state.
 *
 * Electron's binary cannot be downloaded on every machine (not in this project's CI,
 * see README "The companion"): this file runs where one is installed
 * (node_modules/electron/path.txt, or ELECTRON_OVERRIDE_DIST_PATH) and is skipped
 * elsewhere. It needs `npm run build` first and better-sqlite3 built for Electron
 * (`npx electron-builder install-app-deps`); a Node-built module is reported as such.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { _electron as electron, type ElectronApplication } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalStore } from '../../src/main/sync/store/index.js';
import { useCentral } from '../helpers/central.js';
import { REPO_ROOT, tempDir } from '../helpers/engine.js';

/** Where Electron's binary is, without triggering its download (requiring `electron` would). */
function electronBinary(): string | undefined {
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  if (override) return existsSync(override) ? override : undefined;
  const pathFile = join(REPO_ROOT, 'node_modules/electron/path.txt');
  if (!existsSync(pathFile)) return undefined;
  const bin = join(REPO_ROOT, 'node_modules/electron/dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(bin) ? bin : undefined;
}

const binary = electronBinary();

describe.skipIf(binary === undefined)('the Electron app (needs an Electron binary)', () => {
  const c = useCentral();
  let app: ElectronApplication | undefined;
  let output = '';
  afterAll(async () => {
    await app?.close();
  });

  it('boots with a locked-down window, answers typed IPC and shows the tray state', { timeout: 90_000 }, async () => {
    expect(existsSync(join(REPO_ROOT, 'out/main/index.js')), 'run `npm run build` first').toBe(true);
    const t = await c.provision();
    const dir = tempDir('tillsync-electron-');
    const pos = join(dir, 'pos.db');
    new LocalStore(pos, t.terminalId, { create: true, warn: () => undefined }).close();
    app = await electron.launch({
      executablePath: binary,
      args: [join(REPO_ROOT, 'out/main/index.js'), `--user-data-dir=${join(dir, 'user-data')}`],
      cwd: REPO_ROOT,
      env: { ...(process.env as Record<string, string>), CENTRAL_API_URL: c.url, TERMINAL_ID: t.terminalId, CENTRAL_API_KEY: t.apiKey, DATABASE_URL: `file:${pos}`, LOG_LEVEL: 'info' },
    });
    app.process().stdout?.on('data', (d: Buffer) => (output += d.toString()));
    app.process().stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const page = await app.firstWindow();
    if (/NODE_MODULE_VERSION/.test(output)) throw new Error('better-sqlite3 is built for Node, not Electron: run `npx electron-builder install-app-deps`');
    expect(await page.title()).toBe('TillSync');

    // Isolation: no Node in the page, only the typed bridge.
    expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
    expect(await page.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe('undefined');
    const status = await page.evaluate(async () => (globalThis as unknown as { tillsync: { 'sync:status'(): Promise<unknown> } }).tillsync['sync:status']());
    expect(status).toMatchObject({ ok: true, value: { terminalId: t.terminalId } });
    const bad = await page.evaluate(async () => (globalThis as unknown as { tillsync: { 'history:list'(a: unknown): Promise<unknown> } }).tillsync['history:list']({ limit: -1 }));
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENTS' } });

    // Navigation away is refused; the page stays ours.
    await page.evaluate(() => {
      window.location.href = 'https://example.com/';
    });
    await page.waitForTimeout(500);
    expect(page.url()).toMatch(/^file:.*index\.html/);

    // The tray follows the engine (logged by the main process when its state changes).
    await expect.poll(() => /"tray":"(synced|pending|syncing)"/.test(output), { timeout: 30_000 }).toBe(true);

    // Closing the window keeps the engine running (the app is still there).
    await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]?.close());
    expect(await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(1);
  });
});
