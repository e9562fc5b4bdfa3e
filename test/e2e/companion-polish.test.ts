/**
 * The companion as a new user meets it (issue 18), in Chromium against the real
 * engine in web mode and a real central:
 * - every screen (Status, Conflicts and the merge editor, History, Settings) fits a
 *   till's 800x600 screen: no sideways scrolling, no table column cut off;
 * - the central URL is never broken inside its host and port (1366x768 too);
 * - "paused" looks like it needs attention (amber), not like all is well (green);
 * - History shows each error once;
 * - in web mode the auto-start box is off and disabled, with one line saying why;
 * - the page without its token shows the commands as code, not with backticks.
 *
 * One till for the file: its companion starts against an address where no central
 * listens (the start-up pass fails: History gets an error), then Settings point it at
 * the real central; a purchase order edited on both sides makes a conflict.
 */
import type Database from 'better-sqlite3';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebCompanion } from '../../src/agent/web-companion.js';
import { LocalStore } from '../../src/main/sync/store/index.js';
import type { HistoryEntry, SettingsView } from '../../src/shared/ipc.js';
import { launchBrowser, openPage, screenshot, startCompanion, useRenderer } from '../helpers/browser.js';
import { useCentral, type ProvisionedTerminal } from '../helpers/central.js';
import { openPos, removeTempDirs, tempDir } from '../helpers/engine.js';
import { DEAD_CENTRAL_URL, waitUntil } from '../helpers/processes.js';
import { settled } from '../helpers/sync.js';

const c = useCentral();
const ui = useRenderer();
let browser: Browser;
let terminal: ProvisionedTerminal;
let web: WebCompanion;
let pos: Database.Database;
let context: BrowserContext;
let page: Page;
let errors: string[];
/** The address the companion first looked for central at (nobody listens there). */
let deadUrl: string;

/** A call to the companion's IPC over HTTP, as the page makes it. */
async function ipc<T>(channel: string, args: unknown[] = []): Promise<T> {
  const r = await fetch(`${web.bridge.url}/ipc/${channel}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${web.bridge.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ args }),
  });
  const body = (await r.json()) as { ok: boolean; value?: T; error?: { message: string } };
  if (!body.ok) throw new Error(`${channel}: ${body.error?.message}`);
  return body.value as T;
}

const text = async (testId: string) => (await page.getByTestId(testId).textContent())?.trim();
const tab = (name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: new RegExp(`^${name}`) });

beforeAll(async () => {
  browser = await launchBrowser();
  terminal = await c.provision(`polish-${process.pid}-${Date.now().toString(36)}`);
  const dbPath = join(tempDir('tillsync-e2e-pos-'), 'pos.sqlite');
  new LocalStore(dbPath, terminal.terminalId, { create: true, warn: () => {} }).close();
  pos = openPos(dbPath);
  // Something waits when the companion starts: its start-up pass pushes it, and finds nobody.
  pos.prepare(`INSERT INTO customers (name, email, loyalty_points, total_spent, visit_count) VALUES ('Ann', 'ann@example.test', 0, 0, 0)`).run();
  deadUrl = DEAD_CENTRAL_URL;
  web = await startCompanion(ui.dir, {
    env: { CENTRAL_API_URL: deadUrl, TERMINAL_ID: terminal.terminalId, CENTRAL_API_KEY: terminal.apiKey, DATABASE_URL: `file:${dbPath}` },
  });
  await waitUntil('the start-up pass to fail', async () => (await ipc<HistoryEntry[]>('history:list', [{ limit: 10 }])).some((h) => h.trigger === 'startup' && h.errors.length > 0));
  // Settings point it at the real central: the engine restarts, the customer goes.
  await ipc<SettingsView>('settings:set', [{ centralUrl: c.url }]);
  ({ page, context, errors } = await openPage(browser, web));
  await waitUntil('the page to show the engine online', async () => (await text('connection')) === 'Online');
  await waitUntil('the customer to reach central', async () => (await text('total-pending')) === '0');

  // A conflict: a purchase order the till sent, then edited at HQ and at the till.
  const engine = web.companion.engine;
  if (!engine) throw new Error('the engine is not running');
  const storeLocal = (pos.prepare('SELECT id FROM stores WHERE server_id = ?').get(terminal.storeId) as { id: number }).id;
  const localId = pos.prepare(`INSERT INTO purchase_orders (store_id, po_number, status, total, notes) VALUES (?, 'PO-POLISH-1', 'draft', 100, 'original')`).run(storeLocal).lastInsertRowid;
  expect((await engine.performFullSync('test')).errors).toEqual([]);
  const po = (pos.prepare('SELECT server_id FROM purchase_orders WHERE id = ?').get(localId) as { server_id: string }).server_id;
  await c.db.query(`UPDATE purchase_orders SET status = 'ordered', notes = 'HQ: ordered by phone, delivery on Thursday morning' WHERE id = $1`, [po]);
  pos.prepare(`UPDATE purchase_orders SET total = 250, notes = 'till: two more boxes of the large paper cups' WHERE id = ?`).run(localId);
  await settled(c);
  expect((await engine.performFullSync('test')).errors).toEqual([]);
  await waitUntil('the page to show the conflict', async () => (await text('total-conflicts')) === '1');
}, 120_000);

afterAll(async () => {
  await context?.close();
  pos?.close();
  await web?.close();
  await browser?.close();
  removeTempDirs();
});

/**
 * Whether the page fits its viewport: nothing scrolls sideways (the page or any
 * element), and every table's last column ends inside the viewport.
 */
async function layout(): Promise<{ page: { scrollWidth: number; clientWidth: number }; scrollers: string[]; lastColumns: { table: string; right: number }[]; viewport: number }> {
  return page.evaluate(() => {
    const de = document.documentElement;
    const scrollers: string[] = [];
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('body *'))) {
      const style = getComputedStyle(el);
      if (el.scrollWidth > el.clientWidth + 1 && ['auto', 'scroll'].includes(style.overflowX)) scrollers.push(`${el.tagName.toLowerCase()}.${el.className} (${el.scrollWidth} > ${el.clientWidth})`);
    }
    const lastColumns = Array.from(document.querySelectorAll<HTMLTableElement>('table')).flatMap((t) =>
      Array.from(t.rows).map((r) => ({ table: `${t.dataset.testid ?? t.className} row ${r.rowIndex}`, right: Math.ceil(r.cells[r.cells.length - 1]?.getBoundingClientRect().right ?? 0) })),
    );
    return { page: { scrollWidth: de.scrollWidth, clientWidth: de.clientWidth }, scrollers, lastColumns, viewport: window.innerWidth };
  });
}

async function expectFits(screen: string): Promise<void> {
  const l = await layout();
  // Soft: one run reports every screen that does not fit.
  expect.soft(l.page.scrollWidth, `${screen}: the page scrolls sideways`).toBeLessThanOrEqual(l.page.clientWidth);
  expect.soft(l.scrollers, `${screen}: an element scrolls sideways`).toEqual([]);
  expect.soft(l.lastColumns.filter((col) => col.right > l.viewport), `${screen}: a table's last column is cut off`).toEqual([]);
}

describe('the companion on a small screen', () => {
  it('every screen fits 800x600: no sideways scrolling, every table column inside the window', async () => {
    await page.setViewportSize({ width: 800, height: 600 });
    await tab('Status').click();
    await expect.poll(() => page.getByTestId('tables').locator('tbody tr').count()).toBeGreaterThan(10);
    await screenshot(page, 'polish-800-status');
    await expectFits('Status');

    await tab('Conflicts').click();
    const inbox = page.getByTestId('conflict-inbox');
    await expect.poll(() => inbox.getByRole('button').count()).toBe(1);
    await screenshot(page, 'polish-800-conflicts');
    await expectFits('Conflicts');
    await inbox.getByRole('button').first().click();
    await page.getByTestId('merge-table').waitFor();
    await screenshot(page, 'polish-800-merge');
    await expectFits('the merge editor');
    await page.getByRole('button', { name: 'Back to inbox' }).click();

    await tab('History').click();
    await expect.poll(async () => Number((await text('history-count'))?.split(' ')[0])).toBeGreaterThan(2);
    await screenshot(page, 'polish-800-history');
    await expectFits('History');

    await tab('Settings').click();
    await page.locator('#centralUrl').waitFor();
    await screenshot(page, 'polish-800-settings');
    await expectFits('Settings');
    expect(errors).toEqual([]);
  });

  it('History shows each error of a run once', async () => {
    const runs = await ipc<HistoryEntry[]>('history:list', [{ limit: 200 }]);
    const failed = runs.find((h) => h.trigger === 'startup' && h.errors.length > 0);
    expect(failed?.errors).toEqual([expect.stringContaining(`central ${deadUrl} unreachable`)]);
    await tab('History').click();
    await page.getByLabel('Only with errors').check();
    const cell = page.getByTestId('history').locator(`tbody[data-run="${failed?.id}"] [data-col="errors"]`);
    await expect.poll(() => cell.textContent()).toBe(failed?.errors[0]);
    await page.getByLabel('Only with errors').uncheck();
  });

  it('the central URL stays whole: on one line at 1366x768 and at 800x600, with the full URL in its title', async () => {
    for (const [width, height] of [
      [1366, 768],
      [800, 600],
    ] as const) {
      await page.setViewportSize({ width, height });
      await tab('Status').click();
      const dd = page.locator('.facts dt:text-is("Central") + dd');
      await expect.poll(() => dd.textContent()).toBe(c.url);
      // One line box for the whole text, all of it visible.
      const lines = await dd.evaluate((el) => {
        const range = document.createRange();
        range.selectNodeContents(el);
        return new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top))).size;
      });
      expect(lines, `${width}x${height}: the URL wraps`).toBe(1);
      expect(await dd.evaluate((el) => el.scrollWidth <= el.clientWidth), `${width}x${height}: the URL is cut`).toBe(true);
      // A URL too long for its box ends in an ellipsis: the whole of it is in the title.
      expect(await dd.getAttribute('title')).toBe(c.url);
      await screenshot(page, `polish-${width}-status`);
    }
  });

  it('Paused is shown in amber, as the other attention states, not in green', async () => {
    await page.setViewportSize({ width: 800, height: 600 });
    await tab('Status').click();
    const color = (testId: string) => page.getByTestId(testId).evaluate((el) => getComputedStyle(el).color);
    const online = await color('connection');
    // The amber of the states that are not yet safe at HQ (waiting, offline, a paused till's headline).
    const amber = await page.evaluate(() => {
      const probe = document.createElement('span');
      probe.className = 'state-offline';
      document.body.append(probe);
      const c = getComputedStyle(probe).color;
      probe.remove();
      return c;
    });
    expect(amber).not.toBe(online);
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await expect.poll(() => text('connection')).toBe('Online · paused');
    expect(await color('connection')).toBe(amber);
    // The control's own answer too: done, and it needs attention.
    await expect.poll(() => text('control-result')).toContain('Sync paused');
    expect(await color('control-result')).toBe(amber);
    await screenshot(page, 'polish-800-paused');
    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await expect.poll(() => text('connection')).toBe('Online');
    expect(await color('connection')).toBe(online);
  });

  it('web mode: the auto-start box is off and disabled, with one line saying why; the engine never reports it on', async () => {
    expect((await ipc<SettingsView>('settings:get')).autoStart).not.toBe(true);
    await tab('Settings').click();
    const box = page.getByLabel('Start TillSync when this computer starts');
    await box.waitFor();
    expect(await box.isChecked()).toBe(false);
    expect(await box.isDisabled()).toBe(true);
    const why = page.locator('#autoStart-hint');
    expect(await why.textContent()).toMatch(/installed app/);
    expect(await box.getAttribute('aria-describedby')).toContain('autoStart-hint');
    await screenshot(page, 'polish-800-settings-autostart');
    expect(errors).toEqual([]);
  });

  it('the page without its token names the commands as code, without backticks', async () => {
    const bare = await browser.newContext({ viewport: { width: 800, height: 600 } });
    try {
      const p = await bare.newPage();
      await p.goto(`${web.bridge.url}/`);
      const alert = p.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).not.toContain('`');
      expect(await alert.locator('code').allTextContents()).toEqual(['tillsync ui', 'npm start']);
      await screenshot(p, 'polish-no-token');
    } finally {
      await bare.close();
    }
  });
});
