/**
 * `npm run chaos -- [--seconds 60] [--seed S] [--rate 5] [--database postgres|pglite]
 * [--pg-url URL] [--bound 10] [--wait 60] [--logs DIR] [--json FILE] [--keep]`: the fault
 * campaign of test/chaos/campaign.ts, long mode. Prints the seed first, progress on
 * stderr, the report as a table on stdout; exit 1 when the campaign found a problem,
 * 2 for a usage error. Ctrl-C stops it and still cleans up. --keep leaves the scratch
 * database and the till's file in place for a post-mortem.
 */
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { runCampaign } from '../test/chaos/campaign.js';
import { formatReport } from '../test/chaos/report.js';

const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

function usage(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function positive(name: string, raw: string | undefined, fallback: number, integer = false): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) usage(`--${name}: must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
  return n;
}

async function reachable(url: string): Promise<string | null> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        seconds: { type: 'string' },
        seed: { type: 'string' },
        rate: { type: 'string' },
        database: { type: 'string' },
        'pg-url': { type: 'string' },
        bound: { type: 'string' },
        wait: { type: 'string' },
        logs: { type: 'string' },
        json: { type: 'string' },
        keep: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    usage(err instanceof Error ? err.message : String(err));
  }
  const seconds = positive('seconds', values.seconds, 60);
  if (seconds < 10) usage('--seconds: at least 10 (a run must have room to kill both the agent and central)');
  if (values.seed !== undefined && !/^\d+$/.test(values.seed)) usage(`--seed: must be a non-negative integer, got "${values.seed}"`);
  const seed = values.seed !== undefined ? Number(values.seed) % 2 ** 32 : randomInt(2 ** 31);
  const rate = positive('rate', values.rate, 5);
  const boundMs = positive('bound', values.bound, 10) * 1000;
  const waitMs = positive('wait', values.wait, 60) * 1000;
  const database = values.database ?? 'postgres';
  if (database !== 'postgres' && database !== 'pglite') usage(`--database: postgres or pglite, got "${database}"`);
  let pgUrl: string | undefined;
  if (database === 'postgres') {
    pgUrl = values['pg-url'] ?? process.env.TEST_DATABASE_URL ?? DEFAULT_PG_URL;
    const why = await reachable(pgUrl);
    if (why) usage(`--pg-url: cannot reach PostgreSQL at ${pgUrl} (${why}); give --pg-url (or TEST_DATABASE_URL), or run with --database pglite`);
  }

  // The seed first: whatever happens next, the run can be repeated.
  process.stdout.write(`seed ${seed}\n`);
  const controller = new AbortController();
  let interruptedAt = 0;
  const interrupt = (signal: NodeJS.Signals) => {
    // A second signal a second or more later quits at once (the children die with us,
    // children.ts). Sooner it is the same one relayed: tsx forwards the terminal's
    // Ctrl-C to this process, which got it from the terminal already.
    if (interruptedAt > 0) {
      if (Date.now() - interruptedAt >= 1000) process.exit(130);
      return;
    }
    interruptedAt = Date.now();
    process.stderr.write(`${signal}: stopping and cleaning up (again to quit at once)\n`);
    controller.abort();
  };
  // Stopped from outside (Ctrl-C, a CI timeout): the campaign still kills its processes and drops its database.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => interrupt(signal));
  const running = runCampaign({
    seconds,
    seed,
    pgUrl,
    rate,
    boundMs,
    waitMs,
    logsDir: values.logs,
    keep: values.keep ?? false,
    signal: controller.signal,
    progress: (line) => process.stderr.write(`[chaos] ${line}\n`),
  });
  const report = await running.catch((err: unknown) => {
    if (!controller.signal.aborted) throw err;
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}; everything it started is stopped and removed\n`);
    process.exit(1);
  });
  process.stdout.write(`${formatReport(report)}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  process.exit(report.passed && !controller.signal.aborted ? 0 : 1);
}

main().catch((err: unknown) => {
  process.stderr.write(`the fault campaign could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
