/**
 * The cashier's tray indicator. Electron's Tray and Menu stay behind `TrayLike`, made
 * by an injected factory, so the behaviour is tested without Electron.
 *
 * While a change waits, the tooltip says how old the oldest one is; that text ages
 * without any new status from the engine, so the tray shows the last status again
 * (on a timer, set for when the age's text next changes) while something waits, and
 * never asks the engine for anything.
 */
import type { EngineStatus } from '../shared/ipc.js';
import { nextAgeChangeMs, trayView, type TrayState } from '../shared/tray-state.js';

export type MenuAction = 'open' | 'sync' | 'pause' | 'quit';

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
  actions: Record<MenuAction, () => void>;
  /** The time and a one-shot timer (default: the real ones). */
  clock?: TrayClock;
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
      this.tray.setMenu(MENUS[menu], (action) => this.deps.actions[action]());
    }
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
