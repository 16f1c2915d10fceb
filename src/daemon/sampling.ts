import { AutoFraction } from './auto-fraction.js';

/*
 * Sampling under overload (issue 20): which production samples are scored when the traffic
 * is more than the model can score. Every sample is still counted and committed; only the
 * chosen ones go into batches. (A one-sample raw-f32 message left out is not even decoded:
 * pipeline.ts, `oneSample`.)
 *
 *   sample (topic, partition, offset, index in its record) ─hash─▶ u in [0, 1)
 *   scored when u < fraction          (fraction: fixed, or AutoFraction's current value)
 *
 * The choice is a hash of the sample's coordinates, not a draw: a replay of the same records
 * at the same fraction (another group, a restart from an older state, another replica)
 * chooses the same samples, and the samples chosen at fraction f are a subset of those
 * chosen at any f' > f. Each sample's u is uniform and independent of its content, so the
 * scored batches are batches of a uniform sample of the traffic.
 */

/** `sampling` as the config has it: a fixed fraction in (0, 1], or auto. */
export type SamplingSetting = number | 'auto';

export interface Sampling {
  /** the fraction of samples scored now */
  readonly fraction: number;
  /** whether this sample is scored (counts it as seen) */
  choose(topic: string, partition: number, offset: number, index: number): boolean;
  /** samples chosen or not since the start */
  readonly seen: number;
  /** auto only: a process() call scored `samples` in `busyMs` (the scoring capacity) */
  scored(samples: number, busyMs: number): void;
  /** auto only: once a second or so, with the consumer lag in records; returns the fraction */
  tick(lag: number): number;
}

export function createSampling(setting: SamplingSetting, now: () => number): Sampling {
  const auto = setting === 'auto' ? new AutoFraction({ now }) : null;
  let seen = 0;
  const fraction = (): number => (auto ? auto.fraction : setting as number);
  return {
    get fraction() {
      return fraction();
    },
    get seen() {
      return seen;
    },
    choose(topic, partition, offset, index) {
      seen += 1;
      const f = fraction();
      return f >= 1 || sampleKey(topic, partition, offset, index) < f;
    },
    scored(samples, busyMs) {
      auto?.scored(samples, busyMs);
    },
    tick(lag) {
      return auto ? auto.tick(seen, lag) : fraction();
    },
  };
}

/**
 * A sample's key in [0, 1): 53 bits from two MurmurHash3 (x86, 32-bit) passes with different
 * seeds over the words (partition, offset low, offset high, index), each seeded by the topic.
 * Offsets up to 2^53 are exact.
 */
export function sampleKey(topic: string, partition: number, offset: number, index: number): number {
  const [s1, s2] = topicSeeds(topic);
  const lo = offset >>> 0;
  const hi = Math.floor(offset / 2 ** 32) >>> 0;
  let h1 = s1;
  let h2 = s2;
  for (const word of [partition >>> 0, lo, hi, index >>> 0]) {
    h1 = round(h1, word);
    h2 = round(h2, word);
  }
  h1 = fmix32(h1 ^ 16);
  h2 = fmix32(h2 ^ 16);
  return (h1 * 2 ** 21 + (h2 >>> 11)) / 2 ** 53;
}

const seeds = new Map<string, readonly [number, number]>();

function topicSeeds(topic: string): readonly [number, number] {
  let s = seeds.get(topic);
  if (s === undefined) {
    let a = 0x9747b28c;
    let b = 0x5bd1e995;
    for (let i = 0; i < topic.length; i++) {
      a = round(a, topic.charCodeAt(i));
      b = round(b, topic.charCodeAt(i) ^ 0xa5a5a5a5);
    }
    s = [fmix32(a ^ topic.length), fmix32(b ^ topic.length)];
    if (seeds.size > 1024) seeds.clear();
    seeds.set(topic, s);
  }
  return s;
}

function round(h: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  let x = h ^ k;
  x = (x << 13) | (x >>> 19);
  return (Math.imul(x, 5) + 0xe6546b64) | 0;
}

function fmix32(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}
