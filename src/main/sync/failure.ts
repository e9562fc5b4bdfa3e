/**
 * What a failed call to central means for the engine (pure): one reading of the
 * errors CentralClient throws, shared by the push loop, the pull loop, the pass and
 * the link.
 */
import { CentralError, NetworkError } from './central-client.js';

/**
 * - `unreachable`: central could not be reached (the terminal is offline);
 * - `busy`: central's own trouble (5xx, 429): try again later, still online;
 * - `key-refused`: central will not take this terminal's key (settings, not a bug);
 * - `refused`: central refused the request itself (a 4xx);
 * - `broken`: anything else (a local error).
 */
export type Failure = 'unreachable' | 'busy' | 'key-refused' | 'refused' | 'broken';

export function failureOf(err: unknown): Failure {
  if (err instanceof NetworkError) return 'unreachable';
  if (!(err instanceof CentralError)) return 'broken';
  if (err.retryable) return 'busy';
  if (err.refusesKey) return 'key-refused';
  return 'refused';
}

/**
 * Central refused a push for what it holds (a 4xx other than 401/403): sent in halves,
 * the bad change ends up alone and the good ones go through.
 */
export function refusedForContent(err: unknown): err is CentralError {
  return err instanceof CentralError && !err.retryable && err.status !== 401 && err.status !== 403;
}

/** What a failed push means for the loop: stop (offline, or central busy), stop and say why (key), or go on with the rest. */
export function afterPushFailure(err: unknown): { stop: boolean; offline: boolean; refusedKey: boolean } {
  const f = failureOf(err);
  return { stop: f === 'unreachable' || f === 'busy' || f === 'key-refused', offline: f === 'unreachable', refusedKey: f === 'key-refused' };
}
