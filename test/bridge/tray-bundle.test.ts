/**
 * The tray's "Save support bundle…" item, through the injected tray factory and an
 * injected save dialog (Electron's in the app): a real companion over a real POS file
 * syncing with a real central writes the bundle where the dialog said, and the person
 * is told where it went. The archive is opened with the system's tar.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Companion, type KeyStore } from '../../src/main/companion.js';
import { SettingsStore } from '../../src/main/settings.js';
import { LocalStore } from '../../src/main/sync/store/index.js';
import { SupportBundleManifest } from '../../src/main/sync/support-bundle-manifest.js';
import { TrayService, type MenuAction, type MenuItemSpec, type TrayLike } from '../../src/main/tray.js';
import { useCentral } from '../helpers/central.js';
import { closeAll, openPos, tempDir, testLogger } from '../helpers/engine.js';
import { addLocalStore, ringUpSales } from '../helpers/processes.js';

const c = useCentral();
const running: Companion[] = [];
afterEach(async () => {
  for (const co of running.splice(0)) await co.stop();
});
afterAll(closeAll);

class MemoryKeys implements KeyStore {
  constructor(private key: string | undefined) {}
  problem = () => null;
  save = (k: string) => void (this.key = k);
  load = () => this.key;
  clear = () => void (this.key = undefined);
}

function fakeTray() {
  let menu: readonly MenuItemSpec[] = [];
  let click: (a: MenuAction) => void = () => undefined;
  const make = (): TrayLike => ({
    setImage: () => undefined,
    setToolTip: () => undefined,
    setMenu: (items, onClick) => {
      menu = items;
      click = onClick;
    },
    destroy: () => undefined,
  });
  return { make, labels: () => menu.map((i) => i.label), click: (a: MenuAction) => click(a) };
}

/** A companion running on a new terminal's POS file, with a supervisor PIN set, and sales waiting (the engine paused). */
async function companionWithSales() {
  const t = await c.provision(`tray-bundle-${process.pid}-${Date.now().toString(36)}`);
  const dir = tempDir('tillsync-tray-bundle-');
  const db = join(dir, 'pos.sqlite');
  new LocalStore(db, t.terminalId, { create: true, warn: () => {} }).close();
  const settings = new SettingsStore(join(dir, 'settings.json'), fs);
  const companion = new Companion({
    settings,
    keys: new MemoryKeys(t.apiKey),
    log: testLogger(),
    tuning: { realtime: false, heartbeatInterval: 3600, watchIntervalMs: 50 },
    supportBundle: { source: 'companion', chooseTarget: async () => null },
  });
  running.push(companion);
  await companion.start();
  const view = await companion.host.invoke('settings:set', [{ centralUrl: c.url, terminalId: t.terminalId, databasePath: db, supervisorPin: '4321' }]);
  expect(view.ok, JSON.stringify(view)).toBe(true);
  companion.engine?.pause();
  const pos = openPos(db);
  ringUpSales(pos, { storeLocalId: addLocalStore(pos, t.storeId), prefix: 'TRAY', count: 2 });
  pos.close();
  return { t, dir, settings, companion };
}

describe('tray: Save support bundle…', () => {
  it('asks where with the dialog, writes the bundle there, and says where it went; nothing secret inside', { timeout: 60_000 }, async () => {
    const { t, dir, settings, companion } = await companionWithSales();
    const target = join(dir, 'chosen.tar.gz');
    const asked: string[] = [];
    const results: { ok: boolean; message: string }[] = [];
    const f = fakeTray();
    const tray = new TrayService({
      createTray: f.make,
      iconPath: (s) => `/icons/${s}.png`,
      actions: { open: () => undefined, sync: () => undefined, pause: () => undefined, quit: () => undefined },
      supportBundle: {
        defaultName: () => 'tillsync-support-default.tar.gz',
        chooseSavePath: async (name) => {
          asked.push(name);
          return target;
        },
        save: (path) => companion.writeSupportBundle(path, true),
        showResult: (r) => results.push(r),
      },
    });
    tray.update(companion.engine!.status());
    expect(f.labels()).toEqual(['Open TillSync', 'Sync now', 'Resume sync', 'Save support bundle…', 'Quit']);

    f.click('bundle');
    await tray.saveSupportBundle(); // the click's run, already under way
    expect(asked).toEqual(['tillsync-support-default.tar.gz']);
    expect(results).toEqual([{ ok: true, message: `Support bundle saved to ${target}` }]);

    const out = join(dir, 'x');
    fs.mkdirSync(out);
    execFileSync('tar', ['-xzf', target, '-C', out]);
    const [folder] = fs.readdirSync(out);
    const root = join(out, folder as string);
    const manifest = SupportBundleManifest.parse(JSON.parse(fs.readFileSync(join(root, 'manifest.json'), 'utf8')));
    expect(manifest).toMatchObject({ source: 'companion', terminalId: t.terminalId, problems: [] });
    const status = JSON.parse(fs.readFileSync(join(root, 'status.json'), 'utf8'));
    expect(status.status).toMatchObject({ terminalId: t.terminalId, paused: true, totals: { pending: 6 } });
    const saved = JSON.parse(fs.readFileSync(join(root, 'settings.json'), 'utf8'));
    expect(saved.saved).toMatchObject({ supervisorPinHash: '[REDACTED]', terminalId: t.terminalId });
    expect(saved.inForce).toMatchObject({ apiKey: '[REDACTED]', centralUrl: c.url });
    const pinHash = settings.get().supervisorPinHash as string;
    for (const name of manifest.files.map((x) => x.name).concat('manifest.json')) {
      const text = fs.readFileSync(join(root, name), 'utf8');
      expect(text.includes(t.apiKey), name).toBe(false);
      expect(text.includes(pinHash), name).toBe(false);
      expect(text.includes(pinHash.split(':')[2] as string), name).toBe(false);
    }
  });

  it('cancelling the dialog writes nothing and says nothing; a path that cannot be written is reported', { timeout: 60_000 }, async () => {
    const { dir, companion } = await companionWithSales();
    const results: { ok: boolean; message: string }[] = [];
    let answer: string | null = null;
    let saves = 0;
    const f = fakeTray();
    const tray = new TrayService({
      createTray: f.make,
      iconPath: (s) => `/icons/${s}.png`,
      actions: { open: () => undefined, sync: () => undefined, pause: () => undefined, quit: () => undefined },
      supportBundle: {
        defaultName: () => 'b.tar.gz',
        chooseSavePath: async () => answer,
        save: (path) => {
          saves++;
          return companion.writeSupportBundle(path, true);
        },
        showResult: (r) => results.push(r),
      },
    });
    tray.showProblem('starting');
    expect(f.labels()).toEqual(['Open TillSync', 'Save support bundle…', 'Quit']);
    f.click('bundle');
    await tray.saveSupportBundle();
    expect(saves).toBe(0);
    expect(results).toEqual([]);

    answer = join(dir, 'no-such-folder', 'b.tar.gz');
    f.click('bundle');
    await tray.saveSupportBundle();
    expect(results).toEqual([{ ok: false, message: expect.stringMatching(/could not be saved: the folder .*no-such-folder does not exist/) }]);
    expect(fs.existsSync(join(dir, 'no-such-folder'))).toBe(false);
  });
});
