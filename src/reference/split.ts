import { DataError } from '../errors/index.js';
import { createPrng } from './prng.js';

/**
 * Disjoint index sets: a seeded shuffle of `indices`, cut into `parts` runs whose
 * sizes differ by at most one, each sorted. Calibration draws reference-against-
 * reference batches from two such halves, so that no sample is compared with itself.
 */
export function splitIndices(indices: Int32Array, parts: number, seed: number): Int32Array[] {
  if (!Number.isSafeInteger(parts) || parts < 1 || parts > indices.length) {
    throw new RangeError(`cannot split ${indices.length} samples into ${parts} parts`);
  }
  const shuffled = shuffle(indices, seed);
  const out: Int32Array[] = [];
  for (let p = 0; p < parts; p++) {
    const start = Math.floor((p * shuffled.length) / parts);
    const end = Math.floor(((p + 1) * shuffled.length) / parts);
    out.push(shuffled.slice(start, end).sort());
  }
  return out;
}

/** Rows of a reference of `count` samples that go to a pool of `requested`: at most half, the rest calibrates. */
export function poolRows(count: number, requested: number): number {
  return Math.min(requested, Math.floor(count / 2));
}

/**
 * The reference cut once, seeded, into the pool every production batch is compared with
 * and the held-out part calibration draws its null batches from: min(poolSize, ⌊N/2⌋)
 * samples for the pool, the rest held out. Half at most, so that calibration always has
 * as many samples as the pool: its null batches must be as varied as production's.
 */
export function splitPool(count: number, poolSize: number, seed: number): { pool: Int32Array; heldOut: Int32Array } {
  const size = poolRows(count, poolSize);
  if (size < 4) throw new DataError(`a reference of ${count} samples is too small to split into a pool and a held-out part (8 at least)`);
  const shuffled = shuffle(Int32Array.from({ length: count }, (_, i) => i), seed);
  return { pool: shuffled.slice(0, size).sort(), heldOut: shuffled.slice(size).sort() };
}

function shuffle(indices: Int32Array, seed: number): Int32Array {
  const shuffled = Int32Array.from(indices);
  const prng = createPrng(seed);
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = prng.below(i + 1);
    const t = shuffled[i]!;
    shuffled[i] = shuffled[j]!;
    shuffled[j] = t;
  }
  return shuffled;
}
