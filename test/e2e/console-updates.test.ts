/**
 * HQ's console shows which version each till runs (its heartbeat's appVersion, in the
 * fleet table and on the till's page) and, on the till's page, the version the update
 * rollout has for it: the console built by vite, served by a real central, in Chromium,
 * with a real till reporting by heartbeat.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { ADMIN_TOKEN, useCentral } from '../helpers/central.js';
import { useConsoleBuild } from '../helpers/console-build.js';
import { closeAll, startEngine, type TerminalEngine } from '../helpers/engine.js';
import { buildRelease, setRollout, uploadRelease } from '../helpers/updates.js';

useConsoleBuild();
const c = useCentral();
let browser: Browser;
let page: Page;
let till: TerminalEngine;
const errors: string[] = [];

beforeAll(async () => {
  till = await startEngine(c, { config: { appVersion: '1.0.0' }, initialSync: true });
  expect(await till.service.heartbeat()).toBe(true);
  await uploadRelease(c.admin, buildRelease('1.0.0', 4096));
  await uploadRelease(c.admin, buildRelease('1.1.0', 4096));
  await setRollout(c.admin, { version: '1.1.0', previous: '1.0.0', percentage: 100 });
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'en-US' });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  page.on('pageerror', (err) => errors.push(err.message));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await closeAll();
});

describe('the console and companion updates', () => {
  it("shows each till's version, and on its page the version HQ's rollout has for it", async () => {
    const id = till.terminal.terminalId;
    const api = await c.admin.get(`/api/admin/updates/terminals/${id}`);
    expect(api.body).toEqual({ terminalId: id, storeId: till.terminal.storeId, appVersion: '1.0.0', target: { version: '1.1.0', allowDowngrade: false, reason: 'ROLLOUT' } });
    expect((await c.admin.get('/api/admin/updates/terminals/no-such-till')).status).toBe(404);
    expect((await till.terminal.api.get(`/api/admin/updates/terminals/${id}`)).status).toBe(403);

    await page.goto(`${c.url}/console`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const row = page.locator(`[data-testid="fleet-table"] tr[data-terminal="${id}"]`);
    await expect.poll(() => row.locator('td[data-col="version"]').textContent()).toBe('1.0.0');
    await row.getByRole('button').first().click();
    await expect.poll(() => page.getByTestId('update-target').textContent()).toBe(' → 1.1.0 (rollout)');
    await screenshot(page, 'console-update-target');

    // Pinned to the version it runs: said so.
    await setRollout(c.admin, { stores: { [till.terminal.storeId]: '1.0.0' } });
    await page.reload(); // the console opens on the fleet again (the token stays in the tab)
    await row.getByRole('button').first().click();
    await expect.poll(() => page.getByTestId('update-target').textContent()).toBe(' · as HQ wants');
    expect(errors).toEqual([]);
  });
});
