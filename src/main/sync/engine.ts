/**
 * The engine's composition root: the one place a terminal's engine is put together
 * from its settings (the POS database, the terminal, the SyncConfig): the LocalStore
 * over the file and the SyncService (with its CentralClient) over the store. The
 * agent, the companion, the local stack, the benchmarks and the tests all build their
 * engines here. How settings are read (flags, environment, the companion's Settings)
 * is theirs; this module takes them already validated.
 */
import type { Logger } from 'pino';
import type { CentralClient } from './central-client.js';
import { LocalStore } from './store/index.js';
import { SyncService } from './sync-service.js';
import type { SyncConfig } from './sync-config.js';

/** What an engine is built from. */
export interface EngineSettings {
  /** The POS database file. */
  readonly databasePath: string;
  /** This terminal's id (the store's node id; the service binds to it in initialize()). */
  readonly terminalId: string;
  readonly sync: SyncConfig;
  /** Make the file when it does not exist (a new till). Default false: a missing file is a PosDatabaseMissingError. */
  readonly create?: boolean | undefined;
  /** The terminal's migrations folder (a bundle passes its own; default next to the sources). */
  readonly migrationsDir?: string | undefined;
  /**
   * Refuse a database the engine's first start bound to another terminal, with a
   * TerminalMismatchError, before anything is built on it. Default false (then
   * SyncService.initialize refuses it).
   */
  readonly refuseOtherTerminal?: boolean | undefined;
  /** Further LocalStore options: its busy timeout, and whether to create missing catalog tables (default: only in a new file). */
  readonly store?: { readonly createMissing?: boolean | undefined; readonly busyTimeoutMs?: number | undefined } | undefined;
}

export interface Engine {
  readonly store: LocalStore;
  readonly service: SyncService;
  /** The service's client of central. */
  readonly client: CentralClient;
  /** Stops the service (timers, socket, pending work), then closes the database. */
  close(): Promise<void>;
}

/** The database was bound to another terminal (its first sync recorded that terminal's id). */
export class TerminalMismatchError extends Error {
  override name = 'TerminalMismatchError';
  constructor(
    readonly path: string,
    readonly known: string,
    readonly given: string,
  ) {
    super(`POS database ${path} belongs to terminal ${known}, not ${given}`);
  }
}

/**
 * Opens the POS database for a terminal: installs what sync needs (and the POS tables
 * in a new file). Warnings go to `log`.
 */
export function openPosDatabase(settings: Pick<EngineSettings, 'databasePath' | 'terminalId' | 'create' | 'migrationsDir' | 'store'>, log: Pick<Logger, 'warn'>): LocalStore {
  return new LocalStore(settings.databasePath, settings.terminalId, {
    ...settings.store,
    create: settings.create === true,
    warn: (o, m) => log.warn(o, m),
    migrationsDir: settings.migrationsDir,
  });
}

/**
 * Builds an engine: opens the POS database (see openPosDatabase) and the sync service over
 * it. Nothing runs until `service.initialize()`. A failure leaves nothing open.
 */
export function createEngine(settings: EngineSettings, log: Logger): Engine {
  const store = openPosDatabase(settings, log);
  let service: SyncService;
  try {
    const known = store.base.getMeta('terminal_id');
    if (settings.refuseOtherTerminal === true && known !== undefined && known !== settings.terminalId) {
      throw new TerminalMismatchError(settings.databasePath, known, settings.terminalId);
    }
    service = new SyncService(store, settings.sync, log);
  } catch (err) {
    store.close();
    throw err;
  }
  return {
    store,
    service,
    client: service.client,
    async close() {
      try {
        await service.stop();
      } finally {
        store.close();
      }
    },
  };
}
