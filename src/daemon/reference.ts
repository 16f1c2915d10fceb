import { createHash } from 'node:crypto';
import { thresholdsFor, type StaticThresholds, type WindowWeights } from '../calibration/thresholds.js';
import { CALIBRATION_METHOD, type Calibration } from '../calibration/calibrate.js';
import { calibrateReference, sameKey, type CalibrationKey, type StoredCalibration } from '../calibration/null-batches.js';
import type { Statistic } from '../cka/statistic.js';
import { defaultMaxAbs } from '../decode/finite.js';
import { referenceDigest } from '../decode/reference.js';
import type { TappedModel } from '../model/tapped.js';
import { buildReferencePool, type ReferencePool } from '../model/reference-pool.js';
import { deriveSeed } from '../reference/prng.js';
import { splitPool } from '../reference/split.js';
import { createSampler, type ReferenceSampler } from '../reference/sampler.js';
import { loadReference } from '../reference/load.js';
import type { Reference } from '../reference/reference.js';
import { createSchedule, type Schedule } from '../util/schedule.js';
import type { Logger } from '../util/logger.js';
import { rbfGammas, sha256File } from './startup.js';

export interface CalibratorOptions {
  readonly model: TappedModel;
  /** the reference .npy (config reference.path) */
  readonly path: string;
  readonly n: number;
  /** reference rows per batch with the draws scheme */
  readonly m: number;
  /** pool: the whole pool behind every batch (model/reference-pool.ts); draws: m fresh rows per batch */
  readonly scheme: 'pool' | 'draws';
  readonly pool: number;
  readonly sketchWidth: number;
  readonly maxCacheBytes: number;
  readonly seed: number;
  readonly batches: number;
  readonly timeLimitMs: number;
  readonly falseAlarmRate: number;
  /** config alarm.falseAlarmRate: the model alarm's level per window */
  readonly alarmRate: number;
  /** with a false-page budget (alarm.meanTimeBetweenFalseAlarms or alarm.meanBatchesBetweenFalseAlarms): batches per simulated spell stream */
  readonly spellSteps?: number | undefined;
  /** config calibration.schedule: when to look for a changed reference file */
  readonly schedule?: string | undefined;
  readonly overrides: StaticThresholds;
  readonly logger: Logger;
  readonly now: () => number;
  /** Hears of each pool the model takes (start-up, a changed reference): for ckawatch_reference_cache_bytes. */
  readonly onPool?: (pool: ReferencePool) => void;
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
  /** the default input.maxAbs: DEFAULT_RANGE_FACTOR x this reference's largest |value| */
  readonly maxAbs: number;
  /** with the pool scheme, once prepared: the pool and its summaries; the model scores against it */
  readonly pool: ReferencePool | null;
  /** with the pool scheme, the reference rows held out of it: calibration's null batches come from them */
  readonly heldOut: Int32Array | null;
}

/** Swaps a new reference in: calls (and awaits) `adopt` at a point where no batch is running. */
export type Swap = (adopt: () => Promise<void> | void) => Promise<void>;

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
  #schedule: Schedule | null = null;
  readonly #stopping = new AbortController();

  private constructor(options: CalibratorOptions, state: ReferenceState) {
    this.#o = options;
    this.#state = state;
  }

  /** Hashes and loads the reference; bandwidths and thresholds come with prepare(). */
  static async open(options: CalibratorOptions): Promise<Calibrator> {
    const { sha256, reference } = await loadVersion(options);
    const sampler = createSampler(reference, options.seed);
    return new Calibrator(options, { sha256, reference, sampler, gammas: [], maxAbs: defaultMaxAbs(reference.data), pool: null, heldOut: null });
  }

  get state(): ReferenceState {
    return this.#state;
  }

  /**
   * What windows' sums and the RBF bandwidths are made with: the reference's bytes and how
   * batches meet it (scheme, pool size, sketch width, seed; m with draws). Sums made under
   * another key are other statistics (another pool, another random projection): a checkpoint's
   * windows and bandwidths carry over only under the same key (checkpointing.ts). A hex digest,
   * so that checkpoints keep it where they kept the reference's SHA-256.
   */
  get windowsKey(): string {
    const o = this.#o;
    const how = o.scheme === 'draws' ? { scheme: 'draws', m: o.m, seed: o.seed } : { scheme: 'pool', pool: o.pool, sketchWidth: o.sketchWidth, seed: o.seed };
    return createHash('sha256').update(JSON.stringify({ reference: this.#state.sha256, ...how })).digest('hex');
  }

  get calibration(): Calibration | null {
    return this.#stored?.calibration ?? null;
  }

  /** The calibration with what it is valid for, for checkpoints; null before prepare(). */
  get stored(): StoredCalibration | null {
    return this.#stored;
  }

  /** Bandwidths (and the pool) and thresholds, reusing a checkpoint's when they were made for these reference bytes. */
  async prepare(restored: RestoredReference | null): Promise<void> {
    const { model } = this.#o;
    const kept = restored && restored.gammas.length === model.layers.length ? restored.gammas : undefined;
    this.#state = await this.#withBandwidths(this.#state, kept);
    const key = this.#key(this.#state);
    if (restored?.calibration && sameKey(restored.calibration.key, key) && sameLayers(restored.calibration.calibration, model.layers)) {
      this.#stored = restored.calibration;
      this.#o.logger.info({ batches: restored.calibration.calibration.batches }, 'thresholds restored from the checkpoint (same reference, same settings)');
      return;
    }
    this.#stored = { key, calibration: await this.#calibrate(this.#state) };
  }

  /**
   * The RBF bandwidths, and with the pool scheme the pool: its features go into the model
   * (model.usePool), so production batches are scored against it from then on.
   */
  async #withBandwidths(state: ReferenceState, gammas: readonly number[] | undefined): Promise<ReferenceState> {
    const o = this.#o;
    if (o.scheme === 'draws') {
      return { ...state, gammas: gammas ?? (await rbfGammas(o.model, state.sampler, Math.min(state.reference.count, 256))) };
    }
    const { pool: indices, heldOut } = splitPool(state.reference.count, o.pool, deriveSeed(o.seed, 200));
    const started = o.now();
    const pool = await buildReferencePool(o.model, {
      reference: state.reference,
      indices,
      sketchWidth: o.sketchWidth,
      seed: o.seed,
      maxBytes: o.maxCacheBytes,
      gammas,
      onProgress: (stage, done, of) => {
        if (done === of) o.logger.info({ stage, rows: of, elapsedMs: o.now() - started }, 'reference pool');
      },
    });
    for (const l of pool.layers) {
      o.logger.info(
        { layer: l.layer, rows: indices.length, features: l.dims, sketch: l.sketch?.width, bytes: l.bytes, sketchError: l.sketchError, gramError: l.gramError },
        l.sketch ? `reference pool: layer sketched from ${l.dims} to ${l.sketch.width} features` : 'reference pool',
      );
    }
    o.onPool?.(pool);
    return { ...state, pool, heldOut, gammas: pool.layers.map((l) => l.summary.gamma) };
  }

  /** Thresholds of one layer for a window with these weights: static overrides, else calibrated; {} before calibration. */
  thresholds(layer: string, weights: WindowWeights): Partial<Record<Statistic, number>> {
    return thresholdsFor(this.calibration, layer, weights, this.#o.overrides);
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
    this.#schedule = createSchedule(
      expression,
      async () => {
        await this.checkReference(swap);
      },
      {
        name: 'ckawatch-calibration',
        onError: (err) => logger.error({ err }, 'recalibration failed; the reference and thresholds in use are kept'),
        logger,
      },
    );
  }

  /** Hashes the reference file; if its bytes changed, recalibrates and swaps it in. True when it changed. */
  async checkReference(swap: Swap): Promise<boolean> {
    const { logger, seed } = this.#o;
    // The same digest the loader records: the file's SHA-256, or a folder of images' (name, bytes) digest.
    const sha256 = referenceDigest(this.#o.path);
    if (sha256 === this.#state.sha256) return false;
    logger.warn({ path: this.#o.path, from: this.#state.sha256, to: sha256 }, 'reference file changed: recalibrating against the new one');
    const version = await loadVersion(this.#o);
    const sampler = createSampler(version.reference, seed);
    const fresh: ReferenceState = { sha256: version.sha256, reference: version.reference, sampler, gammas: [], maxAbs: defaultMaxAbs(version.reference.data), pool: null, heldOut: null };
    let next = fresh;
    if (this.#o.scheme === 'draws') {
      // The model stays as it is: calibrate beside production, then swap between batches.
      next = await this.#withBandwidths(fresh, undefined);
      const calibration = await this.#calibrate(next);
      await swap(() => {
        this.#state = next;
        this.#stored = { key: this.#key(next), calibration };
      });
    } else {
      // The pool lives in the model that production uses, so scoring waits while the new
      // pool is built and calibrated; from the moment the model holds it, it is the state.
      await swap(async () => {
        next = this.#state = await this.#withBandwidths(fresh, undefined);
        this.#stored = { key: this.#key(next), calibration: await this.#calibrate(next) };
      });
    }
    logger.info({ sha256: next.sha256 }, 'new reference in use: windows restarted, thresholds recalibrated');
    return true;
  }

  /** No more checks; a recalibration in progress stops at its next batch (the old thresholds stay). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#schedule?.stop();
  }

  #key(state: ReferenceState): CalibrationKey {
    const o = this.#o;
    const referenceSha256 = state.sha256;
    const scheme = o.scheme === 'draws' ? 'draws' : `pool ${state.pool?.indices.length ?? o.pool} sketch ${o.sketchWidth}`;
    const m = o.scheme === 'draws' ? o.m : (state.pool?.indices.length ?? o.pool);
    return { referenceSha256, n: o.n, m, batches: o.batches, falseAlarmRate: o.falseAlarmRate, alarmRate: o.alarmRate, spells: o.spellSteps !== undefined, seed: o.seed, scheme, method: CALIBRATION_METHOD };
  }

  #calibrate(state: ReferenceState): Promise<Calibration> {
    const o = this.#o;
    return calibrateReference({
      model: o.model,
      reference: state.reference,
      gammas: state.gammas,
      pool: state.pool && state.heldOut ? { summaries: state.pool.layers.map((l) => l.summary), heldOut: state.heldOut } : undefined,
      n: o.n,
      m: state.pool ? state.pool.indices.length : o.m,
      batches: o.batches,
      timeLimitMs: o.timeLimitMs,
      falseAlarmRate: o.falseAlarmRate,
      alarmRate: o.alarmRate,
      spellSteps: o.spellSteps,
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
