/** Hybrid logical clock: encoding, order, tick and receive (property tests). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClockDriftError, compareHlc, formatHlc, HLC_PATTERN, HlcString, parseHlc, receiveHlc, tickHlc, type Hlc } from '../../src/shared/hlc.js';

const MAX_COUNTER = 99_999;
/** Wall clocks well inside the 15-digit encoding (year ~2286 is 10^13 ms), so +1 ms never overflows it. */
const physical = fc.integer({ min: 0, max: 10 ** 13 });
const counter = fc.integer({ min: 0, max: MAX_COUNTER });
const NODE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-'.split('');
const node = fc.string({ unit: fc.constantFrom(...NODE_CHARS), minLength: 1, maxLength: 64 });
const hlc: fc.Arbitrary<Hlc> = fc.record({ physical, counter, node });
/** Clocks close together, so ties on physical and counter are common. */
const nearHlc: fc.Arbitrary<Hlc> = fc.record({
  physical: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_003 }),
  counter: fc.integer({ min: 0, max: 3 }),
  node: fc.constantFrom('a', 'b', 'term-1', 'term-10', 'central'),
});
const anyHlc = fc.oneof(hlc, nearHlc);

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
const strcmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe('formatHlc / parseHlc', () => {
  it('round-trips every clock', () => {
    fc.assert(
      fc.property(anyHlc, (h) => {
        const text = formatHlc(h);
        expect(text).toMatch(HLC_PATTERN);
        expect(HlcString.safeParse(text).success).toBe(true);
        expect(parseHlc(text)).toEqual(h);
      }),
    );
  });

  it('formats with fixed-width fields', () => {
    expect(formatHlc({ physical: 1_700_000_000_123, counter: 7, node: 'term-1' })).toBe('001700000000123:00007:term-1');
    expect(formatHlc({ physical: 0, counter: 0, node: 'x' })).toBe('000000000000000:00000:x');
  });

  it('refuses text that is not a clock', () => {
    for (const bad of [
      '',
      '1700000000123:00007:term-1', // 13-digit physical
      '001700000000123:7:term-1', // unpadded counter
      '001700000000123:00007:', // no node
      '001700000000123:00007:bad node', // space in node
      `001700000000123:00007:${'n'.repeat(65)}`, // node too long
      '001700000000123-00007-term-1',
      ' 001700000000123:00007:term-1',
    ]) {
      expect(parseHlc(bad), bad).toBeNull();
      expect(HlcString.safeParse(bad).success, bad).toBe(false);
    }
  });
});

describe('compareHlc', () => {
  it('agrees with the string order of the formatted clocks', () => {
    fc.assert(
      fc.property(anyHlc, anyHlc, (a, b) => {
        expect(sign(compareHlc(a, b))).toBe(strcmp(formatHlc(a), formatHlc(b)));
      }),
    );
  });

  it('is a total order: reflexive, antisymmetric, transitive, and 0 only for equal clocks', () => {
    fc.assert(
      fc.property(anyHlc, anyHlc, anyHlc, (a, b, c) => {
        expect(compareHlc(a, a)).toBe(0);
        expect(sign(compareHlc(a, b)) === -sign(compareHlc(b, a))).toBe(true);
        expect(compareHlc(a, b) === 0).toBe(a.physical === b.physical && a.counter === b.counter && a.node === b.node);
        if (compareHlc(a, b) <= 0 && compareHlc(b, c) <= 0) expect(compareHlc(a, c)).toBeLessThanOrEqual(0);
      }),
    );
  });

  it('sorting by compareHlc equals sorting the formatted strings', () => {
    fc.assert(
      fc.property(fc.array(anyHlc, { maxLength: 30 }), (clocks) => {
        const byCompare = [...clocks].sort(compareHlc).map(formatHlc);
        const byString = clocks.map(formatHlc).sort();
        expect(byCompare).toEqual(byString);
      }),
    );
  });

  it('orders by physical time first, then counter, then node', () => {
    expect(compareHlc({ physical: 2, counter: 0, node: 'a' }, { physical: 1, counter: 99, node: 'z' })).toBeGreaterThan(0);
    expect(compareHlc({ physical: 1, counter: 2, node: 'a' }, { physical: 1, counter: 1, node: 'z' })).toBeGreaterThan(0);
    expect(compareHlc({ physical: 1, counter: 1, node: 'b' }, { physical: 1, counter: 1, node: 'a' })).toBeGreaterThan(0);
  });
});

describe('tickHlc', () => {
  it('starts at the wall clock', () => {
    fc.assert(
      fc.property(physical, node, (now, n) => {
        expect(tickHlc(null, now, n)).toEqual({ physical: now, counter: 0, node: n });
      }),
    );
  });

  it('is strictly after the last clock, whatever the wall clock does', () => {
    fc.assert(
      fc.property(anyHlc, physical, node, (last, now, n) => {
        const next = tickHlc(last, now, n);
        expect(compareHlc(next, last)).toBeGreaterThan(0);
        expect(formatHlc(next) > formatHlc(last)).toBe(true);
        expect(next.physical).toBeGreaterThanOrEqual(Math.max(now, last.physical));
        expect(next.counter).toBeLessThanOrEqual(MAX_COUNTER);
        expect(next.node).toBe(n);
      }),
    );
  });

  it('a run of ticks with a wall clock jumping back and forth strictly increases', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_005 }), { minLength: 1, maxLength: 200 }), (nows) => {
        let last: Hlc | null = null;
        for (const now of nows) {
          const next = tickHlc(last, now, 'term-1');
          if (last) expect(compareHlc(next, last)).toBeGreaterThan(0);
          expect(next.physical).toBeGreaterThanOrEqual(now);
          last = next;
        }
      }),
    );
  });

  it('borrows a millisecond when the counter is exhausted, keeping the encoding valid', () => {
    const last = { physical: 1_000, counter: MAX_COUNTER, node: 'n' };
    const next = tickHlc(last, 1_000, 'n');
    expect(next).toEqual({ physical: 1_001, counter: 0, node: 'n' });
    expect(parseHlc(formatHlc(next))).toEqual(next);
  });
});

describe('receiveHlc', () => {
  const drift = fc.integer({ min: 0, max: 120_000 });

  it('is after both the local and the remote clock when the remote is within the drift bound', () => {
    fc.assert(
      fc.property(fc.option(anyHlc, { nil: null }), anyHlc, physical, node, drift, (last, remote, now, n, maxDrift) => {
        fc.pre(remote.physical - now <= maxDrift);
        const next = receiveHlc(last, remote, now, n, maxDrift);
        expect(compareHlc(next, remote)).toBeGreaterThan(0);
        if (last) expect(compareHlc(next, last)).toBeGreaterThan(0);
        expect(next.physical).toBeGreaterThanOrEqual(now);
        expect(next.counter).toBeLessThanOrEqual(MAX_COUNTER);
        expect(next.node).toBe(n);
        expect(parseHlc(formatHlc(next))).toEqual(next);
      }),
    );
  });

  it('with close clocks (many ties) is still after both', () => {
    fc.assert(
      fc.property(fc.option(nearHlc, { nil: null }), nearHlc, fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_004 }), (last, remote, now) => {
        const next = receiveHlc(last, remote, now, 'me', 60_000);
        expect(compareHlc(next, remote)).toBeGreaterThan(0);
        if (last) expect(compareHlc(next, last)).toBeGreaterThan(0);
      }),
    );
  });

  it('refuses a remote clock more than maxDrift ahead of the wall clock (ClockDriftError), and accepts exactly maxDrift', () => {
    fc.assert(
      fc.property(fc.option(anyHlc, { nil: null }), physical, drift, fc.integer({ min: 1, max: 10 ** 9 }), counter, (last, now, maxDrift, excess, c) => {
        const remote = { physical: now + maxDrift + excess, counter: c, node: 'far' };
        let caught: unknown;
        try {
          receiveHlc(last, remote, now, 'me', maxDrift);
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(ClockDriftError);
        const e = caught as ClockDriftError;
        expect(e.name).toBe('ClockDriftError');
        expect(e.remotePhysical).toBe(remote.physical);
        expect(e.now).toBe(now);
        expect(e.maxDriftMs).toBe(maxDrift);

        const atLimit = { physical: now + maxDrift, counter: c, node: 'edge' };
        expect(compareHlc(receiveHlc(last, atLimit, now, 'me', maxDrift), atLimit)).toBeGreaterThan(0);
      }),
    );
  });

  it('a remote clock behind ours does not pull ours back', () => {
    const last = { physical: 5_000, counter: 3, node: 'me' };
    expect(receiveHlc(last, { physical: 1_000, counter: 50, node: 'x' }, 4_000, 'me', 60_000)).toEqual({ physical: 5_000, counter: 4, node: 'me' });
    expect(receiveHlc(last, { physical: 5_000, counter: 9, node: 'x' }, 4_000, 'me', 60_000)).toEqual({ physical: 5_000, counter: 10, node: 'me' });
    expect(receiveHlc(last, { physical: 1_000, counter: 9, node: 'x' }, 6_000, 'me', 60_000)).toEqual({ physical: 6_000, counter: 0, node: 'me' });
    expect(receiveHlc(null, { physical: 7_000, counter: 2, node: 'x' }, 6_000, 'me', 60_000)).toEqual({ physical: 7_000, counter: 3, node: 'me' });
  });
});
