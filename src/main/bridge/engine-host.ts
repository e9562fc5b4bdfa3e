/**
 * Serves the IPC contract (src/shared/ipc.ts) against the sync engine. Transport
 * free and electron free: the Electron main process binds it to ipcMain, the web
 * bridge host to HTTP. Every call's arguments are validated; every result crosses
 * as `{ ok, value } | { ok, error }`.
 */
import {
  EVENTS,
  IPC,
  isChannel,
  parseArgs,
  type ArgsOf,
  type Channel,
  type EventName,
  type EventOf,
  type IpcResult,
  type ResultOf,
  type SavedSupportBundle,
  type SettingsPatch,
  type SettingsView,
} from '../../shared/ipc.js';
import type { WireRow } from '../../shared/catalog/index.js';
import { UnknownAuditTableError } from '../sync/audit.js';
import type { SyncService } from '../sync/sync-service.js';
import { sameSecret } from './same-secret.js';

/** Checks a supervisor PIN (set in Settings; stored as a hash). */
export interface PinCheck {
  /** Whether a PIN has been set at all (absent: always set). */
  isSet?(): boolean;
  verify(pin: string): boolean;
}

/** The settings seen and changed through the bridge (the Electron main process provides it). */
export interface SettingsPort {
  get(): SettingsView;
  /** Validates, saves and applies a change; throws an Error with a clear message on a bad value. */
  set(patch: SettingsPatch): Promise<SettingsView>;
}

/** Saves a support bundle where the companion keeps them (the Electron main process asks with a dialog). */
export interface SupportBundlePort {
  save(): Promise<SavedSupportBundle>;
}

/** A PIN check against one PIN held in memory (tests, simple set-ups). */
export function plainPin(pin: string): PinCheck {
  return { verify: (given) => sameSecret(given, pin) };
}

class IpcFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Handlers = { [C in Channel]: (...args: ArgsOf<C>) => Promise<ResultOf<C>> };
type Listener = <E extends EventName>(event: E, payload: EventOf<E>) => void;

/** Why there is no engine yet (shown to the user as the error of every engine call). */
export const NOT_CONFIGURED = 'NOT_CONFIGURED';

export class EngineHost {
  private readonly handlers: Handlers;
  private readonly listeners = new Set<Listener>();
  private service: SyncService | undefined;
  private detach: (() => void) | undefined;
  private missing = 'the central URL, terminal id and key are not set yet; enter them in Settings';

  /**
   * `service` may be absent: a companion that is not set up yet still answers
   * settings calls; every engine call gets NOT_CONFIGURED until `attach`.
   */
  constructor(
    service: SyncService | undefined,
    private readonly opts: { pin?: PinCheck | undefined; settings?: SettingsPort | undefined; supportBundle?: SupportBundlePort | undefined } = {},
  ) {
    const engine = (): SyncService => {
      if (!this.service) throw new IpcFailure(NOT_CONFIGURED, this.missing);
      return this.service;
    };
    this.handlers = {
      'sync:status': async () => engine().status(),
      'sync:now': async () => engine().performIncrementalSync('ui'),
      'sync:full': async () => engine().performFullSync('ui'),
      'sync:pause': async () => {
        const s = engine();
        s.pause();
        return s.status();
      },
      'sync:resume': async () => {
        const s = engine();
        s.resume();
        return s.status();
      },
      'sync:retryFailed': async () => ({ retried: engine().retryFailed() }),
      'conflict:list': async ({ status }) => (status === 'open' ? engine().store.conflicts.openConflicts() : engine().store.conflicts.allConflicts()),
      'conflict:resolve': async ({ conflictId, resolution, resolvedData, pin }) => {
        const s = engine();
        if (!this.opts.pin || this.opts.pin.isSet?.() === false) throw new IpcFailure('PIN_NOT_SET', 'set a supervisor PIN in Settings before resolving conflicts');
        if (!this.opts.pin.verify(pin)) throw new IpcFailure('WRONG_PIN', 'wrong supervisor PIN');
        const r = await s.resolveConflict(conflictId, resolution, resolvedData as WireRow | undefined, 'supervisor');
        return { conflictId: r.conflictId, version: r.version, data: r.data };
      },
      'settings:get': async () => {
        if (!this.opts.settings) throw new IpcFailure('NO_SETTINGS', 'settings are managed by the environment here');
        return this.opts.settings.get();
      },
      'settings:set': async (patch) => {
        if (!this.opts.settings) throw new IpcFailure('NO_SETTINGS', 'settings are managed by the environment here');
        try {
          return await this.opts.settings.set(patch);
        } catch (err) {
          throw new IpcFailure('INVALID_SETTINGS', err instanceof Error ? err.message : String(err));
        }
      },
      'history:list': async ({ limit }) => engine().store.history.history(limit),
      'audit:run': async ({ table }) => {
        const s = engine();
        try {
          return await s.audit(table);
        } catch (err) {
          if (err instanceof UnknownAuditTableError) throw new IpcFailure('UNKNOWN_TABLE', err.message);
          throw err;
        }
      },
      // Works without an engine too: a till that is not running is when a bundle is needed most.
      'app:saveSupportBundle': async () => {
        if (!this.opts.supportBundle) throw new IpcFailure('NO_SUPPORT_BUNDLE', 'support bundles are made with tillsync support-bundle here');
        return this.opts.supportBundle.save();
      },
    };
    this.attach(service);
  }

  /** The engine now served (or none, with the reason shown to the user); its status is published at once. */
  attach(service: SyncService | undefined, missing?: string): void {
    this.detach?.();
    this.detach = undefined;
    this.service = service;
    if (missing) this.missing = missing;
    if (!service) return;
    const onStatus = (status: unknown) => this.publish('statusChanged', status);
    const onFinished = (result: unknown) => this.publish('syncFinished', result);
    service.on('statusChanged', onStatus);
    service.on('syncFinished', onFinished);
    this.detach = () => {
      service.off('statusChanged', onStatus);
      service.off('syncFinished', onFinished);
    };
    this.publish('statusChanged', service.status());
  }

  get engine(): SyncService | undefined {
    return this.service;
  }

  /** The engine's status now, as a statusChanged event carries it (undefined: no engine). */
  currentStatus(): EventOf<'statusChanged'> | undefined {
    if (!this.service) return undefined;
    const parsed = EVENTS.statusChanged.safeParse(this.service.status());
    return parsed.success ? parsed.data : undefined;
  }

  /** Tells the renderer the engine started (problem null) or why it is not running. */
  publishSetup(problem: string | null): void {
    this.publish('setupChanged', { configured: problem === null && this.service !== undefined, problem });
  }

  /** One call from the renderer: channel name and raw arguments, both untrusted. */
  async invoke(channel: string, args: unknown): Promise<IpcResult<unknown>> {
    if (!isChannel(channel)) return { ok: false, error: { code: 'UNKNOWN_CHANNEL', message: `no channel ${channel}` } };
    const parsed = parseArgs(channel, args);
    if (!parsed.ok) return parsed;
    try {
      const handler = this.handlers[channel] as (...a: unknown[]) => Promise<unknown>;
      const value = await handler(...(parsed.value as unknown[]));
      return { ok: true, value: IPC[channel].result.parse(value) };
    } catch (err) {
      if (err instanceof IpcFailure) return { ok: false, error: { code: err.code, message: err.message } };
      return { ok: false, error: { code: 'FAILED', message: err instanceof Error ? err.message : String(err) } };
    }
  }

  /** Subscribes to every event (statusChanged, syncFinished); returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private publish<E extends EventName>(event: E, payload: unknown): void {
    const parsed = EVENTS[event].safeParse(payload);
    if (!parsed.success) return;
    for (const l of this.listeners) l(event, parsed.data as EventOf<E>);
  }
}
