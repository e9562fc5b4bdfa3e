/**
 * HQ's fleet console end to end: the console built by vite and served by a real
 * central at /console (PGlite, or PostgreSQL with TEST_DATABASE_URL), in Debian's
 * Chromium, with real tills (engines over SQLite files) reporting by heartbeat. The
 * tests act in the page and check the page and central's database.
 */
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerConsole } from '../../src/server/console-route.js';
import { money } from '../../src/console/format.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { ADMIN_TOKEN, useCentral } from '../helpers/central.js';
import { useConsoleBuild } from '../helpers/console-build.js';
import { SyncService } from '../../src/main/sync/sync-service.js';
import { closeAll, engineConfig, startEngine, testLogger, type TerminalEngine } from '../helpers/engine.js';
import { completedTotal, localStoreId, socketRegistered } from '../helpers/fleet.js';
import { ringUpSales } from '../helpers/processes.js';
import { count, rowOf, settled } from '../helpers/sync.js';

const built = useConsoleBuild();
const c = useCentral();
const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const storeA = `con-a-${tag}`;
const storeB = `con-b-${tag}`;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const errors: string[] = [];
let offline: TerminalEngine;
let inStep: TerminalEngine;
let other: TerminalEngine;
let offlineTotal = 0;

const triggers = (terminalId: string) => count(c, `sync_triggers WHERE terminal_id = $1 AND reason = 'HQ_CONSOLE'`, [terminalId]);
const row = (terminalId: string) => page.locator(`[data-testid="fleet-table"] tr[data-terminal="${terminalId}"]`);
const cell = (terminalId: string, col: string) => row(terminalId).locator(`td[data-col="${col}"]`);
const tab = (name: string) => page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name, exact: true });
const storage = () =>
  page.evaluate(() => ({ session: Object.entries(sessionStorage), local: Object.entries(localStorage), url: location.href }));

beforeAll(async () => {
  for (const [id, name] of [
    [storeA, 'Harbour Street'],
    [storeB, 'Mill Lane'],
  ]) {
    const r = await c.admin.post('/api/stores', { id, name, currency: 'EUR' });
    expect(r.status, r.text).toBe(201);
  }
  offline = await startEngine(c, { storeId: storeA, terminalId: `till-off-${tag}`, initialSync: true });
  inStep = await startEngine(c, { storeId: storeA, terminalId: `till-ok-${tag}`, initialSync: true });
  other = await startEngine(c, { storeId: storeB, terminalId: `till-po-${tag}`, initialSync: true });
  // The offline till rings up three sales, reports them, then falls silent for ten minutes.
  ringUpSales(offline.pos(), { storeLocalId: localStoreId(offline), prefix: 'OFF', count: 3 });
  offlineTotal = completedTotal(offline, 'OFF');
  for (const e of [offline, inStep, other]) expect(await e.service.heartbeat()).toBe(true);
  await c.db.query(`UPDATE sync_terminals SET last_heartbeat_at = now() - interval '10 minutes', oldest_pending_at = now() - interval '11 minutes' WHERE id = $1`, [
    offline.terminal.terminalId,
  ]);

  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1366, height: 768 }, colorScheme: 'light', locale: 'en-US' });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    // Chromium logs every refused request; the sign-in test makes two on purpose.
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 40[13]/.test(m.text())) errors.push(`console.error: ${m.text()}`);
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await closeAll();
});

/** A GET with the path sent as written (fetch would normalise `..` away). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const url = new URL(c.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('central serves the console', () => {
  it('at /console with a strict CSP, its assets with their types, nothing outside its folder, and not in the API document', async () => {
    const page = await fetch(`${c.url}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const host = new URL(c.url).host;
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host}`);
    expect(csp).toContain("object-src 'none'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    const script = /<script type="module" crossorigin src="([^"]+)"/.exec(html)?.[1];
    const style = /<link rel="stylesheet" crossorigin href="([^"]+)"/.exec(html)?.[1];
    expect(script).toMatch(/^\/console\/assets\/.+\.js$/);
    const js = await fetch(`${c.url}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${c.url}${style}`)).headers.get('content-type')).toBe('text/css; charset=utf-8');

    for (const path of ['/console/../package.json', '/console/%2e%2e/%2e%2e/package.json', '/console/assets/..%2f..%2f..%2fpackage.json', '/console/.env', '/console/assets/x.sh', '/console//etc/passwd']) {
      const r = await rawGet(path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toContain('"name": "tillsync"');
    }
    const doc = (await (await fetch(`${c.url}/api-docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/console'))).toEqual([]);
    expect(Object.keys(doc.paths)).toContain('/api/fleet');
  });

  it('says how to build the console when it was not built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tillsync-console-none-'));
    const app = Fastify();
    try {
      registerConsole(app, { dir: empty });
      const r = await app.inject({ method: 'GET', url: '/console' });
      expect(r.statusCode).toBe(404);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.body).toContain('The HQ console is not built');
      expect(r.body).toContain('npm run build');
      const asset = await app.inject({ method: 'GET', url: '/console/assets/index.js' });
      expect(asset.statusCode).toBe(404);
      expect(asset.body).toContain('not built');
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
    expect(built.dir).not.toBe(empty);
  });
});

describe('the console in Chromium', () => {
  it('refuses a wrong token with a clear error, keeps the right one in sessionStorage only, and signs out', async () => {
    await page.goto(`${c.url}/console`);
    await page.getByLabel('Admin token').fill('not-the-admin-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#signin-error').textContent()).toMatch(/^That token was refused: /);
    expect((await storage()).session).toEqual([]);
    await screenshot(page, 'console-signin-refused');

    // A terminal key is refused too: the console needs the admin token.
    await page.getByLabel('Admin token').fill(offline.terminal.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#signin-error').textContent()).toContain('admin token');

    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('fleet-table').waitFor();
    const s = await storage();
    expect(s.session.map(([, v]) => v)).toEqual([ADMIN_TOKEN]);
    expect(s.local).toEqual([]);
    expect(s.url).not.toContain(ADMIN_TOKEN);

    // Signed in across a reload of the tab; signed out, the token is gone.
    await page.reload();
    await page.getByTestId('fleet-table').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin token').waitFor();
    expect((await storage()).session).toEqual([]);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('fleet-table').waitFor();
  });

  it('lists the offline till holding sales first, with their value and why it needs attention', async () => {
    const first = page.locator('[data-testid="fleet-table"] tbody tr').first();
    await expect.poll(() => first.getAttribute('data-terminal')).toBe(offline.terminal.terminalId);
    const id = offline.terminal.terminalId;
    expect(await cell(id, 'status').textContent()).toBe('Offline');
    expect(await cell(id, 'unsynced').textContent()).toBe(`${money(offlineTotal, 'EUR', 'en-US')}3 sales`);
    expect(await cell(id, 'attention').textContent()).toBe('Offline with sales');
    expect(await cell(id, 'oldest-pending').textContent()).toMatch(/^1\d min$/);
    expect(Number(await cell(id, 'pending').textContent())).toBeGreaterThanOrEqual(9);
    expect(await cell(inStep.terminal.terminalId, 'attention').textContent()).toBe('—');
    expect(await cell(inStep.terminal.terminalId, 'pull-lag').textContent()).toBe('in step');
    expect(await page.getByTestId('link-state').textContent()).toBe('Live');
    await screenshot(page, 'console-fleet');

    // Filters: the other store's till alone; tills needing attention alone.
    await page.getByLabel('Store').selectOption(storeB);
    await expect.poll(() => page.locator('[data-testid="fleet-table"] tbody tr').count()).toBe(1);
    expect(await row(other.terminal.terminalId).count()).toBe(1);
    await page.getByLabel('Store').selectOption('');
    await page.getByLabel('Needs attention').selectOption('true');
    await expect.poll(() => page.locator('[data-testid="fleet-table"] tbody tr').count()).toBe(1);
    expect(await page.getByTestId('fleet-range').textContent()).toBe('1–1 of 1');
    await page.getByLabel('Needs attention').selectOption('');
    await expect.poll(() => page.locator('[data-testid="fleet-table"] tbody tr').count()).toBe(3);
  });

  it("follows a till's heartbeat without reloading the page", async () => {
    await page.evaluate(() => Object.assign(window, { e2eMark: 'same document' }));
    const id = inStep.terminal.terminalId;
    expect(await cell(id, 'unsynced').textContent()).toBe(money(0, 'EUR', 'en-US'));
    ringUpSales(inStep.pos(), { storeLocalId: localStoreId(inStep), prefix: 'LIVE', count: 2 });
    expect(await inStep.service.heartbeat()).toBe(true);
    const value = money(completedTotal(inStep, 'LIVE'), 'EUR', 'en-US');
    await expect.poll(() => cell(id, 'unsynced').textContent(), { timeout: 10_000 }).toBe(`${value}2 sales`);
    expect(Number(await cell(id, 'pending').textContent())).toBe(6);
    expect(await page.evaluate(() => (window as unknown as { e2eMark?: string }).e2eMark)).toBe('same document');
  });

  it('rolls the fleet up per store and syncs every till of a store now', async () => {
    await tab('Stores').click();
    const a = page.locator(`[data-testid="stores-table"] tr[data-store="${storeA}"]`);
    await a.waitFor();
    expect(await a.locator('th').textContent()).toContain('Harbour Street');
    expect(await a.locator('td[data-col="terminals"]').textContent()).toBe('2');
    expect(await a.locator('td[data-col="by-status"]').textContent()).toBe('1 online · 1 offline');
    const total = money(Math.round((offlineTotal + completedTotal(inStep, 'LIVE')) * 100) / 100, 'EUR', 'en-US');
    expect(await a.locator('td[data-col="unsynced"]').textContent()).toBe(`${total}5 sales`);
    await screenshot(page, 'console-stores');

    const before = { offline: await triggers(offline.terminal.terminalId), inStep: await triggers(inStep.terminal.terminalId) };
    await a.getByRole('button', { name: /^Sync now/ }).click();
    await expect.poll(() => page.getByTestId('stores-result').textContent()).toMatch(/^Sync requested for 2 tills/);
    expect([await triggers(offline.terminal.terminalId), await triggers(inStep.terminal.terminalId)]).toEqual([before.offline + 1, before.inStep + 1]);
    expect(await triggers(other.terminal.terminalId)).toBe(0);
  });

  it("shows a till's detail: per-table counts and its recent runs, and syncs it now", async () => {
    await tab('Fleet').click();
    const id = offline.terminal.terminalId;
    await row(id).getByRole('button').first().click();
    const tables = page.getByTestId('terminal-tables');
    await tables.waitFor();
    expect(await tables.locator('tr[data-table="SaleOrder"] td[data-col="pending"]').textContent()).toBe('3');
    expect(await tables.locator('tr[data-table="Payment"] td[data-col="pending"]').textContent()).toBe('3');
    expect(await page.getByTestId('terminal-unsynced').textContent()).toBe(`${money(offlineTotal, 'EUR', 'en-US')} (3)`);
    const runs = page.getByTestId('terminal-runs').locator('tbody tr');
    expect(await runs.count()).toBeGreaterThan(0);
    expect(await runs.first().textContent()).toContain('FULL');
    await screenshot(page, 'console-terminal');

    const before = await triggers(id);
    await page.getByRole('button', { name: 'Sync now' }).click();
    await expect.poll(() => page.getByTestId('terminal-result').textContent()).toBe(`Sync requested: ${id} syncs now (or as soon as it is back online).`);
    expect(await triggers(id)).toBe(before + 1);

    // The detail follows the till's own heartbeats: it comes back and pushes.
    await offline.sync();
    expect(await offline.service.heartbeat()).toBe(true);
    await expect.poll(() => page.getByTestId('terminal-unsynced').textContent(), { timeout: 10_000 }).toBe(`${money(0, 'EUR', 'en-US')} (0)`);
    expect(await tables.locator('tr[data-table="SaleOrder"] td[data-col="synced"]').textContent()).toBe('3');
  });

  it('audits a till from HQ: the till syncs, compares its rows with central and the page shows what differs', async () => {
    // The till listens for HQ's requests on its socket, as a running till does.
    await inStep.service.stop();
    const live = new SyncService(inStep.store, engineConfig(c.url, inStep.terminal.apiKey, { realtime: true, syncInterval: 3600, heartbeatInterval: 3600 }), testLogger());
    await live.initialize(inStep.terminal.terminalId);
    try {
      const id = inStep.terminal.terminalId;
      await socketRegistered(c, id);
      await tab('Fleet').click();
      await row(id).getByRole('button').first().click();
      const audit = page.getByTestId('terminal-audit');
      await audit.waitFor();
      await expect.poll(() => audit.textContent()).toContain('No audit reported yet.');
      await audit.getByRole('button', { name: 'Audit now' }).click();
      await expect.poll(() => page.getByTestId('audit-verdict').textContent(), { timeout: 20_000 }).toMatch(/^In step with HQ · audited/);

      // Its copy of the store's row changed behind sync (capture off): the next audit names that row.
      inStep.store.base.applying(() => inStep.store.base.db.prepare(`UPDATE stores SET name = 'Tampered' WHERE server_id = ?`).run(storeA));
      await audit.getByRole('button', { name: 'Audit now' }).click();
      await expect.poll(() => page.getByTestId('audit-verdict').textContent(), { timeout: 20_000 }).toMatch(/^1 row differs · audited/);
      const differing = page.getByTestId('audit-differences').locator(`tr[data-row="${storeA}"]`);
      expect(await differing.textContent()).toContain('different content');
      await screenshot(page, 'console-audit');
    } finally {
      await live.stop();
    }
  });

  it("resolves a till's conflict at HQ in the merge editor; central holds the merge and the inbox empties", async () => {
    // A purchase order the till made, then changed at HQ and on the till: PurchaseOrder is MANUAL_MERGE.
    const pos = other.pos();
    const localId = Number(
      pos.prepare(`INSERT INTO purchase_orders (store_id, po_number, status, total, notes) VALUES (?, 'PO-HQ-1', 'draft', 100, 'original')`).run(localStoreId(other)).lastInsertRowid,
    );
    await other.sync();
    const po = other.serverIdOf('purchase_orders', localId);
    await c.db.query(`UPDATE purchase_orders SET status = 'ordered', notes = 'HQ: ordered by phone' WHERE id = $1`, [po]);
    pos.prepare(`UPDATE purchase_orders SET total = 250, notes = 'till: two more boxes' WHERE id = ?`).run(localId);
    await settled(c);
    await other.sync();
    expect(await count(c, `sync_conflicts WHERE entity_id = $1 AND status = 'open'`, [po])).toBe(1);
    expect(await other.service.heartbeat()).toBe(true);

    await tab('Conflicts').click();
    const inbox = page.getByTestId('conflict-inbox');
    await expect.poll(() => inbox.locator('tbody tr').count(), { timeout: 10_000 }).toBe(1);
    expect(await inbox.locator('tbody tr').textContent()).toContain(other.terminal.terminalId);
    await screenshot(page, 'console-conflicts');
    await inbox.getByRole('button', { name: `Open PurchaseOrder ${po}` }).click();

    const grid = page.getByTestId('merge-table');
    await grid.waitFor();
    const field = (f: string) => grid.locator(`tr[data-field="${f}"] td`).allTextContents();
    expect(await field('status')).toEqual(['draft', 'draft', 'ordered', expect.any(String)]);
    expect(await field('total')).toEqual(['100', '250', '100', expect.any(String)]);
    await page.getByRole('radio', { name: 'status: central' }).check();
    await page.getByRole('radio', { name: `total: till ${other.terminal.terminalId}` }).check();
    await page.getByRole('textbox', { name: 'notes: typed value' }).fill('merged at HQ: ordered, 250');
    const merged = { status: 'ordered', total: 250, notes: 'merged at HQ: ordered, 250', po_number: 'PO-HQ-1' };
    await expect.poll(async () => JSON.parse((await page.getByTestId('merge-preview').textContent()) ?? '{}') as Record<string, unknown>).toMatchObject(merged);
    await screenshot(page, 'console-merge');

    await page.getByRole('button', { name: 'Resolve with this merge' }).click();
    await page.getByTestId('no-conflicts').waitFor();
    expect(await page.getByTestId('conflicts-result').textContent()).toMatch(/^Resolved PurchaseOrder .* \(manual merge\): every till gets version \d+\.$/);
    const central = await rowOf(c, 'purchase_orders', po);
    expect({ status: central?.status, total: Number(central?.total), notes: central?.notes, po_number: central?.po_number }).toEqual(merged);
    expect(await count(c, `sync_conflicts WHERE entity_id = $1 AND status = 'resolved' AND resolution = 'MANUAL_MERGE'`, [po])).toBe(1);
  });

  it('shows which tables and fields conflicted and how they were resolved', async () => {
    await tab('Analytics').click();
    const fields = page.getByTestId('analytics-fields');
    await fields.waitFor();
    const notes = fields.locator('tr[data-entity="PurchaseOrder"][data-field="notes"]');
    expect(await notes.getByTestId('resolutions').textContent()).toBe('1 manual merge');
    expect(await fields.locator('tr[data-entity="PurchaseOrder"][data-field="total"]').count()).toBe(1);
    expect(await page.getByTestId('analytics-weeks').textContent()).toContain('PurchaseOrder');
    await screenshot(page, 'console-analytics');
  });

  it('fits a small screen (800x600)', async () => {
    await page.setViewportSize({ width: 800, height: 600 });
    await tab('Fleet').click();
    await page.getByTestId('fleet-table').waitFor();
    await screenshot(page, 'console-fleet-800');
    await row(offline.terminal.terminalId).getByRole('button').first().click();
    await page.getByTestId('terminal-tables').waitFor();
    await screenshot(page, 'console-terminal-800');
    await page.setViewportSize({ width: 1366, height: 768 });
    expect(errors).toEqual([]);
  });
});
