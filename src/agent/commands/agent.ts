/** `tillsync agent`: the sync engine, until SIGTERM or SIGINT. */
import { agentConfig } from '../../main/engine-settings.js';
import { logger, type Command } from '../command.js';
import { keyRefusedError } from '../errors.js';
import { CREATE_OPTION, keyRefusal, openEngine } from '../open-engine.js';

export const agentCommand: Command = {
  summary: 'run the sync engine until SIGTERM or SIGINT',
  options: { ...CREATE_OPTION },
  async run({ flags, env }) {
    const config = agentConfig(flags, env);
    const log = logger(config.logLevel, 1);
    // Listening for the signals from the start: a SIGTERM during start-up (the key check
    // waits up to 5 s for an unreachable central) ends the agent cleanly too, not by
    // node's default action.
    let stopRequested = false;
    const stopped = new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        stopRequested = true;
        log.info({ signal }, 'agent stopping');
        resolve();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    log.info({ terminalId: config.terminalId, centralUrl: config.centralUrl }, 'agent starting');
    const engine = openEngine(config, log, { create: flags.create === true });
    const { service } = engine;
    try {
      // A key central does not know (or that is another terminal's) can never work: stop
      // at once rather than run for nothing. A disabled terminal may be enabled again at
      // central, and an unreachable central is the offline case: keep running for those.
      const refusal = await keyRefusal(service, config.terminalId);
      if (refusal && refusal.code !== 'TERMINAL_DISABLED') throw keyRefusedError(config.terminalId, refusal);
      if (refusal) log.warn({ status: refusal.status, code: refusal.code, err: refusal.message }, 'central refuses this terminal for now; sales are kept and sync resumes once it is enabled');
      if (!stopRequested) await service.initialize(config.terminalId);
    } catch (err) {
      await engine.close();
      throw err;
    }
    // The engine's timers do not hold the process; the agent runs until it is told to stop.
    const keepAlive = setInterval(() => undefined, 60_000);
    await stopped;
    clearInterval(keepAlive);
    await engine.close();
    log.info('agent stopped');
    return 0;
  },
};
