/** Small dense helpers for the math-core tests: seeded normals, products, orthogonal matrices. */
import { driftBatch } from '../../src/cka/drift.js';
import { asGram } from '../../src/cka/pool.js';
import type { BatchReference } from '../../src/daemon/pipeline-deps.js';
import { rng } from './random.js';

export function normals(seed: number, count: number): Float64Array {
  const u = rng(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u() || 1e-300));
    const t = 2 * Math.PI * u();
    out[i] = r * Math.cos(t);
    if (i + 1 < count) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** (n×k) · (k×d) */
export function matmul(a: Float64Array, b: Float64Array, n: number, k: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      const v = a[i * k + p]!;
      for (let j = 0; j < d; j++) out[i * d + j]! += v * b[p * d + j]!;
    }
  }
  return out;
}

/** A random d×d orthogonal matrix (Gram-Schmidt on Gaussian columns). */
export function orthogonal(seed: number, d: number): Float64Array {
  const q = normals(seed, d * d);
  for (let c = 0; c < d; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let r = 0; r < d; r++) dot += q[r * d + c]! * q[r * d + p]!;
      for (let r = 0; r < d; r++) q[r * d + c]! -= dot * q[r * d + p]!;
    }
    let norm = 0;
    for (let r = 0; r < d; r++) norm += q[r * d + c]! ** 2;
    norm = Math.sqrt(norm);
    for (let r = 0; r < d; r++) q[r * d + c]! /= norm;
  }
  return q;
}

/** Uncentred linear-kernel Gram X X' (what a naive implementation computes). */
export function rawGram(x: Float64Array | Float32Array, n: number, d: number): { n: number; data: Float64Array } {
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += x[i * d + k]! * x[j * d + k]!;
      data[i * n + j] = s;
    }
  }
  return { n, data };
}

/** The uncentred Gram of n seeded standard-normal samples of d features. */
export function normalGram(seed: number, n: number, d: number): { n: number; data: Float64Array } {
  return rawGram(normals(seed, n * d), n, d);
}

/** Rows [from, to) of an n×d row-major matrix. */
export function rows(x: Float64Array, d: number, from: number, to: number): Float64Array {
  return x.slice(from * d, to * d);
}

/** Stack two row-major matrices with the same number of columns. */
export function stack(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Fresh-draws batch reference over fixed rows (the first m of `reference`, d values each), RBF gamma `gamma`. */
export function fixedDraws(reference: Float32Array, d: number, m: number, gamma: number): BatchReference {
  return {
    rows: m,
    draw: () => ({ rows: reference.slice(0, m * d), count: m, indices: Int32Array.from({ length: m }, (_, i) => i) }),
    score: (_layer, output, n, kernels) => driftBatch(asGram(output), n, gamma, kernels),
  };
}
