/**
 * The pauses between tries to reach central (pure): doubling from the base, never
 * above the cap (so a till notices a healed network within the cap), jittered in the
 * upper half; and the engine's default cap is a few seconds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextBackoff } from '../../src/main/sync/backoff.js';
import { DEFAULT_SYNC_CONFIG } from '../../src/main/sync/sync-service.js';

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
