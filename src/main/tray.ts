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

export class TrayService {
  private tray: TrayLike | undefined;
  private state: TrayState | undefined;
  private tooltip = '';
  private paused: boolean | undefined;
  private problemMenu = false;

  constructor(private readonly deps: TrayDeps) {}

  /** Shows the engine's status; only what changed is touched. */
  update(status: EngineStatus): void {
    const view = trayView(status);
    if (!this.tray) this.tray = this.deps.createTray(this.deps.iconPath(view.state));
    else if (view.state !== this.state) this.tray.setImage(this.deps.iconPath(view.state));
    this.state = view.state;
    if (view.tooltip !== this.tooltip) {
      this.tooltip = view.tooltip;
      this.tray.setToolTip(view.tooltip);
    }
    if (status.paused !== this.paused || this.problemMenu) {
      this.paused = status.paused;
      this.problemMenu = false;
      this.tray.setMenu(
        [
          { action: 'open', label: 'Open TillSync' },
          { action: 'sync', label: 'Sync now' },
          { action: 'pause', label: status.paused ? 'Resume sync' : 'Pause sync' },
          { action: 'quit', label: 'Quit' },
        ],
        (action) => this.deps.actions[action](),
      );
    }
  }

  /** No engine runs (not set up, or settings it cannot start with): the tray says so and offers Open and Quit. */
  showProblem(problem: string): void {
    const tooltip = `TillSync: not running\n${problem}`;
    if (!this.tray) this.tray = this.deps.createTray(this.deps.iconPath('attention'));
    else if (this.state !== 'attention') this.tray.setImage(this.deps.iconPath('attention'));
    this.state = 'attention';
    if (tooltip !== this.tooltip) {
      this.tooltip = tooltip;
      this.tray.setToolTip(tooltip);
    }
    if (this.paused !== undefined || !this.problemMenu) {
      this.paused = undefined;
      this.problemMenu = true;
      this.tray.setMenu(
        [
          { action: 'open', label: 'Open TillSync' },
          { action: 'quit', label: 'Quit' },
        ],
        (action) => this.deps.actions[action](),
      );
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
