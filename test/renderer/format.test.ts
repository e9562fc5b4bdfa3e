/**
 * The renderer's display helpers: how long ago a table's times were, short enough for
 * a till's 800x600 screen.
 */
import { describe, expect, it } from 'vitest';
import { ago } from '../../src/renderer/format.js';

describe('ago', () => {
  const now = Date.parse('2025-03-04T12:00:00.000Z');
  const before = (ms: number) => new Date(now - ms).toISOString();

  it('says how long ago, in the units of the headline\'s ages, and "never" for no time', () => {
    expect(ago(null, now)).toBe('never');
    expect(ago(undefined, now)).toBe('never');
    expect(ago(before(2_000), now)).toBe('just now');
    expect(ago(before(12_000), now)).toBe('12 s ago');
    expect(ago(before(3 * 60_000 + 5_000), now)).toBe('3 min ago');
    expect(ago(before(2 * 3_600_000), now)).toBe('2 h ago');
    expect(ago(before(3 * 86_400_000), now)).toBe('3 days ago');
  });

  it('a time slightly ahead of this clock is "just now"; text that is no time is shown as it is', () => {
    expect(ago(new Date(now + 3_000).toISOString(), now)).toBe('just now');
    expect(ago('not a time', now)).toBe('not a time');
  });
});
