/**
 * What the installers ship (electron-builder.yml) against what the app reads at
 * runtime: the bundled main process finds the terminal's migrations through the app
 * path (not next to the sources), better-sqlite3 loads outside the asar, the tray
 * icons sit where src/main/index.ts looks, and every target of the issue is built.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LocalStore } from '../../src/main/sync/store/index.js';
import { REPO_ROOT } from '../helpers/engine.js';

const dir = mkdtempSync(join(tmpdir(), 'tillsync-packaging-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Target {
  target: string;
  arch: string[];
}
const config = parse(readFileSync(join(REPO_ROOT, 'electron-builder.yml'), 'utf8')) as {
  files: string[];
  asarUnpack: string[];
  extraResources: { from: string; to: string; filter: string[] }[];
  npmRebuild: boolean;
  win: { target: Target[] };
  mac: { target: Target[] };
  linux: { target: Target[] };
  deb?: { depends?: string[] };
  publish?: { provider: string; url: string }[];
};

describe('packaging', () => {
  it('the terminal migrations ship with the app, and LocalStore uses the copy it is given', () => {
    expect(config.files).toContain('drizzle/terminal/migrations/**');
    // As in an installed app: the migrations copied under the app path, away from the sources.
    const appPath = join(dir, 'app');
    cpSync(join(REPO_ROOT, 'drizzle/terminal/migrations'), join(appPath, 'drizzle/terminal/migrations'), { recursive: true });
    const store = new LocalStore(join(dir, 'pos.db'), 'till-pack', { create: true, migrationsDir: join(appPath, 'drizzle/terminal/migrations') });
    expect(store.base.db.prepare(`SELECT name FROM sqlite_master WHERE name = 'tillsync_outbox'`).get()).toBeTruthy();
    store.close();
  });

  it('missing migrations are a clear error, and the database is left closed and unchanged', () => {
    const path = join(dir, 'other.db');
    expect(() => new LocalStore(path, 'till-pack', { create: true, migrationsDir: join(dir, 'nowhere') })).toThrow(/migrations are missing .*installation is incomplete/);
    // Nothing holds the file open (it can be removed and reopened).
    rmSync(path, { force: true });
    expect(existsSync(path)).toBe(false);
  });

  it('better-sqlite3 is unpacked from the asar and rebuilt for Electron at packaging time; the tray icons are where main reads them', () => {
    expect(config.asarUnpack.some((p) => p.includes('node_modules/better-sqlite3'))).toBe(true);
    expect(config.npmRebuild).toBe(true);
    const res = config.extraResources.find((r) => r.to === 'resources');
    expect(res?.from).toBe('resources');
    expect(res?.filter).toEqual(expect.arrayContaining(['tray/**', 'icon.png']));
    expect(readFileSync(join(REPO_ROOT, 'src/main/index.ts'), 'utf8')).toContain("join(process.resourcesPath, 'resources')");
  });

  it('builds NSIS for Windows, DMG for x64 and arm64, AppImage and deb (keeping its default dependencies)', () => {
    expect(config.win.target).toEqual([{ target: 'nsis', arch: ['x64'] }]);
    // A generic publish target: electron-builder writes the latest*.yml an admin uploads to central (the companion sets the feed URL itself).
    expect(config.publish?.map((p) => p.provider)).toEqual(['generic']);
    // The zip is what electron-updater installs a macOS update from.
    expect(config.mac.target).toEqual([
      { target: 'dmg', arch: ['x64', 'arm64'] },
      { target: 'zip', arch: ['x64', 'arm64'] },
    ]);
    expect(config.linux.target.map((t) => t.target)).toEqual(['AppImage', 'deb']);
    expect(config.deb?.depends).toBeUndefined();
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const os of ['win', 'mac', 'linux']) expect(pkg.scripts[`dist:${os}`]).toBe(`electron-vite build && electron-builder --${os}`);
    // Native modules are never rebuilt for Electron at install time (that would break npm ci and the Node tests).
    expect(JSON.stringify(pkg.scripts)).not.toMatch(/install-app-deps|electron-rebuild/);
  });
});
