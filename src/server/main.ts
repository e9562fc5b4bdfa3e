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

  // SIGTERM or SIGINT: a graceful drain (see Central.drain), bounded by
  // TILLSYNC_DRAIN_TIMEOUT_MS; exit 0 when everything under way was answered, 1 when the
  // timeout cut connections. A second signal during the drain exits at once (1): what
  // was cut is retried by the tills, and their pushes are idempotent.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal during the drain: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, timeoutMs: config.drainTimeoutMs }, 'draining: no new connections; answering what is under way');
    central
      .drain()
      .then((r) => {
        log.info({ completed: r.completed }, r.completed ? 'drained; exiting' : 'drain timed out; exiting');
        process.exit(r.completed ? 0 : 1);
      })
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
