/**
 * The project's own fault campaign, short mode (issue 14; `npm run chaos` is the long
 * one): central on PostgreSQL, the agent with default settings behind a proxy that
 * drops, delays, resets, truncates and hangs its connections, the POS simulator
 * selling, SIGKILLs of the agent and of central, HQ changing prices by SQL. Once the
 * proxy heals, central must hold every sale exactly once and the till HQ's last
 * prices, within seconds.
 *
 * The seed is fixed (printed; TILLSYNC_CHAOS_SEED overrides it). It fixes the plan,
 * not the timing of real processes, so a run that fails prints its report with the
 * seed and the processes' last warnings: run `npm run chaos -- --seed S` to dig.
 */
import { describe, expect, it } from 'vitest';
import { suiteBuild } from '../helpers/processes.js';
import { runCampaign } from './campaign.js';
import { formatReport } from './report.js';

const PG_URL = process.env.TEST_DATABASE_URL || undefined;
const SEED = process.env.TILLSYNC_CHAOS_SEED ? Number(process.env.TILLSYNC_CHAOS_SEED) : 14;
const SECONDS = 20;

// PGlite is one process's database: nobody may open it beside a running central, so
// a PGlite campaign writes HQ's changes only while central is down and audits only
// after stopping it (`npm run chaos -- --database pglite`), and takes twice as long.
// CI's PostgreSQL run runs this one.
const WHY_SKIPPED = 'skipped without TEST_DATABASE_URL: on PGlite HQ could write only while central is down; npm run chaos -- --database pglite runs that variant';

describe('the fault campaign', () => {
  it.skipIf(!PG_URL)(
    `loses and duplicates no sale and converges within 10 s of the heal, through ${SECONDS} s of network faults and SIGKILLs (seed ${SEED}${PG_URL ? '' : `; ${WHY_SKIPPED}`})`,
    { timeout: 90_000 },
    async () => {
      expect(Number.isSafeInteger(SEED) && SEED >= 0, `TILLSYNC_CHAOS_SEED must be a non-negative integer, got ${process.env.TILLSYNC_CHAOS_SEED}`).toBe(true);
      console.log(`fault campaign seed ${SEED}`);
      // Stopped (and cleaned up) before the test's own timeout, so a stuck run still reports.
      const signal = AbortSignal.timeout(80_000);
      const report = await runCampaign({ seconds: SECONDS, seed: SEED, pgUrl: PG_URL, boundMs: 10_000, waitMs: 20_000, signal, build: suiteBuild() });
      console.log(formatReport(report));
      expect(report.sales.written.orders).toBeGreaterThan(SECONDS * 2);
      expect(report.events.agentKills).toBeGreaterThan(0);
      expect(report.events.centralKills).toBeGreaterThan(0);
      expect(report.failures, `seed ${SEED}: ${formatReport(report)}`).toEqual([]);
    },
  );
});
