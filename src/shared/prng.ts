/**
 * mulberry32: a small, fast, seeded PRNG giving numbers in [0, 1), the same sequence
 * on every machine for a seed. The POS simulator, the fault campaign and the fuzz test
 * take their randomness from it, so a run can be replayed from its printed seed.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
