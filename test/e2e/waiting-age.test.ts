/**
 * "Synced" means nothing is waiting (issue 14), in the page: the built renderer in
 * Chromium (web mode, 800x600 like a till's screen) against the real engine over a
 * real POS SQLite file and a real central. Central stays up; the engine reaches it
 * through a TCP relay the test cuts, so central is unreachable without a restart.
 *
 * The page's clock is Playwright's (installed before the page loads, it runs in real
 * time until the test jumps it forward): the age of what waits ticks in the page,
 * from the last status the engine sent, without the engine being asked.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineStatus } from '../../src/shared/ipc.js';
import { LocalStore } from '../../src/main/sync/store/index.js';
import type { WebCompanion } from '../../src/agent/web-companion.js';
import { launchBrowser, SCREENSHOT_DIR, screenshot, startCompanion, useRenderer } from '../helpers/browser.js';
import { useCentral } from '../helpers/central.js';
import { openPos, removeTempDirs, tempDir } from '../helpers/engine.js';
import { ringUpSales } from '../helpers/processes.js';
import { count } from '../helpers/sync.js';

const c = useCentral();
const ui = useRenderer();
let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});
afterAll(async () => {
  await browser?.close();
  removeTempDirs();
});

/** A TCP relay to central on a port of its own: `cut` drops every connection and refuses new ones, `restore` listens again on the same port. */
async function relay(target: string) {
  const { hostname, port: targetPort } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(Number(targetPort), hostname);
        for (const [a, b] of [
          [client, upstream],
          [upstream, client],
        ] as const) {
          sockets.add(a);
          a.on('error', () => b.destroy());
          a.on('close', () => {
            sockets.delete(a);
            b.destroy();
          });
          a.pipe(b);
        }
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return { url: `http://127.0.0.1:${port}`, cut, restore: listen };
}

/** The companion's page at a till's screen size, with Playwright's clock installed before it loads. */
async function openTillPage(w: WebCompanion): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 800, height: 600 }, colorScheme: 'light' });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
  });
  await page.clock.install();
  await page.goto(w.bridge.pageUrl);
  return { page, context, errors };
}

async function engineStatus(w: WebCompanion): Promise<EngineStatus> {
  const r = await fetch(`${w.bridge.url}/ipc/sync:status`, {
    method: 'POST',
    headers: { authorization: `Bearer ${w.bridge.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ args: [] }),
  });
  const body = (await r.json()) as { ok: boolean; value: EngineStatus };
  expect(body.ok).toBe(true);
  return body.value;
}

const text = async (page: Page, testId: string) => (await page.getByTestId(testId).textContent())?.trim();
const headlineState = (page: Page) => page.getByTestId('headline').getAttribute('data-state');
/** Seconds in "... oldest 12 s" (0 for "just now"; NaN for anything else). */
const ageSeconds = (s: string | undefined) => {
  const m = /oldest (just now|(\d+) s)$/.exec(s ?? '');
  return !m ? Number.NaN : m[2] === undefined ? 0 : Number(m[2]);
};
/** Whether the element is within the 800x600 viewport, without scrolling. */
const aboveTheFold = async (page: Page, testId: string) => {
  const box = await page.getByTestId(testId).boundingBox();
  return box !== null && box.x >= 0 && box.y >= 0 && box.x + box.width <= 800 && box.y + box.height <= 600;
};
const noSidewaysScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
/** The full page (test-results/screenshots/<name>.png) and what a till's 800x600 screen shows of it (<name>-800x600.png). */
async function screenshots(page: Page, name: string): Promise<void> {
  await screenshot(page, name);
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-800x600.png`), animations: 'disabled' });
}

describe('synced means nothing is waiting', () => {
  it('synced once a sale reached central; while central is unreachable the waiting sale shows its age, ticking in the page; synced again once it is back', { timeout: 90_000 }, async () => {
    const terminal = await c.provision(`e2e-age-${process.pid}-${Date.now().toString(36)}`);
    const dbPath = join(tempDir('tillsync-e2e-pos-'), 'pos.sqlite');
    new LocalStore(dbPath, terminal.terminalId, { create: true, warn: () => {} }).close();
    const link = await relay(c.url);
    cleanups.push(() => link.cut());
    const web = await startCompanion(ui.dir, {
      env: { CENTRAL_API_URL: link.url, TERMINAL_ID: terminal.terminalId, CENTRAL_API_KEY: terminal.apiKey, DATABASE_URL: `file:${dbPath}` },
    });
    cleanups.push(() => web.close());
    const pos = openPos(dbPath);
    cleanups.push(() => {
      pos.close();
    });
    const { page, context, errors } = await openTillPage(web);
    cleanups.push(() => context.close());
    const orderCount = (n: string) => count(c, 'orders WHERE order_number = $1', [n]);

    await expect.poll(() => text(page, 'connection'), { timeout: 15_000 }).toBe('Online');
    await expect.poll(() => text(page, 'activity'), { timeout: 15_000 }).toBe('Idle');
    const storeRow = () => pos.prepare('SELECT id FROM stores WHERE server_id = ?').get(terminal.storeId) as { id: number } | undefined;
    await expect.poll(storeRow, { timeout: 15_000 }).toBeDefined();
    const storeLocalId = (storeRow() as { id: number }).id;

    // A sale reaches central: the page says synced, and that nothing waits.
    const [first] = ringUpSales(pos, { storeLocalId, prefix: `AGE-${terminal.terminalId}-A`, count: 1 });
    await expect.poll(() => orderCount(first as string), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => text(page, 'total-pending'), { timeout: 10_000 }).toBe('0');
    await expect.poll(() => text(page, 'headline')).toBe('All sales are safe at HQ');
    expect(await headlineState(page)).toBe('synced');
    expect(await text(page, 'oldest-pending')).toBe('nothing waits');
    expect((await engineStatus(web)).oldestPendingAt).toBeNull();
    expect(await aboveTheFold(page, 'headline')).toBe(true);
    expect(await aboveTheFold(page, 'oldest-pending')).toBe(true);
    expect(await noSidewaysScroll(page)).toBe(true);
    await screenshots(page, 'status-synced');

    // Central out of reach: offline, and not "synced" even with nothing waiting.
    await link.cut();
    await expect.poll(() => text(page, 'connection'), { timeout: 10_000 }).toBe('Offline');
    expect(await text(page, 'headline')).toBe('Offline: sales are kept safely on this till');
    expect(await headlineState(page)).toBe('offline');

    // A sale rung up now waits on the till: the count and the age of the oldest change.
    const [second] = ringUpSales(pos, { storeLocalId, prefix: `AGE-${terminal.terminalId}-B`, count: 1 });
    await expect.poll(() => text(page, 'total-pending'), { timeout: 10_000 }).toBe('3'); // the order, its line, its payment
    await expect.poll(() => text(page, 'headline')).toMatch(/^Offline: 3 sale changes kept safely on this till, oldest (just now|\d+ s)$/);
    expect(await text(page, 'oldest-pending')).toMatch(/^oldest (just now|\d+ s)$/);
    expect(await page.locator('tr[data-table="SaleOrder"] td[data-col="pending"]').textContent()).toBe('1');
    const waiting = await engineStatus(web);
    expect(waiting.totals.pending).toBe(3);
    const since = Date.parse(waiting.oldestPendingAt as string);
    expect(Date.now() - since).toBeLessThan(10_000);

    // The age ticks in the page, from the same engine status (nothing newer arrives: nothing changed).
    await expect.poll(async () => ageSeconds(await text(page, 'headline')), { timeout: 15_000 }).toBeGreaterThanOrEqual(7);
    const shown = ageSeconds(await text(page, 'headline'));
    const real = (Date.now() - since) / 1000;
    expect(shown).toBeLessThanOrEqual(real + 1);
    expect(shown).toBeGreaterThanOrEqual(real - 3);
    expect(ageSeconds(await text(page, 'oldest-pending'))).toBeGreaterThanOrEqual(7);
    expect((await engineStatus(web)).oldestPendingAt).toBe(waiting.oldestPendingAt);
    expect(await orderCount(second as string)).toBe(0);

    // Forty minutes later (the page's clock jumps; the engine still has the same sale waiting).
    await page.clock.fastForward('40:00');
    await expect.poll(() => text(page, 'headline')).toBe('Offline: 3 sale changes kept safely on this till, oldest 40 min');
    expect(await text(page, 'oldest-pending')).toBe('oldest 40 min');
    expect(await headlineState(page)).toBe('offline');
    expect(await aboveTheFold(page, 'headline')).toBe(true);
    expect(await aboveTheFold(page, 'oldest-pending')).toBe(true);
    expect(await noSidewaysScroll(page)).toBe(true);
    await screenshots(page, 'status-offline-waiting');
    await page.emulateMedia({ colorScheme: 'dark' });
    await screenshots(page, 'status-offline-waiting-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // Central reachable again: the engine sends what waited; synced only once nothing does.
    await link.restore();
    await expect.poll(() => orderCount(second as string), { timeout: 20_000 }).toBe(1);
    await expect.poll(() => text(page, 'total-pending'), { timeout: 15_000 }).toBe('0');
    await expect.poll(() => text(page, 'headline'), { timeout: 15_000 }).toBe('All sales are safe at HQ');
    expect(await text(page, 'oldest-pending')).toBe('nothing waits');
    expect(await text(page, 'connection')).toBe('Online');
    expect(errors).toEqual([]);
  });
});
