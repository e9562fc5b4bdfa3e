/** `tillsync ui`: the engine with the companion UI in a browser (web mode), until SIGTERM or SIGINT. */
import { join } from 'node:path';
import { AgentConfigError, flagsAsEnv } from '../../main/engine-settings.js';
import { logger, type Command } from '../command.js';
import { startWebCompanion } from '../web-companion.js';

/** `tillsync ui`: the engine with the companion UI in a browser, until SIGTERM or SIGINT. */
export const uiCommand: Command = {
  summary: 'run the engine with the companion UI in a browser (web mode, on 127.0.0.1)',
  options: {
    port: { type: 'string', help: 'port of the UI on 127.0.0.1 (default 4100; 0 picks a free one)' },
    'data-dir': { type: 'string', help: 'where the companion keeps its settings (default ./data/companion)' },
  },
  async run({ flags, env }) {
    // Settings given as flags act like their environment variables.
    const merged = flagsAsEnv(flags, env);
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
