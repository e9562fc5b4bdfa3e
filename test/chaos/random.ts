/**
 * Seeded randomness for the fault campaign: one seed drives every choice (the
 * proxy's fault per connection, the schedule of kills and HQ writes, the
 * simulator's sales), so a failing run can be run again with its seed.
 */

import { mulberry32 } from '../../src/shared/prng.js';

export { mulberry32 };

/**
 * A seed for one consumer of the campaign's seed (FNV-1a of the label, mixed in).
 * Each consumer gets its own stream, so how many connections the proxy happened to
 * see never shifts the schedule of kills, and the other way round.
 */
export function deriveSeed(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return mulberry32(h)() * 4294967296 >>> 0;
}

/** Helpers over a PRNG. */
export class Random {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A number in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** An integer in [min, max], log-uniform: small values as likely as large ones per decade. */
  logInt(min: number, max: number): number {
    const lo = Math.log(Math.max(1, min));
    const hi = Math.log(Math.max(1, max) + 1);
    return Math.min(max, Math.max(min, Math.floor(Math.exp(lo + this.next() * (hi - lo)))));
  }

  /** A key of `weights`, with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = (Object.entries(weights) as [K, number][]).filter(([, w]) => w > 0);
    if (entries.length === 0) throw new RangeError('weighted: no positive weight');
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let roll = this.next() * total;
    for (const [k, w] of entries) {
      roll -= w;
      if (roll < 0) return k;
    }
    return (entries[entries.length - 1] as [K, number])[0];
  }
}
