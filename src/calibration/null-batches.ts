import { z } from 'zod';
import { driftBatch, driftPooled, type DriftSums } from '../cka/drift.js';
import { isPoolBatch, type LayerOutput, type PoolSummary } from '../cka/pool.js';
import { STATISTICS } from '../cka/statistic.js';
import { CkawatchError, DataError, StatisticsError } from '../errors/index.js';
import { createSampler, type ReferenceSampler } from '../reference/sampler.js';
import { deriveSeed } from '../reference/prng.js';
import type { Reference } from '../reference/reference.js';
import type { Logger } from '../util/logger.js';
import { runSteps } from '../util/steps.js';
import { calibrationSteps, MIN_CALIBRATION_BATCHES, referenceOffsets, type Calibration } from './calibrate.js';
import { resolvedRate } from './budget.js';

/*
 * Start-up (and reference-change) calibration of the drift thresholds.
 *
 * With a reference pool (the default), null batches are n held-out reference samples,
 * scored against the pool exactly as production batches are:
 *
 *   reference ──seeded split──▶ pool (features cached, see model/reference-pool.ts)
 *                           └─▶ held out ──per batch: n distinct samples──▶ model ──▶ Gram rows vs pool
 *   ──driftPooled──▶ per-layer null batch sums ──calibrate()──▶ thresholds(K)
 *
 * The pool is a finite sample, so it sits at some offset from the distribution it was
 * drawn from, and every production batch shares that offset. Null batches against the same
 * pool share it too, so the thresholds include it; the held-out part never meets the pool
 * within a batch, so no sample is compared with itself. (alibi-detect's online detectors
 * split their reference the same way.) Without a pool (reference.scheme: draws):
 *
 *   reference ──per batch: n + m distinct samples (seeded)──▶ first n: pseudo-production
 *                                                             last m:  reference draws
 *   [X; R] ──model──▶ Grams ──driftBatch (same RBF bandwidths as production)──▶
 *   per-layer null batch sums (B of them, bounded by a time limit) ──calibrate()──▶ thresholds(K)
 *
 * Within a batch the two parts are disjoint, so no sample is compared with itself. The
 * split is drawn afresh for every batch rather than fixed once (two halves): fixed halves
 * differ from each other by their own sampling error, an offset every calibration batch
 * would share and that production, drawing against the whole reference, does not have.
 */

/** What calibration needs from the model: TappedModel fits. */
export interface GramModel {
  readonly layers: readonly string[];
  run(samples: Float32Array, n: number): Promise<{ grams: LayerOutput[] }>;
}

export interface CalibrationRun {
  readonly model: GramModel;
  readonly reference: Reference;
  /** RBF gamma per layer: the ones production batches use */
  readonly gammas: readonly number[];
  /**
   * With a pool: its summary per layer (the model scores against it), and the held-out rows
   * null batches are drawn from. Without: each batch draws n + m rows of the whole reference.
   */
  readonly pool?: { readonly summaries: readonly PoolSummary[]; readonly heldOut: Int32Array } | undefined;
  /** production samples per batch (batch.size) and reference samples per batch (reference.samplesPerBatch) */
  readonly n: number;
  readonly m: number;
  /** null batches wanted, and how long they may take (at least MIN_CALIBRATION_BATCHES are always run) */
  readonly batches: number;
  readonly timeLimitMs: number;
  /** per-series level of the exported thresholds (calibration.falseAlarmRate) */
  readonly falseAlarmRate: number;
  /** the model alarm's per-window level (alarm.falseAlarmRate) */
  readonly alarmRate: number;
  /** with a false-page budget: null batches per simulated stream of the alarm's spells */
  readonly spellSteps?: number | undefined;
  /** reference.seed: the same seed, reference and model give the same thresholds */
  readonly seed: number;
  readonly logger: Logger;
  readonly now: () => number;
  /** stops between batches (shutdown) with a retriable CkawatchError */
  readonly signal?: AbortSignal | undefined;
}

/** What a calibration is valid for; a checkpoint's calibration is reused only when all of it matches. */
export interface CalibrationKey {
  readonly referenceSha256: string;
  readonly n: number;
  readonly m: number;
  readonly batches: number;
  readonly falseAlarmRate: number;
  readonly alarmRate: number;
  /** whether the alarm's spell rates were simulated (a false-page budget) */
  readonly spells: boolean;
  readonly seed: number;
  /** what each batch is compared with: 'draws', or the pool's size and sketch width ('pool 2048 sketch 1024') */
  readonly scheme: string;
  /** how the calibration was computed (CALIBRATION_METHOD): a newer method recalibrates */
  readonly method: number;
}

export interface StoredCalibration {
  readonly key: CalibrationKey;
  readonly calibration: Calibration;
}

const PROGRESS_EVERY_MS = 5_000;

/** Runs reference-against-reference batches and turns them into thresholds. */
export async function calibrateReference(o: CalibrationRun): Promise<Calibration> {
  const { model, reference, n, m, logger } = o;
  const size = reference.sampleSize;
  const pool = o.pool;
  const sampler: ReferenceSampler = createSampler(reference, deriveSeed(o.seed, 100), pool?.heldOut);
  const rows = pool ? n : n + m;
  if (sampler.pool.length < rows) {
    throw new DataError(
      pool
        ? `reference ${reference.name}: ${pool.heldOut.length} samples are held out of the pool for calibration, fewer than the ${n} of one batch: ` +
            'add samples, lower reference.pool or batch.size'
        : `reference ${reference.name} has ${reference.count} samples; calibration draws ${n} pseudo-production and ${m} reference ` +
            `samples per batch, all distinct, so it needs at least ${n + m}: add samples, or lower batch.size or reference.samplesPerBatch`,
    );
  }
  const score = (output: LayerOutput, l: number): DriftSums => {
    if (pool && isPoolBatch(output)) return driftPooled(output, pool.summaries[l]!);
    if (!pool && !isPoolBatch(output)) return driftBatch(output, n, o.gammas[l]!);
    throw new StatisticsError(pool ? 'the model is not scoring against the pool' : 'the model scores against a pool, but calibration draws fresh rows');
  };
  const perLayer: (DriftSums[] | null)[] = model.layers.map(() => []);
  const started = o.now();
  let lastLog = started;
  let done = 0;
  // A false-page budget simulates the alarm on a null stream: from batches of its own, so
  // that the tails are not judged on the very batches they were fitted to.
  const wanted = o.spellSteps === undefined ? o.batches : 2 * o.batches;
  logger.info({ batches: wanted, n, m, layers: model.layers.length }, 'calibrating thresholds on reference-against-reference batches');
  while (done < wanted) {
    if (o.signal?.aborted) throw new CkawatchError('calibration stopped: the daemon is shutting down', { retriable: true });
    const elapsed = o.now() - started;
    if (elapsed > o.timeLimitMs && done >= MIN_CALIBRATION_BATCHES) {
      logger.warn(
        { done, wanted, elapsedMs: elapsed },
        'calibration time limit reached: thresholds rest on fewer batches (raise calibration.timeLimit or lower calibration.batches)',
      );
      break;
    }
    const stacked = new Float32Array(rows * size);
    sampler.drawInto(stacked, 0, rows);
    const { grams } = await model.run(stacked, rows);
    grams.forEach((gram, l) => {
      const sums = perLayer[l];
      if (!sums) return;
      try {
        sums.push(score(gram, l));
      } catch (error) {
        if (!(error instanceof StatisticsError)) throw error;
        logger.warn({ layer: model.layers[l], err: error.message }, 'layer left out of calibration: it will have no calibrated thresholds');
        perLayer[l] = null;
      }
    });
    done += 1;
    if (o.now() - lastLog >= PROGRESS_EVERY_MS) {
      lastLog = o.now();
      logger.info({ done, of: wanted, elapsedMs: lastLog - started }, 'calibrating');
    }
  }
  const split = o.spellSteps !== undefined && done >= 2 * MIN_CALIBRATION_BATCHES ? Math.ceil(done / 2) : done;
  const usable = model.layers.flatMap((layer, l) => (perLayer[l] ? [{ layer, batches: perLayer[l].slice(0, split) }] : []));
  const spellBatches = split < done ? model.layers.flatMap((_, l) => (perLayer[l] ? [perLayer[l].slice(split)] : [])) : undefined;
  // With a pool, what calibration cannot see is the held-out part's own offset (the pool's is shared).
  const sizes = { n, m, reference: pool ? pool.heldOut.length : reference.count };
  const calibration = await runSteps(calibrationSteps(usable, {
    ...(spellBatches ? { spellBatches } : {}),
    falseAlarmRate: o.falseAlarmRate,
    alarmRate: o.alarmRate,
    ...(o.spellSteps === undefined ? {} : { spellSteps: o.spellSteps }),
    seed: o.seed,
    sizes,
  }));
  // Where the floor (the centre's and the reference's own error) is as wide as a window's
  // noise: longer windows see little more, and only a larger reference moves this.
  const stopTightening = Math.round(1 / (1 / split + referenceOffsets(sizes).cka));
  logger.info({ batches: split, elapsedMs: o.now() - started, falseAlarmRate: o.falseAlarmRate, thresholdsStopTighteningAtBatches: stopTightening }, 'thresholds calibrated');
  if (calibration.spells) {
    // What a false-page budget can rest on: beyond this, its level is extrapolated (budget.ts).
    logger.info({ spellBatches: done - split, countedDownTo: Math.round(1 / resolvedRate(calibration.spells)) }, 'false-page budget: alarm spells simulated; spell rates counted down to one per countedDownTo batches, longer budgets extrapolated');
  }
  return calibration;
}

const finite = z.number().finite();
const tail = z.object({ x: z.array(finite).min(2), logP: z.array(z.number().max(0)).min(2) }).refine((t) => t.x.length === t.logP.length, 'x and logP of one length');
const statisticCalibration = z.object({
  side: z.enum(['below', 'above']),
  centre: finite,
  tails: z.array(tail).min(1),
  mean: finite,
  sd: finite.nonnegative(),
  floor: finite.nonnegative(),
});

/** A calibration as kept in checkpoints (plain JSON). */
export const storedCalibrationSchema = z.object({
  key: z.object({
    referenceSha256: z.string().regex(/^[0-9a-f]{64}$/),
    n: z.number().int().positive(),
    m: z.number().int().positive(),
    batches: z.number().int().positive(),
    falseAlarmRate: finite,
    // Checkpoints from before the model alarm have no tails either: the schema refuses them.
    alarmRate: finite,
    spells: z.boolean().default(false),
    seed: z.number().int().nonnegative(),
    // Checkpoints from before the pool were all made with fresh draws.
    scheme: z.string().default('draws'),
    // Checkpoints from before the method was recorded: method 1.
    method: z.number().int().positive().default(1),
  }),
  calibration: z.object({
    falseAlarmRate: finite,
    seed: z.number().int().nonnegative(),
    batches: z.number().int().nonnegative(),
    replicates: z.number().int().positive(),
    n: z.number().int().positive(),
    lengths: z.array(z.number().int().positive()).min(1),
    alarm: z.object({ rate: finite, levels: z.array(finite.positive()).min(1) }),
    spells: z
      .object({ lengths: z.array(z.number().positive()).min(1), logLevels: z.array(finite).min(2), logRates: z.array(z.array(finite).min(2)).min(1) })
      .optional(),
    layers: z.array(
      z.object({
        layer: z.string(),
        statistics: z.object(Object.fromEntries(STATISTICS.map((s) => [s, statisticCalibration.optional()]))),
      }),
    ),
  }),
});

export function sameKey(a: CalibrationKey, b: CalibrationKey): boolean {
  return (
    a.referenceSha256 === b.referenceSha256 &&
    a.n === b.n &&
    a.m === b.m &&
    a.batches === b.batches &&
    a.falseAlarmRate === b.falseAlarmRate &&
    a.alarmRate === b.alarmRate &&
    a.spells === b.spells &&
    a.seed === b.seed &&
    a.scheme === b.scheme &&
    a.method === b.method
  );
}
