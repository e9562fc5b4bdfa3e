/**
 * Web mode: the companion without Electron. The same engine, settings and IPC
 * contract, served to the renderer in a browser by the bridge host on 127.0.0.1
 * (token-protected). `tillsync ui` (./commands/ui.ts) runs it; `npm start` uses it
 * for the demo till.
 *
 * There is no system keyring here, so the terminal key comes from CENTRAL_API_KEY
 * and the Settings screen says so instead of storing it.
 */
import * as fs from 'node:fs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { startWebBridge, type WebBridge } from '../main/bridge/web-host.js';
import { COMPANION_LOGS_NOTE } from '../main/companion-bundle.js';
import { Companion, type KeyStore } from '../main/companion.js';
import { defaultsFromEnv } from '../main/engine-settings.js';
import { SettingsStore } from '../main/settings.js';
import type { SyncConfig } from '../main/sync/sync-config.js';

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
  const companion = new Companion({
    settings,
    keys: envOnlyKeys,
    defaults: defaultsFromEnv(opts.env),
    log: opts.log,
    tuning: opts.tuning,
    // The bridge host runs on this machine (127.0.0.1 only): a bundle is written into the
    // data folder, under a new timestamped name, and the Settings screen shows its path.
    supportBundle: {
      source: 'companion-web',
      chooseTarget: async (name) => {
        const folder = join(opts.dataDir, 'support-bundles');
        fs.mkdirSync(folder, { recursive: true });
        return { path: join(folder, name), replace: false };
      },
      recentLogs: () => ({ files: [], note: `${COMPANION_LOGS_NOTE} (tillsync ui and npm start print them where they run); none are included` }),
    },
  });
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
