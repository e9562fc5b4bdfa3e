/** `npm run server`: the central sync server, configured by environment. */
import { createCentral } from './app.js';
import { ConfigError, configFromEnv } from './config.js';

async function main(): Promise<void> {
  let config;
  try {
    config = configFromEnv();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const central = await createCentral({ config });
  const log = central.app.log;
  if (central.generatedAdminToken) {
    // Printed once: central keeps only its hash. Set TILLSYNC_ADMIN_TOKEN to choose your own.
    process.stdout.write(`\nTillSync admin token (shown once, store it safely): ${central.generatedAdminToken}\n\n`);
  }
  const url = await central.listen();
  log.info({ url, database: central.db.kind, dataDir: central.db.kind === 'pglite' ? config.dataDir : undefined }, 'central sync server listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    central
      .close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error('central sync server failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
