/**
 * Growing pauses between tries to reach central (pure): each pause doubles from the
 * base up to a cap, and is drawn from its upper half so many tills that lost central
 * together do not come back in step. The cap bounds how long a till that was away
 * takes to notice that the network healed.
 */
export interface Backoff {
  /** The pause level reached (ms, before jitter); 0 before the first try. */
  readonly level: number;
  /** The pause to wait now (ms). */
  readonly delay: number;
}

/** The next pause after `level`: double it (from `baseMs`), at most `maxMs`; `random` in [0, 1). */
export function nextBackoff(level: number, baseMs: number, maxMs: number, random: number): Backoff {
  const next = Math.min(maxMs, level > 0 ? level * 2 : baseMs);
  return { level: next, delay: Math.round(next * (0.5 + random * 0.5)) };
}
