/**
 * The cashier's tray indicator. Electron's Tray and Menu stay behind `TrayLike`, made
 * by an injected factory, so the behaviour is tested without Electron.
 *
 * While a change waits, the tooltip says how old the oldest one is; that text ages
 * without any new status from the engine, so the tray shows the last status again
 * (on a timer, set for when the age's text next changes) while something waits, and
 * never asks the engine for anything.
 *
 * "Save support bundle…" asks where to save (a save dialog in Electron), writes the
 * bundle there and says how it went; the dialog and the bundle are injected too.
 */
import type { EngineStatus } from '../shared/ipc.js';
import { nextAgeChangeMs, trayView, type TrayState } from '../shared/tray-state.js';

export type MenuAction = 'open' | 'sync' | 'pause' | 'bundle' | 'quit';

export interface MenuItemSpec {
  readonly action: MenuAction;
  readonly label: string;
}

export interface TrayLike {
  setImage(iconPath: string): void;
  setToolTip(text: string): void;
  /** Shows these items; a click calls `onClick` with the item's action. */
  setMenu(items: readonly MenuItemSpec[], onClick: (action: MenuAction) => void): void;
  destroy(): void;
}

export interface TrayDeps {
  createTray(iconPath: string): TrayLike;
  /** resources/tray/<state>-<theme>-<size>.png for this platform and theme. */
  iconPath(state: TrayState): string;
  actions: Record<Exclude<MenuAction, 'bundle'>, () => void>;
  /** The "Save support bundle…" item (absent: the menu has none). */
  supportBundle?: TrayBundleDeps;
  /** The time and a one-shot timer (default: the real ones). */
  clock?: TrayClock;
}

/** What the tray's support bundle item needs: a save dialog, the bundle, and a way to tell the person. */
export interface TrayBundleDeps {
  /** The file name the dialog proposes. */
  defaultName(): string;
  /** Asks where to save (Electron's save dialog, which asks before replacing a file); null when cancelled. */
  chooseSavePath(defaultName: string): Promise<string | null>;
  /** Builds and writes the bundle at `path`; what could not be collected is in `problems`. */
  save(path: string): Promise<{ path: string | null; problems: readonly string[] }>;
  /** Tells the person how it went (a message box in Electron). */
  showResult(result: { ok: boolean; message: string }): void;
}

export interface TrayClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: TrayClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The age's text is shown again at least this often (a clock changed meanwhile is caught up) ... */
export const AGE_REFRESH_MAX_MS = 60_000;
/** ... and at most this often. */
const AGE_REFRESH_MIN_MS = 250;
/** A timer may fire a little early: aim just past the moment the text changes. */
const AGE_REFRESH_SLACK_MS = 20;

type MenuKind = 'running' | 'paused' | 'not-running';

const BUNDLE_ITEM: MenuItemSpec = { action: 'bundle', label: 'Save support bundle…' };

const MENUS: Record<MenuKind, readonly MenuItemSpec[]> = {
  running: [
    { action: 'open', label: 'Open TillSync' },
    { action: 'sync', label: 'Sync now' },
    { action: 'pause', label: 'Pause sync' },
    { action: 'quit', label: 'Quit' },
  ],
  paused: [
    { action: 'open', label: 'Open TillSync' },
    { action: 'sync', label: 'Sync now' },
    { action: 'pause', label: 'Resume sync' },
    { action: 'quit', label: 'Quit' },
  ],
  'not-running': [
    { action: 'open', label: 'Open TillSync' },
    { action: 'quit', label: 'Quit' },
  ],
};

export class TrayService {
  private tray: TrayLike | undefined;
  private state: TrayState | undefined;
  private tooltip = '';
  private menu: MenuKind | undefined;
  /** The last status shown, shown again as its waiting change ages. */
  private status: EngineStatus | undefined;
  private ageTimer: unknown;
  private readonly clock: TrayClock;
  /** The support bundle being saved (one at a time: a second click while it runs does nothing). */
  private saving: Promise<void> | undefined;

  constructor(private readonly deps: TrayDeps) {
    this.clock = deps.clock ?? realClock;
  }

  /** Shows the engine's status; only what changed is touched. */
  update(status: EngineStatus): void {
    this.status = status;
    this.render();
  }

  /** No engine runs (not set up, or settings it cannot start with): the tray says so and offers Open and Quit. */
  showProblem(problem: string): void {
    this.status = undefined;
    this.stopAgeTimer();
    this.show('attention', `TillSync: not running\n${problem}`, 'not-running');
  }

  /** Whether the tray is waiting to show an older age (something waits). */
  get ageing(): boolean {
    return this.ageTimer !== undefined;
  }

  private render(): void {
    const status = this.status;
    if (!status) return;
    const view = trayView(status, this.clock.now());
    this.show(view.state, view.tooltip, status.paused ? 'paused' : 'running');
    this.stopAgeTimer();
    if (view.oldestAgeMs !== null) {
      const wait = Math.min(AGE_REFRESH_MAX_MS, Math.max(AGE_REFRESH_MIN_MS, nextAgeChangeMs(view.oldestAgeMs) + AGE_REFRESH_SLACK_MS));
      this.ageTimer = this.clock.setTimeout(() => {
        this.ageTimer = undefined;
        if (this.tray) this.render();
      }, wait);
    }
  }

  private stopAgeTimer(): void {
    if (this.ageTimer === undefined) return;
    this.clock.clearTimeout(this.ageTimer);
    this.ageTimer = undefined;
  }

  private show(state: TrayState, tooltip: string, menu: MenuKind): void {
    if (!this.tray) this.tray = this.deps.createTray(this.deps.iconPath(state));
    else if (state !== this.state) this.tray.setImage(this.deps.iconPath(state));
    this.state = state;
    if (tooltip !== this.tooltip) {
      this.tooltip = tooltip;
      this.tray.setToolTip(tooltip);
    }
    if (menu !== this.menu) {
      this.menu = menu;
      const items = this.deps.supportBundle ? [...MENUS[menu].slice(0, -1), BUNDLE_ITEM, ...MENUS[menu].slice(-1)] : MENUS[menu];
      this.tray.setMenu(items, (action) => (action === 'bundle' ? void this.saveSupportBundle() : this.deps.actions[action]()));
    }
  }

  /** The support bundle item: asks where, writes, tells the person; resolves when done (never rejects). */
  saveSupportBundle(): Promise<void> {
    const deps = this.deps.supportBundle;
    if (!deps) return Promise.resolve();
    this.saving ??= (async () => {
      try {
        const path = await deps.chooseSavePath(deps.defaultName());
        if (path === null) return;
        const saved = await deps.save(path);
        const notes = saved.problems.length > 0 ? `\n\nNot collected:\n${saved.problems.join('\n')}` : '';
        deps.showResult({ ok: true, message: `Support bundle saved to ${saved.path ?? path}${notes}` });
      } catch (err) {
        deps.showResult({ ok: false, message: `The support bundle could not be saved: ${err instanceof Error ? err.message : String(err)}` });
      }
    })().finally(() => {
      this.saving = undefined;
    });
    return this.saving;
  }

  get currentState(): TrayState | undefined {
    return this.state;
  }

  destroy(): void {
    this.stopAgeTimer();
    this.status = undefined;
    this.tray?.destroy();
    this.tray = undefined;
  }
}
