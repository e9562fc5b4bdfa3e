/**
 * The companion UI end to end: the built renderer in Chromium, talking through the
 * web-mode bridge host to the real engine (Companion) over a real POS SQLite file,
 * which syncs with a real central server (PGlite, or PostgreSQL with
 * TEST_DATABASE_URL). The POS writes to its file with its own connection, as a till
 * does; the tests act in the page and check the page, central's database and the file.
 */
import type Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SettingsView } from '../../src/shared/ipc.js';
import { LocalStore } from '../../src/main/sync/store/index.js';
import type { WebCompanion } from '../../src/agent/web-companion.js';
import { launchBrowser, openPage, screenshot, startCompanion, useRenderer } from '../helpers/browser.js';
import { useCentral, type ProvisionedTerminal } from '../helpers/central.js';
import { openPos, removeTempDirs, tempDir } from '../helpers/engine.js';
import { outboxSummary, ringUpSales } from '../helpers/processes.js';
import { count, rowOf, settled } from '../helpers/sync.js';

const c = useCentral();
const ui = useRenderer();
let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});

/** What each test opened (companion, POS connection, browser context), closed after it, newest first. */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});
afterAll(async () => {
  await browser?.close();
  removeTempDirs();
});

let stores = 0;

interface Till {
  readonly terminal: ProvisionedTerminal;
  readonly dbPath: string;
  readonly dataDir: string;
  readonly web: WebCompanion;
  readonly page: Page;
  /** The POS app's own connection to the till's file. */
  readonly pos: Database.Database;
  /** Page errors and console errors seen so far. */
  readonly errors: string[];
}

interface TillOptions {
  /** The companion's environment (default: all four settings, as the agent's variables). */
  readonly env?: (t: ProvisionedTerminal, dbPath: string) => NodeJS.ProcessEnv;
  /** A settings.json the companion finds in its data directory. */
  readonly settings?: Record<string, unknown>;
}

/** A provisioned terminal in a store of its own, its POS database, its companion and the page open. */
async function till(opts: TillOptions = {}): Promise<Till> {
  const terminal = await c.provision(`e2e-${process.pid}-${Date.now().toString(36)}-${++stores}`);
  const dbPath = join(tempDir('tillsync-e2e-pos-'), 'pos.sqlite');
  new LocalStore(dbPath, terminal.terminalId, { create: true, warn: () => {} }).close();
  const dataDir = join(tempDir('tillsync-e2e-data-'), 'companion');
  if (opts.settings) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'settings.json'), JSON.stringify(opts.settings));
  }
  const env = opts.env
    ? opts.env(terminal, dbPath)
    : { CENTRAL_API_URL: c.url, TERMINAL_ID: terminal.terminalId, CENTRAL_API_KEY: terminal.apiKey, DATABASE_URL: `file:${dbPath}` };
  const web = await startCompanion(ui.dir, { env, dataDir });
  cleanups.push(() => web.close());
  const pos = openPos(dbPath);
  cleanups.push(() => {
    pos.close();
  });
  const { page, context, errors } = await openPage(browser, web);
  cleanups.push(() => context.close());
  return { terminal, dbPath, dataDir, web, page, pos, errors };
}

/** The local id of the till's own store row, once the engine has pulled it from central. */
async function localStore(t: Till): Promise<number> {
  const find = () => t.pos.prepare('SELECT id FROM stores WHERE server_id = ?').get(t.terminal.storeId) as { id: number } | undefined;
  await expect.poll(find, { timeout: 15_000, message: 'the store row reaches the till' }).toBeDefined();
  return (find() as { id: number }).id;
}

/** Waits until the page shows the engine online and idle (the start-up full sync done). */
async function online(page: Page): Promise<void> {
  await expect.poll(() => text(page, 'connection'), { timeout: 15_000 }).toBe('Online');
  await expect.poll(() => text(page, 'activity'), { timeout: 15_000 }).toBe('Idle');
}

/** A call to the companion's IPC over HTTP, as the page makes it (for checks behind the page's back). */
async function ipc<T>(w: WebCompanion, channel: string, args: unknown[] = []): Promise<T> {
  const r = await fetch(`${w.bridge.url}/ipc/${channel}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${w.bridge.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ args }),
  });
  const body = (await r.json()) as { ok: boolean; value?: T; error?: { message: string } };
  if (!body.ok) throw new Error(`${channel}: ${body.error?.message}`);
  return body.value as T;
}

const text = async (page: Page, testId: string) => (await page.getByTestId(testId).textContent())?.trim();
const num = async (page: Page, testId: string) => Number(await text(page, testId));
const cellNum = async (page: Page, table: string, col: string) => Number(await page.locator(`tr[data-table="${table}"] td[data-col="${col}"]`).textContent());
const tab = (page: Page, name: string) => page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name });

/** Marks the document, so a later check can tell the page was never reloaded. */
const markDocument = (page: Page) => page.evaluate(() => Object.assign(window, { e2eMark: 'same document' }));
const sameDocument = async (page: Page) => (await page.evaluate(() => (window as unknown as { e2eMark?: string }).e2eMark)) === 'same document';

const orderCount = (orderNumber: string) => count(c, 'orders WHERE order_number = $1', [orderNumber]);

describe('Status', () => {
  it('the synced counts go up in the page after the POS rings up a sale: status events, no reload', async () => {
    // Incremental passes every second (a cron schedule with seconds): each reports the status as an event.
    const t = await till({ settings: { cron: '* * * * * *' } });
    const { page } = t;
    await online(page);
    await expect.poll(() => text(page, 'terminal-id')).toBe(t.terminal.terminalId);
    const storeLocal = await localStore(t);
    const synced = await num(page, 'total-synced');
    const orders = await cellNum(page, 'SaleOrder', 'synced');
    const payments = await cellNum(page, 'Payment', 'synced');
    await markDocument(page);

    const [orderNumber] = ringUpSales(t.pos, { storeLocalId: storeLocal, prefix: `E2E-${t.terminal.terminalId}`, count: 1 });
    await expect.poll(() => orderCount(orderNumber as string), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => cellNum(page, 'SaleOrder', 'synced'), { timeout: 10_000 }).toBe(orders + 1);
    await expect.poll(() => cellNum(page, 'Payment', 'synced')).toBe(payments + 1);
    await expect.poll(() => num(page, 'total-synced')).toBeGreaterThanOrEqual(synced + 3); // order, its line and its payment
    await expect.poll(() => num(page, 'total-pending')).toBe(0);
    expect(await num(page, 'total-failed')).toBe(0);
    // Nothing waits: synced (also while a pass runs).
    await expect.poll(() => text(page, 'headline')).toBe('All sales are safe at HQ');
    expect(await text(page, 'oldest-pending')).toBe('nothing waits');
    expect(await sameDocument(page)).toBe(true);
    await screenshot(page, 'status');
    expect(t.errors).toEqual([]);
  });

  // The sale the commit watcher pushes at once is reported as statusChanged, so the
  // page (and the tray) show it without waiting for the next pass.
  it('a completed sale pushed at once by the commit watcher shows as synced in the page without waiting for a pass', async () => {
    const t = await till();
    const { page } = t;
    await online(page);
    const storeLocal = await localStore(t);
    const orders = await cellNum(page, 'SaleOrder', 'synced');
    const [orderNumber] = ringUpSales(t.pos, { storeLocalId: storeLocal, prefix: `E2E-${t.terminal.terminalId}`, count: 1 });
    await expect.poll(() => orderCount(orderNumber as string), { timeout: 10_000 }).toBe(1);
    // The engine knows (its status says so) ...
    expect((await ipc<{ tables: Record<string, { synced: number }> }>(t.web, 'sync:status')).tables.SaleOrder?.synced).toBe(orders + 1);
    // ... the page should hear of it.
    await expect.poll(() => cellNum(page, 'SaleOrder', 'synced'), { timeout: 3_000 }).toBe(orders + 1);
  });

  it('Pause stops pushes: a sale stays pending on the till and Sync now does nothing; Resume sends it to central', async () => {
    const t = await till();
    const { page } = t;
    await online(page);
    const storeLocal = await localStore(t);

    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await expect.poll(() => text(page, 'connection')).toBe('Online · paused');
    await expect.poll(() => text(page, 'control-result')).toContain('Sync paused');
    // Paused with nothing waiting is not "synced": what is rung up now stays here.
    expect(await text(page, 'headline')).toBe('Sync paused: new sales will wait on this till');

    const [orderNumber] = ringUpSales(t.pos, { storeLocalId: storeLocal, prefix: `E2E-${t.terminal.terminalId}`, count: 1 });
    // The commit watcher reports the new pending changes while paused, before any pass.
    await expect.poll(() => num(page, 'total-pending')).toBe(3);
    await page.getByRole('button', { name: 'Sync now', exact: true }).click();
    await expect.poll(() => text(page, 'control-result')).toMatch(/^Sync now: pushed 0, pulled 0 .*; paused$/);
    // Sync now refreshed the status: the order, its line and its payment wait on the till.
    await expect.poll(() => num(page, 'total-pending')).toBe(3);
    expect(await cellNum(page, 'SaleOrder', 'pending')).toBe(1);
    expect(await text(page, 'headline')).toMatch(/^Sync paused: 3 waiting on this till, oldest (just now|\d+ s)$/);
    expect(await page.getByTestId('headline').getAttribute('data-state')).toBe('pending');
    expect(await text(page, 'oldest-pending')).toMatch(/^oldest (just now|\d+ s)$/);
    expect(await text(page, 'connection')).toBe('Online · paused');
    expect(outboxSummary(t.pos).pending).toBe(3);
    await screenshot(page, 'status-paused');
    // The commit watcher had every chance to push it by now: central has not got it.
    expect(await orderCount(orderNumber as string)).toBe(0);

    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await expect.poll(() => text(page, 'connection')).toBe('Online');
    await expect.poll(() => orderCount(orderNumber as string), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => num(page, 'total-pending'), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => text(page, 'headline')).toBe('All sales are safe at HQ');
    expect(t.errors).toEqual([]);
  });
});

describe('Conflicts', () => {
  it('a purchase order edited at HQ and at the till is merged field by field in the editor, behind the supervisor PIN; central and the till get the merge', async () => {
    const t = await till();
    const { page, pos } = t;
    await online(page);
    const engine = t.web.companion.engine;
    if (!engine) throw new Error('the engine is not running');
    const storeLocal = await localStore(t);

    // A purchase order the till creates and sends to central.
    const localId = Number(
      pos.prepare(`INSERT INTO purchase_orders (store_id, po_number, status, total, notes) VALUES (?, 'PO-E2E-1', 'draft', 100, 'original')`).run(storeLocal).lastInsertRowid,
    );
    expect((await engine.performFullSync('test')).errors).toEqual([]);
    const po = (pos.prepare('SELECT server_id FROM purchase_orders WHERE id = ?').get(localId) as { server_id: string }).server_id;
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ status: 'draft', notes: 'original' });

    // HQ orders it while the store edits it: PurchaseOrder is MANUAL_MERGE, so the till's change is parked.
    await c.db.query(`UPDATE purchase_orders SET status = 'ordered', notes = 'HQ: ordered by phone' WHERE id = $1`, [po]);
    pos.prepare(`UPDATE purchase_orders SET total = 250, notes = 'till: two more boxes' WHERE id = ?`).run(localId);
    await settled(c);
    expect((await engine.performFullSync('test')).errors).toEqual([]);
    expect(engine.store.conflicts.openConflicts()).toHaveLength(1);

    // The page hears of it: the badge, the total and the inbox.
    await expect.poll(() => num(page, 'total-conflicts'), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => text(page, 'headline')).toBe('Needs attention: 1 conflict');

    // First the supervisor PIN, through Settings.
    await tab(page, 'Settings').click();
    await expect.poll(() => page.locator('#supervisorPin-hint').textContent()).toContain('Not set');
    await page.locator('#supervisorPin').fill('2468');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => text(page, 'settings-result')).toBe('Settings saved');
    await expect.poll(() => page.locator('#supervisorPin-hint').textContent()).toContain('A PIN is set');
    expect((await ipc<SettingsView>(t.web, 'settings:get')).hasPin).toBe(true);

    await tab(page, 'Conflicts').click();
    const inbox = page.getByTestId('conflict-inbox');
    await expect.poll(() => inbox.getByRole('button').count()).toBe(1);
    expect(await inbox.textContent()).toContain('PurchaseOrder');
    expect(await inbox.textContent()).toContain(po);
    await screenshot(page, 'conflicts-inbox');

    // The merge editor: base, this terminal and central per field.
    await inbox.getByRole('button').first().click();
    const grid = page.getByTestId('merge-table');
    await grid.waitFor();
    const row = (field: string) => grid.locator(`tr[data-field="${field}"]`);
    expect(await row('status').locator('td').allTextContents()).toEqual(['draft', 'draft', 'ordered', expect.any(String)]);
    expect(await row('total').locator('td').allTextContents()).toEqual(['100', '250', '100', expect.any(String)]);
    expect(await row('notes').locator('td').allTextContents()).toEqual(['original', 'till: two more boxes', 'HQ: ordered by phone', expect.any(String)]);
    // Central's status, this terminal's total, a typed note.
    await page.getByRole('radio', { name: 'status: central' }).check();
    await page.getByRole('radio', { name: 'total: this terminal' }).check();
    await page.getByRole('textbox', { name: 'notes: typed value' }).fill('merged: ordered, 250 incl. two more boxes');
    const merged = { status: 'ordered', total: 250, notes: 'merged: ordered, 250 incl. two more boxes', po_number: 'PO-E2E-1' };
    await expect.poll(async () => JSON.parse((await text(page, 'merge-preview')) ?? '{}') as Record<string, unknown>).toMatchObject(merged);
    await screenshot(page, 'merge-editor');

    // A wrong PIN: the error shows and the dialog stays; nothing is resolved.
    await page.getByRole('button', { name: 'Resolve with this merge' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await dialog.getByLabel('Supervisor PIN').fill('1357');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.locator('#pin-error').textContent()).toBe('wrong supervisor PIN');
    expect(await dialog.isVisible()).toBe(true);
    await screenshot(page, 'pin-dialog');
    expect(engine.store.conflicts.openConflicts()).toHaveLength(1);
    expect(await rowOf(c, 'purchase_orders', po)).toMatchObject({ status: 'ordered', notes: 'HQ: ordered by phone' });

    // The right PIN resolves it: the conflict leaves the inbox.
    await dialog.getByLabel('Supervisor PIN').fill('2468');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.getByTestId('no-conflicts').waitFor({ timeout: 10_000 });
    expect(await dialog.count()).toBe(0);
    expect(await page.getByRole('status').filter({ hasText: 'Conflict resolved' }).textContent()).toContain('manual merge');

    // Central and the till both hold the merged row.
    const central = await rowOf(c, 'purchase_orders', po);
    expect({ status: central?.status, total: Number(central?.total), notes: central?.notes, po_number: central?.po_number }).toEqual(merged);
    expect(pos.prepare('SELECT status, total, notes, po_number FROM purchase_orders WHERE id = ?').get(localId)).toEqual(merged);
    expect(await count(c, `sync_conflicts WHERE entity_id = $1 AND status = 'open'`, [po])).toBe(0);
    expect(engine.store.conflicts.openConflicts()).toHaveLength(0);
    await tab(page, 'Status').click();
    await expect.poll(() => num(page, 'total-conflicts')).toBe(0);
    expect(t.errors).toEqual([]);
  });
});

describe('Settings', () => {
  it('invalid values are refused with a message per field and nothing is saved; a valid change is saved and shown', async () => {
    const t = await till();
    const { page } = t;
    await online(page);
    const before = await ipc<SettingsView>(t.web, 'settings:get');
    expect(before).toMatchObject({ centralUrl: c.url, syncInterval: 300, hasPin: false, hasKey: true });

    await page.keyboard.press('Alt+4'); // the Settings screen from the keyboard
    const url = page.locator('#centralUrl');
    await expect.poll(() => url.inputValue()).toBe(c.url);
    await url.fill('central.example.com');
    await page.locator('#syncInterval').fill('5');
    await page.locator('#supervisorPin').fill('abc');
    // Opening Settings again (it reloads the saved settings) keeps what is being typed.
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    await page.keyboard.press('Alt+4');
    await page.waitForTimeout(300);
    expect(await url.inputValue()).toBe('central.example.com');
    expect(await page.locator('#syncInterval').inputValue()).toBe('5');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => text(page, 'settings-result')).toBe('Please correct the fields marked above; nothing was saved');
    expect(await page.locator('#centralUrl-error').textContent()).toBe('must be an http:// or https:// URL');
    expect(await page.locator('#syncInterval-error').textContent()).toBe('must be at least 10 seconds');
    expect(await page.locator('#supervisorPin-error').textContent()).toBe('must be 4 to 8 digits');
    for (const id of ['centralUrl', 'syncInterval', 'supervisorPin']) expect(await page.locator(`#${id}`).getAttribute('aria-invalid'), id).toBe('true');
    expect(await page.locator('#terminalId').getAttribute('aria-invalid')).toBe('false');
    await screenshot(page, 'settings-errors');
    expect(await ipc<SettingsView>(t.web, 'settings:get')).toEqual(before);
    expect(existsSync(join(t.dataDir, 'settings.json'))).toBe(false);
    expect(t.web.companion.engine?.config.syncInterval).toBe(300);

    // Valid values: saved, applied to the engine, and shown (also after a reload).
    await url.fill(c.url);
    await page.locator('#syncInterval').fill('60');
    await page.locator('#supervisorPin').fill('');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => text(page, 'settings-result')).toBe('Settings saved');
    expect(await page.locator('#syncInterval-error').textContent()).toBe('');
    expect(await page.locator('#syncInterval').inputValue()).toBe('60');
    expect(await ipc<SettingsView>(t.web, 'settings:get')).toEqual({ ...before, syncInterval: 60 });
    expect(JSON.parse(readFileSync(join(t.dataDir, 'settings.json'), 'utf8'))).toMatchObject({ syncInterval: 60 });
    expect(t.web.companion.engine?.config.syncInterval).toBe(60);
    await page.reload();
    await tab(page, 'Settings').click();
    await expect.poll(() => page.locator('#syncInterval').inputValue()).toBe('60');
    expect(t.errors).toEqual([]);
  });

  it('not set up: the page says what is missing; filling Settings starts the engine', async () => {
    // Web mode cannot store the terminal key: it comes from the environment; the rest from the form.
    const t = await till({ env: (terminal) => ({ CENTRAL_API_KEY: terminal.apiKey }) });
    const { page } = t;
    expect(t.web.companion.engine).toBeUndefined();
    await expect.poll(() => text(page, 'setup-problem')).toContain('Not set up yet: enter the central URL, terminal id, POS database in Settings');
    expect(await text(page, 'headline')).toBe('Not running');
    expect(await page.getByRole('button', { name: 'Sync now' }).count()).toBe(0);
    await screenshot(page, 'setup-needed');

    await page.getByTestId('setup-problem').getByRole('button', { name: 'Open Settings' }).click();
    await expect.poll(() => page.locator('#apiKey-hint').textContent()).toContain('A key is set');
    await page.locator('#centralUrl').fill(c.url);
    await page.locator('#terminalId').fill(t.terminal.terminalId);
    await page.locator('#databasePath').fill(t.dbPath);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect.poll(() => text(page, 'settings-result'), { timeout: 15_000 }).toBe('Settings saved');
    expect(t.web.companion.engine).toBeDefined();
    expect(t.web.companion.setupProblem).toBeNull();

    await tab(page, 'Status').click();
    await expect.poll(() => text(page, 'connection'), { timeout: 15_000 }).toBe('Online');
    expect(await text(page, 'terminal-id')).toBe(t.terminal.terminalId);
    expect(await page.getByTestId('setup-problem').count()).toBe(0);
    await localStore(t); // the engine pulled the store row from central
    expect(t.errors).toEqual([]);
  });
});
