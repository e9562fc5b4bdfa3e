/**
 * What the companion does with the version HQ's feed offers (pure): nothing, hold
 * and look again later, download it, install it now, or install it when the app quits.
 * Completed sales come first: while a CRITICAL change (a completed sale, a payment) is
 * not yet at central, nothing is downloaded or installed. An install restarts the
 * app, so it happens now only at a quiet moment (no sale rung up for a while);
 * otherwise at the next quit, or at a later quiet moment.
 */
import { compareVersions, isVersion } from '../../shared/update-protocol.js';

export interface UpdateSituation {
  /** The version running now. */
  readonly current: string;
  /** The version the feed offers; null when it offers none. */
  readonly offered: string | null;
  /** Central allows installing the offered version over a later one (a store pin, a rollback). */
  readonly allowDowngrade: boolean;
  /** The offered version is downloaded and ready to install. */
  readonly downloaded: boolean;
  /** CRITICAL changes captured or in the outbox that central has not answered yet. */
  readonly criticalPending: number;
  /** Central is reachable. */
  readonly online: boolean;
  /** No sale has been rung up for a while: a restart now interrupts nobody. */
  readonly quiet: boolean;
}

export type UpdateAction = 'none' | 'hold' | 'download' | 'install-now' | 'install-on-quit';

export interface UpdateDecision {
  readonly action: UpdateAction;
  readonly reason: string;
}

export function decideUpdate(s: UpdateSituation): UpdateDecision {
  if (s.offered === null) return { action: 'none', reason: 'HQ offers no update' };
  if (!isVersion(s.offered)) return { action: 'none', reason: `the offered version ${s.offered} is not a semantic version` };
  if (!isVersion(s.current)) return { action: 'none', reason: `the running version ${s.current} is not a semantic version` };
  const order = compareVersions(s.offered, s.current);
  if (order === 0) return { action: 'none', reason: `${s.current} is the version HQ wants here` };
  if (order < 0 && !s.allowDowngrade) return { action: 'none', reason: `${s.offered} is older than ${s.current} and HQ does not ask to go back` };
  const what = order < 0 ? `going back to ${s.offered}` : `${s.offered}`;
  if (s.criticalPending > 0) {
    const n = s.criticalPending;
    return { action: 'hold', reason: `${n} completed sale change${n === 1 ? '' : 's'} not at HQ yet: ${what} waits until they are` };
  }
  if (!s.downloaded) {
    if (!s.online) return { action: 'hold', reason: `HQ is unreachable: ${what} is downloaded once it is back` };
    return { action: 'download', reason: `download ${what}` };
  }
  if (s.quiet) return { action: 'install-now', reason: `install ${what} now: no sale is waiting and the till is quiet` };
  return { action: 'install-on-quit', reason: `install ${what} when the app quits or at the next quiet moment` };
}
