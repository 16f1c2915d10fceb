/**
 * compare --data-b's calibrated verdict on real digits through the digits CNN: disjoint
 * clean splits are called drift at about α, a rotation by 40° always. The fuller
 * measurement (60 splits of 1,000/500) is tools/compare-verdict.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/compare/verdict.js';
import { drifts } from '../../src/demo/drifts.js';
import type { TappedModel } from '../../src/model/tapped.js';
import { openDigitsModel, tally, verdictOnSplit, type SplitOptions } from './verdict-splits.js';

const SMALL: SplitOptions = { a: 600, b: 256, batchSize: 32, alpha: 0.05, nullBatches: 100 };
const SPLITS = [100, 101, 102, 103, 104, 105, 106, 107];

let model: TappedModel;
const clean: Verdict[] = [];

beforeAll(async () => {
  model = await openDigitsModel();
  for (const seed of SPLITS) clean.push(await verdictOnSplit(model, seed, SMALL));
}, 600_000);

afterAll(async () => {
  await model.close();
});

describe('compare --data-b verdict', () => {
  it('disjoint clean splits: the model-level verdict says drift on at most 2 of 8 (α = 0.05), and so does each series', () => {
    // 8 splits at α = 0.05: P(3 or more) = 0.6% when calibrated; a verdict that fires on a
    // third of clean splits passes with probability 0.1. Per series, not pooled over
    // series: the layers of one split move together (one split rejecting mmd2_linear in
    // all 4 layers is 4 of 32 tests), so a pooled rate over 8 splits says little.
    expect(tally(clean).alarms).toBeLessThanOrEqual(2);
    const series = clean[0]!.series.map((s, i) => ({ name: `${s.layer} ${s.statistic}`, rejected: clean.filter((v) => v.series[i]!.drift).length }));
    expect(series).toHaveLength(12); // four default layers × three statistics
    for (const { name, rejected } of series) expect(rejected, name).toBeLessThanOrEqual(2);
  });

  it('a series says drift exactly when its value is past its threshold, and p-values are in (0, 1]', () => {
    for (const v of clean) {
      for (const s of v.series) {
        expect(s.pValue).not.toBeNull();
        expect(s.pValue!).toBeGreaterThan(0);
        expect(s.pValue!).toBeLessThanOrEqual(1);
        const past = s.statistic === 'cka' ? s.value! < s.threshold! : s.value! > s.threshold!;
        expect(s.drift, `${s.layer} ${s.statistic}`).toBe(past);
      }
      // 12 series at once: the model's level is below α but above Bonferroni's α/12.
      expect(v.alarm!.level).toBeLessThan(0.05);
      expect(v.alarm!.level).toBeGreaterThan(0.05 / 12);
      expect(v.alarm!.on).toBe(v.alarm!.cause.pValue < v.alarm!.level);
    }
  });

  it('digits rotated by 40°: drift for the model and in most series', async () => {
    const v = await verdictOnSplit(model, SPLITS[0]!, SMALL, drifts.rotate(40));
    expect(v.alarm!.on).toBe(true);
    expect(v.alarm!.cause.pValue).toBeLessThan(1e-6);
    expect(v.series.filter((s) => s.drift).length).toBeGreaterThanOrEqual(12);
  }, 120_000);
});
