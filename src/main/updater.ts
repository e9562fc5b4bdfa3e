/**
 * The companion's updates from HQ: electron-updater's autoUpdater (or anything with the
 * same few members, UpdaterLike) pointed at central's feed (generic provider,
 * `${central}/api/updates/feed`, the terminal key as a request header), checked every
 * `intervalMs`. Nothing is downloaded or installed on electron-updater's own account
 * (autoDownload off): each step asks decideUpdate (sync/update-decision.ts), which holds
 * everything while completed sales are not at HQ yet. Electron's objects come through
 * the factory and ports; this file imports neither electron nor electron-updater.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { APP_VERSION_HEADER, FEED_TARGET_FIELD, FeedTarget } from '../shared/update-protocol.js';
import { decideUpdate, type UpdateAction, type UpdateDecision } from './sync/update-decision.js';
import type { UpdateGate } from './sync/update-gate.js';

/** The members of electron-updater's AppUpdater this file uses. */
export interface UpdaterLike {
  autoDownload: boolean;
  autoInstallOnAppQuit: boolean;
  allowDowngrade: boolean;
  requestHeaders: OutgoingHttpHeaders | null;
  setFeedURL(options: { provider: 'generic'; url: string }): void;
  checkForUpdates(): Promise<{ readonly updateInfo: { readonly version: string } } | null>;
  downloadUpdate(): Promise<unknown>;
  quitAndInstall(isSilent?: boolean, isForceRunAfter?: boolean): void;
  /** electron-updater emits 'error' besides rejecting: without a listener, an EventEmitter throws it. */
  on(event: 'error', listener: (error: Error, message?: string) => void): unknown;
}

/** What the updater needs of the companion, read at each check. */
export interface UpdaterPorts {
  /** Where central is and the terminal's key; null while the engine is not set up. */
  connection(): { readonly centralUrl: string; readonly apiKey: string } | null;
  /** The till's outbox as the decision needs it; null while the engine is not running. */
  gate(): UpdateGate | null;
  /** Central is reachable. */
  online(): boolean;
}

export const UpdaterConfig = z.object({
  /** Off: the companion never asks HQ for updates. */
  enabled: z.boolean().default(true),
  /** How often HQ's feed is read, ms (default 30 minutes). */
  intervalMs: z.number().int().min(60_000).max(24 * 3_600_000).default(30 * 60_000),
  /** How soon a held update is looked at again, ms. */
  holdRecheckMs: z.number().int().min(5_000).max(3_600_000).default(2 * 60_000),
  /** No change captured for this long makes a quiet moment to install in, ms. */
  quietMs: z.number().int().min(0).max(3_600_000).default(5 * 60_000),
  /** The first check, this long after start, ms. */
  firstCheckMs: z.number().int().min(0).max(3_600_000).default(60_000),
});
export type UpdaterConfig = z.infer<typeof UpdaterConfig>;

/** The updater's settings from the environment (TILLSYNC_UPDATES=off, TILLSYNC_UPDATE_CHECK_MINUTES); a bad value is an error naming it. */
export function updaterConfigFromEnv(env: Readonly<Record<string, string | undefined>>): UpdaterConfig {
  const minutes = env.TILLSYNC_UPDATE_CHECK_MINUTES;
  const r = UpdaterConfig.safeParse({
    enabled: env.TILLSYNC_UPDATES === undefined ? undefined : !['0', 'off', 'false', 'no'].includes(env.TILLSYNC_UPDATES.toLowerCase()),
    intervalMs: minutes === undefined || minutes === '' ? undefined : Number(minutes) * 60_000,
  });
  if (!r.success) throw new Error(`TILLSYNC_UPDATE_CHECK_MINUTES must be a whole number of minutes from 1 to 1440 (got ${JSON.stringify(minutes)})`);
  return r.data;
}

export interface UpdaterState {
  readonly current: string;
  readonly offered: string | null;
  readonly downloaded: string | null;
  readonly action: UpdateAction | 'error' | null;
  readonly reason: string | null;
  readonly checkedAt: string | null;
}

export interface CompanionUpdaterOptions {
  /** electron-updater's autoUpdater in the app; a fake in tests. Called once, at the first check. */
  readonly createUpdater: () => UpdaterLike;
  readonly ports: UpdaterPorts;
  /** The running version (app.getVersion()). */
  readonly currentVersion: string;
  readonly config?: Partial<UpdaterConfig>;
  readonly log: Pick<Logger, 'info' | 'warn'>;
  readonly now?: () => number;
}

export class CompanionUpdater {
  private updater: UpdaterLike | undefined;
  private readonly config: UpdaterConfig;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<UpdaterState> | undefined;
  private stopped = false;
  private offer: { version: string; target: FeedTarget } | null = null;
  private downloadedVersion: string | null = null;
  private current: UpdaterState;

  constructor(private readonly opts: CompanionUpdaterOptions) {
    this.config = UpdaterConfig.parse(opts.config ?? {});
    this.current = { current: opts.currentVersion, offered: null, downloaded: null, action: null, reason: null, checkedAt: null };
  }

  state(): UpdaterState {
    return this.current;
  }

  /** Checks after `firstCheckMs`, then every `intervalMs` (sooner while an update is held). */
  start(): void {
    if (!this.config.enabled || this.stopped) return;
    this.schedule(this.config.firstCheckMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One check: read the feed, decide, act (download, install). One at a time; never throws. */
  check(): Promise<UpdaterState> {
    this.running ??= this.checkOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * The app is quitting: whether a downloaded update may be installed now (ask before
   * the engine stops: the decision reads its outbox). When not, electron-updater is told
   * not to install on quit either.
   */
  dueOnQuit(): boolean {
    const decision = this.decide();
    const due = this.updater !== undefined && decision !== null && (decision.action === 'install-now' || decision.action === 'install-on-quit');
    if (this.updater && !due) this.updater.autoInstallOnAppQuit = false;
    return due;
  }

  /** Installs the downloaded update (quitAndInstall: the installer quits the app, and `runAfter` starts it again). */
  install(runAfter: boolean): void {
    this.opts.log.info({ version: this.offer?.version }, 'installing the update');
    this.updater?.quitAndInstall(true, runAfter);
  }

  /** dueOnQuit, then install: returns whether it installs. */
  installOnQuit(): boolean {
    if (!this.dueOnQuit()) return false;
    this.install(false);
    return true;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.check().then((s) => this.schedule(s.action === 'hold' || s.action === 'install-on-quit' ? this.config.holdRecheckMs : this.config.intervalMs));
    }, ms);
    this.timer.unref();
  }

  private updaterFor(conn: { centralUrl: string; apiKey: string }): UpdaterLike {
    if (!this.updater) {
      this.updater = this.opts.createUpdater();
      this.updater.on('error', (err) => this.opts.log.warn({ err }, 'electron-updater reported an error'));
    }
    const u = this.updater;
    u.autoDownload = false;
    // electron-updater would refuse an older version before asking us: HQ's word on it (FeedTarget) decides instead.
    u.allowDowngrade = true;
    u.setFeedURL({ provider: 'generic', url: `${conn.centralUrl.replace(/\/+$/, '')}/api/updates/feed` });
    u.requestHeaders = { authorization: `Bearer ${conn.apiKey}`, [APP_VERSION_HEADER]: this.opts.currentVersion };
    return u;
  }

  /** The decision for the offer in hand, with the till as it is now; null when there is no offer to decide on. */
  private decide(): UpdateDecision | null {
    const gate = this.opts.ports.gate();
    if (!gate) return this.offer ? { action: 'hold', reason: "the till's outbox cannot be read (the sync engine is not running)" } : null;
    const now = this.opts.now?.() ?? Date.now();
    const last = gate.lastChangeAt === null ? Number.NaN : Date.parse(gate.lastChangeAt);
    return decideUpdate({
      current: this.opts.currentVersion,
      offered: this.offer?.version ?? null,
      allowDowngrade: this.offer?.target.allowDowngrade ?? false,
      downloaded: this.offer !== null && this.downloadedVersion === this.offer.version,
      criticalPending: gate.criticalPending,
      online: this.opts.ports.online(),
      quiet: Number.isNaN(last) || now - last >= this.config.quietMs,
    });
  }

  private record(action: UpdaterState['action'], reason: string): UpdaterState {
    this.current = {
      current: this.opts.currentVersion,
      offered: this.offer?.version ?? null,
      downloaded: this.downloadedVersion,
      action,
      reason,
      checkedAt: new Date(this.opts.now?.() ?? Date.now()).toISOString(),
    };
    return this.current;
  }

  private async checkOnce(): Promise<UpdaterState> {
    const conn = this.opts.ports.connection();
    if (!conn) return this.record(null, 'not set up: no central URL or terminal key');
    let u: UpdaterLike;
    try {
      u = this.updaterFor(conn);
      const result = await u.checkForUpdates();
      const info = result?.updateInfo as ({ version: string } & Record<string, unknown>) | undefined;
      const target = FeedTarget.safeParse(info?.[FEED_TARGET_FIELD]);
      const offered = info && info.version !== this.opts.currentVersion ? info.version : null;
      this.offer = offered ? { version: offered, target: target.success ? target.data : { allowDowngrade: false, reason: null } } : null;
    } catch (err) {
      this.opts.log.warn({ err }, 'reading the update feed failed');
      return this.record('error', `reading the update feed failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    let decision = this.decide() ?? { action: 'none' as const, reason: 'HQ offers no update' };
    if (decision.action === 'download') {
      try {
        await u.downloadUpdate();
        this.downloadedVersion = this.offer?.version ?? null;
      } catch (err) {
        this.opts.log.warn({ err, version: this.offer?.version }, 'downloading the update failed');
        return this.record('error', `downloading ${this.offer?.version ?? 'the update'} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      // Sales may have been rung up while it downloaded: ask again before installing.
      decision = this.decide() ?? decision;
    }
    u.autoInstallOnAppQuit = decision.action === 'install-on-quit' || decision.action === 'install-now';
    if (decision.action !== 'none') this.opts.log.info({ offered: this.offer?.version, action: decision.action, reason: decision.reason }, 'update');
    const state = this.record(decision.action, decision.reason);
    if (decision.action === 'install-now') u.quitAndInstall(true, true);
    return state;
  }
}
