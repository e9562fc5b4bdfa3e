/**
 * Which version a till should run, as the rollout says (pure): a store's pin first,
 * then the rollout's version for the tills whose bucket is below its percentage and
 * the previous version for the rest; a paused rollout moves nobody forward, a rolled
 * back one takes everybody back.
 */
import { createHash } from 'node:crypto';
import type { Rollout, TargetReason } from '../../shared/update-protocol.js';

export interface TargetTerminal {
  readonly terminalId: string;
  readonly storeId: string;
}

export interface UpdateTarget {
  readonly version: string;
  /** The till may install it over a later version (a store pin, a rollback). */
  readonly allowDowngrade: boolean;
  readonly reason: TargetReason;
}

/**
 * A till's place in a percentage rollout, 0-99: from a hash of its id alone, so it is
 * the same for every rollout and a till in at 10 % is still in at 20 %.
 */
export function rolloutBucket(terminalId: string): number {
  return createHash('sha256').update(terminalId).digest().readUInt32BE(0) % 100;
}

/**
 * The version `terminal` should run, or null when the rollout names none for it.
 * `servable`: the versions whose files are all uploaded; a version that is not is
 * never offered.
 */
export function updateTarget(
  terminal: TargetTerminal,
  rollout: Pick<Rollout, 'version' | 'previous' | 'percentage' | 'paused' | 'rolledBack' | 'stores'>,
  servable: ReadonlySet<string>,
): UpdateTarget | null {
  const offer = (version: string | null, allowDowngrade: boolean, reason: TargetReason): UpdateTarget | null =>
    version !== null && servable.has(version) ? { version, allowDowngrade, reason } : null;
  const pin = Object.hasOwn(rollout.stores, terminal.storeId) ? rollout.stores[terminal.storeId] : undefined;
  if (pin !== undefined && servable.has(pin)) return { version: pin, allowDowngrade: true, reason: 'STORE_PIN' };
  if (rollout.version === null) return null;
  if (rollout.rolledBack) return offer(rollout.version, true, 'ROLLED_BACK');
  if (rollout.paused) return offer(rollout.previous, false, 'PAUSED');
  if (rolloutBucket(terminal.terminalId) < rollout.percentage) return offer(rollout.version, false, 'ROLLOUT');
  return offer(rollout.previous, false, 'NOT_YET');
}
