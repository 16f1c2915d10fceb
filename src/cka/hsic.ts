import { StatisticsError } from '../errors/index.js';
import { assertGram, assertMinSamples, type Gram } from './gram.js';

/**
 * Unbiased HSIC (Song et al. 2012) in two equal forms, both O(n²):
 *
 *   HSIC1(K, L) = [ tr(K~L~) + (1'K~1)(1'L~1)/((n-1)(n-2)) - 2/(n-2) 1'K~L~1 ] / (n(n-3))
 *
 * with K~ = K with a zero diagonal; and the U-centering form (Szekely & Rizzo 2014)
 *
 *   HSIC1(K, L) = <U(K), U(L)>_F / (n(n-3)).
 *
 * The U-centered form is the one ckawatch uses: it subtracts row and column means
 * before the products (less float cancellation), gives HSIC1(K, K) = ||U(K)||² / (n(n-3)) >= 0
 * by construction, and lets one U-centered matrix per layer serve every pair of layers.
 */

/**
 * What U-centering subtracts from an n×n matrix stored with row stride `stride` (n for a
 * Gram, n + 4 for the rows a pool head returns): u(i, j) = k(i, j) − (rows[i] + cols[j])·a + t
 * off the diagonal, with rows and cols the off-diagonal row and column sums.
 */
export interface UCentring {
  readonly rows: Float64Array;
  readonly cols: Float64Array;
  readonly a: number;
  readonly t: number;
}

export function uCentring(data: ArrayLike<number>, n: number, stride: number, what: string): UCentring {
  const rows = new Float64Array(n);
  const cols = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const v = data[i * stride + j]!;
      rows[i]! += v;
      cols[j]! += v;
    }
    total += rows[i]!;
  }
  if (!Number.isFinite(total)) throw new StatisticsError(`${what}: contains NaN or infinite values`);
  return { rows, cols, a: 1 / (n - 2), t: total / ((n - 1) * (n - 2)) };
}

/** U-centering of a square matrix: zero diagonal, off-diagonal entries with row, column and total sums removed. */
export function uCenter(k: Gram, what = 'Gram matrix'): Float64Array {
  assertGram(k, what);
  const { n, data } = k;
  assertMinSamples(n, what);
  const { rows, cols, a, t } = uCentring(data, n, n, what);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i !== j) out[i * n + j] = data[i * n + j]! - (rows[i]! + cols[j]!) * a + t;
    }
  }
  return out;
}

/** HSIC1 from two U-centered n×n matrices (see uCenter). */
export function hsicOfCentered(ku: Float64Array, lu: Float64Array, n: number): number {
  if (ku.length !== n * n || lu.length !== n * n) {
    throw new StatisticsError(`U-centered matrices must both be ${n}×${n}: got ${ku.length} and ${lu.length} values`);
  }
  let s = 0;
  for (let i = 0; i < ku.length; i++) s += ku[i]! * lu[i]!;
  return s / (n * (n - 3));
}

/** Unbiased HSIC of two Grams on the same n samples, U-centering form. */
export function hsic(k: Gram, l: Gram): number {
  if (k.n !== l.n) throw new StatisticsError(`HSIC needs Grams of the same samples: got ${k.n} and ${l.n} rows`);
  return hsicOfCentered(uCenter(k, 'K'), uCenter(l, 'L'), k.n);
}

/** Unbiased HSIC of two Grams, Song et al.'s form; kept as the independent check of `hsic`. */
export function hsicSong(k: Gram, l: Gram): number {
  assertGram(k, 'K');
  assertGram(l, 'L');
  if (k.n !== l.n) throw new StatisticsError(`HSIC needs Grams of the same samples: got ${k.n} and ${l.n} rows`);
  const n = k.n;
  assertMinSamples(n, 'HSIC');
  const kRow = new Float64Array(n);
  const kCol = new Float64Array(n);
  const lRow = new Float64Array(n);
  let trace = 0;
  let kSum = 0;
  let lSum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const kv = k.data[i * n + j]!;
      const lv = l.data[i * n + j]!;
      trace += kv * l.data[j * n + i]!;
      kRow[i]! += kv;
      kCol[j]! += kv;
      lRow[i]! += lv;
      kSum += kv;
      lSum += lv;
    }
  }
  let cross = 0; // 1'K~L~1 = sum_j (1'K~)_j (L~1)_j
  for (let j = 0; j < n; j++) cross += kCol[j]! * lRow[j]!;
  const value = (trace + (kSum * lSum) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * cross) / (n * (n - 3));
  if (!Number.isFinite(value)) throw new StatisticsError('HSIC: Gram matrices contain NaN or infinite values');
  return value;
}
