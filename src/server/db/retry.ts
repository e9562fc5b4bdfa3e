/**
 * Running a transaction again when PostgreSQL rolled it back for a deadlock or a
 * serialization failure: the one retry loop of central's writers (the push, the purge).
 */
import { retryPause } from '../../shared/backoff.js';

/** PostgreSQL's deadlock and serialization failures: the whole transaction may simply run again. */
const RETRYABLE = new Set(['40P01', '40001']);

export interface RetryOptions {
  readonly attempts: number;
  /** Longest pause between attempts, ms (from 10 ms, doubling, with jitter). */
  readonly maxPauseMs: number;
  /** Errors that mean "run again at once" besides PostgreSQL's own. */
  readonly immediately?: (err: unknown) => boolean;
}

export async function retryTransient<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (opts.immediately?.(err) && i < opts.attempts) continue;
      const code = (err as { code?: unknown }).code;
      if (i >= opts.attempts || typeof code !== 'string' || !RETRYABLE.has(code)) throw err;
      await new Promise((r) => setTimeout(r, retryPause(i, 10, opts.maxPauseMs, Math.random())));
    }
  }
}
