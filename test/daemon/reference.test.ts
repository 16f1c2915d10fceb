/**
 * The daemon's Calibrator with the real digits model: thresholds from reference-against-
 * reference batches, reuse of a stored calibration only when it was made for the same
 * reference bytes and settings, and a reference file that changes underneath.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CALIBRATION_METHOD } from '../../src/calibration/calibrate.js';
import { storedCalibrationSchema } from '../../src/calibration/null-batches.js';
import { fullWindowWeights } from '../../src/cka/drift.js';
import { Calibrator, type CalibratorOptions } from '../../src/daemon/reference.js';
import { gather, loadDigits } from '../../src/demo/digits.js';
import { writeNpyFile } from '../../src/io/npy-file.js';
import { TappedModel } from '../../src/model/tapped.js';
import { useTempDir } from '../helpers/files.js';
import { DIGITS_MODEL } from '../helpers/fixtures.js';
import { recordingLogger } from '../helpers/logger.js';

const LAYERS = ['/pool2/MaxPool_output_0', 'logits'];

const tmp = useTempDir('ckawatch-calibrator-');
let model: TappedModel;
/** The pool scheme bakes the pool into its model: the draws scheme gets a model of its own. */
let drawsModel: TappedModel;
const logger = recordingLogger();
const messages = (): (string | undefined)[] => logger.records.map((r) => r.msg);

function writeReference(path: string, from: number, count: number): void {
  const digits = loadDigits();
  const indices = Array.from({ length: count }, (_, i) => (from + i * 7) % digits.count);
  writeNpyFile(path, gather(digits, indices), [count, 1, 28, 28]);
}

const options = (path: string, extra: Partial<CalibratorOptions> = {}): CalibratorOptions => ({
  model,
  path,
  n: 16,
  m: 16,
  scheme: 'pool',
  pool: 64,
  sketchWidth: 1024,
  maxCacheBytes: 2 ** 30,
  seed: 1,
  batches: 12,
  timeLimitMs: 60_000,
  falseAlarmRate: 0.05,
  alarmRate: 0.05,
  overrides: {},
  logger,
  now: Date.now,
  ...extra,
});

beforeAll(async () => {
  model = await TappedModel.open({ path: DIGITS_MODEL, layers: LAYERS, providers: ['cpu'], variant: 'auto', logger });
  drawsModel = await TappedModel.open({ path: DIGITS_MODEL, layers: LAYERS, providers: ['cpu'], variant: 'auto', logger });
  writeReference(tmp.path('reference.npy'), 0, 300);
});

afterAll(async () => {
  await model.close();
  await drawsModel.close();
});

describe('Calibrator', () => {
  it('calibrates every layer and statistic, with thresholds that tighten as windows fill', async () => {
    const c = await Calibrator.open(options(tmp.path('reference.npy')));
    expect(c.calibration).toBeNull();
    expect(c.thresholds(LAYERS[0]!, fullWindowWeights(4, 16))).toEqual({});
    await c.prepare(null);
    expect(c.calibration!.batches).toBe(12);
    for (const layer of LAYERS) {
      const t1 = c.thresholds(layer, fullWindowWeights(1, 16));
      const t16 = c.thresholds(layer, fullWindowWeights(16, 16));
      expect(Object.keys(t16).sort()).toEqual(['cka', 'mmd2_linear', 'mmd2_rbf']);
      expect(t16.cka!).toBeGreaterThanOrEqual(t1.cka!);
      expect(t16.mmd2_rbf!).toBeLessThanOrEqual(t1.mmd2_rbf!);
    }
    // It says from which window length on only a larger reference would tighten them:
    // 300 samples, a pool of 64, 236 held out, batches of 16: 1 / (1/12 + 16/236) = 7 batches.
    const calibrated = logger.records.find((r) => r.msg === 'thresholds calibrated');
    expect(calibrated?.obj).toMatchObject({ thresholdsStopTighteningAtBatches: 7 });
  });

  it('with a false-page budget, fits the tails on half its null batches and simulates the alarm on the other half; a stored calibration without spells is not reused', async () => {
    const path = tmp.path('reference.npy');
    const plain = await Calibrator.open(options(path));
    await plain.prepare(null);
    expect(plain.calibration!.spells).toBeUndefined();
    logger.records.length = 0;
    const c = await Calibrator.open(options(path, { batches: 16, spellSteps: 2_000 }));
    await c.prepare({ gammas: plain.state.gammas, calibration: plain.stored! });
    expect(messages()).toContain('thresholds calibrated');
    expect(c.calibration!.batches).toBe(16); // of 32 scored: the other 16 made the spells
    const spells = c.calibration!.spells!;
    expect(spells.lengths).toEqual([1, 4, 16, 64]);
    expect(spells.logRates.flat().every(Number.isFinite)).toBe(true);
    expect(spells.logRates[0]!.some((r) => r > -700)).toBe(true); // some spells seen
    const said = logger.records.find((r) => r.msg?.startsWith('false-page budget: alarm spells simulated'))?.obj as Record<string, unknown> | undefined;
    expect(said?.['spellBatches']).toBe(16);
    expect(said?.['countedDownTo']).toBeGreaterThan(1);
  });

  it('lets static thresholds override calibrated ones', async () => {
    const c = await Calibrator.open(options(tmp.path('reference.npy'), { overrides: { logits: { cka: 0.5 } } }));
    await c.prepare(null);
    expect(c.thresholds('logits', fullWindowWeights(3, 16)).cka).toBe(0.5);
    expect(c.thresholds(LAYERS[0]!, fullWindowWeights(3, 16)).cka).not.toBe(0.5);
  });

  it('keys windows by the reference and how batches meet it: another sketch width, pool, seed or file is another key', async () => {
    const path = tmp.path('reference.npy');
    const key = async (extra: Partial<CalibratorOptions> = {}, at = path): Promise<string> => (await Calibrator.open(options(at, extra))).windowsKey;
    const base = await key();
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(await key()).toBe(base);
    // what does not change a window's sums: the calibration's own settings
    expect(await key({ falseAlarmRate: 0.01, batches: 20 })).toBe(base);
    for (const extra of [{ sketchWidth: 256 }, { pool: 32 }, { seed: 2 }, { scheme: 'draws' as const }]) expect(await key(extra)).not.toBe(base);
    const other = tmp.path('other-reference.npy');
    writeReference(other, 1, 200);
    expect(await key({}, other)).not.toBe(base);
  });

  it('reuses a stored calibration for the same reference and settings only', async () => {
    const path = tmp.path('reference.npy');
    const first = await Calibrator.open(options(path));
    await first.prepare(null);
    const restored = { gammas: first.state.gammas, calibration: first.stored! };

    logger.records.length = 0;
    const again = await Calibrator.open(options(path));
    await again.prepare(restored);
    expect(messages()).toContain('thresholds restored from the checkpoint (same reference, same settings)');
    expect(again.calibration).toEqual(first.calibration);

    logger.records.length = 0;
    const otherRate = await Calibrator.open(options(path, { falseAlarmRate: 0.01 }));
    await otherRate.prepare(restored);
    expect(messages()).toContain('thresholds calibrated');
    expect(otherRate.calibration!.falseAlarmRate).toBe(0.01);

    // A checkpoint written before the method was recorded parses as method 1 and is recalibrated.
    logger.records.length = 0;
    const { method: _, ...oldKey } = restored.calibration.key;
    expect(storedCalibrationSchema.parse(JSON.parse(JSON.stringify({ ...restored.calibration, key: oldKey }))).key.method).toBe(1);
    const upgraded = await Calibrator.open(options(path));
    await upgraded.prepare({ gammas: restored.gammas, calibration: { ...restored.calibration, key: { ...oldKey, method: 1 } } });
    expect(messages()).toContain('thresholds calibrated');
    expect(upgraded.stored!.key.method).toBe(CALIBRATION_METHOD);
  });

  it('recalibrates when the reference file changes, swapping state only inside the swap', async () => {
    const path = tmp.path('changing.npy');
    writeReference(path, 0, 300);
    const c = await Calibrator.open(options(path));
    await c.prepare(null);
    const before = { sha: c.state.sha256, thresholds: c.thresholds('logits', fullWindowWeights(4, 16)) };
    let swaps = 0;
    const swap = async (adopt: () => Promise<void> | void): Promise<void> => {
      expect(c.state.sha256).toBe(before.sha); // nothing changed before the swap
      await adopt();
      swaps += 1;
    };
    expect(await c.checkReference(swap)).toBe(false);
    expect(swaps).toBe(0);

    writeReference(path, 5000, 300);
    expect(await c.checkReference(swap)).toBe(true);
    expect(swaps).toBe(1);
    expect(c.state.sha256).not.toBe(before.sha);
    expect(c.state.reference.count).toBe(300);
    expect(c.stored!.key.referenceSha256).toBe(c.state.sha256);
    expect(c.thresholds('logits', fullWindowWeights(4, 16))).not.toEqual(before.thresholds);
  });

  it('stops a recalibration at shutdown and keeps the reference in use', async () => {
    const path = tmp.path('stopping.npy');
    writeReference(path, 0, 300);
    // With fresh draws the model is untouched until the swap (a pool would already be in it).
    const c = await Calibrator.open(options(path, { batches: 400, scheme: 'draws', model: drawsModel }));
    await c.prepare({ gammas: [1, 1] }); // any bandwidths: only the recalibration matters here
    const sha = c.state.sha256;
    writeReference(path, 3000, 300);
    const check = c.checkReference(async (adopt) => adopt());
    await c.stop();
    await expect(check).rejects.toThrow('calibration stopped: the daemon is shutting down');
    expect(c.state.sha256).toBe(sha);
  });

  it('scores against a pool of at most half the reference, with the rest held out for calibration', async () => {
    const c = await Calibrator.open(options(tmp.path('reference.npy'), { pool: 4096 }));
    await c.prepare(null);
    const pool = c.state.pool!;
    expect(pool.indices.length).toBe(150);
    expect(pool.layers.map((l) => [l.layer, l.dims, l.sketch, l.bytes])).toEqual([
      [LAYERS[0], 400, null, 150 * 401 * 4 + 2 * 150 * 8],
      ['logits', 10, null, 150 * 11 * 4 + 2 * 150 * 8],
    ]);
    expect(c.stored!.key).toMatchObject({ m: 150, scheme: 'pool 150 sketch 1024' });
    expect(model.pooled).toBe(true);
    // A sketch narrower than pool2's 400 features: bounded, unbiased, and its error measured.
    const sketched = await Calibrator.open(options(tmp.path('reference.npy'), { sketchWidth: 64 }));
    await sketched.prepare(null);
    const layer = sketched.state.pool!.layers[0]!;
    expect(layer.sketch?.width).toBe(64);
    expect(layer.sketchError).toBeGreaterThan(0);
    expect(layer.sketchError).toBeLessThan(1);
    expect(layer.gramError).toBeLessThan(1e-4);
  });

  it('refuses a pool that would not fit its memory bound, naming the layers', async () => {
    const c = await Calibrator.open(options(tmp.path('reference.npy'), { maxCacheBytes: 50_000 }));
    await expect(c.prepare(null)).rejects.toThrow(/the reference pool would keep 0\.1 MiB \(\/pool2\/MaxPool_output_0: 0\.1 MiB, logits: 0\.0 MiB\), more than reference\.maxCacheMiB/);
  });

  it('refuses a reference too small for distinct calibration draws', async () => {
    const path = tmp.path('tiny.npy');
    writeReference(path, 0, 30);
    const c = await Calibrator.open(options(path, { scheme: 'draws', model: drawsModel }));
    await expect(c.prepare(null)).rejects.toThrowErrorMatchingInlineSnapshot(
      `[DataError: reference tiny.npy has 30 samples; calibration draws 16 pseudo-production and 16 reference samples per batch, all distinct, so it needs at least 32: add samples, or lower batch.size or reference.samplesPerBatch]`,
    );
  });
});
