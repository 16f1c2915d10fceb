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
  const shuffled = Int32Array.from(indices);
  const prng = createPrng(seed);
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = prng.below(i + 1);
    const t = shuffled[i]!;
    shuffled[i] = shuffled[j]!;
    shuffled[j] = t;
  }
  const out: Int32Array[] = [];
  for (let p = 0; p < parts; p++) {
    const start = Math.floor((p * shuffled.length) / parts);
    const end = Math.floor(((p + 1) * shuffled.length) / parts);
    out.push(shuffled.slice(start, end).sort());
  }
  return out;
}
