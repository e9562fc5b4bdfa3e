/**
 * What a till reports about itself (heartbeat counts and runs), shared by the
 * heartbeat (protocol.ts) and HQ's fleet view (fleet-protocol.ts).
 */
import { z } from 'zod';

export const TableCounts = z.strictObject({
  pending: z.number().int().min(0),
  failed: z.number().int().min(0),
  synced: z.number().int().min(0),
  conflicts: z.number().int().min(0),
});
export type TableCounts = z.infer<typeof TableCounts>;

/**
 * A count a terminal reports in its heartbeat. /api/sync/status sums them over the
 * fleet: bounded, so the sums stay exact integers (an unbounded 1e308 would sum to
 * Infinity and break every later status answer). The sums themselves are not bounded.
 */
export const REPORTED_COUNT = z.number().int().min(0).max(1_000_000_000);
export const ReportedCounts = z.strictObject({
  pending: REPORTED_COUNT,
  failed: REPORTED_COUNT,
  synced: REPORTED_COUNT,
  conflicts: REPORTED_COUNT,
});

export const MAX_REPORTED_RUNS = 10;

/** One sync run as a till's heartbeat reports it (bounded: it is stored as reported). */
export const ReportedRun = z.strictObject({
  kind: z.string().min(1).max(32),
  trigger: z.string().max(100),
  startedAt: z.iso.datetime({ offset: true }),
  finishedAt: z.iso.datetime({ offset: true }).nullable(),
  pushed: REPORTED_COUNT,
  pulled: REPORTED_COUNT,
  conflicts: REPORTED_COUNT,
  failed: REPORTED_COUNT,
  errors: z.array(z.string().max(500)).max(5),
});
export type ReportedRun = z.infer<typeof ReportedRun>;
