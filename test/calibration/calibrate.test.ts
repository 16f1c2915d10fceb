import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addDrift, batchWeights, driftScores, effectiveBatches, EMPTY_DRIFT, fullWindowWeights, type DriftSums } from '../../src/cka/drift.js';
import { judgeWindow } from '../../src/calibration/alarm.js';
import { pValue } from '../../src/calibration/pvalue.js';
import { calibrate, calibrationSteps, referenceOffsets, type Calibration } from '../../src/calibration/calibrate.js';
import { thresholdAt, thresholdsFor } from '../../src/calibration/thresholds.js';
import { isDrifting, STATISTICS } from '../../src/cka/statistic.js';
import { nullBatches } from './synthetic.js';

const layer = (batches: DriftSums[], name = 'l'): { layer: string; batches: DriftSums[] } => ({ layer: name, batches });

describe('calibrate', () => {
  const alpha = 0.05;
  const full = (k: number): ReturnType<typeof fullWindowWeights> => fullWindowWeights(k, 64);

  it('moves every threshold towards the null centre as the window grows, never past it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 16, max: 120 }), fc.constantFrom(0.01, 0.05, 0.2), (seed, count, rate) => {
        const c = calibrate([layer(nullBatches(seed, count))], { falseAlarmRate: rate, seed, maxBatches: 24, replicates: 300 });
        for (const statistic of STATISTICS) {
          const s = c.layers[0]!.statistics[statistic]!;
          const distance = (k: number): number => Math.abs(thresholdAt(c, statistic, s, full(k))! - s.centre);
          const side = (k: number): boolean => (statistic === 'cka' ? thresholdAt(c, statistic, s, full(k))! <= s.centre : thresholdAt(c, statistic, s, full(k))! >= s.centre);
          for (const k of [1, 4, 24, 200]) expect(side(k)).toBe(true);
          expect(distance(4)).toBeLessThanOrEqual(distance(1));
          expect(distance(24)).toBeLessThanOrEqual(distance(4));
          expect(distance(200)).toBeLessThanOrEqual(distance(24));
          expect(distance(200)).toBeLessThan(distance(1));
        }
      }),
      { numRuns: 20 },
    );
  });

  it('achieves about the configured false-alarm rate on fresh null windows, short and long, and its p-values are uniform', () => {
    // Twenty independent calibrations (B = 300 batches each), each judged on fresh windows.
    const lengths = [1, 4, 16, 64, 256];
    const runs = 20;
    const windowsPerLength = 300;
    const alarms = new Map(lengths.map((k) => [k, { cka: 0, mmd2_linear: 0, mmd2_rbf: 0 }]));
    const below = { p05: 0, p20: 0, all: 0 };
    for (let run = 0; run < runs; run++) {
      const c = calibrate([layer(nullBatches(100 + run, 300))], { falseAlarmRate: alpha, seed: run + 1, replicates: 2000 });
      const fresh = nullBatches(900 + run, 256 * windowsPerLength);
      for (const k of lengths) {
        const thresholds = thresholdsFor(c, 'l', full(k));
        for (let w = 0; w < windowsPerLength; w++) {
          const sums = fresh.slice(w * k, (w + 1) * k).reduce(addDrift, EMPTY_DRIFT);
          const scores = driftScores(sums);
          const values = { cka: scores.cka!, mmd2_linear: scores.mmd2Linear!, mmd2_rbf: scores.mmd2Rbf! };
          for (const statistic of STATISTICS) {
            if (isDrifting(statistic, values[statistic], thresholds[statistic]!)) alarms.get(k)![statistic] += 1;
            const p = pValue(c.layers[0]!.statistics[statistic]!, c.lengths, values[statistic], k);
            below.all += 1;
            if (p < 0.05) below.p05 += 1;
            if (p < 0.2) below.p20 += 1;
          }
        }
      }
    }
    const rates = [...alarms].flatMap(([k, counts]) => STATISTICS.map((statistic) => ({ k, statistic, rate: counts[statistic] / (runs * windowsPerLength) })));
    // 6000 windows each: binomial sd 0.003 at α = 0.05; the rest is calibration error.
    expect(rates.filter(({ rate }) => !(rate > 0.025 && rate < 0.075))).toEqual([]);
    expect(below.p05 / below.all).toBeGreaterThan(0.03);
    expect(below.p05 / below.all).toBeLessThan(0.07);
    expect(below.p20 / below.all).toBeGreaterThan(0.15);
    expect(below.p20 / below.all).toBeLessThan(0.25);
  });

  it('calibrates one alarm over every layer and statistic: its level lies between Bonferroni and the per-series rate, and it fires as often as configured', () => {
    const names = ['a', 'b', 'c'];
    const runs = 10;
    const windows = 400;
    let fired = 0;
    for (let run = 0; run < runs; run++) {
      const c = calibrate(names.map((n, i) => layer(nullBatches(300 + 10 * run + i, 300), n)), { falseAlarmRate: alpha, alarmRate: alpha, seed: run + 1, replicates: 2000 });
      for (const level of c.alarm.levels) {
        expect(level).toBeLessThanOrEqual(alpha);
        expect(level).toBeGreaterThanOrEqual(alpha / (3 * names.length) / 2);
      }
      const fresh = names.map((_, i) => nullBatches(700 + 10 * run + i, 4 * windows));
      for (let w = 0; w < windows; w++) {
        const sums = names.map((n, i) => ({ layer: n, sums: fresh[i]!.slice(w * 4, (w + 1) * 4).reduce(addDrift, EMPTY_DRIFT) }));
        const judged = judgeWindow(c, sums);
        expect(judged.pValues).toHaveLength(9);
        if (judged.alarm!.on) fired += 1;
        expect(judged.alarm!.on).toBe(judged.alarm!.score > 0);
      }
    }
    // 4000 windows: binomial sd 0.0034 at 5%.
    expect(fired / (runs * windows)).toBeGreaterThan(0.03);
    expect(fired / (runs * windows)).toBeLessThan(0.075);
  });

  it('runs in steps that pause after every layer and every alarm length, to the same calibration', () => {
    const perLayer = ['a', 'b', 'c'].map((n, i) => layer(nullBatches(60 + i, 40), n));
    const options = { falseAlarmRate: alpha, seed: 5, replicates: 300, maxBatches: 16 };
    const steps = calibrationSteps(perLayer, options);
    let pauses = 0;
    let step = steps.next();
    for (; !step.done; step = steps.next()) pauses += 1;
    expect(pauses).toBe(perLayer.length + step.value.lengths.length);
    expect(step.value).toEqual(calibrate(perLayer, options));
  });

  it('draws the floors of all series together: a layer twice over gets the alarm level of the layer once', () => {
    // Two copies of one layer are one series each, perfectly correlated. The floor (here a
    // small reference, so it dominates long windows) must shift both alike; drawn
    // independently per series, the copies would disagree and pull the level down.
    const batches = nullBatches(41, 200);
    const options = { falseAlarmRate: alpha, seed: 3, replicates: 1000, sizes: { n: 64, m: 2048, reference: 300 } };
    const once = calibrate([layer(batches, 'a')], options);
    const twice = calibrate([layer(batches, 'a'), layer(batches, 'b')], options);
    expect(twice.layers[1]!.statistics.cka!.floor).toBeGreaterThan(twice.layers[1]!.statistics.cka!.sd);
    twice.alarm.levels.forEach((level, i) => expect(level).toBeCloseTo(once.alarm.levels[i]!, 12));
  });

  it('still flags a drifted window, in the alarm too, naming a drifted series', () => {
    const c = calibrate([layer(nullBatches(1, 200)), layer(nullBatches(9, 200), 'quiet')], { falseAlarmRate: alpha, seed: 1 });
    const drifted = nullBatches(2, 16, 0.2).reduce(addDrift, EMPTY_DRIFT);
    const t = thresholdsFor(c, 'l', drifted);
    const s = driftScores(drifted);
    expect(s.cka!).toBeLessThan(t.cka!);
    expect(s.mmd2Linear!).toBeGreaterThan(t.mmd2_linear!);
    expect(s.mmd2Rbf!).toBeGreaterThan(t.mmd2_rbf!);
    const judged = judgeWindow(c, [
      { layer: 'l', sums: drifted },
      { layer: 'quiet', sums: nullBatches(3, 16).reduce(addDrift, EMPTY_DRIFT) },
    ]);
    expect(judged.alarm!.on).toBe(true);
    expect(judged.alarm!.cause.layer).toBe('l');
  });

  it('weighs a partial batch by its pairs: half a batch counts as a quarter of a full one', () => {
    expect(effectiveBatches(batchWeights(32), 64).mmd).toBeCloseTo((32 * 31) / (64 * 63), 12);
    expect(effectiveBatches(fullWindowWeights(5, 64), 64)).toEqual({ cka: 5, mmd: 5 });
    const c = calibrate([layer(nullBatches(4, 200))], { falseAlarmRate: alpha, seed: 1 });
    const s = c.layers[0]!.statistics.mmd2_linear!;
    // A lighter window's threshold lies farther out, continuously from K = 1 down.
    const at = (k: number): number => thresholdAt(c, 'mmd2_linear', s, { ckaWeight: k * 2016, mmdWeight: k * 2016 })!;
    expect(at(0.25)).toBeGreaterThan(at(0.999));
    expect(at(0.999)).toBeCloseTo(at(1), 3);
  });

  it('is deterministic given the seed', () => {
    const batches = [layer(nullBatches(7, 64), 'a'), layer(nullBatches(8, 64), 'b')];
    const options = { falseAlarmRate: 0.01, seed: 42, replicates: 500 };
    expect(calibrate(batches, options)).toEqual(calibrate(batches, options));
    const other = calibrate(batches, { ...options, seed: 43 });
    expect(other.layers[0]!.statistics.cka!.tails).not.toEqual(calibrate(batches, options).layers[0]!.statistics.cka!.tails);
  });

  it('widens long windows for the finite reference (floor); beyond the tabulated lengths the spread shrinks like 1/sqrt(K) down to it', () => {
    const batches = [layer(nullBatches(3, 200))];
    const plain = calibrate(batches, { falseAlarmRate: alpha, seed: 1 });
    const finite = calibrate(batches, { falseAlarmRate: alpha, seed: 1, sizes: { n: 64, m: 64, reference: 200 } });
    for (const statistic of STATISTICS) {
      const p = plain.layers[0]!.statistics[statistic]!;
      const f = finite.layers[0]!.statistics[statistic]!;
      expect(f.floor).toBeGreaterThanOrEqual(p.floor);
      expect(Math.abs(thresholdAt(finite, statistic, f, full(10_000))! - f.centre)).toBeGreaterThanOrEqual(Math.abs(thresholdAt(plain, statistic, p, full(10_000))! - p.centre));
    }
    // cka's covariance terms are not degenerate: the reference's offset is n/N of a batch's variance.
    expect(referenceOffsets({ n: 64, m: 64, reference: 200 }).cka).toBeCloseTo(0.32, 12);
    const s = plain.layers[0]!.statistics.mmd2_linear!;
    const distance = (k: number): number => thresholdAt(plain, 'mmd2_linear', s, full(k))! - s.centre - (s.mean * 64) / k;
    const z = 1.6448536269514722; // Φ⁻¹(1 − α) at α = 0.05
    expect(distance(1e9)).toBeCloseTo(z * s.floor, 6);
    expect(thresholdAt(plain, 'mmd2_linear', s, full(0))).toBeUndefined();
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
  const eight = fullWindowWeights(8, 64);

  it('gives each statistic its threshold for the window, static ones overriding', () => {
    const t = thresholdsFor(c, 'a', eight, { a: { cka: 0.9, mmd2_rbf: undefined } });
    expect(t.cka).toBe(0.9);
    expect(t.mmd2_linear).toBe(thresholdAt(c, 'mmd2_linear', c.layers[0]!.statistics.mmd2_linear!, eight));
    expect(t.mmd2_rbf).toBe(thresholdAt(c, 'mmd2_rbf', c.layers[0]!.statistics.mmd2_rbf!, eight));
  });

  it('has nothing for an empty window or an unknown layer, except static thresholds', () => {
    expect(thresholdsFor(c, 'a', EMPTY_DRIFT)).toEqual({});
    expect(thresholdsFor(null, 'x', eight, { x: { mmd2_linear: 0.5 } })).toEqual({ mmd2_linear: 0.5 });
    expect(thresholdsFor(c, '__proto__', eight)).toEqual({});
  });
});
