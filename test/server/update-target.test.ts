/**
 * updateTarget, the version a till should run (pure), and nextRollout / rolledBack, the
 * rollout after an admin's change: per-store pins, a percentage rollout that is stable
 * and only grows as its percentage does, pause, rollback.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../src/shared/update-protocol.js';
import { NO_ROLLOUT, nextRollout, rolledBack } from '../../src/server/updates/rollout.js';
import { rolloutBucket, updateTarget } from '../../src/server/updates/target.js';

const all = new Set(['1.0.0', '1.1.0', '1.2.0']);
const rollout = (r: Partial<Rollout>): Rollout => ({ ...NO_ROLLOUT, ...r });
const till = (terminalId: string, storeId = 's1') => ({ terminalId, storeId });

describe('updateTarget', () => {
  it('no rollout: no target', () => {
    expect(updateTarget(till('t1'), NO_ROLLOUT, all)).toBeNull();
  });

  it('a percentage rollout: a till is in exactly when its bucket is below the percentage; once in, it stays in as the percentage grows', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (id, p1, p2) => {
        const [lo, hi] = p1 <= p2 ? [p1, p2] : [p2, p1];
        const at = (p: number) => updateTarget(till(id), rollout({ version: '1.2.0', previous: '1.1.0', percentage: p }), all);
        const a = at(lo);
        const b = at(hi);
        expect(a?.version).toBe(rolloutBucket(id) < lo ? '1.2.0' : '1.1.0');
        if (a?.version === '1.2.0') expect(b?.version).toBe('1.2.0');
        expect(at(lo)).toEqual(a); // stable
        expect(a?.allowDowngrade).toBe(false);
      }),
    );
  });

  it('the buckets spread: about a tenth of 2,000 tills are in at 10 %', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `till-${i}`);
    const inAt10 = ids.filter((id) => updateTarget(till(id), rollout({ version: '1.2.0', previous: '1.1.0', percentage: 10 }), all)?.version === '1.2.0');
    expect(inAt10.length).toBeGreaterThan(140);
    expect(inAt10.length).toBeLessThan(260);
  });

  it("a store pin wins, allows going back, and only for that store's tills; a pin to a version not servable is ignored", () => {
    const r = rollout({ version: '1.2.0', previous: '1.1.0', percentage: 100, stores: { s1: '1.0.0', s3: '9.9.9' } });
    expect(updateTarget(till('a', 's1'), r, all)).toEqual({ version: '1.0.0', allowDowngrade: true, reason: 'STORE_PIN' });
    expect(updateTarget(till('a', 's2'), r, all)).toEqual({ version: '1.2.0', allowDowngrade: false, reason: 'ROLLOUT' });
    expect(updateTarget(till('a', 's3'), r, all)?.version).toBe('1.2.0');
    // A store id that is a property of every object is no pin.
    expect(updateTarget(till('a', 'constructor'), r, all)?.version).toBe('1.2.0');
  });

  it('outside the percentage: the previous version (none: no target); paused: the previous for everybody, never going back', () => {
    const out = Array.from({ length: 200 }, (_, i) => `t${i}`).find((id) => rolloutBucket(id) >= 50) ?? '';
    expect(updateTarget(till(out), rollout({ version: '1.2.0', previous: '1.1.0', percentage: 50 }), all)).toEqual({ version: '1.1.0', allowDowngrade: false, reason: 'NOT_YET' });
    expect(updateTarget(till(out), rollout({ version: '1.2.0', previous: null, percentage: 50 }), all)).toBeNull();
    expect(updateTarget(till('any'), rollout({ version: '1.2.0', previous: '1.1.0', percentage: 100, paused: true }), all)).toEqual({ version: '1.1.0', allowDowngrade: false, reason: 'PAUSED' });
    // A version whose files are not all uploaded is never offered.
    expect(updateTarget(till('any'), rollout({ version: '1.2.0', previous: '1.1.0', percentage: 100 }), new Set(['1.1.0']))).toBeNull();
  });

  it('rolled back: every till (not pinned) to the version before, going back allowed', () => {
    const r = rolledBack(rollout({ version: '1.2.0', previous: '1.1.0', percentage: 30 }));
    expect(r).toMatchObject({ version: '1.1.0', previous: null, percentage: 100, rolledBack: true, rolledBackFrom: '1.2.0' });
    for (const id of ['a', 'b', 'c', 'd']) expect(updateTarget(till(id), r, all)).toEqual({ version: '1.1.0', allowDowngrade: true, reason: 'ROLLED_BACK' });
    expect(() => rolledBack(r)).toThrow(/rolled back already/);
    expect(() => rolledBack(rollout({ version: '1.2.0' }))).toThrow(/no previous version/);
  });
});

describe('nextRollout', () => {
  it('a new version starts over the old one at 0 %, unpaused; the percentage and pause change alone; pins merge and clear', () => {
    const a = nextRollout(NO_ROLLOUT, { version: '1.1.0', percentage: 100 });
    expect(a).toMatchObject({ version: '1.1.0', previous: null, percentage: 100 });
    const b = nextRollout({ ...a, paused: true }, { version: '1.2.0' });
    expect(b).toMatchObject({ version: '1.2.0', previous: '1.1.0', percentage: 0, paused: false });
    const c = nextRollout(b, { percentage: 40, stores: { s1: '1.1.0', s2: '1.2.0' } });
    expect(c).toMatchObject({ version: '1.2.0', previous: '1.1.0', percentage: 40, stores: { s1: '1.1.0', s2: '1.2.0' } });
    expect(nextRollout(c, { stores: { s1: null } }).stores).toEqual({ s2: '1.2.0' });
    expect(nextRollout(c, { paused: true })).toMatchObject({ paused: true, percentage: 40 });
  });
});
