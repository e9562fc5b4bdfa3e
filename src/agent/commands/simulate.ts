/**
 * `tillsync simulate`: the POS simulator (../simulator.ts) as a process of its own,
 * ringing up sales at a steady rate; `--conflict` instead makes one real conflict for
 * the merge editor (../conflict-demo.ts) and exits.
 */
import pino from 'pino';
import { agentConfig, AgentConfigError } from '../../main/engine-settings.js';
import { missingPart } from '../../main/sync/store/index.js';
import type { Command } from '../command.js';
import { makeConflict } from '../conflict-demo.js';
import { missingDatabaseError } from '../errors.js';
import { fromCents, PosSimulator, toCents } from '../simulator.js';

/** HQ's half of `--conflict`: central's admin token (a flag, or the variable central itself reads). */
function adminToken(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): string {
  const raw = flags['admin-token'] ?? env.TILLSYNC_ADMIN_TOKEN;
  const token = typeof raw === 'string' ? raw.trim() : '';
  if (token.length < 16) {
    throw new AgentConfigError(
      `--admin-token (TILLSYNC_ADMIN_TOKEN): --conflict changes central's copy as HQ does, through the admin path, and needs central's admin token (16+ characters; npm start keeps it in ./data/stack.json)`,
    );
  }
  return token;
}

/** A positive number flag; a clear error naming the flag otherwise. */
function numberFlag(flags: Record<string, string | boolean | undefined>, name: string, what: string, opts: { integer?: boolean } = {}): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const text = typeof raw === 'string' ? raw.trim() : '';
  const n = text === '' ? NaN : Number(text);
  if (!Number.isFinite(n) || n <= 0 || (opts.integer && !Number.isInteger(n))) {
    throw new AgentConfigError(`--${name}: must be a positive ${opts.integer ? 'integer' : 'number'} (${what}), got "${typeof raw === 'string' ? raw : String(raw)}"`);
  }
  return n;
}

export const simulateCommand: Command = {
  summary: 'a POS simulator: rings up sales into a terminal database at a steady rate',
  options: {
    rate: { type: 'string', help: 'sales per second (default 1)' },
    duration: { type: 'string', help: 'seconds to run (default: until SIGINT or SIGTERM)' },
    count: { type: 'string', help: 'number of sales to ring up, then stop' },
    seed: { type: 'string', help: 'random seed, for a repeatable run' },
    conflict: { type: 'boolean', help: 'make one real conflict instead (a purchase order edited at the till and by HQ), then exit; needs a running engine' },
    'admin-token': { type: 'string', help: "with --conflict: central's admin token, for HQ's change (or TILLSYNC_ADMIN_TOKEN)" },
  },
  async run({ flags, env }) {
    if (flags.conflict === true) {
      const extra = ['rate', 'duration', 'count'].filter((f) => flags[f] !== undefined);
      if (extra.length > 0) throw new AgentConfigError(`--conflict makes one conflict and exits; it takes no --${extra.join(', --')}`);
      const config = agentConfig(flags, env, ['databasePath', 'centralUrl', 'terminalId']);
      const token = adminToken(flags, env);
      const missing = missingPart(config.databasePath);
      if (missing) throw missingDatabaseError(config.databasePath, missing, 'run the engine on it first (tillsync agent --create, or npm start)');
      const log = pino({ level: config.logLevel, base: { app: 'tillsync-simulate' } }, pino.destination(2));
      const sim = new PosSimulator(config.databasePath);
      const controller = new AbortController();
      const abort = () => controller.abort();
      process.once('SIGINT', abort);
      process.once('SIGTERM', abort);
      try {
        const made = await makeConflict(sim, {
          centralUrl: config.centralUrl as string,
          adminToken: token,
          terminalId: config.terminalId as string,
          signal: controller.signal,
          onStep: (step, detail) => log.info(detail, step),
        });
        log.info(made, 'one open conflict: see the Conflicts screen of the companion, or GET /api/sync/conflicts?status=open');
        process.stdout.write(`${JSON.stringify(made)}\n`);
        return 0;
      } finally {
        process.removeListener('SIGINT', abort);
        process.removeListener('SIGTERM', abort);
        sim.close();
      }
    }
    const rate = numberFlag(flags, 'rate', 'sales per second') ?? 1;
    const durationSeconds = numberFlag(flags, 'duration', 'seconds');
    const count = numberFlag(flags, 'count', 'sales', { integer: true });
    const seedFlag = flags.seed;
    let seed: number | undefined;
    if (seedFlag !== undefined) {
      seed = typeof seedFlag === 'string' && /^\d+$/.test(seedFlag.trim()) ? Number(seedFlag.trim()) : NaN;
      if (!Number.isSafeInteger(seed)) throw new AgentConfigError(`--seed: must be a non-negative integer, got "${String(seedFlag)}"`);
    }
    const config = agentConfig(flags, env, ['databasePath']);
    // The simulator is the POS: it writes into the terminal's database and never makes one.
    const missing = missingPart(config.databasePath);
    if (missing) throw missingDatabaseError(config.databasePath, missing, 'make it first with `tillsync status --create` (or the agent with --create)');
    // Logs go to stderr; stdout carries only the summary.
    const log = pino({ level: config.logLevel, base: { app: 'tillsync-simulate' } }, pino.destination(2));
    const sim = new PosSimulator(config.databasePath, seed === undefined ? {} : { seed });
    const controller = new AbortController();
    const stop = (signal: string) => {
      log.info({ signal }, 'simulator stopping');
      controller.abort();
    };
    const onSigint = () => stop('SIGINT');
    const onSigterm = () => stop('SIGTERM');
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigterm);

    const tally = { completed: 0, pending: 0, voided: 0, items: 0, revenue: 0, withCustomer: 0, newCustomers: 0, points: 0 };
    let revenueCents = 0;
    const every = Math.max(1, Math.round(rate * 10)); // about every 10 s
    const started = Date.now();
    log.info({ database: config.databasePath, rate, durationSeconds, count, seed }, 'simulator started');
    try {
      const result = await sim.run({
        ratePerSecond: rate,
        ...(durationSeconds !== undefined ? { durationSeconds } : {}),
        ...(count !== undefined ? { count } : {}),
        signal: controller.signal,
        onSale: (s) => {
          tally[s.status]++;
          tally.items += s.items.length;
          if (s.status === 'completed') revenueCents += toCents(s.total);
          if (s.customer) {
            tally.withCustomer++;
            if (s.customer.created) tally.newCustomers++;
            tally.points += s.customer.pointsEarned;
          }
          const n = tally.completed + tally.pending + tally.voided;
          if (n % every === 0) log.info({ sales: n, perSecond: Number(((n * 1000) / Math.max(1, Date.now() - started)).toFixed(2)) }, 'progress');
        },
        onSkip: (n) => {
          if (n === 1) log.warn('no store or products in this database yet (has the terminal pulled them?); trying again every second');
        },
        onError: (err) => log.error({ err }, 'a sale failed and was rolled back'),
      });
      tally.revenue = fromCents(revenueCents);
      const elapsedSeconds = (Date.now() - started) / 1000;
      const summary = {
        database: config.databasePath,
        ...result,
        ...tally,
        elapsedSeconds: Number(elapsedSeconds.toFixed(3)),
        perSecond: Number((result.sales / Math.max(elapsedSeconds, 0.001)).toFixed(2)),
      };
      // The summary is the one line on stdout; the log only marks the end, so a terminal
      // showing both streams (npm start) shows the summary once.
      log.info('simulator finished');
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
      process.removeListener('SIGTERM', onSigterm);
      sim.close();
    }
  },
};
