/**
 * `tillsync`: the headless agent and its tools.
 *
 *   tillsync agent               run the engine until SIGTERM/SIGINT
 *   tillsync sync [--full]       one sync pass, then exit (1 if it had errors)
 *   tillsync status [--json]     outbox counts, cursors, conflicts of this terminal
 *   tillsync bootstrap           give legacy rows central ids and queue them
 *   tillsync parity [--json]     compare SQLite, the catalog and central's PostgreSQL columns
 *   tillsync simulate            a POS simulator ringing up sales into a terminal database
 *   tillsync ui                  the engine with the companion UI in a browser (web mode)
 */
import Database from 'better-sqlite3';
import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { logger, type Command } from './command.js';

export { logger, type Command };
import {
  agentConfig,
  AgentConfigError,
  keyRefusedError,
  missingDatabaseError,
  settingGiven,
  settingName,
  SETTINGS,
  terminalMismatchError,
  type AgentConfig,
} from './config.js';
import { bootstrap } from './bootstrap.js';
import { CentralClient, CentralError } from './central-client.js';
import { parityCommand } from './parity.js';
import { simulateCommand } from './simulate.js';
import { uiCommand } from '../web-main.js';
import { LocalStore, PosDatabaseMissingError } from './local-store.js';
import { SyncService } from './sync-service.js';
import { DEFAULT_SYNC_CONFIG } from './sync-config.js';

function settingsFlags(flags: Record<string, string | boolean | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const s of Object.values(SETTINGS)) {
    const v = flags[s.flag.slice(2)];
    if (typeof v === 'string') out[s.flag.slice(2)] = v;
  }
  return out;
}

/** `--create`: the only way the agent and the CLI make a POS database (a typo in a path must not become a new till). */
const CREATE_OPTION = {
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
export function openEngine(config: AgentConfig, log: Logger, opts: OpenEngineOptions = {}): { store: LocalStore; service: SyncService } {
  let store: LocalStore;
  try {
    store = new LocalStore(config.databasePath, config.terminalId, { create: opts.create === true, warn: (o, m) => log.warn(o, m) });
  } catch (err) {
    if (err instanceof PosDatabaseMissingError) throw missingDatabaseError(err.path, err.missing, opts.createHint === undefined ? CREATE_HINT : opts.createHint);
    if (err instanceof Database.SqliteError && err.code === 'SQLITE_NOTADB') {
      throw new AgentConfigError(`${settingName('databasePath')}: ${config.databasePath} is not a SQLite database (${err.message})`);
    }
    throw err;
  }
  // The id the engine recorded at its first start (SyncService.initialize) is the database's owner.
  const known = store.getMeta('terminal_id');
  if (opts.terminalGiven !== false && known !== undefined && known !== config.terminalId) {
    store.close();
    throw terminalMismatchError(config.databasePath, known, config.terminalId);
  }
  if (store.install.createdTables.length > 0) log.info({ tables: store.install.createdTables.length, path: config.databasePath }, 'created the POS tables in a new database');
  if (store.install.addedColumns.length > 0) log.info({ columns: store.install.addedColumns }, 'added the columns sync needs');
  const service = new SyncService(
    store,
    {
      ...DEFAULT_SYNC_CONFIG,
      centralUrl: config.centralUrl,
      apiKey: config.apiKey,
      batchSize: config.batchSize,
      maxRetries: config.maxRetries,
      retryDelay: config.retryDelay,
      syncInterval: config.syncInterval,
      cron: config.cron,
      heartbeatInterval: config.heartbeatInterval,
      pullPageSize: config.pullPageSize,
      pushMode: config.pushMode,
    },
    log,
  );
  return { store, service };
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
    await client.heartbeat({ terminalId, status: 'ONLINE', appVersion: service.config.appVersion, outbox: service.store.counts() });
    return null;
  } catch (err) {
    return err instanceof CentralError && err.refusesKey ? err : null;
  }
}

export const COMMANDS: Record<string, Command> = {
  agent: {
    summary: 'run the sync engine until SIGTERM or SIGINT',
    options: { ...CREATE_OPTION },
    async run({ flags, env }) {
      const config = agentConfig(settingsFlags(flags), env);
      const log = logger(config.logLevel, 1);
      const { store, service } = openEngine(config, log, { create: flags.create === true });
      try {
        // A key central does not know (or that is another terminal's) can never work: stop
        // at once rather than run for nothing. A disabled terminal may be enabled again at
        // central, and an unreachable central is the offline case: keep running for those.
        const refusal = await keyRefusal(service, config.terminalId);
        if (refusal && refusal.code !== 'TERMINAL_DISABLED') throw keyRefusedError(config.terminalId, refusal);
        if (refusal) log.warn({ status: refusal.status, code: refusal.code, err: refusal.message }, 'central refuses this terminal for now; sales are kept and sync resumes once it is enabled');
        await service.initialize(config.terminalId);
      } catch (err) {
        await service.stop();
        store.close();
        throw err;
      }
      // The engine's timers do not hold the process; the agent runs until it is told to stop.
      const keepAlive = setInterval(() => undefined, 60_000);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, 'agent stopping');
          resolve();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      clearInterval(keepAlive);
      await service.stop();
      store.close();
      log.info('agent stopped');
      return 0;
    },
  },
  sync: {
    summary: 'run one sync pass (incremental, or --full) and exit',
    options: { full: { type: 'boolean', help: 'a full sync: every tier and table' }, ...CREATE_OPTION },
    async run({ flags, env }) {
      const config = agentConfig(settingsFlags(flags), env);
      const log = logger(config.logLevel);
      const { store, service } = openEngine(config, log, { create: flags.create === true });
      try {
        const refusal = await keyRefusal(service, config.terminalId);
        if (refusal) throw keyRefusedError(config.terminalId, refusal);
        await service.initialize(config.terminalId, { schedule: false });
        const result = flags.full ? await service.performFullSync('cli') : await service.performIncrementalSync('cli');
        process.stdout.write(`${JSON.stringify(result)}\n`);
        // The key was taken at the start, and refused during the pass (revoked meanwhile).
        if (service.refusedKey) throw keyRefusedError(config.terminalId, service.refusedKey);
        return result.errors.length > 0 ? 1 : 0;
      } finally {
        await service.stop();
        store.close();
      }
    },
  },
  status: {
    summary: "this terminal's outbox counts per table, paused tables and open conflicts",
    options: { json: { type: 'boolean', help: 'print JSON' }, ...CREATE_OPTION },
    async run({ flags, env }) {
      const settings = settingsFlags(flags);
      const config = agentConfig(settings, env, ['databasePath']);
      const log = logger('warn');
      const { store, service } = openEngine(config, log, { create: flags.create === true, terminalGiven: settingGiven(settings, env, 'terminalId') });
      try {
        const s = service.status();
        const conflicts = store.openConflicts();
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ ...s, terminalId: store.getMeta('terminal_id') ?? null, lastSyncAt: store.getMeta('last_sync_at') ?? null, openConflicts: conflicts.length }, null, 2)}\n`);
          return 0;
        }
        const lines = [`terminal ${store.getMeta('terminal_id') ?? '(not initialized)'}, last sync ${store.getMeta('last_sync_at') ?? 'never'}`];
        lines.push(`${'table'.padEnd(22)} ${'pending'.padStart(8)} ${'failed'.padStart(7)} ${'synced'.padStart(8)} ${'conflicts'.padStart(9)}  paused`);
        for (const [type, c] of Object.entries(s.tables)) {
          lines.push(`${type.padEnd(22)} ${String(c.pending).padStart(8)} ${String(c.failed).padStart(7)} ${String(c.synced).padStart(8)} ${String(c.conflicts).padStart(9)}  ${c.paused ?? ''}`);
        }
        lines.push(`${'total'.padEnd(22)} ${String(s.totals.pending).padStart(8)} ${String(s.totals.failed).padStart(7)} ${String(s.totals.synced).padStart(8)} ${String(s.totals.conflicts).padStart(9)}`);
        lines.push(`open conflicts: ${conflicts.length}`);
        process.stdout.write(`${lines.join('\n')}\n`);
        return 0;
      } finally {
        store.close();
      }
    },
  },
  bootstrap: {
    summary: 'give rows without a central id one and queue them as creates (foreign-key order; resumable)',
    options: { push: { type: 'boolean', help: 'push the queued rows right away (needs central)' } },
    async run({ flags, env }) {
      const settings = settingsFlags(flags);
      const config = agentConfig(settings, env, flags.push ? undefined : ['databasePath']);
      const log = logger(config.logLevel);
      // Bootstrap is for the POS's existing database; it never makes one.
      const { store, service } = openEngine(config, log, { createHint: null, terminalGiven: flags.push === true || settingGiven(settings, env, 'terminalId') });
      try {
        if (flags.push) {
          const refusal = await keyRefusal(service, config.terminalId);
          if (refusal) throw keyRefusedError(config.terminalId, refusal);
        }
        const report = bootstrap(store, { onProgress: (table, done) => log.info({ table, done }, 'bootstrap progress') });
        for (const [table, n] of Object.entries(report.skipped)) {
          log.warn({ table, rows: n }, `${table} is not taken from terminals (central owns it); its ${n} local rows without a central id are left alone`);
        }
        process.stdout.write(`${JSON.stringify(report)}\n`);
        if (!flags.push) return 0;
        await service.initialize(config.terminalId, { schedule: false });
        const result = await service.performFullSync('bootstrap');
        process.stdout.write(`${JSON.stringify(result)}\n`);
        if (service.refusedKey) throw keyRefusedError(config.terminalId, service.refusedKey);
        return result.errors.length > 0 ? 1 : 0;
      } finally {
        await service.stop();
        store.close();
      }
    },
  },
};

COMMANDS.parity = parityCommand;
COMMANDS.simulate = simulateCommand;
COMMANDS.ui = uiCommand;

export function usage(): string {
  const lines = ['usage: tillsync <command> [flags]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) {
    lines.push(`  ${name.padEnd(10)} ${c.summary}`);
    for (const [flag, o] of Object.entries(c.options ?? {})) lines.push(`      --${flag.padEnd(18)} ${o.help}`);
  }
  lines.push('', 'settings (flag, or environment variable):');
  for (const s of Object.values(SETTINGS)) lines.push(`  ${s.flag.padEnd(20)} ${s.env.padEnd(28)} ${s.help}`);
  return lines.join('\n');
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  const options: Record<string, { type: 'boolean' | 'string' }> = {};
  for (const s of Object.values(SETTINGS)) options[s.flag.slice(2)] = { type: 'string' };
  for (const [flag, o] of Object.entries(command.options ?? {})) options[flag] = { type: o.type };
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({ args: rest, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${usage()}\n`);
    return 2;
  }
  try {
    return await command.run({ flags, env });
  } catch (err) {
    if (err instanceof AgentConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    process.stderr.write(`tillsync ${name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

const entry = process.argv[1] ?? '';
if (entry.endsWith('cli.ts') || entry.endsWith('cli.js') || entry.endsWith('tillsync.mjs')) {
  main(process.argv.slice(2), process.env).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
