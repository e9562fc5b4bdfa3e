import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AutoStart, HIDDEN_FLAG, startedHidden, type LoginItems } from '../../src/main/auto-start.js';

const home = mkdtempSync(join(tmpdir(), 'tillsync-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const fs = { existsSync, mkdirSync, writeFileSync, rmSync };

/** Like Windows: an entry is registered per args, and found only when asked with the same args. */
function login(): LoginItems & { last?: unknown } {
  const on = new Map<string, boolean>();
  const l: LoginItems & { last?: unknown } = {
    setLoginItemSettings: (s) => {
      on.set(JSON.stringify(s.args ?? []), s.openAtLogin);
      l.last = s;
    },
    getLoginItemSettings: (o) => ({ openAtLogin: on.get(JSON.stringify(o?.args ?? [])) ?? false }),
  };
  return l;
}

describe('auto-start', () => {
  it('Linux: an XDG autostart entry that starts the AppImage hidden; off removes it', () => {
    const a = new AutoStart({ platform: 'linux', login: login(), fs, homeDir: home, execPath: '/opt/TillSync/tillsync', appImage: '/home/till/Apps/TillSync 1.0.AppImage' });
    expect(a.isEnabled()).toBe(false);
    a.set(true);
    expect(a.desktopFile).toBe(join(home, '.config/autostart/tillsync.desktop'));
    const entry = readFileSync(a.desktopFile, 'utf8');
    expect(entry).toContain('[Desktop Entry]');
    expect(entry).toContain(`Exec="/home/till/Apps/TillSync 1.0.AppImage" ${HIDDEN_FLAG}`);
    expect(a.isEnabled()).toBe(true);
    a.set(false);
    expect(existsSync(a.desktopFile)).toBe(false);
    expect(a.isEnabled()).toBe(false);
  });

  it('Linux without an AppImage points at the executable, under XDG_CONFIG_HOME when set', () => {
    const cfg = join(home, 'xdg');
    const a = new AutoStart({ platform: 'linux', login: login(), fs, homeDir: home, configHome: cfg, execPath: '/usr/lib/tillsync/tillsync' });
    a.set(true);
    expect(readFileSync(join(cfg, 'autostart/tillsync.desktop'), 'utf8')).toContain('Exec="/usr/lib/tillsync/tillsync" --hidden');
  });

  it('Windows and macOS: a login item that opens hidden', () => {
    for (const platform of ['win32', 'darwin'] as const) {
      const l = login();
      const a = new AutoStart({ platform, login: l, fs, homeDir: home, execPath: 'C:/TillSync/TillSync.exe' });
      a.set(true);
      expect(l.last).toEqual({ openAtLogin: true, openAsHidden: true, args: [HIDDEN_FLAG] });
      expect(a.isEnabled()).toBe(true);
      a.set(false);
      expect(a.isEnabled()).toBe(false);
    }
  });

  it('a launch at login starts hidden; a launch by hand shows the window', () => {
    expect(startedHidden(['tillsync', HIDDEN_FLAG], false)).toBe(true);
    expect(startedHidden(['tillsync'], true)).toBe(true);
    expect(startedHidden(['tillsync'], false)).toBe(false);
  });
});
