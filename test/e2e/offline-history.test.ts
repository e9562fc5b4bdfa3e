/**
 * The companion UI when central goes away and comes back, and the History screen
 * with the runs that made: central is a child process (PGlite on a data directory)
 * stopped with SIGTERM and started again on the same port and data; the companion
 * (web mode, real engine) and Chromium stay up throughout.
 *
 * The two tests run in order on one till: the history test reads the runs the
 * offline test made.
 */
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../src/shared/ipc.js';
import { LocalStore } from '../../src/main/sync/store/index.js';
import type { WebCompanion } from '../../src/agent/web-companion.js';
import { launchBrowser, openPage, screenshot, startCompanion, useRenderer } from '../helpers/browser.js';
import type { ProvisionedTerminal } from '../helpers/central.js';
import { openPos, removeTempDirs, tempDir } from '../helpers/engine.js';
import { freePort, killAll, provisionOn, ringUpSales, startCentralProcess, type CentralProcess } from '../helpers/processes.js';

const ui = useRenderer();
let browser: Browser;
let central: CentralProcess;
let centralPort: number;
let centralData: string;
let terminal: ProvisionedTerminal;
let web: WebCompanion;
let pos: Database.Database;
let context: BrowserContext;
let page: Page;
let errors: string[];

beforeAll(async () => {
  browser = await launchBrowser();
  centralPort = await freePort();
  centralData = tempDir('tillsync-e2e-central-');
  central = await startCentralProcess({ port: centralPort, dataDir: centralData });
  terminal = await provisionOn(central.url, 'e2e-offline', 'e2e-offline-t1');
  const dbPath = join(tempDir('tillsync-e2e-pos-'), 'pos.sqlite');
  new LocalStore(dbPath, terminal.terminalId, { create: true, warn: () => {} }).close();
  web = await startCompanion(ui.dir, {
    env: { CENTRAL_API_URL: central.url, TERMINAL_ID: terminal.terminalId, CENTRAL_API_KEY: terminal.apiKey, DATABASE_URL: `file:${dbPath}` },
  });
  pos = openPos(dbPath);
  ({ page, context, errors } = await openPage(browser, web));
}, 90_000);

afterAll(async () => {
  await context?.close();
  pos?.close();
  await web?.close();
  await browser?.close();
  await killAll();
  removeTempDirs();
});

const text = async (testId: string) => (await page.getByTestId(testId).textContent())?.trim();
const pillState = () => page.getByTestId('headline').getAttribute('class');
/** The outbox statuses of an order (as central answered its push). */
const outboxOf = (orderNumber: string) =>
  (
    pos
      .prepare(`SELECT o.status FROM tillsync_outbox o JOIN orders s ON s.server_id = o.server_id WHERE o.table_name = 'orders' AND s.order_number = ?`)
      .all(orderNumber) as { status: string }[]
  ).map((r) => r.status);

async function history(): Promise<HistoryEntry[]> {
  const r = await fetch(`${web.bridge.url}/ipc/history:list`, {
    method: 'POST',
    headers: { authorization: `Bearer ${web.bridge.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ args: [{ limit: 200 }] }),
  });
  const body = (await r.json()) as { ok: boolean; value: HistoryEntry[] };
  expect(body.ok).toBe(true);
  return body.value;
}

describe('central goes away and comes back', () => {
  it('the page shows Offline when central stops, keeps the sale on the till, and clears to Online when central is back', async () => {
    await expect.poll(() => text('connection'), { timeout: 15_000 }).toBe('Online');
    await expect.poll(() => text('activity'), { timeout: 15_000 }).toBe('Idle');
    const storeLocal = (pos.prepare('SELECT id FROM stores WHERE server_id = ?').get(terminal.storeId) as { id: number } | undefined)?.id;
    expect(storeLocal).toBeDefined();

    const exit = await central.proc.stop('SIGTERM');
    expect(exit.code).toBe(0);
    // The next heartbeat finds nobody: the status arrives as an event.
    await expect.poll(() => text('connection'), { timeout: 10_000 }).toBe('Offline');
    expect(await text('headline')).toBe('Offline: sales are kept safely on this till');
    expect(await pillState()).toContain('state-offline');

    // Sync now while offline: a run with the error (History shows it).
    await page.getByRole('button', { name: 'Sync now', exact: true }).click();
    await expect.poll(() => text('control-result')).toMatch(/^Sync now: pushed 0, pulled 0 in \d+ ms; central .* unreachable/);
    expect(await page.getByTestId('control-result').getAttribute('class')).toContain('bad');
    await expect.poll(() => text('last-error')).toMatch(/^Last error: central .* unreachable/);
    expect(await text('connection')).toBe('Offline');

    // A sale rung up while offline stays on the till.
    const [orderNumber] = ringUpSales(pos, { storeLocalId: storeLocal as number, prefix: 'E2E-OFFLINE', count: 1 });
    // The engine moves it from the capture log into the outbox when it sees the commit, offline too.
    await expect.poll(() => outboxOf(orderNumber as string)).toEqual(['pending']);
    // The page shows it waiting (the commit watcher reports it while offline) and the pill counts it.
    await expect.poll(() => text('total-pending')).toBe('3');
    await expect.poll(() => text('headline')).toMatch(/^Offline: 3 sale changes kept safely on this till, oldest (just now|\d+ s)$/);
    await screenshot(page, 'status-offline');

    central = await startCentralProcess({ port: centralPort, dataDir: centralData });
    await expect.poll(() => text('connection'), { timeout: 15_000 }).toBe('Online');
    expect(await pillState()).not.toContain('state-offline');
    // Back online, the engine sends what waited: central acknowledges the sale (the till's outbox says so).
    await expect.poll(() => outboxOf(orderNumber as string), { timeout: 15_000 }).toEqual(['synced']);
    await expect.poll(() => text('total-pending'), { timeout: 15_000 }).toBe('0');
    await expect.poll(() => text('headline'), { timeout: 15_000 }).toBe('All sales are safe at HQ');
    expect(errors).toEqual([]);
  });

  it('History lists the runs; "Only with errors" and the kind filter narrow the list', async () => {
    const runs = await history();
    const withErrors = runs.filter((r) => r.errors.length > 0 || r.failed > 0);
    const full = runs.filter((r) => r.kind === 'FULL');
    // The start-up and back-online full syncs, and the Sync now that failed while offline.
    expect(full.map((r) => r.trigger)).toEqual(expect.arrayContaining(['startup', 'back-online']));
    expect(withErrors.map((r) => `${r.kind} ${r.trigger}`)).toContain('INCREMENTAL ui');
    expect(withErrors.length).toBeLessThan(runs.length);
    expect(full.length).toBeLessThan(runs.length);

    await page.keyboard.press('Alt+3');
    // One body per run (its errors, if any, on a line of their own in it).
    const rows = page.getByTestId('history').locator('tbody');
    await expect.poll(() => text('history-count')).toBe(`${runs.length} of ${runs.length} runs`);
    expect(await rows.count()).toBe(runs.length);
    expect(await rows.locator('td:nth-child(3)').allTextContents()).toEqual(expect.arrayContaining(['startup', 'back-online', 'ui']));

    await page.getByLabel('Only with errors').check();
    await expect.poll(() => text('history-count')).toBe(`${withErrors.length} of ${runs.length} runs`);
    expect(await rows.count()).toBe(withErrors.length);
    for (const errorsCell of await rows.locator('[data-col="errors"]').allTextContents()) expect(errorsCell).toMatch(/unreachable/);
    await screenshot(page, 'history-errors-only');

    await page.getByLabel('Only with errors').uncheck();
    await page.getByLabel('Kind').selectOption('FULL');
    await expect.poll(() => text('history-count')).toBe(`${full.length} of ${runs.length} runs`);
    expect(new Set(await rows.locator('td:nth-child(2)').allTextContents())).toEqual(new Set(['full']));
    await screenshot(page, 'history');
    expect(errors).toEqual([]);
  });
});
