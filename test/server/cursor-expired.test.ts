/** cursorExpired (src/server/services/pull.ts), pure: when a pull may have missed a deletion the purge removed. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cursorExpired } from '../../src/server/services/pull.js';

const horizon = { txid: '1000', seq: 50, changedAt: '2026-12-01T10:00:00.000Z' };

describe('cursorExpired', () => {
  it('nothing purged: never', () => {
    expect(cursorExpired({ txid: '0', seq: 0 }, undefined)).toBe(false);
  });

  it('a cursor at or after the newest purged entry has seen every purged deletion; one behind it may not have', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 5000n }), fc.integer({ min: 0, max: 100 }), (txid, seq) => {
        const behind = txid < 1000n || (txid === 1000n && seq < 50);
        expect(cursorExpired({ txid: txid.toString(), seq }, horizon)).toBe(behind);
      }),
    );
    // Ordered as numbers, not as text ('999' sorts after '1000' as text).
    expect(cursorExpired({ txid: '999', seq: 999 }, horizon)).toBe(true);
    expect(cursorExpired({ txid: '10000', seq: 0 }, horizon)).toBe(false);
  });

  it("a lastSync pull from after the purged entries' time missed nothing; from before it, it may have", () => {
    expect(cursorExpired({ txid: '0', seq: 0, since: '2026-12-01T10:00:00.001Z' }, horizon)).toBe(false);
    expect(cursorExpired({ txid: '0', seq: 0, since: '2026-12-01T10:00:00.000Z' }, horizon)).toBe(true);
    expect(cursorExpired({ txid: '0', seq: 0, since: '2026-11-30T00:00:00+02:00' }, horizon)).toBe(true);
  });
});
