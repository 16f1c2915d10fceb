import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDrift, driftScores, EMPTY_DRIFT, type DriftSums } from '../../src/cka/drift.js';
import { calibrate, referenceRatio, type Calibration } from '../../src/calibration/calibrate.js';
import { normalQuantile } from '../../src/calibration/normal.js';
import { nonIncreasing, quantileSorted } from '../../src/calibration/quantile.js';
import { thresholdAt, thresholdsFor } from '../../src/calibration/thresholds.js';
import { isDrifting, STATISTICS } from '../../src/cka/statistic.js';
import { nullBatches } from './synthetic.js';

const layer = (batches: DriftSums[], name = 'l'): { layer: string; batches: DriftSums[] } => ({ layer: name, batches });

describe('quantileSorted and nonIncreasing', () => {
  it('interpolates between order statistics (type 7)', () => {
    const v = Float64Array.from([1, 2, 3, 4, 5]);
    expect(quantileSorted(v, 0)).toBe(1);
    expect(quantileSorted(v, 1)).toBe(5);
    expect(quantileSorted(v, 0.5)).toBe(3);
    expect(quantileSorted(v, 0.1)).toBeCloseTo(1.4, 12);
    expect(quantileSorted(new Float64Array(0), 0.5)).toBeNaN();
  });

  it('PAVA: non-increasing, same total, unchanged when already non-increasing', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 40 }), (values) => {
        const fit = nonIncreasing(values);
        for (let i = 1; i < fit.length; i++) expect(fit[i]!).toBeLessThanOrEqual(fit[i - 1]! + 1e-12);
        const sum = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => s + v, 0);
        expect(sum(fit)).toBeCloseTo(sum(values), 8);
        const sorted = [...values].sort((a, b) => b - a);
        expect(Array.from(nonIncreasing(sorted))).toEqual(sorted);
      }),
    );
  });
});

describe('normalQuantile', () => {
  it('matches tabulated values', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
    expect(normalQuantile(0.95)).toBeCloseTo(1.6448536269514722, 8);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.99)).toBeCloseTo(2.3263478740408408, 8);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167813, 7);
    expect(normalQuantile(0.3)).toBeCloseTo(-normalQuantile(0.7), 12);
  });
});

describe('calibrate', () => {
  const alpha = 0.05;

  it('moves every threshold monotonically towards the null centre as the window grows', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 16, max: 120 }),
        fc.constantFrom(0.01, 0.05, 0.2),
        (seed, count, rate) => {
          const c = calibrate([layer(nullBatches(seed, count))], { falseAlarmRate: rate, seed, maxBatches: 24, replicates: 300 });
          for (const statistic of STATISTICS) {
            const s = c.layers[0]!.statistics[statistic]!;
            let previous = thresholdAt(s, 1)!;
            for (let k = 2; k <= 200; k++) {
              const t = thresholdAt(s, k)!;
              if (statistic === 'cka') {
                expect(t).toBeGreaterThanOrEqual(previous - 1e-15);
                expect(t).toBeLessThanOrEqual(s.centre);
              } else {
                expect(t).toBeLessThanOrEqual(previous + 1e-15);
                expect(t).toBeGreaterThanOrEqual(s.centre);
              }
              previous = t;
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('achieves about the configured false-alarm rate on fresh null windows, short and long', () => {
    // Twenty independent calibrations (B = 300 batches each), each judged on fresh windows:
    // the rate averaged over calibrations is what the floor term promises for long windows.
    const lengths = [1, 4, 16, 64, 256];
    const runs = 20;
    const windowsPerLength = 300;
    const alarms = new Map(lengths.map((k) => [k, { cka: 0, mmd2_linear: 0, mmd2_rbf: 0 }]));
    for (let run = 0; run < runs; run++) {
      const c = calibrate([layer(nullBatches(100 + run, 300))], { falseAlarmRate: alpha, seed: run + 1, replicates: 2000 });
      const fresh = nullBatches(900 + run, 256 * windowsPerLength);
      for (const k of lengths) {
        const thresholds = thresholdsFor(c, 'l', k);
        for (let w = 0; w < windowsPerLength; w++) {
          const scores = driftScores(fresh.slice(w * k, (w + 1) * k).reduce(addDrift, EMPTY_DRIFT));
          const values = { cka: scores.cka!, mmd2_linear: scores.mmd2Linear!, mmd2_rbf: scores.mmd2Rbf! };
          for (const statistic of STATISTICS) {
            if (isDrifting(statistic, values[statistic], thresholds[statistic]!)) alarms.get(k)![statistic] += 1;
          }
        }
      }
    }
    const rates = [...alarms].flatMap(([k, counts]) => STATISTICS.map((statistic) => ({ k, statistic, rate: counts[statistic] / (runs * windowsPerLength) })));
    // 6000 windows each: binomial sd 0.003 at α = 0.05; the rest is calibration error.
    expect(rates.filter(({ rate }) => !(rate > 0.035 && rate < 0.065))).toEqual([]);
  });

  it('still flags a drifted window', () => {
    const c = calibrate([layer(nullBatches(1, 200))], { falseAlarmRate: alpha, seed: 1 });
    const drifted = nullBatches(2, 16, 0.2).reduce(addDrift, EMPTY_DRIFT);
    const t = thresholdsFor(c, 'l', drifted.batches);
    const s = driftScores(drifted);
    expect(s.cka!).toBeLessThan(t.cka!);
    expect(s.mmd2Linear!).toBeGreaterThan(t.mmd2_linear!);
    expect(s.mmd2Rbf!).toBeGreaterThan(t.mmd2_rbf!);
  });

  it('is deterministic given the seed', () => {
    const batches = [layer(nullBatches(7, 64), 'a'), layer(nullBatches(8, 64), 'b')];
    const options = { falseAlarmRate: 0.01, seed: 42, replicates: 500 };
    expect(calibrate(batches, options)).toEqual(calibrate(batches, options));
    const other = calibrate(batches, { ...options, seed: 43 });
    expect(other.layers[0]!.statistics.cka!.deviations).not.toEqual(calibrate(batches, options).layers[0]!.statistics.cka!.deviations);
  });

  it('widens long windows for the finite reference (floor) and shrinks short ones like 1/sqrt(K)', () => {
    const batches = [layer(nullBatches(3, 200))];
    const plain = calibrate(batches, { falseAlarmRate: alpha, seed: 1 }).layers[0]!.statistics.mmd2_linear!;
    const sizes = { n: 64, m: 64, reference: 200 };
    const finite = calibrate(batches, { falseAlarmRate: alpha, seed: 1, sizes }).layers[0]!.statistics.mmd2_linear!;
    expect(referenceRatio(sizes)).toBeCloseTo(0.005 / (2 / 64), 12);
    expect(finite.floor).toBeGreaterThan(plain.floor);
    expect(thresholdAt(finite, 10_000)! - finite.centre).toBeGreaterThan(thresholdAt(plain, 10_000)! - plain.centre);
    // Beyond the grid (64), the bootstrapped part of the distance halves as K quadruples.
    const part = (k: number): number => Math.sqrt((thresholdAt(plain, k)! - plain.centre) ** 2 - plain.floor ** 2);
    expect(part(64)).toBeCloseTo(plain.deviations[63]!, 12);
    expect(part(256) / part(64)).toBeCloseTo(0.5, 9);
    expect(thresholdAt(plain, 0)).toBeUndefined();
  });

  it('refuses unusable input with messages that say what to change', () => {
    expect(() => calibrate([layer(nullBatches(1, 5))], { falseAlarmRate: alpha, seed: 1 })).toThrowErrorMatchingInlineSnapshot(
      `[StatisticsError: layer l: 5 calibration batches, at least 8 needed]`,
    );
    expect(() => calibrate([layer(nullBatches(1, 20))], { falseAlarmRate: 0.5, seed: 1 })).toThrowErrorMatchingInlineSnapshot(
      `[StatisticsError: false-alarm rate must be above 0 and below 0.5, got 0.5]`,
    );
    expect(() => calibrate([layer(nullBatches(1, 20), 'a'), layer(nullBatches(1, 21), 'b')], { falseAlarmRate: alpha, seed: 1 })).toThrowErrorMatchingInlineSnapshot(
      `[StatisticsError: layer b: 21 calibration batches, other layers have 20]`,
    );
  });
});

describe('thresholdsFor', () => {
  const c: Calibration = calibrate([layer(nullBatches(5, 50), 'a'), layer(nullBatches(6, 50), 'b')], { falseAlarmRate: 0.05, seed: 1, replicates: 500 });

  it('gives each statistic its threshold for the window length, static ones overriding', () => {
    const t = thresholdsFor(c, 'a', 8, { a: { cka: 0.9, mmd2_rbf: undefined } });
    expect(t.cka).toBe(0.9);
    expect(t.mmd2_linear).toBe(thresholdAt(c.layers[0]!.statistics.mmd2_linear!, 8));
    expect(t.mmd2_rbf).toBe(thresholdAt(c.layers[0]!.statistics.mmd2_rbf!, 8));
  });

  it('has nothing for an empty window or an unknown layer, except static thresholds', () => {
    expect(thresholdsFor(c, 'a', 0)).toEqual({});
    expect(thresholdsFor(null, 'x', 3, { x: { mmd2_linear: 0.5 } })).toEqual({ mmd2_linear: 0.5 });
    expect(thresholdsFor(c, '__proto__', 3)).toEqual({});
  });
});
