/**
 * The validation suite, trimmed for CI (the full run: `npx tsx tools/validate.ts`, results
 * in docs/validation/). Real digits, the real model, the daemon's calibrator, pipeline and
 * windows; about 15 s on two cores.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDigits } from '../../src/demo/digits.js';
import { STATISTICS } from '../../src/cka/statistic.js';
import { falseAlarmRate, runValidation, standardScenarios, type ValidationResult } from './harness.js';
import { detected } from './report.js';
import { DIGITS_MODEL } from '../helpers/fixtures.js';

const ALPHA = 0.05;
const K = 2;

let result: ValidationResult;

beforeAll(async () => {
  const all = standardScenarios(loadDigits());
  const keep = ['rotation 40°', 'brightness +0.2, contrast ×0.7', 'class prior: digits 0, 1, 7 only', 'OOD: inverted images', 'OOD: uniform noise images', 'gaussian noise σ=0.3'];
  result = await runValidation({
    modelPath: DIGITS_MODEL,
    // digits-cnn's default layers, named so that the trimmed run stays the same if the default moves.
    layers: ['/pool1/MaxPool_output_0', '/pool2/MaxPool_output_0', '/relu3/Relu_output_0', 'logits'],
    n: 64,
    m: 64,
    falseAlarmRate: ALPHA,
    calibrationBatches: 100,
    windowBatches: K,
    cleanWindows: 60,
    scenarios: all.filter((s) => keep.includes(s.name)),
    watchBatches: 4,
    repeats: 1,
    seed: 3,
  });
}, 300_000);

describe('validation on MNIST digits (trimmed)', () => {
  it('keeps the false-alarm rate on clean held-out digits within twice the configured rate', () => {
    const clean = result.clean[0]!;
    expect(clean.windows).toBe(60);
    // 60 windows × 4 layers × 3 statistics = 720 judgements (correlated across layers).
    expect(falseAlarmRate(clean)).toBeLessThanOrEqual(2 * ALPHA);
  });

  it('detects every injected drift, in most layers, within a few batches', () => {
    for (const scenario of new Set(result.detection.map((c) => c.scenario))) {
      const cells = result.detection.filter((c) => c.scenario === scenario);
      const caught = cells.filter((c) => detected(c, K) && c.delays[0] !== null && c.delays[0]! <= 4);
      // every drift here is strong: at least half of the layer/statistic series see it
      expect({ scenario, caught: caught.length >= cells.length / 2 }).toEqual({ scenario, caught: true });
    }
  });

  it('sees out-of-distribution inputs with every statistic in the deeper layers at once', () => {
    for (const scenario of ['OOD: inverted images', 'OOD: uniform noise images']) {
      for (const statistic of STATISTICS) {
        for (const layer of ['/pool2/MaxPool_output_0', '/relu3/Relu_output_0', 'logits']) {
          const c = result.detection.find((d) => d.scenario === scenario && d.layer === layer && d.statistic === statistic)!;
          expect({ scenario, statistic, layer, delay: c.delays[0] }).toEqual({ scenario, statistic, layer, delay: 1 });
        }
      }
    }
  });
});
