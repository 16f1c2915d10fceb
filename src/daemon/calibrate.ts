import cron, { type Logger as CronLogger } from 'node-cron';
import { z } from 'zod';
import { driftBatch, type DriftSums } from '../cka/drift.js';
import type { Gram } from '../cka/gram.js';
import { calibrate, MIN_CALIBRATION_BATCHES, thresholdsFor, type Calibration, type StaticThresholds } from '../calibration/index.js';
import { CkawatchError, DataError, StatisticsError } from '../errors/index.js';
import type { Logger } from '../metrics/logger.js';
import { STATISTICS, type Statistic } from '../metrics/statistics.js';
import type { TappedModel } from '../model/tapped.js';
import { createSampler, deriveSeed, loadReference, type Reference, type ReferenceSampler } from '../reference/index.js';
import { createCheckpointSchedule, type CheckpointSchedule } from '../state/index.js';
import { referenceDigest } from '../preprocess/reference.js';
import { rbfGammas, sha256File } from './startup.js';

/*
 * Start-up (and reference-change) calibration of the drift thresholds:
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
  run(samples: Float32Array, n: number): Promise<{ grams: Gram[] }>;
}

export interface CalibrationRun {
  readonly model: GramModel;
  readonly reference: Reference;
  /** RBF gamma per layer: the ones production batches use */
  readonly gammas: readonly number[];
  /** production samples per batch (batch.size) and reference samples per batch (reference.samplesPerBatch) */
  readonly n: number;
  readonly m: number;
  /** null batches wanted, and how long they may take (at least MIN_CALIBRATION_BATCHES are always run) */
  readonly batches: number;
  readonly timeLimitMs: number;
  readonly falseAlarmRate: number;
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
  readonly seed: number;
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
  const sampler = createSampler(reference, deriveSeed(o.seed, 100));
  if (reference.count < n + m) {
    throw new DataError(
      `reference ${reference.name} has ${reference.count} samples; calibration draws ${n} pseudo-production and ${m} reference ` +
        `samples per batch, all distinct, so it needs at least ${n + m}: add samples, or lower batch.size or reference.samplesPerBatch`,
    );
  }
  const perLayer: (DriftSums[] | null)[] = model.layers.map(() => []);
  const started = o.now();
  let lastLog = started;
  let done = 0;
  logger.info({ batches: o.batches, n, m, layers: model.layers.length }, 'calibrating thresholds on reference-against-reference batches');
  while (done < o.batches) {
    if (o.signal?.aborted) throw new CkawatchError('calibration stopped: the daemon is shutting down', { retriable: true });
    const elapsed = o.now() - started;
    if (elapsed > o.timeLimitMs && done >= MIN_CALIBRATION_BATCHES) {
      logger.warn(
        { done, wanted: o.batches, elapsedMs: elapsed },
        'calibration time limit reached: thresholds rest on fewer batches (raise calibration.timeLimit or lower calibration.batches)',
      );
      break;
    }
    const stacked = new Float32Array((n + m) * size);
    sampler.drawInto(stacked, 0, n + m);
    const { grams } = await model.run(stacked, n + m);
    grams.forEach((gram, l) => {
      const sums = perLayer[l];
      if (!sums) return;
      try {
        sums.push(driftBatch(gram, n, o.gammas[l]!));
      } catch (error) {
        if (!(error instanceof StatisticsError)) throw error;
        logger.warn({ layer: model.layers[l], err: error.message }, 'layer left out of calibration: it will have no calibrated thresholds');
        perLayer[l] = null;
      }
    });
    done += 1;
    if (o.now() - lastLog >= PROGRESS_EVERY_MS) {
      lastLog = o.now();
      logger.info({ done, of: o.batches, elapsedMs: lastLog - started }, 'calibrating');
    }
  }
  const usable = model.layers.flatMap((layer, l) => (perLayer[l] ? [{ layer, batches: perLayer[l] }] : []));
  const calibration = calibrate(usable, {
    falseAlarmRate: o.falseAlarmRate,
    seed: o.seed,
    sizes: { n, m, reference: reference.count },
  });
  logger.info({ batches: done, elapsedMs: o.now() - started, falseAlarmRate: o.falseAlarmRate }, 'thresholds calibrated');
  return calibration;
}

const finite = z.number().finite();
const statisticCalibration = z.object({
  side: z.enum(['below', 'above']),
  centre: finite,
  deviations: z.array(finite.nonnegative()).min(1),
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
    seed: z.number().int().nonnegative(),
  }),
  calibration: z.object({
    falseAlarmRate: finite,
    seed: z.number().int().nonnegative(),
    batches: z.number().int().nonnegative(),
    replicates: z.number().int().positive(),
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
    a.seed === b.seed
  );
}

export interface CalibratorOptions {
  readonly model: TappedModel;
  /** the reference .npy (config reference.path) */
  readonly path: string;
  readonly n: number;
  readonly m: number;
  readonly seed: number;
  readonly batches: number;
  readonly timeLimitMs: number;
  readonly falseAlarmRate: number;
  /** config calibration.schedule: when to look for a changed reference file */
  readonly schedule?: string | undefined;
  readonly overrides: StaticThresholds;
  readonly logger: Logger;
  readonly now: () => number;
  /** Loads the reference and its digest (default: a .npy of the model input); images and text come preprocessed. */
  readonly load?: (path: string) => Promise<{ sha256: string; reference: Reference }>;
}

/** The reference that production batches are compared with, and everything derived from it. */
export interface ReferenceState {
  readonly sha256: string;
  readonly reference: Reference;
  /** production batches draw their m reference samples here (the whole reference) */
  readonly sampler: ReferenceSampler;
  /** RBF gamma per layer (median heuristic on this reference) */
  readonly gammas: readonly number[];
}

/** Swaps a new reference in: calls `adopt` at a point where no batch is running. */
export type Swap = (adopt: () => void) => Promise<void>;

/** What a checkpoint may carry over for a reference: bandwidths and a calibration. */
export interface RestoredReference {
  readonly gammas: readonly number[];
  readonly calibration?: StoredCalibration | undefined;
}

/**
 * The reference and its calibrated thresholds, over the daemon's life:
 *
 *   open: hash + load the file ─▶ prepare: RBF bandwidths and thresholds (from a checkpoint
 *   made for the same reference bytes and settings, else computed) ─▶ thresholds(layer, K)
 *   every calibration.schedule: hash the file; if its bytes changed, load, new bandwidths,
 *   calibrate, then swap it in between batches (the daemon clears its windows there). An unchanged file is not recalibrated: with the same
 *   bytes and seed the thresholds would come out identical.
 */
export class Calibrator {
  readonly #o: CalibratorOptions;
  #state: ReferenceState;
  #stored: StoredCalibration | null = null;
  #schedule: CheckpointSchedule | null = null;
  readonly #stopping = new AbortController();

  private constructor(options: CalibratorOptions, state: ReferenceState) {
    this.#o = options;
    this.#state = state;
  }

  /** Hashes and loads the reference; bandwidths and thresholds come with prepare(). */
  static async open(options: CalibratorOptions): Promise<Calibrator> {
    const { sha256, reference } = await loadVersion(options);
    const sampler = createSampler(reference, options.seed);
    return new Calibrator(options, { sha256, reference, sampler, gammas: [] });
  }

  get state(): ReferenceState {
    return this.#state;
  }

  get calibration(): Calibration | null {
    return this.#stored?.calibration ?? null;
  }

  /** The calibration with what it is valid for, for checkpoints; null before prepare(). */
  get stored(): StoredCalibration | null {
    return this.#stored;
  }

  /** Bandwidths and thresholds, reusing a checkpoint's when they were made for these reference bytes. */
  async prepare(restored: RestoredReference | null): Promise<void> {
    const { model } = this.#o;
    const gammas =
      restored && restored.gammas.length === model.layers.length
        ? restored.gammas
        : await rbfGammas(model, this.#state.sampler, Math.min(this.#state.reference.count, 256));
    this.#state = { ...this.#state, gammas };
    const key = this.#key(this.#state.sha256);
    if (restored?.calibration && sameKey(restored.calibration.key, key) && sameLayers(restored.calibration.calibration, model.layers)) {
      this.#stored = restored.calibration;
      this.#o.logger.info({ batches: restored.calibration.calibration.batches }, 'thresholds restored from the checkpoint (same reference, same settings)');
      return;
    }
    this.#stored = { key, calibration: await this.#calibrate(this.#state) };
  }

  /** Thresholds of one layer for a window of `batches` batches: static overrides, else calibrated; {} before calibration. */
  thresholds(layer: string, batches: number): Partial<Record<Statistic, number>> {
    return thresholdsFor(this.calibration, layer, batches, this.#o.overrides);
  }

  /**
   * Starts looking for reference changes on calibration.schedule (no-op without one).
   * `swap` must call `adopt` between batches (with whatever else moves with the
   * reference: the daemon clears its windows there).
   */
  watch(swap: Swap): void {
    const expression = this.#o.schedule;
    if (expression === undefined || this.#schedule) return;
    const { logger } = this.#o;
    this.#schedule = createCheckpointSchedule(
      expression,
      async () => {
        await this.checkReference(swap);
      },
      {
        onError: (err) => logger.error({ err }, 'recalibration failed; the reference and thresholds in use are kept'),
        scheduler: (expr, tick) => {
          const task = cron.schedule(expr, tick, { name: 'ckawatch-calibration', logger: cronLogger(logger) });
          return { stop: () => task.destroy() };
        },
      },
    );
  }

  /** Hashes the reference file; if its bytes changed, recalibrates and swaps it in. True when it changed. */
  async checkReference(swap: Swap): Promise<boolean> {
    const { logger, model, seed } = this.#o;
    // The same digest the loader records: the file's SHA-256, or a folder of images' (name, bytes) digest.
    const sha256 = referenceDigest(this.#o.path);
    if (sha256 === this.#state.sha256) return false;
    logger.warn({ path: this.#o.path, from: this.#state.sha256, to: sha256 }, 'reference file changed: recalibrating against the new one');
    const version = await loadVersion(this.#o);
    const sampler = createSampler(version.reference, seed);
    const gammas = await rbfGammas(model, sampler, Math.min(version.reference.count, 256));
    const next: ReferenceState = { sha256: version.sha256, reference: version.reference, sampler, gammas };
    const calibration = await this.#calibrate(next);
    await swap(() => {
      this.#state = next;
      this.#stored = { key: this.#key(next.sha256), calibration };
    });
    logger.info({ sha256: next.sha256 }, 'new reference in use: windows restarted, thresholds recalibrated');
    return true;
  }

  /** No more checks; a recalibration in progress stops at its next batch (the old thresholds stay). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#schedule?.stop();
  }

  #key(referenceSha256: string): CalibrationKey {
    const o = this.#o;
    return { referenceSha256, n: o.n, m: o.m, batches: o.batches, falseAlarmRate: o.falseAlarmRate, seed: o.seed };
  }

  #calibrate(state: ReferenceState): Promise<Calibration> {
    const o = this.#o;
    return calibrateReference({
      model: o.model,
      reference: state.reference,
      gammas: state.gammas,
      n: o.n,
      m: o.m,
      batches: o.batches,
      timeLimitMs: o.timeLimitMs,
      falseAlarmRate: o.falseAlarmRate,
      seed: o.seed,
      logger: o.logger,
      now: o.now,
      signal: this.#stopping.signal,
    });
  }
}

async function loadVersion(o: CalibratorOptions): Promise<{ sha256: string; reference: Reference }> {
  if (o.load) return o.load(o.path);
  // Hash first: a file replaced between the two reads is caught by the next check.
  const sha256 = await sha256File(o.path);
  const reference = loadReference(o.path, o.model.input.sampleShape, o.model.input.name);
  return { sha256, reference };
}

function sameLayers(c: Calibration, layers: readonly string[]): boolean {
  const calibrated = new Set(c.layers.map((l) => l.layer));
  return c.layers.length <= layers.length && [...calibrated].every((l) => layers.includes(l));
}

function cronLogger(logger: Logger): CronLogger {
  const fields = { source: 'node-cron', task: 'calibration' };
  return {
    info: (message) => logger.info(fields, message),
    warn: (message) => logger.warn(fields, message),
    error: (message, err) => logger.error({ ...fields, err: err ?? message }, String(message)),
    debug: () => undefined,
  };
}
