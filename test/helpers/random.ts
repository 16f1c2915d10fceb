/** Seeded test data: the same values on every run and machine (mulberry32). */

/** A seeded uniform source in [0, 1) (mulberry32: tiny, fast and good enough for test data). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` seeded uniform values in [-1, 1). */
export function seededInput(count: number, seed: number): Float32Array {
  const u = rng(seed);
  return Float32Array.from({ length: count }, () => 2 * u() - 1);
}
