import { StatisticsError } from '../errors/index.js';
import type { Gram } from './gram.js';
import { hsicOfCentered, uCenter } from './hsic.js';

/**
 * Paired minibatch CKA (Nguyen, Raghu & Kornblith, ICLR 2021): two representations of
 * the SAME samples (two models, or two layers), accumulated over batches as
 *
 *   CKA = sum_b HSIC1(K_b, L_b) / sqrt( sum_b HSIC1(K_b, K_b) * sum_b HSIC1(L_b, L_b) ).
 *
 * The three sums are additive across batches, so a result is a ratio of sums, never a
 * mean of per-batch ratios.
 */
export interface PairedSums {
  readonly xy: number;
  readonly xx: number;
  readonly yy: number;
  readonly batches: number;
}

export const EMPTY_PAIRED: PairedSums = { xy: 0, xx: 0, yy: 0, batches: 0 };

export function addPaired(a: PairedSums, b: PairedSums): PairedSums {
  return { xy: a.xy + b.xy, xx: a.xx + b.xx, yy: a.yy + b.yy, batches: a.batches + b.batches };
}

/** The batch's contribution for two Grams of the same samples. */
export function pairedBatch(k: Gram, l: Gram): PairedSums {
  if (k.n !== l.n) throw new StatisticsError(`paired CKA needs the same samples: got ${k.n} and ${l.n} rows`);
  const ku = uCenter(k, 'K');
  const lu = uCenter(l, 'L');
  return {
    xy: hsicOfCentered(ku, lu, k.n),
    xx: hsicOfCentered(ku, ku, k.n),
    yy: hsicOfCentered(lu, lu, k.n),
    batches: 1,
  };
}

/**
 * CKA from accumulated sums; null where it is undefined (no batches, or a representation
 * with no variance), so that a caller never reports NaN.
 */
export function pairedCka(s: PairedSums): number | null {
  const denominator = Math.sqrt(s.xx * s.yy);
  if (s.batches === 0 || !(denominator > 0) || !Number.isFinite(s.xy)) return null;
  return s.xy / denominator;
}

/**
 * The CKA matrix between every layer of model A and every layer of model B over a
 * stream of batches (what torch_cka's `compare` computes). Each layer's Gram is
 * U-centered once per batch; each pair then costs one O(n²) inner product.
 */
export class CkaMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly #xy: Float64Array;
  readonly #xx: Float64Array;
  readonly #yy: Float64Array;
  #batches = 0;
  #samples = 0;

  constructor(rows: number, cols: number) {
    this.rows = rows;
    this.cols = cols;
    this.#xy = new Float64Array(rows * cols);
    this.#xx = new Float64Array(rows);
    this.#yy = new Float64Array(cols);
  }

  get batches(): number {
    return this.#batches;
  }

  get samples(): number {
    return this.#samples;
  }

  /** Adds one batch: Grams of model A's layers and model B's layers on the same samples. */
  add(gramsA: readonly Gram[], gramsB: readonly Gram[]): void {
    if (gramsA.length !== this.rows || gramsB.length !== this.cols) {
      throw new StatisticsError(
        `expected ${this.rows} and ${this.cols} Grams, got ${gramsA.length} and ${gramsB.length}`,
      );
    }
    const n = gramsA[0]?.n ?? gramsB[0]?.n ?? 0;
    for (const g of [...gramsA, ...gramsB]) {
      if (g.n !== n) throw new StatisticsError(`every Gram of a batch must be ${n}×${n}, got ${g.n}×${g.n}`);
    }
    const ua = gramsA.map((g, i) => uCenter(g, `model A layer ${i}`));
    const ub = gramsA === gramsB ? ua : gramsB.map((g, j) => uCenter(g, `model B layer ${j}`));
    const selfA = ua.map((u) => hsicOfCentered(u, u, n));
    const selfB = gramsA === gramsB ? selfA : ub.map((u) => hsicOfCentered(u, u, n));
    for (let i = 0; i < this.rows; i++) {
      this.#xx[i]! += selfA[i]!;
      for (let j = 0; j < this.cols; j++) {
        this.#xy[i * this.cols + j]! += gramsA === gramsB && i === j ? selfA[i]! : hsicOfCentered(ua[i]!, ub[j]!, n);
      }
    }
    for (let j = 0; j < this.cols; j++) this.#yy[j]! += selfB[j]!;
    this.#batches += 1;
    this.#samples += n;
  }

  /** The sums behind cell (i, j). */
  sums(i: number, j: number): PairedSums {
    return { xy: this.#xy[i * this.cols + j]!, xx: this.#xx[i]!, yy: this.#yy[j]!, batches: this.#batches };
  }

  /** CKA values, rows = model A layers; null where undefined. */
  values(): (number | null)[][] {
    return Array.from({ length: this.rows }, (_, i) =>
      Array.from({ length: this.cols }, (_, j) => pairedCka(this.sums(i, j))),
    );
  }
}
