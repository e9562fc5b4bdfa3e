/**
 * Auto-start on boot: a login item on Windows and macOS (Electron's
 * setLoginItemSettings), an XDG autostart entry on Linux pointing at the AppImage
 * when run from one. Started at login, the app stays hidden in the tray (`--hidden`).
 * Everything OS-facing is injected, so tests run without Electron.
 */
import { join } from 'node:path';

export const HIDDEN_FLAG = '--hidden';

export interface LoginItems {
  setLoginItemSettings(settings: { openAtLogin: boolean; openAsHidden?: boolean; args?: string[] }): void;
  /** On Windows the entry is found only with the same args it was registered with. */
  getLoginItemSettings(options?: { args?: string[] }): { openAtLogin: boolean };
}

export interface AutoStartFs {
  existsSync(path: string): boolean;
  mkdirSync(path: string, opts: { recursive: true }): void;
  writeFileSync(path: string, data: string): void;
  rmSync(path: string, opts: { force: true }): void;
}

export interface AutoStartDeps {
  readonly platform: NodeJS.Platform;
  readonly login: LoginItems;
  readonly fs: AutoStartFs;
  readonly homeDir: string;
  /** XDG_CONFIG_HOME if set. */
  readonly configHome?: string | undefined;
  /** The running executable; APPIMAGE (set by the AppImage runtime) wins on Linux. */
  readonly execPath: string;
  readonly appImage?: string | undefined;
}

export class AutoStart {
  constructor(private readonly deps: AutoStartDeps) {}

  /** Linux: ~/.config/autostart/tillsync.desktop */
  get desktopFile(): string {
    return join(this.deps.configHome ?? join(this.deps.homeDir, '.config'), 'autostart', 'tillsync.desktop');
  }

  isEnabled(): boolean {
    if (this.deps.platform === 'linux') return this.deps.fs.existsSync(this.desktopFile);
    return this.deps.login.getLoginItemSettings({ args: [HIDDEN_FLAG] }).openAtLogin;
  }

  set(enabled: boolean): void {
    if (this.deps.platform !== 'linux') {
      this.deps.login.setLoginItemSettings({ openAtLogin: enabled, openAsHidden: true, args: [HIDDEN_FLAG] });
      return;
    }
    if (!enabled) {
      this.deps.fs.rmSync(this.desktopFile, { force: true });
      return;
    }
    const exec = this.deps.appImage ?? this.deps.execPath;
    this.deps.fs.mkdirSync(join(this.desktopFile, '..'), { recursive: true });
    this.deps.fs.writeFileSync(
      this.desktopFile,
      [
        '[Desktop Entry]',
        'Type=Application',
        'Name=TillSync',
        'Comment=Keeps this till in sync with HQ',
        `Exec="${exec.replace(/(["\\`$])/g, '\\$1')}" ${HIDDEN_FLAG}`,
        'Terminal=false',
        'X-GNOME-Autostart-enabled=true',
        '',
      ].join('\n'),
    );
  }
}

/** Launched at login: start hidden in the tray. */
export function startedHidden(argv: readonly string[], wasOpenedAtLogin: boolean): boolean {
  return wasOpenedAtLogin || argv.includes(HIDDEN_FLAG);
}
