/**
 * The cashier's tray indicator. Electron's Tray and Menu stay behind `TrayLike`, made
 * by an injected factory, so the behaviour is tested without Electron.
 */
import type { EngineStatus } from '../shared/ipc.js';
import { trayView, type TrayState } from '../shared/tray-state.js';

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
}

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

  constructor(private readonly deps: TrayDeps) {}

  /** Shows the engine's status; only what changed is touched. */
  update(status: EngineStatus): void {
    const view = trayView(status);
    this.show(view.state, view.tooltip, status.paused ? 'paused' : 'running');
  }

  /** No engine runs (not set up, or settings it cannot start with): the tray says so and offers Open and Quit. */
  showProblem(problem: string): void {
    this.show('attention', `TillSync: not running\n${problem}`, 'not-running');
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
    this.tray?.destroy();
    this.tray = undefined;
  }
}
