/**
 * `compare --data-b`'s verdict on disjoint clean splits of the digits (and on a drift):
 * the harness of test/compare/verdict.test.ts and tools/compare-verdict.ts.
 */
import { compareDrift, shuffled, type Dataset } from '../../src/compare/compare.js';
import { verdictOf, type Verdict } from '../../src/compare/verdict.js';
import { DIGIT_SIZE, gather, loadDigits, type Digits } from '../../src/demo/digits.js';
import type { Drift } from '../../src/demo/drifts.js';
import { TappedModel } from '../../src/model/tapped.js';
import { createPrng } from '../../src/reference/prng.js';
import { silentLogger } from '../../src/util/logger.js';
import { DIGITS_MODEL } from '../helpers/fixtures.js';

export interface SplitOptions {
  /** rows of A (the reference) and of B */
  readonly a: number;
  readonly b: number;
  readonly batchSize: number;
  readonly alpha: number;
  readonly nullBatches: number;
}

export const SPLIT_DEFAULTS: SplitOptions = { a: 1000, b: 500, batchSize: 64, alpha: 0.05, nullBatches: 200 };

let digits: Digits | undefined;

function dataset(name: string, indices: readonly number[], drift?: Drift, seed = 0): Dataset {
  digits ??= loadDigits();
  let data = gather(digits, indices);
  if (drift) {
    const prng = createPrng(seed);
    const random = (): number => prng.nextUint32() / 4294967296;
    for (let i = 0; i < indices.length; i++) data.set(drift(data.subarray(i * DIGIT_SIZE, (i + 1) * DIGIT_SIZE), random), i * DIGIT_SIZE);
  }
  return { name, count: indices.length, sampleSize: DIGIT_SIZE, data };
}

export async function openDigitsModel(): Promise<TappedModel> {
  return TappedModel.open({ path: DIGITS_MODEL, providers: ['cpu'], variant: 'auto', logger: silentLogger });
}

/** Split `seed`: A and B disjoint random rows of the ~10,000 digits; B drifted when asked. */
export async function verdictOnSplit(model: TappedModel, seed: number, o: SplitOptions = SPLIT_DEFAULTS, drift?: Drift): Promise<Verdict> {
  digits ??= loadDigits();
  const order = Array.from(shuffled(digits.count, 1_000 + seed));
  const a = dataset('a', order.slice(0, o.a));
  const b = dataset('b', order.slice(o.a, o.a + o.b), drift, seed);
  const r = await compareDrift(model, a, b, o.batchSize, () => {}, { seed });
  return verdictOf(model, a, r.layers, { alpha: o.alpha, nullBatches: o.nullBatches, seed, batchSize: o.batchSize, m: r.m, gammas: r.layers.map((l) => l.rbfGamma) });
}

export interface RejectionRates {
  readonly splits: number;
  /** splits where the model-level alarm was on */
  readonly alarms: number;
  /** per statistic: rejections over all layers and splits, and the number of tests */
  readonly perStatistic: Record<string, { rejections: number; tests: number }>;
}

export function tally(verdicts: readonly Verdict[]): RejectionRates {
  const perStatistic: Record<string, { rejections: number; tests: number }> = {};
  for (const v of verdicts) {
    for (const s of v.series) {
      if (s.pValue === null) continue;
      const t = (perStatistic[s.statistic] ??= { rejections: 0, tests: 0 });
      t.tests += 1;
      if (s.drift) t.rejections += 1;
    }
  }
  return { splits: verdicts.length, alarms: verdicts.filter((v) => v.alarm?.on === true).length, perStatistic };
}
