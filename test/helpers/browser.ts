/**
 * End-to-end helpers for the companion UI: the renderer built once per test file,
 * Debian's Chromium through playwright-core, the companion in web mode (the real
 * engine behind the token-protected bridge host) and screenshots of each screen.
 *
 * Usage:
 *   const ui = useRenderer();                 // builds the renderer in beforeAll
 *   const browser = await launchBrowser();    // close it in afterAll
 *   const w = await startCompanion(ui.dir, { env: { ... } });
 *   const page = await openPage(browser, w);
 *   await screenshot(page, 'status');         // test-results/screenshots/status.png
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startWebCompanion, type WebCompanion } from '../../src/agent/web-companion.js';
import type { SyncConfig } from '../../src/main/sync/sync-config.js';
import { REPO_ROOT, tempDir, testLogger } from './engine.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-results', 'screenshots');

/** Engine tuning for UI tests: heartbeats every second, the commit watcher every 50 ms, no socket. */
export const UI_TUNING: Partial<SyncConfig> = { heartbeatInterval: 1, watchIntervalMs: 50, realtime: false };

/** Launches headless Chromium; fails (never skips) with how to install it when it is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: the end-to-end tests need it. Install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
}

/** Builds the renderer (electron-vite) into a temp dir; returns `<tmp>/renderer` and how to remove it. */
export async function buildRenderer(): Promise<{ dir: string; remove(): void }> {
  const outDir = mkdtempSync(join(tmpdir(), 'tillsync-e2e-build-'));
  await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'node_modules/electron-vite/bin/electron-vite.js'), 'build', '--outDir', outDir, '--logLevel', 'warn'], {
    cwd: REPO_ROOT,
  });
  const dir = join(outDir, 'renderer');
  if (!existsSync(join(dir, 'index.html'))) throw new Error(`the renderer build left no ${dir}/index.html`);
  return { dir, remove: () => rmSync(outDir, { recursive: true, force: true }) };
}

/** The renderer built once for this test file (in beforeAll), removed in afterAll. */
export function useRenderer(): { readonly dir: string } {
  let built: { dir: string; remove(): void } | undefined;
  beforeAll(async () => {
    built = await buildRenderer();
  }, 120_000);
  afterAll(() => built?.remove());
  return {
    get dir() {
      if (!built) throw new Error('useRenderer: not built yet (use it in a hook or test after its beforeAll)');
      return built.dir;
    },
  };
}

/** The companion in web mode on 127.0.0.1, with its own data directory. */
export async function startCompanion(rendererDir: string, opts: { env: NodeJS.ProcessEnv; tuning?: Partial<SyncConfig>; dataDir?: string }): Promise<WebCompanion> {
  return startWebCompanion({
    dataDir: opts.dataDir ?? join(tempDir('tillsync-e2e-data-'), 'companion'),
    env: opts.env,
    log: testLogger(),
    port: 0,
    rendererDir,
    tuning: opts.tuning ?? UI_TUNING,
  });
}

/**
 * A fresh browser context (nothing shared between tests) with the companion's page
 * open; page errors and failed console messages fail loudly through `errors`.
 */
export async function openPage(browser: Browser, w: WebCompanion): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, colorScheme: 'light' });
  // Fail an action (a click, a fill) well before the test's own timeout, naming what it waited for.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  await page.goto(w.bridge.pageUrl);
  return { page, context, errors };
}

/** Saves a full-page PNG as test-results/screenshots/<name>.png (repo-relative); returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled' });
  return path;
}
