import { StatisticsError } from '../errors/index.js';

/** Typed arrays the math core reads: Grams arrive as float32 from ONNX Runtime, tests use float64. */
export type Numeric = Float32Array | Float64Array;

/** A square n×n matrix in row-major order, usually the Gram of a batch (linear kernel). */
export interface Gram {
  readonly n: number;
  readonly data: Numeric;
}

/** The smallest batch for which the unbiased HSIC estimator is defined (it divides by n-3). */
export const MIN_SAMPLES = 4;

export function assertGram(g: Gram, what = 'Gram matrix'): void {
  if (!Number.isInteger(g.n) || g.n < 0) throw new StatisticsError(`${what}: size ${g.n} is not a whole number`);
  if (g.data.length !== g.n * g.n) {
    throw new StatisticsError(`${what}: expected ${g.n}×${g.n} = ${g.n * g.n} values, got ${g.data.length}`);
  }
}

export function assertMinSamples(n: number, what: string): void {
  if (n < MIN_SAMPLES) {
    throw new StatisticsError(`${what}: needs at least ${MIN_SAMPLES} samples for an unbiased estimate, got ${n}`);
  }
}

/**
 * Gram of n feature rows of length d (row-major), after subtracting the column means.
 * Centering first keeps a large common offset out of the float products; every
 * unbiased statistic in this folder is unchanged by it. Accumulates in float64.
 * The daemon builds its Grams inside the ONNX graph; this is the reference
 * implementation for tests, the CPU fallback and the offline tools.
 */
export function gramOf(features: Numeric, n: number, d: number): Gram {
  if (features.length !== n * d) {
    throw new StatisticsError(`features: expected ${n}×${d} = ${n * d} values, got ${features.length}`);
  }
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean[k]! += features[i * d + k]!;
  for (let k = 0; k < d; k++) mean[k]! /= n;
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) x[i * d + k] = features[i * d + k]! - mean[k]!;
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += x[i * d + k]! * x[j * d + k]!;
      data[i * n + j] = s;
      data[j * n + i] = s;
    }
  }
  return { n, data };
}

/** The square block of `g` that starts at row and column `start` and has `size` rows. */
export function diagonalBlock(g: Gram, start: number, size: number): Gram {
  if (start < 0 || size < 0 || start + size > g.n) {
    throw new StatisticsError(`block [${start}, ${start + size}) does not fit a ${g.n}×${g.n} matrix`);
  }
  const data = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) data[i * size + j] = g.data[(start + i) * g.n + start + j]!;
  }
  return { n: size, data };
}

/**
 * ‖G − R‖_F / ‖R‖_F: how far a Gram built in float32 (on an execution provider) is from
 * the float64 reference R of the same features. Every statistic here is bilinear in the
 * Grams, so this bounds their error relative to their scale. Null when R is zero (the
 * features were constant over the rows): there is nothing to be relatively wrong about.
 */
export function relativeGramError(reference: Gram, other: Gram): number | null {
  assertGram(reference, 'reference Gram');
  assertGram(other, 'Gram');
  if (other.n !== reference.n) throw new StatisticsError(`Grams of ${reference.n} and ${other.n} rows cannot be compared`);
  let norm = 0;
  let diff = 0;
  for (let i = 0; i < reference.data.length; i++) {
    const r = reference.data[i]!;
    const d = other.data[i]! - r;
    norm += r * r;
    diff += d * d;
  }
  if (norm === 0) return null;
  const error = Math.sqrt(diff / norm);
  // A NaN or infinite entry on the device is as wrong as a Gram can be.
  return Number.isFinite(error) ? error : Number.POSITIVE_INFINITY;
}
