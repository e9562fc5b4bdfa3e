/**
 * Web mode: the companion without Electron. The same engine, settings and IPC
 * contract, served to the renderer in a browser by the bridge host on 127.0.0.1
 * (token-protected). `tillsync ui` runs it; `npm start` uses it for the demo till.
 *
 * There is no system keyring here, so the terminal key comes from CENTRAL_API_KEY
 * and the Settings screen says so instead of storing it.
 */
import * as fs from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { startWebBridge, type WebBridge } from './bridge/web-host.js';
import { Companion, type CompanionDefaults, type KeyStore } from './companion.js';
import { SettingsStore } from './settings.js';
import { agentConfig, AgentConfigError, databasePathFrom, SETTINGS } from './sync/config.js';
import { logger, type Command } from './sync/command.js';
import type { SyncConfig } from './sync/sync-config.js';

/** The built renderer (`npm run build`), next to the sources. */
export const DEFAULT_RENDERER_DIR = fileURLToPath(new URL('../../out/renderer', import.meta.url));

/** Web mode's key store: none; the key is given by the environment. */
export const envOnlyKeys: KeyStore = {
  problem: () => new Error('web mode cannot store the terminal key safely (no system keyring); give it through CENTRAL_API_KEY'),
  save: () => {
    throw envOnlyKeys.problem() as Error;
  },
  load: () => undefined,
  clear: () => undefined,
};

/**
 * The agent's variables as the companion's defaults (Settings win over them), so a
 * companion started with the agent's environment (the local stack's, a kiosk's unit
 * file) syncs as that agent would. The interval and cron are checked here as the agent
 * checks them: a bad one names its variable.
 */
export function defaultsFromEnv(env: NodeJS.ProcessEnv): CompanionDefaults {
  const v = (name: string) => (env[name]?.trim() ? env[name]?.trim() : undefined);
  const db = v(SETTINGS.databasePath.env);
  const interval = v(SETTINGS.syncInterval.env);
  const cron = v(SETTINGS.cron.env);
  // agentConfig validates only what is set; the values come back parsed (the interval as a number).
  const timing = interval !== undefined || cron !== undefined ? agentConfig({}, { [SETTINGS.syncInterval.env]: interval, [SETTINGS.cron.env]: cron }, []) : undefined;
  return {
    centralUrl: v(SETTINGS.centralUrl.env),
    terminalId: v(SETTINGS.terminalId.env),
    apiKey: v(SETTINGS.apiKey.env),
    databasePath: db ? databasePathFrom(db) : undefined,
    syncInterval: interval !== undefined ? timing?.syncInterval : undefined,
    cron: cron !== undefined ? timing?.cron : undefined,
  };
}

export interface WebCompanion {
  readonly companion: Companion;
  readonly bridge: WebBridge;
  close(): Promise<void>;
}

export async function startWebCompanion(opts: {
  dataDir: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
  port?: number | undefined;
  /** The session token (default: a random one per run). */
  token?: string | undefined;
  rendererDir?: string | undefined;
  tuning?: Partial<SyncConfig> | undefined;
}): Promise<WebCompanion> {
  const rendererDir = opts.rendererDir ?? DEFAULT_RENDERER_DIR;
  if (!existsSync(join(rendererDir, 'index.html'))) throw new Error(`the companion UI is not built (${rendererDir}/index.html is missing); run npm run build`);
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const settings = new SettingsStore(join(opts.dataDir, 'settings.json'), fs);
  const companion = new Companion({ settings, keys: envOnlyKeys, defaults: defaultsFromEnv(opts.env), log: opts.log, tuning: opts.tuning });
  await companion.start();
  if (companion.setupProblem) opts.log.warn({ problem: companion.setupProblem }, 'the engine is not running yet');
  let bridge: WebBridge;
  try {
    bridge = await startWebBridge(companion.host, { port: opts.port, staticDir: rendererDir, ...(opts.token ? { token: opts.token } : {}) });
  } catch (err) {
    await companion.stop();
    throw err;
  }
  opts.log.info({ url: bridge.url }, 'companion UI (web mode) is up');
  return {
    companion,
    bridge,
    async close() {
      await bridge.close();
      await companion.stop();
    },
  };
}

/** `tillsync ui`: the engine with the companion UI in a browser, until SIGTERM or SIGINT. */
export const uiCommand: Command = {
  summary: 'run the engine with the companion UI in a browser (web mode, on 127.0.0.1)',
  options: {
    port: { type: 'string', help: 'port of the UI on 127.0.0.1 (default 4100; 0 picks a free one)' },
    'data-dir': { type: 'string', help: 'where the companion keeps its settings (default ./data/companion)' },
  },
  async run({ flags, env }) {
    // Settings given as flags act like their environment variables.
    const merged: NodeJS.ProcessEnv = { ...env };
    for (const s of Object.values(SETTINGS)) {
      const v = flags[s.flag.slice(2)];
      if (typeof v === 'string') merged[s.env] = v;
    }
    const portText = typeof flags.port === 'string' ? flags.port : (env.TILLSYNC_UI_PORT ?? '4100');
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new AgentConfigError(`--port (TILLSYNC_UI_PORT): "${portText}" is not a port number`);
    const log = logger(merged.LOG_LEVEL ?? 'info', 1);
    const token = env.TILLSYNC_UI_TOKEN?.trim() || undefined;
    if (token !== undefined && token.length < 16) throw new AgentConfigError('TILLSYNC_UI_TOKEN: must be at least 16 characters');
    const web = await startWebCompanion({ dataDir: typeof flags['data-dir'] === 'string' ? flags['data-dir'] : join('data', 'companion'), env: merged, log, port, token });
    process.stdout.write(`\nTillSync companion UI: ${web.bridge.pageUrl}\n\n`);
    const keepAlive = setInterval(() => undefined, 60_000);
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    clearInterval(keepAlive);
    await web.close();
    log.info('companion stopped');
    return 0;
  },
};
