import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { iconFiles } from '../../scripts/generate-icons.js';
import { AGE_REFRESH_MAX_MS, TrayService, type MenuAction, type MenuItemSpec, type TrayClock, type TrayLike } from '../../src/main/tray.js';
import { TRAY_STATES } from '../../src/shared/tray-state.js';
import type { EngineStatus } from '../../src/shared/ipc.js';
import { engineStatus } from '../helpers/status.js';

const base: EngineStatus = engineStatus();

/** A clock the test moves by hand: `advance` runs the timers that fall due, in order. */
function manualClock(start = Date.parse('2026-12-03T12:00:00.000Z')) {
  let t = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: TrayClock = {
    now: () => t,
    setTimeout: (fn, ms) => {
      const id = ++seq;
      timers.set(id, { at: t + ms, fn });
      return id;
    },
    clearTimeout: (id) => {
      timers.delete(id as number);
    },
  };
  const advance = (ms: number) => {
    const end = t + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      t = due[1].at;
      due[1].fn();
    }
    t = end;
  };
  return { clock, advance, pending: () => timers.size, iso: (msAgo = 0) => new Date(t - msAgo).toISOString() };
}

const noActions = { open: () => undefined, sync: () => undefined, pause: () => undefined, quit: () => undefined };

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

describe('tray: the age of what waits', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('while a change waits, the tooltip ages with time without a new status from the engine; once nothing waits it stops', () => {
    const f = fakeTray();
    const c = manualClock();
    const tray = new TrayService({ createTray: f.make, iconPath: (s) => `/icons/${s}.png`, actions: noActions, clock: c.clock });
    const tooltips = () => f.calls.filter((x) => x.startsWith('tooltip ')).map((x) => x.slice('tooltip TillSync: '.length));
    tray.update({ ...base, totals: { ...base.totals, pending: 3 }, oldestPendingAt: c.iso(0) });
    expect(tray.currentState).toBe('pending');
    expect(tooltips()).toEqual(['3 waiting for HQ, oldest just now']);
    expect(tray.ageing).toBe(true);

    c.advance(4_000);
    expect(tooltips()).toHaveLength(1); // still "just now"
    c.advance(1_050); // (the tray looks again just after the text changes)
    expect(tooltips().at(-1)).toBe('3 waiting for HQ, oldest 5 s');
    c.advance(7_000);
    expect(tooltips().at(-1)).toBe('3 waiting for HQ, oldest 12 s');
    c.advance(48_000);
    expect(tooltips().at(-1)).toBe('3 waiting for HQ, oldest 1 min');
    c.advance(2 * 60_000);
    expect(tooltips().at(-1)).toBe('3 waiting for HQ, oldest 3 min');
    // Only a changed text is set: one per second under a minute, then one per minute.
    expect(tooltips()).toHaveLength(new Set(tooltips()).size);
    expect(tooltips()).toHaveLength(1 + 55 + 3); // just now, 5..59 s, 1..3 min
    expect(f.calls.filter((x) => x.startsWith('image'))).toEqual([]); // the icon stays "pending"

    // The engine reports the push: nothing waits, the tray says synced and the timer stops.
    tray.update({ ...base, totals: { ...base.totals, pending: 0, synced: 3 }, oldestPendingAt: null });
    expect(tray.currentState).toBe('synced');
    expect(tooltips().at(-1)).toBe('All sales are safe at HQ');
    expect(tray.ageing).toBe(false);
    expect(c.pending()).toBe(0);
    const before = f.calls.length;
    c.advance(60 * 60_000);
    expect(f.calls.length).toBe(before);
  });

  it('offline for hours: the tooltip moves on by the hour; a stale timer never outlives an update, a problem or destroy', () => {
    const f = fakeTray();
    const c = manualClock();
    const tray = new TrayService({ createTray: f.make, iconPath: (s) => `/icons/${s}.png`, actions: noActions, clock: c.clock });
    const offline = { ...base, connection: 'offline' as const, totals: { ...base.totals, pending: 12 }, oldestPendingAt: c.iso(40 * 60_000) };
    tray.update(offline);
    expect(f.calls[1]).toBe('tooltip TillSync: Offline: 12 sale changes kept safely on this till, oldest 40 min');
    c.advance(20 * 60_000);
    expect(f.calls.at(-1)).toBe('tooltip TillSync: Offline: 12 sale changes kept safely on this till, oldest 1 h');
    c.advance(2 * 60 * 60_000);
    expect(f.calls.at(-1)).toBe('tooltip TillSync: Offline: 12 sale changes kept safely on this till, oldest 3 h');
    // Updates keep one timer, never one per status.
    for (let i = 0; i < 10; i++) tray.update({ ...offline });
    expect(c.pending()).toBe(1);
    // No timer waits longer than a minute (a clock set back or forward is caught up).
    expect(tray.ageing).toBe(true);
    tray.showProblem('POS database: no file at /x');
    expect(tray.ageing).toBe(false);
    expect(c.pending()).toBe(0);
    c.advance(AGE_REFRESH_MAX_MS * 5);
    expect(f.calls.at(-2)).toBe('tooltip TillSync: not running');
    tray.update(offline);
    expect(c.pending()).toBe(1);
    tray.destroy();
    expect(c.pending()).toBe(0);
  });

  it('paused by a supervisor with sales waiting: the pending icon, the Resume menu and an ageing tooltip, never synced', () => {
    const f = fakeTray();
    const c = manualClock();
    const tray = new TrayService({ createTray: f.make, iconPath: (s) => `/icons/${s}.png`, actions: noActions, clock: c.clock });
    tray.update({ ...base, paused: true, totals: { ...base.totals, pending: 2 }, oldestPendingAt: c.iso(10 * 60_000) });
    expect(f.calls).toEqual(['create /icons/pending.png', 'tooltip TillSync: Sync paused: 2 waiting on this till, oldest 10 min', 'menu Open TillSync|Sync now|Resume sync|Quit']);
    c.advance(60_000);
    expect(f.calls.at(-1)).toBe('tooltip TillSync: Sync paused: 2 waiting on this till, oldest 11 min');
    tray.update({ ...base, paused: true });
    expect(tray.currentState).toBe('pending');
    expect(f.calls.at(-1)).toBe('tooltip TillSync: Sync paused: new sales will wait on this till');
  });

  it('without an injected clock it uses the real time and timers', () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-03T12:00:00.000Z') });
    const f = fakeTray();
    const tray = new TrayService({ createTray: f.make, iconPath: (s) => `/icons/${s}.png`, actions: noActions });
    tray.update({ ...base, totals: { ...base.totals, pending: 1 }, oldestPendingAt: new Date(Date.now() - 59_000).toISOString() });
    expect(f.calls[1]).toBe('tooltip TillSync: 1 waiting for HQ, oldest 59 s');
    vi.advanceTimersByTime(1_050);
    expect(f.calls.at(-1)).toBe('tooltip TillSync: 1 waiting for HQ, oldest 1 min');
    tray.destroy();
    expect(vi.getTimerCount()).toBe(0);
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
