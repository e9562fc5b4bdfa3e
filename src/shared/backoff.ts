/**
 * Growing pauses between tries (pure), one rule for every retry in the product: the
 * outbox's entries that did not get through, the engine's reconnects to central, and
 * central's own retries of a contended transaction. Each pause doubles from the base
 * up to a cap and is drawn from its upper half, so many tills that lost central
 * together do not come back in step. The cap bounds how long a till that was away
 * takes to notice that the network healed.
 */

/** A pause of `ms` drawn from its upper half: [ms/2, ms]; `random` in [0, 1). */
export function jitter(ms: number, random: number): number {
  return Math.round(ms * (0.5 + random * 0.5));
}

/** The pause before try `attempt + 1` after `attempt` (>= 1) failed tries: base * 2^(attempt-1), at most `maxMs`, jittered. */
export function retryPause(attempt: number, baseMs: number, maxMs: number, random: number): number {
  const exponent = Math.max(0, Math.min(52, attempt - 1));
  return jitter(Math.min(maxMs, baseMs * 2 ** exponent), random);
}

export interface Backoff {
  /** The pause level reached (ms, before jitter); 0 before the first try. */
  readonly level: number;
  /** The pause to wait now (ms). */
  readonly delay: number;
}

/** The next pause after `level`: double it (from `baseMs`), at most `maxMs`; `random` in [0, 1). */
export function nextBackoff(level: number, baseMs: number, maxMs: number, random: number): Backoff {
  const next = Math.min(maxMs, level > 0 ? level * 2 : baseMs);
  return { level: next, delay: jitter(next, random) };
}
