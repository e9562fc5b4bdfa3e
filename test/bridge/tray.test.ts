import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { iconFiles } from '../../scripts/generate-icons.js';
import { TrayService, type MenuAction, type MenuItemSpec, type TrayLike } from '../../src/main/tray.js';
import { TRAY_STATES } from '../../src/shared/tray-state.js';
import type { EngineStatus } from '../../src/shared/ipc.js';
import { engineStatus } from '../helpers/status.js';

const base: EngineStatus = engineStatus();

function fakeTray() {
  const calls: string[] = [];
  let menu: readonly MenuItemSpec[] = [];
  let click: (a: MenuAction) => void = () => undefined;
  const make = (icon: string): TrayLike => {
    calls.push(`create ${icon}`);
    return {
      setImage: (p) => calls.push(`image ${p}`),
      setToolTip: (t) => calls.push(`tooltip ${t.split('\n')[0]}`),
      setMenu: (items, onClick) => {
        menu = items;
        click = onClick;
        calls.push(`menu ${items.map((i) => i.label).join('|')}`);
      },
      destroy: () => calls.push('destroy'),
    };
  };
  return { calls, make, menu: () => menu, click: (a: MenuAction) => click(a) };
}

describe('tray service', () => {
  it('shows one icon per state and touches only what changed', () => {
    const f = fakeTray();
    const acted: MenuAction[] = [];
    const tray = new TrayService({ createTray: f.make, iconPath: (s) => `/icons/${s}.png`, actions: { open: () => acted.push('open'), sync: () => acted.push('sync'), pause: () => acted.push('pause'), quit: () => acted.push('quit') } });
    tray.update(base);
    expect(f.calls).toEqual(['create /icons/synced.png', 'tooltip TillSync: All sales are safe at HQ', 'menu Open TillSync|Sync now|Pause sync|Quit']);
    f.calls.length = 0;
    tray.update(base);
    expect(f.calls).toEqual([]);
    tray.update({ ...base, connection: 'offline', totals: { ...base.totals, pending: 2 } });
    expect(f.calls[0]).toBe('image /icons/offline.png');
    expect(tray.currentState).toBe('offline');
    tray.update({ ...base, paused: true, totals: { ...base.totals, conflicts: 1 } });
    expect(f.calls).toContain('image /icons/attention.png');
    expect(f.calls.at(-1)).toBe('menu Open TillSync|Sync now|Resume sync|Quit');
    f.click('sync');
    f.click('pause');
    expect(acted).toEqual(['sync', 'pause']);
  });

  it('exists before the engine does: not running shows attention with the reason, Open and Quit; the engine starting restores the full menu', () => {
    const f = fakeTray();
    const acted: MenuAction[] = [];
    const tray = new TrayService({ createTray: f.make, iconPath: (s) => `/icons/${s}.png`, actions: { open: () => acted.push('open'), sync: () => acted.push('sync'), pause: () => acted.push('pause'), quit: () => acted.push('quit') } });
    tray.showProblem('Not set up yet: enter the central URL in Settings');
    expect(f.calls).toEqual(['create /icons/attention.png', 'tooltip TillSync: not running', 'menu Open TillSync|Quit']);
    f.click('quit');
    expect(acted).toEqual(['quit']);
    f.calls.length = 0;
    tray.update(base);
    expect(f.calls).toEqual(['image /icons/synced.png', 'tooltip TillSync: All sales are safe at HQ', 'menu Open TillSync|Sync now|Pause sync|Quit']);
    f.calls.length = 0;
    tray.showProblem('POS database: no file at /x');
    expect(f.calls).toEqual(['image /icons/attention.png', 'tooltip TillSync: not running', 'menu Open TillSync|Quit']);
  });
});

describe('tray icons', () => {
  it('every state has a 16 and a 32 px icon for light and dark menu bars, committed as generated', () => {
    const files = iconFiles();
    for (const state of TRAY_STATES) {
      for (const theme of ['light', 'dark']) {
        for (const size of [16, 32]) {
          const name = `tray/${state}-${theme}-${size}.png`;
          const path = new URL(`../../resources/${name}`, import.meta.url);
          expect(existsSync(path), name).toBe(true);
          const png = readFileSync(path);
          expect(png.subarray(1, 4).toString()).toBe('PNG');
          expect(png.readUInt32BE(16)).toBe(size);
          expect(png.equals(files.get(name) as Buffer), `${name} is stale: run npx tsx scripts/generate-icons.ts`).toBe(true);
        }
      }
    }
  });
});
