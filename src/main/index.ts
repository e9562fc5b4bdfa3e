/**
 * Electron main process: composes the companion. One instance per user (a second
 * launch focuses the first); started at login it stays in the tray. The sync engine
 * runs here (Companion, src/main/companion.ts) and keeps running when the window is
 * closed; Quit in the tray menu stops it. The window is locked down (context
 * isolation, sandbox, no node integration, CSP, no navigation, no new windows, no
 * permissions) and IPC is answered only for its own main frame.
 *
 * Everything with behaviour lives in modules tested without Electron (companion,
 * ipc, tray, auto-start, secret-store, settings, window-security); this file only
 * wires Electron's objects to them.
 */
// For its effect, before the engine starts: the heap's growth between full collections (see the module).
import './heap-growth.js';
import electronUpdater from 'electron-updater';
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, nativeTheme, powerMonitor, safeStorage, session, Tray } from 'electron';
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { AutoStart, startedHidden } from './auto-start.js';
import { Companion } from './companion.js';
import { forwardEvents, registerIpc, trustedRenderer } from './ipc.js';
import { SecretStore } from './secret-store.js';
import { SettingsStore } from './settings.js';
import { TrayService, type TrayLike } from './tray.js';
import { CompanionUpdater, updaterConfigFromEnv, type UpdaterLike } from './updater.js';
import { readUpdateGate } from './sync/update-gate.js';
import { defaultsFromEnv } from './engine-settings.js';
import { COMPANION_LOGS_NOTE } from './companion-bundle.js';
import { RecentLogs } from './sync/support-bundle-logs.js';
import { bundleBaseName } from './sync/support-bundle.js';
import { launchMode, rendererCsp, secureSession, secureWebContents, trayIconPath } from './window-security.js';

// Logs go to standard output, and the last lines are kept in memory for support bundles.
const recentLogs = new RecentLogs();
const log = pino(
  { level: process.env.LOG_LEVEL ?? 'info', base: { app: 'tillsync-companion' } },
  pino.multistream([
    { level: 'trace', stream: process.stdout },
    { level: 'trace', stream: recentLogs },
  ]),
);
const devUrl = process.env.ELECTRON_RENDERER_URL;
const rendererFile = join(import.meta.dirname, '../renderer/index.html');
const rendererUrl = devUrl ?? pathToFileURL(rendererFile).href;
const isTrusted = trustedRenderer(rendererUrl);
const resourcesDir = app.isPackaged ? join(process.resourcesPath, 'resources') : join(import.meta.dirname, '../../resources');

let win: BrowserWindow | undefined;
let quitting = false;

function createWindow(show: boolean): BrowserWindow {
  const w = new BrowserWindow({
    width: 1024,
    height: 720,
    minWidth: 480,
    minHeight: 400,
    show,
    title: 'TillSync',
    icon: join(resourcesDir, 'icon.png'),
    autoHideMenuBar: true,
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  // Closing the window hides it: the engine keeps syncing from the tray. Logging off or
  // shutting down closes it for real, so the app never holds up the session's end.
  w.on('session-end', () => (quitting = true));
  w.on('close', (e) => {
    if (!quitting) {
      e.preventDefault();
      w.hide();
    }
  });
  if (devUrl) void w.loadURL(devUrl);
  else void w.loadFile(rendererFile);
  return w;
}

function showWindow(): void {
  if (!win || win.isDestroyed()) win = createWindow(true);
  if (win.isMinimized()) win.restore();
  win.show();
  win.focus();
}

/** Electron's save dialog for a support bundle (it asks before replacing a file); null when cancelled. */
async function chooseBundlePath(defaultName: string): Promise<string | null> {
  const options = {
    title: 'Save support bundle',
    defaultPath: join(app.getPath('documents'), defaultName),
    filters: [{ name: 'Support bundle', extensions: ['tar.gz', 'gz'] }],
  };
  const r = win && !win.isDestroyed() ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
  return r.canceled || !r.filePath ? null : r.filePath;
}

function electronTray(iconPath: string): TrayLike {
  const image = (path: string) => {
    const img = nativeImage.createFromPath(path);
    const big = path.replace(/-16\.png$/, '-32.png');
    if (fs.existsSync(big)) img.addRepresentation({ scaleFactor: 2, buffer: fs.readFileSync(big) });
    return img;
  };
  const tray = new Tray(image(iconPath));
  tray.on('click', showWindow);
  return {
    setImage: (p) => tray.setImage(image(p)),
    setToolTip: (t) => tray.setToolTip(t),
    setMenu: (items, onClick) => tray.setContextMenu(Menu.buildFromTemplate(items.map((i) => ({ label: i.label, click: () => onClick(i.action) })))),
    destroy: () => tray.destroy(),
  };
}

async function main(): Promise<void> {
  const hidden = startedHidden(process.argv, app.getLoginItemSettings().wasOpenedAtLogin ?? false);
  const mode = launchMode(app.requestSingleInstanceLock(), hidden);
  if (mode === 'quit') {
    app.quit();
    return;
  }
  app.on('second-instance', showWindow);
  await app.whenReady();

  const csp = rendererCsp(devUrl);
  secureSession(session.defaultSession, csp);
  // Every web contents (our window included) is guarded from the moment it exists.
  app.on('web-contents-created', (_e, contents) => secureWebContents(contents, isTrusted, log));

  const userData = app.getPath('userData');
  const autoStart = new AutoStart({
    platform: process.platform,
    login: app,
    fs,
    homeDir: homedir(),
    configHome: process.env.XDG_CONFIG_HOME,
    execPath: process.execPath,
    appImage: process.env.APPIMAGE,
  });
  const companion = new Companion({
    settings: new SettingsStore(join(userData, 'settings.json'), fs),
    keys: new SecretStore(safeStorage, fs, join(userData, 'terminal-key.bin'), process.platform),
    // Auto-start is on by default for installed builds only (a dev checkout never registers itself).
    autoStart: app.isPackaged ? autoStart : undefined,
    defaults: defaultsFromEnv(process.env),
    // Heartbeats report the installed version (HQ's console shows it per till).
    tuning: { appVersion: app.getVersion() },
    log,
    // The bundle's own copy of the terminal's migrations (electron-builder.yml ships them).
    migrationsDir: join(app.getAppPath(), 'drizzle', 'terminal', 'migrations'),
    supportBundle: {
      source: 'companion',
      chooseTarget: async (name) => {
        const path = await chooseBundlePath(name);
        return path === null ? null : { path, replace: true };
      },
      recentLogs: () => ({
        files: [{ name: 'companion.log', text: recentLogs.text() }],
        note: `${COMPANION_LOGS_NOTE}; logs/companion.log holds the last lines this run kept in memory (up to 5,000)`,
      }),
    },
  });
  if (app.isPackaged) companion.applyAutoStart();
  // Updates from HQ's feed (installed builds only: electron-updater needs the app's update metadata).
  const updates = new CompanionUpdater({
    createUpdater: (): UpdaterLike => electronUpdater.autoUpdater,
    currentVersion: app.getVersion(),
    config: updaterConfigFromEnv(process.env),
    log,
    ports: {
      connection: () => {
        const e = companion.engine;
        return e?.config.apiKey ? { centralUrl: e.config.centralUrl, apiKey: e.config.apiKey } : null;
      },
      gate: () => {
        const e = companion.engine;
        return e ? readUpdateGate(e.store.base) : null;
      },
      online: () => companion.engine?.status().connection === 'online',
    },
  });

  const unregister = registerIpc(ipcMain, companion.host, isTrusted);
  const tray = new TrayService({
    createTray: electronTray,
    iconPath: (state) => trayIconPath(resourcesDir, state, process.platform === 'darwin' || nativeTheme.shouldUseDarkColors),
    actions: {
      open: showWindow,
      sync: () => void companion.engine?.performIncrementalSync('tray').catch(() => undefined),
      pause: () => {
        const e = companion.engine;
        if (e?.isPaused) e.resume();
        else e?.pause();
      },
      quit: () => app.quit(),
    },
    supportBundle: {
      defaultName: () => `${bundleBaseName(companion.view().terminalId ?? null, new Date())}.tar.gz`,
      chooseSavePath: chooseBundlePath,
      save: (path) => companion.writeSupportBundle(path, true),
      showResult: ({ ok, message }) => void dialog.showMessageBox({ type: ok ? 'info' : 'error', title: 'TillSync', message }),
    },
  });
  const stopEvents = forwardEvents(companion.host, (channel, payload) => {
    if (win && !win.isDestroyed()) win.webContents.send(channel, payload);
  });
  const showTray = (apply: () => void) => {
    const before = tray.currentState;
    apply();
    if (tray.currentState !== before) log.info({ tray: tray.currentState }, 'tray state');
  };
  const stopTray = companion.host.subscribe((event, payload) => {
    if (event === 'statusChanged') showTray(() => tray.update(payload as Parameters<TrayService['update']>[0]));
    if (event === 'setupChanged') {
      const { problem } = payload as { problem: string | null };
      if (problem) showTray(() => tray.showProblem(problem));
    }
  });

  // The tray exists from the start, so the app can always be opened and quit.
  tray.showProblem('starting');
  await companion.start();
  const first = companion.engine?.status();
  if (first) showTray(() => tray.update(first));
  else showTray(() => tray.showProblem(companion.setupProblem ?? 'not running'));
  // A second launch during start-up may already have opened the window.
  if (mode === 'show' || companion.setupProblem) showWindow();

  if (app.isPackaged) updates.start();

  app.on('activate', showWindow);
  // macOS and Linux shutdown: let the windows close instead of hiding.
  powerMonitor.on('shutdown', () => (quitting = true));
  // The engine keeps running with every window closed; only Quit stops it.
  app.on('window-all-closed', () => undefined);
  app.on('before-quit', (e) => {
    if (quitting) return;
    quitting = true;
    e.preventDefault();
    stopEvents();
    stopTray();
    unregister();
    tray.destroy();
    updates.stop();
    // A downloaded update HQ wants here is installed as the app quits (its installer quits the app), unless sales wait:
    // asked before the engine stops, as the answer reads its outbox.
    const install = updates.dueOnQuit();
    companion.stop().finally(() => {
      if (!install) return app.exit(0);
      updates.install(false);
      // Should the installer not start (and so not quit the app), the app still ends.
      setTimeout(() => app.exit(0), 15_000).unref();
    });
  });
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'the companion failed to start');
  // A user double-clicked the app: say why it did not open (a corrupt settings file names itself).
  dialog.showErrorBox('TillSync could not start', err instanceof Error ? err.message : String(err));
  app.exit(1);
});
