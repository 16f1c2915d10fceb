/**
 * The pretrained transformer (all-MiniLM-L6-v2, int8 weights) with Gram taps on its
 * sequence layers: masked-mean pooling inside the graph equals a float64 masked mean of the
 * same layers' outputs, agrees with Python onnxruntime's, trimming the padding changes nothing, and the pooling
 * options ('first', 'flatten') and their errors behave.
 */
import { asGram } from '../../../src/cka/pool.js';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gram } from '../../../src/cka/gram.js';
import ort from 'onnxruntime-node';
import { encodeModel, readModel } from '../../../src/model/graph/onnx-file.js';
import { augmentModel } from '../../../src/model/graph/augment.js';
import { defaultLayers } from '../../../src/model/graph/layers.js';
import { TappedModel } from '../../../src/model/tapped.js';
import { WorkerModelRunner } from '../../../src/model/runtime/worker-runner.js';
import { createTextDecoder } from '../../../src/decode/text/text.js';
import { loadTokenizer } from '../../../src/decode/text/tokenizer.js';
import { DIGITS_MODEL, fixture, modelFixture } from '../../helpers/fixtures.js';

const MODEL = modelFixture('minilm-l6-v2-int8.onnx');
const tokenizer = loadTokenizer(modelFixture('minilm-l6-v2.tokenizer.json'));
const parity = JSON.parse(readFileSync(fixture('text/parity.json'), 'utf8')) as {
  grams: { rows: string[]; max_length: number; layers: Record<string, number[][]> };
};
const logger = pino({ level: 'silent' });
const INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'];

function rows(texts: readonly string[], maxLength: number): Float32Array {
  const decode = createTextDecoder({ tokenizer, maxLength, maxBytes: 4096, maxMessageBytes: 8192, inputs: INPUTS });
  const out = new Float32Array(texts.length * 3 * maxLength);
  texts.forEach((t, i) => {
    const r = decode(new TextEncoder().encode(t));
    if (!r.ok) throw new Error(r.detail);
    out.set(r.value, i * 3 * maxLength);
  });
  return out;
}

function relativeDifference(a: Gram, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.data.length; i++) {
    diff = Math.max(diff, Math.abs(a.data[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

/** The model's own float32 outputs for `layers`, added as graph outputs, from one in-process CPU run. */
async function layerOutputs(packed: Float32Array, n: number, T: number, layers: readonly string[]): Promise<Record<string, Float32Array>> {
  const onnx = await readModel(MODEL);
  const outputs = onnx.graph?.output ?? [];
  const present = new Set(outputs.map((o) => o.name));
  const graph = { ...onnx.graph, output: [...outputs, ...layers.filter((l) => !present.has(l)).map((name) => ({ name, type: { tensorType: { elemType: 1 } } }))] };
  const session = await ort.InferenceSession.create(encodeModel({ ...onnx, graph }), { executionProviders: ['cpu'], logSeverityLevel: 3 });
  try {
    const column = (c: number): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from({ length: n * T }, (_, k) => BigInt(packed[Math.floor(k / T) * 3 * T + c * T + (k % T)]!)), [n, T]);
    const results = await session.run({ input_ids: column(0), attention_mask: column(1), token_type_ids: column(2) }, [...layers]);
    return Object.fromEntries(layers.map((l) => [l, results[l]!.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** Centred X Xᵀ in float64 of the per-sample means over the tokens the mask keeps ([n, T, H] input). */
function maskedMeanGram(hidden: Float32Array, mask: readonly number[], n: number, T: number): number[] {
  const H = hidden.length / (n * T);
  const pooled = Array.from({ length: n }, (_, i) => {
    const v = new Float64Array(H);
    let kept = 0;
    for (let t = 0; t < T; t++) {
      if (mask[i * T + t] === 0) continue;
      kept++;
      for (let h = 0; h < H; h++) v[h]! += hidden[(i * T + t) * H + h]!;
    }
    return v.map((x) => x / Math.max(kept, 1));
  });
  const mean = Array.from({ length: H }, (_, h) => pooled.reduce((s, v) => s + v[h]!, 0) / n);
  return pooled.flatMap((a) => pooled.map((b) => a.reduce((s, x, h) => s + (x - mean[h]!) * (b[h]! - mean[h]!), 0)));
}

describe('all-MiniLM-L6-v2 with pooled Gram taps', () => {
  const layers = Object.keys(parity.grams.layers);
  const T = parity.grams.max_length;
  let model: TappedModel;
  beforeAll(async () => {
    model = await TappedModel.open({ path: MODEL, layers, providers: ['cpu'], variant: 'auto', logger, sequenceLength: T, threads: 2 });
  });
  afterAll(() => model.close());

  it('feeds the three int64 token inputs from one packed row per sample', () => {
    expect(model.layout.entries.map((e) => `${e.name} ${e.type} [${e.sampleShape.join(',')}] @${e.offset}`)).toEqual([
      'input_ids int64 [64] @0',
      'attention_mask int64 [64] @64',
      'token_type_ids int64 [64] @128',
    ]);
    expect(model.runner.tapPooling).toEqual(layers.map(() => 'mean'));
  });

  it('masked-mean Grams equal float64 masked means of the same runtime\'s layer outputs (relative 1e-5)', async () => {
    const n = parity.grams.rows.length;
    const packed = rows(parity.grams.rows, T);
    const grams = await model.grams(packed, n);
    const outputs = await layerOutputs(packed, n, T, layers);
    const mask = Array.from({ length: n * T }, (_, k) => packed[Math.floor(k / T) * 3 * T + T + (k % T)]!);
    const report = Object.fromEntries(layers.map((l, i) => [l, relativeDifference(grams[i]!, maskedMeanGram(outputs[l]!, mask, n, T))]));
    expect(Object.entries(report).filter(([, d]) => d > 1e-5)).toEqual([]);
  });

  // The int8 MatMulInteger kernels round differently on different CPUs (AVX2 without VNNI
  // against the AVX-512 machine that made the fixture), so a layer's outputs from another
  // machine drift with depth: Python onnxruntime 1.32 on an AVX2 EPYC differs from the
  // fixture by 4.2e-5 after one encoder layer and 4.1e-3 at last_hidden_state, exactly as
  // Node does there. The embeddings' LayerNorm (no int8 op before it) must still agree tightly.
  it('Grams agree with numpy\'s from Python onnxruntime (1e-5 before any int8 op, 1e-2 after)', async () => {
    const n = parity.grams.rows.length;
    const grams = await model.grams(rows(parity.grams.rows, T), n);
    const report = layers.map((l, i) => [l, relativeDifference(grams[i]!, parity.grams.layers[l]!.flat())] as const);
    expect(report[0]![0]).toBe('/bert/embeddings/LayerNorm/LayerNormalization_output_0');
    expect(report[0]![1]).toBeLessThan(1e-5);
    expect(report.filter(([, d]) => d > 1e-2)).toEqual([]);
  });

  it('cutting the padding to the batch\'s longest text gives the same Grams as padding to 128', async () => {
    const texts = parity.grams.rows.slice(0, 8);
    const long = await TappedModel.open({ path: MODEL, layers, providers: ['cpu'], variant: 'auto', logger, sequenceLength: 128, threads: 2, trimPadding: false });
    try {
      const a = await model.grams(rows(texts, T), texts.length);
      const b = await long.grams(rows(texts, 128), texts.length);
      a.forEach((g, i) => expect(relativeDifference(g, b[i]!.data)).toBeLessThan(1e-5));
    } finally {
      await long.close();
    }
  });
});

describe('pooling choices', () => {
  it('monitors one LayerNormalization output per sub-layer of a token model by default, pooled by masked mean', async () => {
    const onnx = await readModel(MODEL);
    const { layers, warnings } = defaultLayers(onnx);
    expect(warnings).toEqual([]);
    expect(layers).toHaveLength(13);
    expect(layers[0]).toBe('/bert/embeddings/LayerNorm/LayerNormalization_output_0');
    expect(layers.at(-1)).toBe('last_hidden_state');
    expect(augmentModel(onnx, layers, { variant: 'auto' }).tapPooling).toEqual(layers.map(() => 'mean'));
  });

  it('first-token pooling gives the Gram of the centred [CLS] vectors', async () => {
    const texts = parity.grams.rows.slice(0, 6);
    const runner = await WorkerModelRunner.create({
      modelPath: MODEL,
      taps: ['last_hidden_state'],
      variant: 'auto',
      providers: ['cpu'],
      logger,
      outputs: ['last_hidden_state'],
      pooling: { default: 'first' },
      threads: 2,
    });
    try {
      const T = 32;
      const packed = rows(texts, T);
      const n = texts.length;
      const feeds = {
        input_ids: { type: 'int64' as const, dims: [n, T], data: BigInt64Array.from({ length: n * T }, (_, k) => BigInt(packed[Math.floor(k / T) * 3 * T + (k % T)]!)) },
        attention_mask: { type: 'int64' as const, dims: [n, T], data: BigInt64Array.from({ length: n * T }, (_, k) => BigInt(packed[Math.floor(k / T) * 3 * T + T + (k % T)]!)) },
        token_type_ids: { type: 'int64' as const, dims: [n, T], data: new BigInt64Array(n * T) },
      };
      const { grams, outputs } = await runner.run(feeds, n);
      const hidden = outputs!['last_hidden_state']!;
      const H = 384;
      const cls = Array.from({ length: n }, (_, i) => Array.from(hidden.subarray(i * T * H, i * T * H + H), Number));
      const mean = Array.from({ length: H }, (_, k) => cls.reduce((s, v) => s + v[k]!, 0) / n);
      const expected = cls.flatMap((a) => cls.map((b) => a.reduce((s, v, k) => s + (v - mean[k]!) * (b[k]! - mean[k]!), 0)));
      expect(relativeDifference(asGram(grams[0]!), expected)).toBeLessThan(1e-5);
    } finally {
      await runner.close();
    }
  });

  it('explains pooling that cannot apply', async () => {
    const onnx = await readModel(MODEL);
    expect(() => augmentModel(onnx, ['last_hidden_state'], { variant: 'auto', pooling: { default: 'mean', mask: 'mask' } })).toThrowErrorMatchingInlineSnapshot(
      `[ModelError: layer 'last_hidden_state': pooling 'mean' averages over the tokens the attention mask keeps, but the model has no input 'mask'; name the mask input (model.pooling.mask) or use pooling 'first' or 'flatten']`,
    );
    const digits = await readModel(DIGITS_MODEL);
    expect(() => augmentModel(digits, ['logits'], { variant: 'auto', pooling: { layers: { logits: 'first' } } })).toThrowErrorMatchingInlineSnapshot(
      `[ModelError: layer 'logits' has shape [N, 10]: pooling 'first' takes a [batch, sequence, ...] tensor; use pooling 'flatten' for it]`,
    );
    // 'auto' leaves models without sequence layers exactly as before.
    expect(augmentModel(digits, defaultLayers(digits).layers, { variant: 'auto' }).tapPooling.every((p) => p === 'flatten')).toBe(true);
  });
});
