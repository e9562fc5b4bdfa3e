/**
 * How the agent's commands open an engine: createEngine over validated settings, with
 * every way the POS database can be wrong turned into one line naming the setting,
 * and central's start-up check of the terminal key.
 */
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { AgentConfigError, settingName, syncConfigFrom, type AgentConfig } from '../main/engine-settings.js';
import { CentralClient, CentralError } from '../main/sync/central-client.js';
import { createEngine, TerminalMismatchError, type Engine } from '../main/sync/engine.js';
import { PosDatabaseMissingError } from '../main/sync/store/index.js';
import type { SyncService } from '../main/sync/sync-service.js';
import { missingDatabaseError, terminalMismatchError } from './errors.js';

/** `--create`: the only way the agent and the CLI make a POS database (a typo in a path must not become a new till). */
export const CREATE_OPTION = {
  create: { type: 'boolean', help: 'make the POS database if the file does not exist (a new terminal; its folder must exist)' },
} as const;
const CREATE_HINT = 'pass --create to make a new POS database there';

export interface OpenEngineOptions {
  /** Make the file when it does not exist (`--create`). */
  readonly create?: boolean;
  /** How this command makes a new database, for the message when there is none (null: it never does). */
  readonly createHint?: string | null;
  /**
   * Whether TERMINAL_ID was given: only then is it held against the terminal the
   * database belongs to (`status` needs no id, and then gets a placeholder).
   */
  readonly terminalGiven?: boolean;
}

/**
 * Opens the terminal database and the engine from a configuration. A database that
 * is not there (unless `create`), is not SQLite, or belongs to another terminal is an
 * AgentConfigError naming the setting; nothing is created or bound then.
 */
export function openEngine(config: AgentConfig, log: Logger, opts: OpenEngineOptions = {}): Engine {
  let engine: Engine;
  try {
    engine = createEngine(
      {
        databasePath: config.databasePath,
        terminalId: config.terminalId,
        sync: syncConfigFrom(config),
        create: opts.create === true,
        // The id the engine recorded at its first start (SyncService.initialize) is the database's owner.
        refuseOtherTerminal: opts.terminalGiven !== false,
      },
      log,
    );
  } catch (err) {
    if (err instanceof PosDatabaseMissingError) throw missingDatabaseError(err.path, err.missing, opts.createHint === undefined ? CREATE_HINT : opts.createHint);
    if (err instanceof Database.SqliteError && err.code === 'SQLITE_NOTADB') {
      throw new AgentConfigError(`${settingName('databasePath')}: ${config.databasePath} is not a SQLite database (${err.message})`);
    }
    if (err instanceof TerminalMismatchError) throw terminalMismatchError(config.databasePath, err.known, config.terminalId);
    throw err;
  }
  const { install } = engine.store.base;
  if (install.createdTables.length > 0) log.info({ tables: install.createdTables.length, path: config.databasePath }, 'created the POS tables in a new database');
  if (install.addedColumns.length > 0) log.info({ columns: install.addedColumns }, 'added the columns sync needs');
  return engine;
}

/** How long the start-up key check waits for central before going on without an answer. */
const KEY_CHECK_TIMEOUT_MS = 5000;

/**
 * Asks central, with one heartbeat, whether it takes this key for this terminal, before
 * the engine binds the database to the terminal. Returns central's definite refusal
 * (401, or 403 for another terminal's key or a disabled terminal); an unreachable or
 * failing central is no answer, and the engine goes on offline as it always does.
 */
export async function keyRefusal(service: SyncService, terminalId: string): Promise<CentralError | null> {
  const client = new CentralClient({ baseUrl: service.config.centralUrl, apiKey: service.config.apiKey, timeoutMs: KEY_CHECK_TIMEOUT_MS });
  try {
    await client.heartbeat({ terminalId, status: 'ONLINE', appVersion: service.config.appVersion, outbox: service.store.outbox.counts() });
    return null;
  } catch (err) {
    return err instanceof CentralError && err.refusesKey ? err : null;
  }
}
