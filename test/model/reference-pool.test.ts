/**
 * The reference pool inside the model: the pool head's reduced sums give the statistics a
 * float64 stacked Gram of the same features gives, for plain and CountSketched layers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftBatch, driftPooled, kernelRows } from '../../src/cka/drift.js';
import { gramOf } from '../../src/cka/gram.js';
import { isPoolBatch } from '../../src/cka/pool.js';
import { gather, loadDigits } from '../../src/demo/digits.js';
import type { Sketch } from '../../src/model/graph/reference-graph.js';
import { buildReferencePool, type ReferencePool } from '../../src/model/reference-pool.js';
import { TappedModel } from '../../src/model/tapped.js';
import { silentLogger } from '../../src/util/logger.js';
import { DIGITS_MODEL } from '../helpers/fixtures.js';

const LAYERS = ['/relu2/Relu_output_0', '/pool2/MaxPool_output_0', 'logits'];
const M = 200;
const N = 32;
let model: TappedModel;
let exact: Float32Array[];
let pool: ReferencePool;
let production: Float32Array;
let exactProduction: Float32Array[];

beforeAll(async () => {
  const digits = loadDigits();
  const reference = { name: 'digits', count: 400, sampleShape: [1, 28, 28], sampleSize: 784, data: gather(digits, Array.from({ length: 400 }, (_, i) => i * 3)) };
  model = await TappedModel.open({ path: DIGITS_MODEL, layers: LAYERS, providers: ['cpu'], variant: 'auto', logger: silentLogger, threads: 1 });
  const indices = Int32Array.from({ length: M }, (_, i) => 2 * i);
  production = gather(digits, Array.from({ length: N }, (_, i) => 5000 + i));
  const plain = { kind: 'features', sketches: {} } as const;
  exact = await model.features(gather(digits, [...indices].map((i) => i * 3)), M, plain, 128);
  exactProduction = await model.features(production.slice(), N, plain, 128);
  // relu2 has 1,936 features per sample: sketched to 512; pool2 (400) and logits (10) are not.
  pool = await buildReferencePool(model, { reference, indices, sketchWidth: 512, seed: 9, maxBytes: 2 ** 30, chunk: 64 });
}, 120_000);

afterAll(async () => {
  await model.close();
});

/** Features through the layer's CountSketch in float64 (the graph's is float32). */
function sketched(features: Float32Array, rows: number, layer: Sketch): Float64Array {
  const { dims, width } = layer;
  const out = new Float64Array(rows * width);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < dims; j++) out[i * width + (j % width)]! += layer.signs[j]! * features[i * dims + j]!;
  }
  return out;
}

describe('the reference pool in the model', () => {
  it('sketches only the layers wider than sketchWidth, and measures the sketch', () => {
    expect(pool.layers.map((l) => [l.dims, l.sketch?.width ?? null])).toEqual([
      [1936, 512],
      [400, null],
      [10, null],
    ]);
    expect(pool.layers[0]!.sketchError).toBeGreaterThan(0.01);
    expect(pool.layers[0]!.sketchError).toBeLessThan(0.5);
    for (const l of pool.layers) expect(l.gramError).toBeLessThan(1e-4);
  });

  it('scores a production batch against the whole pool as a float64 stacked Gram of the same features does', async () => {
    const { grams } = await model.run(production.slice(), N);
    grams.forEach((output, l) => {
      expect(isPoolBatch(output)).toBe(true);
      if (!isPoolBatch(output)) return;
      const layer = pool.layers[l]!;
      const d = layer.dims;
      const k = layer.sketch?.width ?? d;
      const x = layer.sketch ? sketched(exactProduction[l]!, N, layer.sketch) : Float64Array.from(exactProduction[l]!);
      const p = layer.sketch ? sketched(exact[l]!, M, layer.sketch) : Float64Array.from(exact[l]!);
      const stacked = new Float64Array((N + M) * k);
      stacked.set(x, 0);
      stacked.set(p, N * k);
      const want = kernelRows(N, M);
      const got = kernelRows(N, M);
      const reference = driftBatch(gramOf(stacked, N + M, k), N, layer.summary.gamma, want);
      const pooled = driftPooled(output, layer.summary, got);
      for (const key of ['axr', 'axx', 'arr', 'mmdLinear', 'mmdRbf'] as const) {
        expect({ layer: layer.layer, key, error: Math.abs(pooled[key] - reference[key]) / Math.abs(reference[key]) }).toEqual({
          layer: layer.layer,
          key,
          error: expect.toSatisfy((e: number) => e < 2e-3),
        });
      }
      const worst = Math.max(...got.toX.map((v, i) => Math.abs(v - want.toX[i]!) / (Math.abs(want.toX[i]!) + 1e-9)));
      expect(worst).toBeLessThan(1e-3);
    });
  });
});
