/**
 * Which priority tiers a sync cycle covers (pure). CRITICAL and HIGH every cycle,
 * MEDIUM every 2nd, LOW every 5th; BACKGROUND only in a full sync (on demand).
 */
import { PRIORITY, type PrioritySpec } from '../../shared/catalog/index.js';

/** The lowest priority an incremental cycle number `cycle` (1, 2, ...) pushes and pulls. */
export function minPriorityForCycle(cycle: number): number {
  if (cycle % 5 === 0) return PRIORITY.LOW; // includes MEDIUM: a 10th cycle is both
  if (cycle % 2 === 0) return PRIORITY.MEDIUM;
  return PRIORITY.HIGH;
}

/** A full sync covers everything, BACKGROUND included. */
export const FULL_SYNC_MIN_PRIORITY = 0;

/** A table's priority for pull cadence (the lowest a per-row priority can be). */
export function tablePriority(spec: PrioritySpec): number {
  return typeof spec === 'number' ? spec : Math.min(spec.otherwise, ...Object.values(spec.when));
}
