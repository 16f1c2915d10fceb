import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { gramOf, relativeGramError, type Gram } from '../../../src/cka/gram.js';
import { pairedBatch, pairedCka } from '../../../src/cka/paired.js';
import { driftBatch, driftScores } from '../../../src/cka/drift.js';
import { ModelError } from '../../../src/errors/index.js';
import { decodeNpy } from '../../../src/io/npy.js';
import { augmentModel, probeModel } from '../../../src/model/graph/augment.js';
import { decodeModel, encodeModel } from '../../../src/model/graph/onnx-file.js';
import { chooseTapGraphs } from '../../../src/model/runtime/precision.js';
import { TappedModel } from '../../../src/model/tapped.js';
import { WorkerModelRunner } from '../../../src/model/runtime/worker-runner.js';
import { useTempDir } from '../../helpers/files.js';
import { DIGITS_DATA, modelFixture, tinyModel } from '../../helpers/fixtures.js';
import { captureLogger } from '../../helpers/logger.js';
import { runInProcess } from '../../helpers/model.js';
import { seededInput } from '../../helpers/random.js';
import { rejection } from '../../helpers/errors.js';

describe('relativeGramError', () => {
  const g: Gram = { n: 2, data: Float64Array.from([4, 1, 1, 2]) };
  it('is 0 for the same matrix and scales with the difference', () => {
    expect(relativeGramError(g, g)).toBe(0);
    const off = { n: 2, data: Float32Array.from([4, 1, 1, 2 + 1e-3]) };
    expect(relativeGramError(g, off)).toBeCloseTo(1e-3 / Math.sqrt(16 + 1 + 1 + 4), 6);
  });
  it('is null for a zero reference (constant features) and infinite for a non-finite Gram', () => {
    expect(relativeGramError({ n: 2, data: new Float64Array(4) }, g)).toBeNull();
    expect(relativeGramError(g, { n: 2, data: Float32Array.from([4, NaN, 1, 2]) })).toBe(Number.POSITIVE_INFINITY);
  });
  it('refuses Grams of different sizes', () => {
    expect(() => relativeGramError(g, { n: 1, data: Float64Array.from([1]) })).toThrow(/cannot be compared/);
  });
});

describe('chooseTapGraphs', () => {
  const tol = 1e-4;
  it('keeps the preferred variant when it is within tolerance, and constant layers as they are', () => {
    const v = chooseTapGraphs(['a', 'b'], [[{ variant: 'channel-split', error: 2e-5 }, { variant: 'plain', error: 1e-7 }], [{ variant: 'plain', error: null }]], tol);
    expect(v).toEqual({ ok: true, taps: [
      { layer: 'a', variant: 'channel-split', error: 2e-5, switched: false },
      { layer: 'b', variant: 'plain', error: null, switched: false },
    ] });
  });
  it('switches to the most precise variant within tolerance when the preferred one is not', () => {
    const v = chooseTapGraphs(['a'], [[{ variant: 'plain', error: 2.9e-4 }, { variant: 'channel-split', error: 1.3e-7 }]], tol);
    expect(v).toEqual({ ok: true, taps: [{ layer: 'a', variant: 'channel-split', error: 1.3e-7, switched: true }] });
  });
  it('refuses when a layer has no variant within tolerance, naming it and the errors', () => {
    const v = chooseTapGraphs(['a', 'b'], [[{ variant: 'plain', error: 1e-6 }], [{ variant: 'plain', error: 3e-3 }, { variant: 'channel-split', error: Infinity }]], tol);
    expect(v).toEqual({ ok: false, reason: "Gram error above the tolerance 0.0001 on 'b' (plain 3.0e-3, channel-split Infinity)" });
  });
});

describe('what a relative Gram error does to the statistics', () => {
  // The tolerance's justification (precision.ts): CKA is a ratio of bilinear forms in the
  // Grams, so a relative error e in each moves it by a small multiple of e.
  it('moves paired and covariance-alignment CKA by less than 3e for e = 1e-4', () => {
    const n = 64;
    const d = 40;
    const x = seededInput(n * d, 1);
    const y = Float32Array.from(x, (v, i) => v + 0.5 * seededInput(n * d, 2)[i]!);
    const k = gramOf(x, n, d);
    const l = gramOf(y, n, d);
    const e = 1e-4;
    const perturb = (g: Gram, seed: number): Gram => {
      const noise = seededInput(n * n, seed);
      const sym = Float64Array.from(noise, (_, i) => noise[i]! + noise[(i % n) * n + Math.floor(i / n)]!);
      const scale = (e * Math.hypot(...g.data)) / Math.hypot(...sym);
      return { n, data: Float64Array.from(g.data, (v, i) => v + scale * sym[i]!) };
    };
    for (const seed of [3, 4, 5, 6]) {
      const kp = perturb(k, seed);
      const lp = perturb(l, seed + 10);
      expect(relativeGramError(k, kp)).toBeCloseTo(e, 12);
      const paired = Math.abs(pairedCka(pairedBatch(kp, lp))! - pairedCka(pairedBatch(k, l))!);
      expect(paired).toBeLessThan(3 * e);
      // The daemon's drift CKA from a stacked [production; reference] Gram of 32 + 32 rows.
      const drift = (g: Gram): number => driftScores(driftBatch(g, 32, 0.01)).cka!;
      expect(Math.abs(drift(kp) - drift(k))).toBeLessThan(3 * e);
    }
  });
});

describe('probeModel', () => {
  it('outputs each tap\'s features and the Gram of every variant that applies, equal to float64 to 1e-5', async () => {
    const model = decodeModel(await readFile(tinyModel('tiny-resnet-op13.onnx')));
    const taps = ['relu1', 'res', 'pool', 'flat'];
    const probe = probeModel(model, taps, { variant: 'auto' });
    expect(probe.taps.map((t) => t.grams.map((g) => g.variant))).toEqual([
      ['channel-split', 'plain'], ['channel-split', 'plain'], ['channel-split', 'plain'], ['plain'],
    ]);
    const n = 12;
    const out = await runInProcess(probe.bytes, { input: { data: seededInput(n * 64, 7), dims: [n, 1, 8, 8] } });
    for (const t of probe.taps) {
      const features = out[t.features]!;
      const reference = gramOf(features, n, features.length / n);
      for (const g of t.grams) expect(relativeGramError(reference, { n, data: out[g.output]! })).toBeLessThan(1e-5);
    }
  });

  it('keeps plain first for an explicit plain choice, and overrides pick a tap\'s variant in the augmented model', async () => {
    const model = decodeModel(await readFile(tinyModel('tiny-resnet-op13.onnx')));
    expect(probeModel(model, ['relu1'], { variant: 'plain' }).taps[0]!.grams.map((g) => g.variant)).toEqual(['plain', 'channel-split']);
    const augmented = augmentModel(model, ['relu1', 'res'], { variant: 'auto', overrides: { res: 'plain' } });
    expect(augmented.tapVariants).toEqual(['channel-split', 'plain']);
  });
});

describe('TappedModel.checkPrecision (ONNX Runtime, cpu)', () => {
  const digits = async (n: number): Promise<Float32Array> => {
    const npy = decodeNpy(await readFile(DIGITS_DATA));
    if (!npy.ok) throw new Error(npy.detail);
    return Float32Array.from(npy.value.data.subarray(0, n * 784));
  };

  it('measures every layer on the provider in use and keeps the model as loaded', async () => {
    const log = captureLogger();
    const model = await TappedModel.open({ path: modelFixture('digits-cnn.onnx'), providers: ['cpu'], variant: 'auto', logger: log.logger, threads: 1 });
    try {
      const report = await model.checkPrecision(await digits(16), 16, 1e-4);
      expect(report.provider).toBe('cpu');
      expect(report.refused).toEqual([]);
      expect(report.taps.map((t) => t.layer)).toEqual(model.layers);
      for (const t of report.taps) {
        expect(t.error).not.toBeNull();
        expect(t.error!).toBeLessThan(1e-5);
        expect(t.error!).toBeGreaterThan(0); // float32 against float64 is never exact on real features
        expect(t.switched).toBe(false);
      }
      expect(model.precision).toBe(report);
      const grams = await model.grams(await digits(8), 8);
      expect(grams).toHaveLength(model.layers.length);
    } finally {
      await model.close();
    }
  });

  it('refuses each provider whose Grams miss the tolerance, says why, and fails when none is left', async () => {
    const log = captureLogger();
    const model = await TappedModel.open({ path: modelFixture('digits-cnn.onnx'), providers: ['cpu', 'cpu'], variant: 'auto', logger: log.logger, threads: 1 });
    try {
      const error = await rejection(model.checkPrecision(await digits(16), 16, 1e-15), ModelError);
      const message = error.message;
      expect(message).toMatch(/^no execution provider computes the Grams of digits-cnn within the tolerance 1e-15 \(cpu: Gram error/);
      expect(message.match(/cpu: Gram error above the tolerance 1e-15 on /g)).toHaveLength(2);
      expect(message).toContain(`'${model.layers[0]}' (`);
      expect(message).toMatch(/raise the tolerance \(model.gramTolerance, --gram-tolerance\)/);
      expect(message).not.toContain('\n');
      const refusals = log.warnings.filter((w) => w.message.startsWith("refusing execution provider 'cpu'"));
      // The last refusal is the error itself, not a warning too.
      expect(refusals.map((w) => w.message.split('; ').at(-1))).toEqual(["trying 'cpu'"]);
    } finally {
      await model.close();
    }
  });

  it('needs at least 2 samples of the model\'s size', async () => {
    const model = await TappedModel.open({ path: modelFixture('digits-cnn.onnx'), providers: ['cpu'], variant: 'auto', logger: captureLogger().logger, threads: 1 });
    try {
      await expect(model.checkPrecision(new Float32Array(784), 1, 1e-4)).rejects.toThrow(/at least 2 samples of 784 values/);
    } finally {
      await model.close();
    }
  });
});

describe('TappedModel.checkPrecision on a model without recorded shapes', () => {
  const tmp = useTempDir('ckawatch-shapes-');

  it('learns the taps\' shapes from the probe run, so that auto picks channel-split for [N, C, H, W] taps', async () => {
    // torch.onnx.export writes no value_info for intermediate tensors: strip it from a fixture.
    const model = decodeModel(await readFile(tinyModel('tiny-resnet-op13.onnx')));
    const path = tmp.path('no-shapes.onnx');
    await writeFile(path, encodeModel({ ...model, graph: { ...model.graph, valueInfo: [] } }));
    const log = captureLogger();
    // webgpu first (absent here, or a GPU): `auto` keeps its per-shape rule instead of the CPU's plain.
    const tapped = await TappedModel.open({ path, layers: ['relu1', 'res', 'pool', 'flat'], providers: ['webgpu', 'cpu'], variant: 'auto', logger: log.logger, threads: 1 });
    try {
      const n = 12;
      const samples = seededInput(n * 64, 9);
      const before = await tapped.grams(samples.slice(), n);
      expect(tapped.runner.tapVariants).toEqual(['plain', 'plain', 'plain', 'plain']); // no shape, no split
      const report = await tapped.checkPrecision(seededInput(16 * 64, 10), 16, 1e-4);
      expect(tapped.runner.tapVariants).toEqual(['channel-split', 'channel-split', 'channel-split', 'plain']);
      expect(report.taps.map((t) => t.variant)).toEqual([...tapped.runner.tapVariants]);
      const after = await tapped.grams(samples.slice(), n);
      after.forEach((g, l) => expect(relativeGramError(before[l]!, g)!).toBeLessThan(1e-5));
    } finally {
      await tapped.close();
    }
  });
});

describe('WorkerModelRunner overrides', () => {
  it('builds each overridden tap with the variant given', async () => {
    const runner = await WorkerModelRunner.create({
      modelPath: tinyModel('tiny-resnet-op13.onnx'), taps: ['relu1', 'res'], variant: 'auto', overrides: { relu1: 'plain' },
      providers: ['cpu'], logger: captureLogger().logger, threads: 1,
    });
    try {
      expect(runner.tapVariants).toEqual(['plain', 'channel-split']);
    } finally {
      await runner.close();
    }
  });
});
