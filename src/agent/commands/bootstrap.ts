/** `tillsync bootstrap [--push]`: give legacy rows central ids and queue them (and push them). */
import { agentConfig, settingGiven } from '../../main/engine-settings.js';
import { bootstrap } from '../../main/sync/bootstrap.js';
import { logger, type Command } from '../command.js';
import { keyRefusedError } from '../errors.js';
import { keyRefusal, openEngine } from '../open-engine.js';

export const bootstrapCommand: Command = {
  summary: 'give rows without a central id one and queue them as creates (foreign-key order; resumable)',
  options: { push: { type: 'boolean', help: 'push the queued rows right away (needs central)' } },
  async run({ flags, env }) {
    const config = agentConfig(flags, env, flags.push ? undefined : ['databasePath']);
    const log = logger(config.logLevel);
    // Bootstrap is for the POS's existing database; it never makes one.
    const engine = openEngine(config, log, { createHint: null, terminalGiven: flags.push === true || settingGiven(flags, env, 'terminalId') });
    const { store, service } = engine;
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
      await engine.close();
    }
  },
};
