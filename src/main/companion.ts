/**
 * The companion's core, without Electron: settings, the terminal key, auto-start and
 * the sync engine they configure, served through one EngineHost. The Electron main
 * process (src/main/index.ts) and web mode (src/agent/web-companion.ts) both build on it.
 *
 * The engine runs when the central URL, terminal id, key and POS database are known
 * (from Settings, or from the agent's environment variables as defaults). A change
 * to any of them restarts the engine; a change it cannot start with is put back and
 * reported, so a typo never leaves the till without sync.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { checkSettings, syncConfigFrom, type CompanionDefaults } from './engine-settings.js';
import { createEngine, type Engine } from './sync/engine.js';
import type { SyncService } from './sync/sync-service.js';
import type { SyncConfig } from './sync/sync-config.js';
import { EngineHost } from './bridge/engine-host.js';
import type { SavedSupportBundle, SettingsPatch, SettingsView } from '../shared/ipc.js';
import { writeCompanionBundle, type CompanionBundleOptions } from './companion-bundle.js';
import { bundleBaseName } from './sync/support-bundle.js';
import { DEFAULT_SYNC_INTERVAL, type SettingsStore } from './settings.js';

/** Where the terminal key lives (SecretStore over safeStorage in Electron). */
export interface KeyStore {
  /** Why a key cannot be stored here, or null. */
  problem(): Error | null;
  save(key: string): void;
  load(): string | undefined;
  clear(): void;
}

export interface AutoStartPort {
  isEnabled(): boolean;
  set(enabled: boolean): void;
}

export type { CompanionDefaults };

export interface CompanionOptions {
  readonly settings: SettingsStore;
  readonly keys: KeyStore;
  readonly autoStart?: AutoStartPort | undefined;
  readonly defaults?: CompanionDefaults | undefined;
  readonly log: Logger;
  /** Engine tuning beyond Settings (tests shorten heartbeats and watch intervals). */
  readonly tuning?: Partial<SyncConfig> | undefined;
  /** The terminal's migrations folder (the Electron bundle passes its app path's; default: next to the sources). */
  readonly migrationsDir?: string | undefined;
  /** Support bundles: where the Settings screen's go, and this process's recent logs (companion-bundle.ts). */
  readonly supportBundle?: CompanionBundleOptions | undefined;
}

/** The settings an engine is built from; a change to one of them restarts it. */
const ENGINE_FIELDS = ['centralUrl', 'terminalId', 'databasePath', 'apiKey', 'syncInterval', 'cron'] as const;
type EngineSettings = { [K in (typeof ENGINE_FIELDS)[number]]: K extends 'syncInterval' ? number : string | undefined };

export class Companion {
  readonly host: EngineHost;
  /** The engine running now (its store, service and client). */
  private current: Engine | undefined;
  private service: SyncService | undefined;
  private running: EngineSettings | undefined;
  private problem: string | null = null;
  /** Settings changes and restarts run one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: CompanionOptions) {
    this.host = new EngineHost(undefined, {
      pin: { isSet: () => opts.settings.get().supervisorPinHash !== undefined, verify: (pin) => opts.settings.verifyPin(pin) },
      settings: { get: () => this.view(), set: (patch) => this.serial(() => this.apply(patch)) },
      supportBundle: { save: () => this.saveSupportBundle() },
    });
  }

  /** Starts the engine if it is set up; otherwise the UI says what is missing. Never throws for bad settings. */
  async start(): Promise<void> {
    await this.serial(async () => {
      try {
        await this.open(this.engineSettings());
      } catch (err) {
        this.setProblem(err instanceof Error ? err.message : String(err));
      }
    });
  }

  async stop(): Promise<void> {
    await this.serial(() => this.close());
  }

  get engine(): SyncService | undefined {
    return this.service;
  }

  /** Writes a support bundle of this till at `path` (the tray's item, after its save dialog); `replace`: over an existing file. */
  writeSupportBundle(path: string, replace: boolean): Promise<SavedSupportBundle> {
    // In turn with settings changes: the engine is not swapped while the bundle reads it.
    return this.serial(() =>
      writeCompanionBundle(
        { engine: this.current, problem: this.problem, inForce: this.engineSettings(), saved: this.opts.settings.get(), defaults: this.opts.defaults },
        this.opts.supportBundle,
        path,
        replace,
      ),
    );
  }

  /** The Settings screen's "Save support bundle": asks where (Electron: a dialog), then writes it there. */
  async saveSupportBundle(): Promise<SavedSupportBundle> {
    const chooser = this.opts.supportBundle;
    if (!chooser) throw new Error('support bundles are not set up in this companion');
    const target = await chooser.chooseTarget(`${bundleBaseName(this.engineSettings().terminalId ?? null, new Date())}.tar.gz`);
    if (!target) return { saved: false, path: null, files: 0, bytes: 0, problems: [] };
    return this.writeSupportBundle(target.path, target.replace);
  }

  /** What is missing or wrong, when the engine is not running. */
  get setupProblem(): string | null {
    return this.problem;
  }

  view(): SettingsView {
    // The connection as the engine would use it: saved settings over the environment's defaults.
    const e = this.engineSettings();
    const s = this.opts.settings.view(e.apiKey !== undefined);
    return {
      ...s,
      centralUrl: e.centralUrl,
      terminalId: e.terminalId,
      databasePath: e.databasePath,
      syncInterval: e.syncInterval,
      ...(e.cron !== undefined ? { cron: e.cron } : {}),
      // Without a login item (web mode, a run from a checkout) there is nothing to start: never reported as on.
      autoStart: this.opts.autoStart ? this.opts.autoStart.isEnabled() : null,
    };
  }

  /** Installed builds start at login unless the user turned it off: applies the saved choice. */
  applyAutoStart(): void {
    const want = this.opts.settings.get().autoStart;
    try {
      if (this.opts.autoStart && this.opts.autoStart.isEnabled() !== want) this.opts.autoStart.set(want);
    } catch (err) {
      this.opts.log.warn({ err }, 'could not apply the auto-start setting');
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private key(): string | undefined {
    try {
      return this.opts.keys.load() ?? this.opts.defaults?.apiKey;
    } catch (err) {
      this.opts.log.warn({ err }, 'the stored terminal key cannot be read');
      return this.opts.defaults?.apiKey;
    }
  }

  private engineSettings(): EngineSettings {
    const s = this.opts.settings.get();
    const d = this.opts.defaults ?? {};
    return {
      centralUrl: s.centralUrl ?? d.centralUrl,
      terminalId: s.terminalId ?? d.terminalId,
      databasePath: s.databasePath ?? d.databasePath,
      apiKey: this.key(),
      syncInterval: s.syncInterval ?? d.syncInterval ?? DEFAULT_SYNC_INTERVAL,
      // A cron cleared in Settings is saved as '' and stays cleared, whatever the environment says.
      cron: s.cron !== undefined ? s.cron || undefined : d.cron,
    };
  }

  private setProblem(problem: string | null): void {
    this.problem = problem;
    if (problem) this.host.attach(undefined, problem);
    this.host.publishSetup(problem);
  }

  /**
   * Validates, saves and applies a change. Everything it touched (settings file, key,
   * login item) is put back when a step fails, and a change the engine cannot start
   * with leaves the previous engine running. A change to no engine setting never
   * restarts (or fails on) the engine.
   */
  private async apply(patch: SettingsPatch): Promise<SettingsView> {
    if (patch.apiKey !== undefined) {
      const p = this.opts.keys.problem();
      if (p) throw p;
    }
    const before = this.opts.settings.get();
    const keyBefore = patch.apiKey !== undefined ? this.safeLoad() : undefined;
    const autoStartBefore = patch.autoStart !== undefined ? this.opts.autoStart?.isEnabled() : undefined;
    this.opts.settings.update(patch);
    const rollback = () => {
      this.opts.settings.replace(before);
      if (patch.apiKey !== undefined) {
        if (keyBefore !== undefined) this.opts.keys.save(keyBefore);
        else this.opts.keys.clear();
      }
      if (autoStartBefore !== undefined && this.opts.autoStart?.isEnabled() !== autoStartBefore) {
        try {
          this.opts.autoStart?.set(autoStartBefore);
        } catch (err) {
          this.opts.log.warn({ err }, 'could not put the auto-start setting back');
        }
      }
    };
    try {
      if (patch.apiKey !== undefined) this.opts.keys.save(patch.apiKey);
      if (patch.autoStart !== undefined && this.opts.autoStart) {
        try {
          this.opts.autoStart.set(patch.autoStart);
        } catch (err) {
          throw new Error(`auto-start could not be changed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    } catch (err) {
      rollback();
      throw err;
    }
    const touchesEngine = ENGINE_FIELDS.some((k) => patch[k] !== undefined);
    const next = this.engineSettings();
    if (!touchesEngine || (this.running && ENGINE_FIELDS.every((k) => next[k] === this.running?.[k]))) return this.view();
    const hadEngine = this.service !== undefined;
    try {
      await this.open(next);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      rollback();
      // open() brings back the engine that ran before; a first set-up says what is wrong.
      if (!hadEngine) this.setProblem(reason);
      else if (!this.service) throw new Error(`${reason}; the settings were not changed, but the engine could not restart with them either (${this.problem ?? 'unknown error'}) and is stopped`);
      throw new Error(`${reason}; the settings were not changed`);
    }
    return this.view();
  }

  private safeLoad(): string | undefined {
    try {
      return this.opts.keys.load();
    } catch {
      return undefined;
    }
  }

  /** Builds and starts an engine from these settings; the running one is replaced only if the new one starts. */
  private async open(cfg: EngineSettings): Promise<void> {
    const missing = [
      cfg.centralUrl === undefined ? 'central URL' : '',
      cfg.terminalId === undefined ? 'terminal id' : '',
      cfg.apiKey === undefined ? 'terminal key' : '',
      cfg.databasePath === undefined ? 'POS database' : '',
    ].filter(Boolean);
    if (missing.length > 0) {
      if (this.service) throw new Error(`${missing.join(', ')} must be set`);
      this.setProblem(`Not set up yet: enter the ${missing.join(', ')} in Settings`);
      return;
    }
    const c = checkSettings({ ...cfg, cron: cfg.cron });
    if (!existsSync(c.databasePath)) throw new Error(`POS database: no file at ${c.databasePath}`);
    const log = this.opts.log;
    // Two engines must never run on one database: the old one stops first, and comes back if the new one cannot start.
    const previous = this.running;
    await this.close();
    let engine: Engine | undefined;
    try {
      // Never made here: a path typed in Settings must be the POS's own file, and a typo
      // must not start a new, empty till (the existsSync check above says so first).
      engine = createEngine(
        { databasePath: c.databasePath, terminalId: c.terminalId, sync: syncConfigFrom(c, this.opts.tuning), create: false, migrationsDir: this.opts.migrationsDir },
        log,
      );
      const { service } = engine;
      await service.initialize(c.terminalId);
      this.current = engine;
      this.service = service;
      this.running = cfg;
      this.problem = null;
      this.host.attach(service);
      this.host.publishSetup(null);
      log.info({ terminalId: c.terminalId, centralUrl: c.centralUrl, database: c.databasePath }, 'companion engine started');
    } catch (err) {
      await engine?.close().catch(() => undefined);
      if (previous) {
        try {
          await this.open(previous);
        } catch (again) {
          this.setProblem(again instanceof Error ? again.message : String(again));
        }
      }
      throw err;
    }
  }

  private async close(): Promise<void> {
    const engine = this.current;
    this.current = undefined;
    this.service = undefined;
    this.running = undefined;
    this.host.attach(undefined, 'the engine is restarting; try again in a moment');
    await engine?.close();
  }
}
