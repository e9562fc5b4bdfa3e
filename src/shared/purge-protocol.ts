/** What POST /api/admin/purge answers: one purge run's report. */
import { z } from 'zod';

const PurgeCounts = z.object({
  /** Tombstoned rows removed (with their change-log entries). */
  tombstones: z.number().int(),
  /** Change-log entries superseded by a later entry of the same row. */
  compacted: z.number().int(),
  /** Change-log entries of tables no terminal pulls (direction up), older than the retention. */
  unpulled: z.number().int(),
  /** Push answers (idempotency records) older than the retention. */
  answers: z.number().int(),
  /** Sync triggers older than the retention. */
  triggers: z.number().int(),
});

/** What one purge run removed (POST /api/admin/purge). */
export const PurgeReport = z.object({
  ranAt: z.string(),
  /** Rows deleted, answers given and entries of up tables logged before this instant were due. */
  cutoff: z.string(),
  retentionSeconds: z.number().int(),
  ms: z.number().int(),
  removed: PurgeCounts,
  /** Per entity type: what went, and the lowest position of an active terminal that held the purge back (null: none did). */
  tables: z.record(z.string(), z.object({ compacted: z.number().int(), tombstones: z.number().int(), heldBackAt: z.string().nullable() })),
});
export type PurgeReport = z.infer<typeof PurgeReport>;
