/**
 * The convergence audit in the companion: the `audit:run` IPC channel served by the
 * web-mode bridge host (arguments validated, the report as the contract says), and the
 * Status screen's "Audit against HQ" button in Chromium, against the real engine over a
 * POS SQLite file and a real central: in step after the first sync, then the one row
 * central changed behind sync's back.
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditReport } from '../../src/shared/audit-protocol.js';
import { LocalStore } from '../../src/main/sync/store/index.js';
import type { WebCompanion } from '../../src/agent/web-companion.js';
import { launchBrowser, openPage, screenshot, startCompanion, useRenderer } from '../helpers/browser.js';
import { useCentral } from '../helpers/central.js';
import { removeTempDirs, tempDir } from '../helpers/engine.js';
import { waitUntil } from '../helpers/processes.js';

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

async function ipc(w: WebCompanion, channel: string, args: unknown[]): Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }> {
  const r = await fetch(`${w.bridge.url}/ipc/${channel}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${w.bridge.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ args }),
  });
  return (await r.json()) as { ok: boolean; value?: unknown; error?: { code: string; message: string } };
}

describe('the audit in the companion', () => {
  it('audit:run answers the report; the Status screen shows in step, then the row HQ changed behind sync', { timeout: 120_000 }, async () => {
    const tag = `${process.pid}-${Date.now().toString(36)}`;
    const product = `e2e-audit-${tag}`;
    await c.db.query(`INSERT INTO products (id, sku, name, price) VALUES ($1, $1, 'Tea', 2.5)`, [product]);
    const terminal = await c.provision(`e2e-audit-${tag}`);
    const dbPath = join(tempDir('tillsync-e2e-pos-'), 'pos.sqlite');
    new LocalStore(dbPath, terminal.terminalId, { create: true, warn: () => {} }).close();
    const web = await startCompanion(ui.dir, {
      env: { CENTRAL_API_URL: c.url, TERMINAL_ID: terminal.terminalId, CENTRAL_API_KEY: terminal.apiKey, DATABASE_URL: `file:${dbPath}` },
    });
    cleanups.push(() => web.close());
    await waitUntil('the first sync', async () => {
      const s = await ipc(web, 'sync:status', []);
      return s.ok && (s.value as { lastSyncAt: string | null }).lastSyncAt !== null;
    }, { timeout: 30_000 });

    // The channel: arguments validated, the report in the contract's shape.
    const bad = await ipc(web, 'audit:run', [{ table: 5 }]);
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENTS' } });
    const unknown = await ipc(web, 'audit:run', [{ table: 'nope' }]);
    expect(unknown).toMatchObject({ ok: false, error: { code: 'UNKNOWN_TABLE' } });
    const one = await ipc(web, 'audit:run', [{ table: 'products' }]);
    expect(one.ok, JSON.stringify(one)).toBe(true);
    expect(AuditReport.parse(one.value)).toMatchObject({ inStep: true, terminalId: terminal.terminalId, tables: [{ table: 'products', outcome: 'in_step' }] });

    const { page, context, errors } = await openPage(browser, web);
    cleanups.push(() => context.close());
    const button = page.getByRole('button', { name: 'Audit against HQ' });
    await button.click();
    await expect.poll(async () => page.getByTestId('audit-result').textContent(), { timeout: 30_000 }).toMatch(/^In step with HQ: \d+ tables compared/);
    expect(await page.locator('[data-audit-table="products"] [data-col="outcome"]').textContent()).toBe('in step');
    expect(await page.getByTestId('audit-skipped').textContent()).toMatch(/^Not compared: orders, /);
    await screenshot(page, 'status-audit-in-step');

    await c.db.transaction(async (tx) => {
      await tx.query('SET LOCAL session_replication_role = replica');
      await tx.query('UPDATE products SET price = 9 WHERE id = $1', [product]);
    });
    await button.click();
    await expect.poll(async () => page.getByTestId('audit-result').textContent(), { timeout: 30_000 }).toBe('Not in step: 1 row differs');
    expect(await page.locator('[data-audit-table="products"] [data-col="outcome"]').textContent()).toBe('1 row differs');
    expect(await page.locator(`[data-audit-row="${product}"]`).textContent()).toBe(`different content: ${product}`);
    await screenshot(page, 'status-audit-differs');
    expect(errors).toEqual([]);
  });
});
