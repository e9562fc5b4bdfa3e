/**
 * The convergence audit on the wire and in reports: `POST /api/sync/audit` (request and
 * answer), and the report `tillsync audit`, the companion and the console show. Kept
 * beside protocol.ts (which it builds on) so that file keeps one job per room.
 */
import { z } from 'zod';
import { KEY_MAX_LENGTH } from './catalog/index.js';
import { rangeIsValid } from './audit.js';
import { ENTITY_TYPE, TERMINAL_ID } from './protocol.js';

/** Most ranges one audit request may ask about. */
export const AUDIT_MAX_RANGES = 64;
/** Most parts a range may be split into. */
export const AUDIT_MAX_FAN_OUT = 64;
/** Most rows central lists for one range instead of splitting it. */
export const AUDIT_MAX_LIST = 256;

const BOUND = z
  .string()
  .min(1)
  .max(KEY_MAX_LENGTH)
  .refine((v) => !v.includes('\u0000'), 'must not contain NUL characters')
  .nullable();

export const AuditRange = z
  .strictObject({
    /** Ids after this one (exclusive); null: from the first. */
    after: BOUND,
    /** Ids up to this one (inclusive); null: to the last. */
    upTo: BOUND,
  })
  .refine(rangeIsValid, 'after must sort before upTo (ids are ordered by their UTF-8 bytes)');

export const AuditRequest = z.strictObject({
  terminalId: TERMINAL_ID,
  entityType: ENTITY_TYPE,
  ranges: z.array(AuditRange).min(1).max(AUDIT_MAX_RANGES, `at most ${AUDIT_MAX_RANGES} ranges a request`),
  /** A range holding more than `listUpTo` rows is answered in this many parts. */
  fanOut: z.number().int().min(2).max(AUDIT_MAX_FAN_OUT).default(16),
  /** A range holding at most this many rows is answered with its rows (id, version, hash). */
  listUpTo: z.number().int().min(0).max(AUDIT_MAX_LIST).default(64),
  schemaHash: z.string().max(64).optional(),
});
export type AuditRequest = z.infer<typeof AuditRequest>;

const Range = z.object({ after: z.string().nullable(), upTo: z.string().nullable() });
const Digest = { count: z.number().int().min(0), digest: z.string() };
export const AuditRowSchema = z.object({ id: z.string(), version: z.number().int().nullable(), hash: z.string() });

export const AuditRangeAnswer = z.object({
  range: Range,
  complete: z.boolean(),
  ...Digest,
  parts: z.array(z.object({ range: Range, ...Digest })).optional(),
  rows: z.array(AuditRowSchema).optional(),
});

export const AuditResponse = z.object({
  terminalId: z.string(),
  entityType: z.string(),
  schemaHash: z.string(),
  /** One answer per range asked, in order. */
  ranges: z.array(AuditRangeAnswer),
});
export type AuditResponse = z.infer<typeof AuditResponse>;

// ---------------------------------------------------------------- the report

/** A count in a report: whole, not negative. */
const COUNT = z.number().int().min(0);
/** Rows a report lists per table at most (the audit lists 1,000 by default; central keeps 20). */
export const AUDIT_MAX_LISTED = 1000;

export const DIFFERENCE_KINDS = ['missing_at_till', 'missing_at_central', 'different_content', 'different_version'] as const;

/** One row that is not the same on both sides. */
export const AuditDifference = z.object({
  id: z.string().max(KEY_MAX_LENGTH),
  kind: z.enum(DIFFERENCE_KINDS),
  tillVersion: z.number().int().nullable(),
  centralVersion: z.number().int().nullable(),
});
export type AuditDifference = z.infer<typeof AuditDifference>;

export const AuditTableReport = z.object({
  table: z.string().max(64),
  entityType: z.string().max(64),
  /** in_step: every synced row is the same; differs: rows listed; not_compared: `reason` says why; failed: `reason` says what went wrong. */
  outcome: z.enum(['in_step', 'differs', 'not_compared', 'failed']),
  reason: z.string().max(2000).nullable(),
  /** Rows the till holds with a central id, and rows central holds for this till (live, in its scope). */
  tillRows: COUNT,
  centralRows: COUNT,
  /** Rows with changes on the till not at central yet (outbox or capture log): not compared. */
  pending: COUNT,
  /** Differing rows that have changes not at central yet (so not counted as differences). */
  pendingIds: z.array(z.string().max(KEY_MAX_LENGTH)).max(AUDIT_MAX_LISTED),
  /** Rows without a central id yet (never sent): not compared. */
  unsent: COUNT,
  differences: z.array(AuditDifference).max(AUDIT_MAX_LISTED),
  /** Every differing row found (the list above stops at a limit). */
  differencesTotal: COUNT,
  /** Audit requests this table took. */
  requests: COUNT,
});
export type AuditTableReport = z.infer<typeof AuditTableReport>;

export const AuditReport = z.object({
  terminalId: z.string().max(KEY_MAX_LENGTH),
  centralUrl: z.string().max(2000),
  startedAt: z.iso.datetime({ offset: true }),
  durationMs: z.number().min(0),
  /** Every compared table in step (and none failed). */
  inStep: z.boolean(),
  tables: z.array(AuditTableReport),
});
export type AuditReport = z.infer<typeof AuditReport>;

// ---------------------------------------------------------------- audits reported to HQ

/** A sync trigger with this reason asks the till to sync, then audit and report (the console's Audit button). */
export const AUDIT_TRIGGER_REASON = 'AUDIT';

/** Differing rows (and pending ids) kept per table of a reported audit; the counts stay whole. */
export const REPORTED_DIFFERENCES = 20;

/** `POST /api/sync/audit-report`: a till's audit, for HQ (kept trimmed: `trimAudit`). */
export const AuditReportRequest = z.strictObject({
  terminalId: TERMINAL_ID,
  report: AuditReport.extend({ tables: z.array(AuditTableReport).max(200) }),
});
export type AuditReportRequest = z.infer<typeof AuditReportRequest>;

export const AuditReportResponse = z.object({ terminalId: z.string(), receivedAt: z.string() });

/** `GET /api/fleet/terminals/:terminalId/audit` (admin): the till's latest audit, null before its first. */
export const LastAuditResponse = z.object({ terminalId: z.string(), receivedAt: z.string().nullable(), report: AuditReport.nullable() });
export type LastAuditResponse = z.infer<typeof LastAuditResponse>;

/** A report as central keeps it: every count, at most `keep` listed rows per table (pure). */
export function trimAudit(report: AuditReport, keep = REPORTED_DIFFERENCES): AuditReport {
  return {
    ...report,
    tables: report.tables.map((t) => ({ ...t, differences: t.differences.slice(0, keep), pendingIds: t.pendingIds.slice(0, keep) })),
  };
}
