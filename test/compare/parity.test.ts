/**
 * Parity of `compare` with torch_cka 0.21 and with a float64 NumPy reference of the same
 * minibatch estimator, on the committed fixtures: digits-cnn vs digits-cnn-b over
 * digits-test-256.npy, batch 32, the 9 × 9 layers of test/fixtures/parity/torch_cka_digits.json
 * (written by tools/fixtures/make_fixtures.py; no Python is needed here).
 *
 * The models run in-process through TappedModel (ONNX Runtime, CPU, Grams built inside the
 * graph), exactly as `ckawatch compare` runs them; a recording wrapper keeps each batch's
 * Grams so that the per-batch HSIC sums can be checked too, not only the final ratios.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gram } from '../../src/cka/gram.js';
import { pairedBatch } from '../../src/cka/paired.js';
import { comparePaired, type GramModel, type MatrixResult } from '../../src/compare/compare.js';
import { TappedModel } from '../../src/model/tapped.js';
import { loadReference } from '../../src/reference/load.js';
import { silentLogger } from '../../src/util/logger.js';

const repo = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

interface PerBatch {
  readonly n: number;
  readonly xy: number[][];
  readonly xx: number[];
  readonly yy: number[];
}

interface ParityFixture {
  readonly batch_size: number;
  readonly batches: number;
  readonly samples: number;
  readonly model1: { readonly name: string; readonly onnx: string };
  readonly model2: { readonly name: string; readonly onnx: string };
  readonly data: { readonly file: string };
  readonly model1_onnx_layers: string[];
  readonly model2_onnx_layers: string[];
  readonly torch_cka: { readonly CKA: (number | null)[][] };
  readonly reference_float64: {
    readonly CKA: (number | null)[][];
    readonly hsic_xy_sum?: number[][];
    readonly hsic_xx_sum?: number[];
    readonly hsic_yy_sum?: number[];
    readonly per_batch?: PerBatch[];
  };
}

const fixture = JSON.parse(readFileSync(repo('test/fixtures/parity/torch_cka_digits.json'), 'utf8')) as ParityFixture;

/** A GramModel that remembers every batch's Grams. */
function recording(model: TappedModel): GramModel & { readonly batches: Gram[][] } {
  const batches: Gram[][] = [];
  return {
    name: model.name,
    layers: model.layers,
    batches,
    async grams(samples, n) {
      const grams = await model.grams(samples, n);
      batches.push(grams);
      return grams;
    },
  };
}

/** Largest |a - b| over the cells where `expected` has a number; every such cell must have one in `actual`. */
function maxCellDiff(actual: (number | null)[][], expected: (number | null)[][]): number {
  expect(actual.length).toBe(expected.length);
  let max = 0;
  expected.forEach((row, i) => {
    expect(actual[i]!.length).toBe(row.length);
    row.forEach((e, j) => {
      if (e === null) return;
      const a = actual[i]![j];
      expect(a, `cell [${i}][${j}]`).toBeTypeOf('number');
      max = Math.max(max, Math.abs((a as number) - e));
    });
  });
  return max;
}

/** max |a - b| / max |b| over a list of numbers (HSIC sums are in the tens of thousands). */
function relativeDiff(actual: readonly number[], expected: readonly number[]): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  expected.forEach((e, i) => {
    diff = Math.max(diff, Math.abs(actual[i]! - e));
    scale = Math.max(scale, Math.abs(e));
  });
  return scale === 0 ? diff : diff / scale;
}

// 'auto' is what `ckawatch compare` uses (channel-split for the conv taps); the others pin both graph variants.
describe.each(['auto', 'plain', 'channel-split'] as const)('compare parity with torch_cka 0.21 (digits-cnn vs digits-cnn-b, batch 32, --tap-graph %s)', (variant) => {
  let a: TappedModel;
  let b: TappedModel;
  let ra: ReturnType<typeof recording>;
  let rb: ReturnType<typeof recording>;
  let result: MatrixResult;

  beforeAll(async () => {
    const logger = silentLogger;
    const common = { providers: ['cpu'], variant, logger, threads: 1 } as const;
    a = await TappedModel.open({ path: repo(fixture.model1.onnx), layers: fixture.model1_onnx_layers, ...common });
    b = await TappedModel.open({ path: repo(fixture.model2.onnx), layers: fixture.model2_onnx_layers, ...common });
    const data = loadReference(repo(fixture.data.file), a.input.sampleShape, a.input.name, 'data');
    ra = recording(a);
    rb = recording(b);
    result = await comparePaired(ra, rb, { ...data, name: data.name }, fixture.batch_size);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('keeps the layers in the order asked for, and uses every sample in the same batches as torch_cka', () => {
    expect(a.layers).toEqual(fixture.model1_onnx_layers);
    expect(b.layers).toEqual(fixture.model2_onnx_layers);
    expect(result.batches).toBe(fixture.batches);
    expect(result.samples).toBe(fixture.samples);
    expect(result.unused).toBe(0);
    expect(result.cka.length).toBe(fixture.model1_onnx_layers.length);
  });

  it('agrees with torch_cka and with the float64 reference in every cell to 1e-4', () => {
    const vsTorch = maxCellDiff(result.cka, fixture.torch_cka.CKA);
    const vsReference = maxCellDiff(result.cka, fixture.reference_float64.CKA);
    console.log(
      `parity digits-cnn vs digits-cnn-b (9x9, batch 32, ${variant}): max |ckawatch - torch_cka| = ${vsTorch.toExponential(2)}, ` +
        `max |ckawatch - float64 reference| = ${vsReference.toExponential(2)}`,
    );
    expect(vsTorch).toBeLessThan(1e-4);
    expect(vsReference).toBeLessThan(1e-4);
    // The float32 Grams are built from batch-centred features inside the graph: far closer than the bound.
    expect(vsReference).toBeLessThan(1e-5);
  });

  it('agrees with the reference batch by batch: every HSIC1(K_b, L_b), HSIC1(K_b, K_b) and HSIC1(L_b, L_b)', () => {
    const perBatch = fixture.reference_float64.per_batch;
    expect(perBatch, 'the fixture lists per-batch HSIC values').toBeDefined();
    expect(ra.batches.length).toBe(perBatch!.length);
    expect(rb.batches.length).toBe(perBatch!.length);
    let worst = 0;
    perBatch!.forEach((expected, batch) => {
      const ga = ra.batches[batch]!;
      const gb = rb.batches[batch]!;
      expect(ga[0]!.n).toBe(expected.n);
      const xy = ga.flatMap((k) => gb.map((l) => pairedBatch(k, l).xy));
      const xx = ga.map((k) => pairedBatch(k, k).xy);
      const yy = gb.map((l) => pairedBatch(l, l).xy);
      // Relative to the largest value of the batch: the cells span four orders of magnitude.
      worst = Math.max(worst, relativeDiff(xy, expected.xy.flat()), relativeDiff(xx, expected.xx), relativeDiff(yy, expected.yy));
    });
    console.log(`parity ${variant} per-batch HSIC1 (8 batches x (81 + 9 + 9) values): max relative difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  });

  it('adds the batches up to the reference HSIC sums', () => {
    const ref = fixture.reference_float64;
    expect(ref.hsic_xy_sum && ref.hsic_xx_sum && ref.hsic_yy_sum, 'the fixture lists the HSIC sums').toBeTruthy();
    const sum = (k: (grams: Gram[], other: Gram[]) => number): number =>
      ra.batches.reduce((s, grams, batch) => s + k(grams, rb.batches[batch]!), 0);
    const xy = ref.hsic_xy_sum!.flatMap((row, i) => row.map((_, j) => sum((ga, gb) => pairedBatch(ga[i]!, gb[j]!).xy)));
    const xx = ref.hsic_xx_sum!.map((_, i) => sum((ga) => pairedBatch(ga[i]!, ga[i]!).xy));
    const yy = ref.hsic_yy_sum!.map((_, j) => sum((_ga, gb) => pairedBatch(gb[j]!, gb[j]!).xy));
    const worst = Math.max(relativeDiff(xy, ref.hsic_xy_sum!.flat()), relativeDiff(xx, ref.hsic_xx_sum!), relativeDiff(yy, ref.hsic_yy_sum!));
    console.log(`parity ${variant} HSIC sums over 8 batches: max relative difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
  });
});
