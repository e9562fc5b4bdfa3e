/**
 * The pauses between tries to reach central (pure): doubling from the base, never
 * above the cap (so a till notices a healed network within the cap), jittered in the
 * upper half; and the engine's default cap is a few seconds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextBackoff, retryPause } from '../../src/shared/backoff.js';
import { DEFAULT_SYNC_CONFIG } from '../../src/main/sync/sync-config.js';

describe('backoff', () => {
  it('doubles from the base up to the cap, and waits between half and all of its level', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: 60_000 }), fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 1, maxLength: 40 }), (base, max, randoms) => {
        let level = 0;
        let expected = 0;
        for (const r of randoms) {
          const b = nextBackoff(level, base, max, r);
          expected = Math.min(max, expected > 0 ? expected * 2 : base);
          expect(b.level).toBe(expected);
          expect(b.delay).toBeLessThanOrEqual(Math.min(max, b.level));
          expect(b.delay).toBeGreaterThanOrEqual(Math.floor(b.level / 2));
          level = b.level;
        }
      }),
    );
  });

  it('the engine comes back within 5 s of central: its default cap (30 s before)', () => {
    expect(DEFAULT_SYNC_CONFIG.reconnectMaxDelayMs).toBeLessThanOrEqual(5_000);
    let level = 0;
    for (let i = 0; i < 30; i++) level = nextBackoff(level, DEFAULT_SYNC_CONFIG.retryDelay, DEFAULT_SYNC_CONFIG.reconnectMaxDelayMs, 0.999).level;
    expect(level).toBe(DEFAULT_SYNC_CONFIG.reconnectMaxDelayMs);
  });
});

describe('retryPause: the one rule for every retry (outbox entries, reconnects, central contention)', () => {
  it('after n failed tries waits between half and all of base * 2^(n-1), never above the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 600_000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, base, max, r) => {
        const level = Math.min(max, base * 2 ** (attempt - 1));
        const pause = retryPause(attempt, base, max, r);
        expect(pause).toBeLessThanOrEqual(Math.ceil(level));
        expect(pause).toBeGreaterThanOrEqual(Math.floor(level / 2));
      }),
    );
  });

  it('grows with the tries until the cap (the same random draw)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 5_000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, base, r) => {
        expect(retryPause(attempt + 1, base, Number.MAX_SAFE_INTEGER, r)).toBeGreaterThanOrEqual(retryPause(attempt, base, Number.MAX_SAFE_INTEGER, r));
      }),
    );
  });
});
