/**
 * The audit's bisection, as decisions over data (pure): given central's answer for a
 * range and the till's view of the same ids, which ranges to ask about next and which
 * rows differ. A range whose count and digest agree is in step and is never looked
 * into; one that disagrees is looked into through the parts central split it into
 * (only those that disagree go on), down to ranges small enough for central to list
 * their rows, which are compared id by id.
 */
import type { AuditDifference } from '../../shared/audit-protocol.js';
import { WHOLE_RANGE, type AuditRow, type IdRange, type RangeAnswer, type RangeDigest } from '../../shared/audit.js';

/** The till's side of the comparison: digests and rows of any range of its synced rows. */
export interface TillView {
  digest(range: IdRange): RangeDigest;
  rows(range: IdRange): readonly AuditRow[];
}

export interface RangeStep {
  /** Ranges to ask central about next. */
  readonly next: IdRange[];
  /** Rows found to differ in this step. */
  readonly differences: AuditDifference[];
}

const same = (a: RangeDigest, b: RangeDigest) => a.count === b.count && a.digest === b.digest;

/** Rows of one range from both sides, compared id by id (pure). */
export function compareRows(central: readonly AuditRow[], till: readonly AuditRow[]): AuditDifference[] {
  const atTill = new Map(till.map((r) => [r.id, r]));
  const out: AuditDifference[] = [];
  for (const c of central) {
    const t = atTill.get(c.id);
    atTill.delete(c.id);
    if (!t) out.push({ id: c.id, kind: 'missing_at_till', tillVersion: null, centralVersion: c.version });
    else if (t.hash !== c.hash) out.push({ id: c.id, kind: 'different_content', tillVersion: t.version, centralVersion: c.version });
    else if (t.version !== c.version) out.push({ id: c.id, kind: 'different_version', tillVersion: t.version, centralVersion: c.version });
  }
  for (const t of atTill.values()) out.push({ id: t.id, kind: 'missing_at_central', tillVersion: t.version, centralVersion: null });
  return out;
}

/**
 * One step of the bisection for one asked range and central's answer to it. A range
 * central answered only in part (its row budget ran out) is asked again from where the
 * answer stopped.
 */
export function planRange(asked: IdRange, answer: RangeAnswer, till: TillView): RangeStep {
  const next: IdRange[] = [];
  if (!answer.complete) {
    const rest: IdRange = { after: answer.range.upTo ?? asked.after, upTo: asked.upTo };
    next.push(rest);
  }
  const covered = answer.range;
  // Nothing covered (after = upTo): nothing to compare in it.
  if (!answer.complete && covered.upTo === covered.after) return { next, differences: [] };
  if (same(answer, till.digest(covered))) return { next, differences: [] };
  if (answer.rows) return { next, differences: compareRows(answer.rows, till.rows(covered)) };
  for (const part of answer.parts ?? []) {
    if (!same(part, till.digest(part.range))) next.push(part.range);
  }
  return { next, differences: [] };
}

/** Central's answers for some ranges (in order; fewer than asked when its row budget ran out). */
export type AskCentral = (ranges: IdRange[]) => Promise<readonly RangeAnswer[]>;

export interface BisectResult {
  readonly differences: AuditDifference[];
  /** Rows central holds in the whole range. */
  readonly centralRows: number;
  readonly requests: number;
}

/**
 * The whole bisection of one table: asks about the whole id range, then about every
 * range that disagrees, `maxRanges` at a time, until none is left. Throws after
 * `maxRequests` requests (a central whose answers never settle).
 */
export async function bisect(ask: AskCentral, till: TillView, limits: { maxRanges: number; maxRequests: number }): Promise<BisectResult> {
  // `top`: the whole range, or the rest of it after a partial answer: its count is central's row count.
  const queue: { range: IdRange; top: boolean }[] = [{ range: WHOLE_RANGE, top: true }];
  const differences: AuditDifference[] = [];
  let centralRows = 0;
  let requests = 0;
  while (queue.length > 0) {
    if (requests >= limits.maxRequests) throw new Error(`gave up after ${requests} requests`);
    const batch = queue.splice(0, limits.maxRanges);
    requests++;
    const answers = await ask(batch.map((b) => b.range));
    if (answers.length === 0) throw new Error('central answered no range');
    // Ranges past the request's row budget were not answered: asked again first.
    queue.unshift(...batch.slice(answers.length));
    answers.forEach((answer, i) => {
      const asked = batch[i] as (typeof batch)[number];
      if (asked.top) centralRows += answer.count;
      const step = planRange(asked.range, answer, till);
      step.next.forEach((range, k) => queue.push({ range, top: asked.top && !answer.complete && k === 0 }));
      differences.push(...step.differences);
    });
  }
  return { differences, centralRows, requests };
}
