import { driftBatch, effectiveBatches, type DriftSums } from '../cka/drift.js';
import { STATISTICS, type Statistic } from '../cka/statistic.js';
import { judgeWindow, type Alarm } from '../calibration/alarm.js';
import { calibrate, MIN_CALIBRATION_BATCHES, type Calibration } from '../calibration/calibrate.js';
import { thresholdAt } from '../calibration/thresholds.js';
import { DataError } from '../errors/index.js';
import { createPrng, deriveSeed } from '../reference/prng.js';
import { gatherRows, type Dataset, type GramModel, type LayerDrift, type Progress } from './compare.js';

/*
 * A calibrated verdict for `compare --data-b`, with the daemon's machinery (calibration/):
 *
 *   A ──per null batch: n + m distinct rows of A (seeded)──▶ first n as production, last m
 *       as reference ──model──▶ driftBatch (the bandwidths B is scored with) ──▶ null sums
 *   ──calibrate()──▶ null tails per window length ──┐
 *   B against A (compareDrift: every batch of B, a short last one by its pairs) ──▶ window
 *   sums ──judgeWindow()──▶ per layer and statistic a p-value; the model's alarm and cause
 *
 * Null batches are A against itself, disjoint within each batch, drawn afresh per batch as
 * the daemon's draws scheme does (calibration/null-batches.ts): fixed halves of A would
 * differ by their own sampling error, which B against all of A does not share. That A
 * itself is a finite sample (an offset every batch of B shares) enters through the
 * calibration's floor (sizes.reference = rows of A).
 */

/** Null batches run by default: 200 gives the tails enough resamples for α down to about 1%. */
export const DEFAULT_NULL_BATCHES = 200;

export interface VerdictOptions {
  /** level of each series' test and of the model's alarm, 0 < α < 0.5 */
  readonly alpha: number;
  /** null batches to run (at least MIN_CALIBRATION_BATCHES) */
  readonly nullBatches: number;
  readonly seed: number;
  readonly batchSize: number;
  /** reference rows per batch, as compareDrift used */
  readonly m: number;
  readonly gammas: readonly number[];
}

export interface SeriesVerdict {
  readonly layer: string;
  readonly statistic: Statistic;
  readonly value: number | null;
  /** the value at which the p-value is α for a window as long as B's; null when not calibrated */
  readonly threshold: number | null;
  readonly pValue: number | null;
  readonly drift: boolean;
}

export interface Verdict {
  readonly alpha: number;
  readonly nullBatches: number;
  /** B's window length in full batches (MMD² weights) */
  readonly effectiveBatches: number;
  readonly series: SeriesVerdict[];
  /** the model-level verdict (calibrated over every layer and statistic at once); null when no series has a p-value */
  readonly alarm: Alarm | null;
  readonly calibration: Calibration;
}

/** Null batch sums per layer: A against itself, n + m distinct rows per batch. */
export async function nullBatches(model: GramModel, reference: Dataset, o: VerdictOptions, progress: Progress = () => {}): Promise<DriftSums[][]> {
  const { batchSize: n, m } = o;
  if (reference.count < n + m) {
    throw new DataError(`${reference.name}: ${reference.count} samples; a verdict's null batches draw ${n} + ${m} distinct ones: lower --batch-size`);
  }
  if (!(o.nullBatches >= MIN_CALIBRATION_BATCHES)) throw new DataError(`--null-batches must be at least ${MIN_CALIBRATION_BATCHES}, got ${o.nullBatches}`);
  const prng = createPrng(deriveSeed(o.seed, 3));
  const indices = Int32Array.from({ length: reference.count }, (_, i) => i);
  const perLayer: DriftSums[][] = model.layers.map(() => []);
  for (let b = 0; b < o.nullBatches; b++) {
    // A partial Fisher-Yates: the first n + m entries are a uniform draw without replacement.
    for (let i = 0; i < n + m; i++) {
      const j = i + prng.below(reference.count - i);
      [indices[i], indices[j]] = [indices[j]!, indices[i]!];
    }
    const grams = await model.grams(gatherRows(reference, indices.subarray(0, n + m)), n + m);
    grams.forEach((g, l) => perLayer[l]!.push(driftBatch(g, n, o.gammas[l]!)));
    progress(b + 1, o.nullBatches);
  }
  return perLayer;
}

/** Calibrates on null batches of A and judges B's window against it. */
export async function verdictOf(
  model: GramModel,
  reference: Dataset,
  layers: readonly LayerDrift[],
  o: VerdictOptions,
  progress: Progress = () => {},
): Promise<Verdict> {
  const perLayer = await nullBatches(model, reference, o, progress);
  const k = effectiveBatches(layers[0]!.sums, o.batchSize).mmd;
  const calibration = calibrate(
    model.layers.map((layer, l) => ({ layer, batches: perLayer[l]! })),
    {
      falseAlarmRate: o.alpha,
      alarmRate: o.alpha,
      seed: o.seed,
      // Tails up to B's own length (fewer lengths, quicker); at least 1.
      maxBatches: Math.max(1, Math.min(64, Math.ceil(k))),
      sizes: { n: o.batchSize, m: o.m, reference: reference.count },
    },
  );
  const { pValues, alarm } = judgeWindow(calibration, layers.map((l) => ({ layer: l.layer, sums: l.sums })));
  const series: SeriesVerdict[] = layers.flatMap((l) => {
    const calibrated = calibration.layers.find((c) => c.layer === l.layer)?.statistics ?? {};
    const values: Record<Statistic, number | null> = { cka: l.cka, mmd2_linear: l.mmd2Linear, mmd2_rbf: l.mmd2Rbf };
    return STATISTICS.map((statistic) => {
      const c = calibrated[statistic];
      const p = pValues.find((v) => v.layer === l.layer && v.statistic === statistic)?.pValue ?? null;
      const threshold = c ? (thresholdAt(calibration, statistic, c, l.sums) ?? null) : null;
      return { layer: l.layer, statistic, value: values[statistic], threshold, pValue: p, drift: p !== null && p < o.alpha };
    });
  });
  return { alpha: o.alpha, nullBatches: o.nullBatches, effectiveBatches: k, series, alarm, calibration };
}
