/** `tillsync sync [--full]`: one sync pass, then exit (1 if it had errors). */
import { agentConfig } from '../../main/engine-settings.js';
import { logger, type Command } from '../command.js';
import { keyRefusedError } from '../errors.js';
import { CREATE_OPTION, keyRefusal, openEngine } from '../open-engine.js';

export const syncCommand: Command = {
  summary: 'run one sync pass (incremental, or --full) and exit',
  options: { full: { type: 'boolean', help: 'a full sync: every tier and table' }, ...CREATE_OPTION },
  async run({ flags, env }) {
    const config = agentConfig(flags, env);
    const log = logger(config.logLevel);
    const engine = openEngine(config, log, { create: flags.create === true });
    const { service } = engine;
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
      await engine.close();
    }
  },
};
