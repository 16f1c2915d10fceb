/**
 * A small seeded PRNG for reference sampling: xoshiro128** 1.1 (Blackman and Vigna,
 * "Scrambled linear pseudorandom number generators", 2018), 128 bits of state in four
 * uint32 words, period 2^128 - 1, passes BigCrush; all-32-bit arithmetic, so it runs at
 * full speed in JS without BigInt. The state is filled from a 32-bit seed with
 * splitmix32, which never yields the all-zero state from which xoshiro cannot leave.
 *
 * Not for cryptography: the seed only makes runs repeatable (the same seed, the same
 * reference draws, the same calibrated thresholds).
 */

export interface Prng {
  /** The next uniformly distributed uint32. */
  nextUint32(): number;
  /** A uniform integer in [0, bound), bound in [1, 2^32], without modulo bias. */
  below(bound: number): number;
}

/** splitmix32 (a 32-bit variant of Steele, Lea and Flood's SplitMix): a good hash of a counter. */
export function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** A seed for the i-th of several independent streams derived from one seed. */
export function deriveSeed(seed: number, stream: number): number {
  return splitmix32((seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** xoshiro128** from an explicit state (the reference test vectors start from [1, 2, 3, 4]). */
export function xoshiro128ss(state: readonly [number, number, number, number]): Prng {
  let [s0, s1, s2, s3] = state.map((w) => w >>> 0) as [number, number, number, number];
  if ((s0 | s1 | s2 | s3) === 0) throw new RangeError('xoshiro128**: the all-zero state is not allowed');
  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const below = (bound: number): number => {
    // Rejection sampling: accept only draws below the largest multiple of bound.
    const limit = 2 ** 32 - (2 ** 32 % bound);
    for (;;) {
      const x = nextUint32();
      if (x < limit) return x % bound;
    }
  };
  return { nextUint32, below };
}

/** The PRNG for a seed; any integer, taken modulo 2^32. */
export function createPrng(seed: number): Prng {
  let x = seed >>> 0;
  const word = (): number => (x = splitmix32(x));
  return xoshiro128ss([word(), word(), word(), word()]);
}
