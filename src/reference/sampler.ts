import { DataError } from '../errors/index.js';
import { createPrng, deriveSeed } from './prng.js';
import type { Reference } from './reference.js';
import { splitIndices } from './split.js';

/**
 * Draws of reference samples to stack under each production batch.
 *
 * Each draw is m distinct samples from the sampler's pool, uniformly at random: a
 * partial Fisher-Yates shuffle of a pool permutation that persists between draws
 * (m swaps per draw, O(m), whatever the size of the reference). Draws are independent
 * of one another, as the unbiased statistics assume; only within a draw are samples
 * without replacement.
 */
export interface ReferenceSampler {
  readonly reference: Reference;
  /** The reference rows this sampler draws from (all of them unless it came from split). */
  readonly pool: Int32Array;
  /** Indices of m distinct samples. */
  drawIndices(m: number): Int32Array;
  /** m distinct samples, row after row (m x sampleSize values), and which they are. */
  drawIndexed(m: number): ReferenceDraw;
  /** m distinct samples, row after row: m x sampleSize values. */
  draw(m: number): Float32Array;
  /** Writes m distinct samples into `target` from `offset` on (to build [X; R] in one buffer). */
  drawInto(target: Float32Array, offset: number, m: number): void;
  /** Samplers over `parts` disjoint subsets of this pool, each with its own stream. */
  split(parts: number, seed: number): ReferenceSampler[];
}

export interface ReferenceDraw {
  readonly rows: Float32Array;
  /** the reference index of each row */
  readonly indices: Int32Array;
}

export function createSampler(reference: Reference, seed: number, pool?: Int32Array): ReferenceSampler {
  const indices = pool ? Int32Array.from(pool) : Int32Array.from({ length: reference.count }, (_, i) => i);
  const seen = new Uint8Array(reference.count);
  for (const i of indices) {
    if (i < 0 || i >= reference.count) throw new RangeError(`sampler pool index ${i} is outside the reference (0..${reference.count - 1})`);
    if (seen[i] === 1) throw new RangeError(`sampler pool holds index ${i} twice; draws would not be distinct`);
    seen[i] = 1;
  }
  const order = Int32Array.from(indices);
  const prng = createPrng(seed);
  const { data, sampleSize, name } = reference;

  const drawIndices = (m: number): Int32Array => {
    if (!Number.isSafeInteger(m) || m < 1) throw new RangeError(`cannot draw ${m} reference samples`);
    if (m > order.length) {
      throw new DataError(`reference ${name} has ${order.length} samples to draw from, fewer than the ${m} needed per batch (reference.samplesPerBatch)`);
    }
    for (let i = 0; i < m; i++) {
      const j = i + prng.below(order.length - i);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    return order.slice(0, m);
  };

  const drawInto = (target: Float32Array, offset: number, m: number): void => {
    if (offset < 0 || offset + m * sampleSize > target.length) {
      throw new RangeError(`${m} samples of ${sampleSize} values do not fit at ${offset} in an array of ${target.length}`);
    }
    const picked = drawIndices(m);
    for (let k = 0; k < m; k++) {
      const row = picked[k]! * sampleSize;
      target.set(data.subarray(row, row + sampleSize), offset + k * sampleSize);
    }
  };

  return {
    reference,
    pool: indices,
    drawIndices,
    drawIndexed(m) {
      const indices = drawIndices(m);
      const rows = new Float32Array(m * sampleSize);
      indices.forEach((index, k) => rows.set(data.subarray(index * sampleSize, (index + 1) * sampleSize), k * sampleSize));
      return { rows, indices };
    },
    draw(m) {
      const out = new Float32Array(m * sampleSize);
      drawInto(out, 0, m);
      return out;
    },
    drawInto,
    split(parts, splitSeed) {
      return splitIndices(indices, parts, splitSeed).map((part, i) => createSampler(reference, deriveSeed(splitSeed, i), part));
    },
  };
}
