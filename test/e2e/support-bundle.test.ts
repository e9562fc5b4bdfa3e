/**
 * The Settings screen's "Save support bundle" in Chromium, in web mode, against a real
 * engine on a real POS file syncing with a real central. Web mode writes the bundle
 * into the companion's data folder (support-bundles/) and the page shows its path; the
 * test opens that archive with the system's tar.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalStore } from '../../src/main/sync/store/index.js';
import { SupportBundleManifest } from '../../src/main/sync/support-bundle-manifest.js';
import { launchBrowser, openPage, screenshot, startCompanion, useRenderer } from '../helpers/browser.js';
import { useCentral } from '../helpers/central.js';
import { openPos, removeTempDirs, tempDir } from '../helpers/engine.js';
import { addLocalStore, ringUpSales } from '../helpers/processes.js';

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

describe('Settings: Save support bundle', () => {
  it('saves a bundle of this till into the data folder and shows where; the key is not in it', { timeout: 90_000 }, async () => {
    const t = await c.provision(`e2e-bundle-${process.pid}-${Date.now().toString(36)}`);
    const dbPath = join(tempDir('tillsync-e2e-pos-'), 'pos.sqlite');
    new LocalStore(dbPath, t.terminalId, { create: true, warn: () => {} }).close();
    const dataDir = join(tempDir('tillsync-e2e-data-'), 'companion');
    const web = await startCompanion(ui.dir, { env: { CENTRAL_API_URL: c.url, TERMINAL_ID: t.terminalId, CENTRAL_API_KEY: t.apiKey, DATABASE_URL: `file:${dbPath}` }, dataDir });
    cleanups.push(() => web.close());
    // Sales wait on the till while a supervisor has sync paused.
    web.companion.engine?.pause();
    const pos = openPos(dbPath);
    ringUpSales(pos, { storeLocalId: addLocalStore(pos, t.storeId), prefix: 'E2EB', count: 1 });
    pos.close();

    const { page, context, errors } = await openPage(browser, web);
    cleanups.push(() => context.close());
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Save support bundle' }).click();
    const result = page.getByTestId('support-bundle-result');
    await expect.poll(async () => (await result.textContent()) ?? '', { timeout: 30_000 }).toMatch(/^Support bundle saved to /);
    await screenshot(page, 'settings-support-bundle');
    const shown = ((await result.textContent()) ?? '').replace(/^Support bundle saved to /, '');
    const folder = join(dataDir, 'support-bundles');
    const [file, ...more] = readdirSync(folder);
    expect(more).toEqual([]);
    expect(shown).toBe(join(folder, file as string));
    expect(file).toMatch(new RegExp(`^tillsync-support-${t.terminalId}-\\d{8}-\\d{6}Z\\.tar\\.gz$`));

    const out = join(tempDir('tillsync-e2e-x-'), 'x');
    mkdirSync(out);
    execFileSync('tar', ['-xzf', shown, '-C', out]);
    const [root] = readdirSync(out);
    const bundle = join(out, root as string);
    const manifest = SupportBundleManifest.parse(JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')));
    expect(manifest).toMatchObject({ source: 'companion-web', terminalId: t.terminalId });
    expect(manifest.logs.note).toMatch(/standard output/);
    const status = JSON.parse(readFileSync(join(bundle, 'status.json'), 'utf8'));
    expect(status.status).toMatchObject({ terminalId: t.terminalId, paused: true, totals: { pending: 3 } });
    for (const f of manifest.files) expect(readFileSync(join(bundle, f.name), 'utf8').includes(t.apiKey), f.name).toBe(false);
    expect(errors).toEqual([]);
  });
});
