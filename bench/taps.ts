/**
 * What monitoring costs inside the model, as the daemon runs it (reference.scheme: pool):
 * the bare model against the model with the pool head on its default layers, production
 * rows only (n = 64 and 128 by default), same session options, same input, repetitions
 * interleaved in one process so that drift in machine load hits both alike. Prints medians
 * and monitored ÷ bare, with the floors of issue 20.
 *
 *   npx tsx bench/taps.ts [--threads 1] [--reps 20] [--rows 64,128] [--pool 2048] [--sketch-width 256 (the daemon's default)] [--seq 64] [--write DIR] [--layers A,B,...] [MODEL.onnx ...]
 *
 * The pool head is built the way the daemon builds it (src/model/reference-pool.ts): the
 * default layers, the features head (CountSketch past --sketch-width features), the pool
 * centred, an RBF gamma by the median heuristic. What a run costs does not depend on the
 * pool's values, so to keep start-up short on large models the pool is the features of
 * --pool-source distinct random inputs (default 64) repeated with a small jitter up to
 * --pool rows. --layers replaces the default layers (for A/B runs). --write DIR keeps each monitored model (for ORT's profiler). ResNet-18 at 224 px comes from `npx tsx tools/resnet18.ts` (random weights).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { REFERENCE_DEFAULTS } from '../src/config/schema.js';
import { medianGamma } from '../src/cka/drift.js';
import { gramOf } from '../src/cka/gram.js';
import { augmentModel, gramOutputName } from '../src/model/graph/augment.js';
import { defaultLayers } from '../src/model/graph/layers.js';
import { encodeModel, readModel } from '../src/model/graph/onnx-file.js';
import { DataType, valueInfoElemType, valueInfoShape, type ModelProto } from '../src/model/graph/proto.js';
import { countSketch, tapSeed, type Sketch, type TapPool } from '../src/model/graph/reference-graph.js';
import { createPrng } from '../src/reference/prng.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    provider: { type: 'string', default: 'cpu' },
    reps: { type: 'string', default: '20' },
    rows: { type: 'string', default: '64,128' },
    pool: { type: 'string', default: String(REFERENCE_DEFAULTS.pool) },
    'pool-source': { type: 'string', default: '64' },
    'sketch-width': { type: 'string', default: String(REFERENCE_DEFAULTS.sketchWidth) },
    seq: { type: 'string', default: '64' },
    threads: { type: 'string', default: String(availableParallelism()) },
    write: { type: 'string' },
    layers: { type: 'string' },
  },
});
const reps = Number(values.reps);
const rowCounts = values.rows.split(',').map(Number);
const poolRows = Number(values.pool);
const sourceRows = Math.min(poolRows, Number(values['pool-source']));
const sketchWidth = Number(values['sketch-width']);
const seq = Number(values.seq);
const FLOORS: Record<string, number> = { 'digits-cnn': 1.5, 'resnet18-224': 1.3, 'minilm-l6-v2-int8': 1.3 };
const defaults = [
  'test/fixtures/models/digits-cnn.onnx',
  '.cache/models/resnet18-224.onnx',
  'test/fixtures/models/minilm-l6-v2-int8.onnx',
  'test/fixtures/models/resnet-mini.onnx',
];
const models = (positionals.length > 0 ? positionals : defaults).filter((path) => {
  if (!existsSync(path)) console.log(`skipping ${path}: not found${path.includes('resnet18') ? ' (npx tsx tools/resnet18.ts writes it)' : ''}`);
  return existsSync(path);
});

const options: ort.InferenceSession.SessionOptions = {
  executionProviders: [values.provider],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: Number(values.threads),
  logSeverityLevel: 3,
};
const prng = createPrng(20);
const uniform = (): number => prng.nextUint32() / 2 ** 32;

/** Random feeds for n rows: floats in [-1, 1); token ids, an all-ones mask and zero token types for int64 inputs. */
function feedsFor(model: ModelProto, n: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  const initializers = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  for (const input of model.graph?.input ?? []) {
    if (initializers.has(input.name)) continue;
    const shape = valueInfoShape(input) ?? [];
    const dims = [n, ...shape.slice(1).map((d) => (typeof d === 'number' ? d : seq))];
    const size = dims.reduce((a, b) => a * b, 1);
    if (valueInfoElemType(input) === DataType.INT64) {
      const name = input.name ?? '';
      const fill = (i: number): bigint => (name.includes('mask') ? 1n : name.includes('type') ? 0n : BigInt(i % seq === 0 ? 101 : 1000 + Math.floor(uniform() * 28_000)));
      feeds[name] = new ort.Tensor('int64', BigInt64Array.from({ length: size }, (_, i) => fill(i)), dims);
    } else {
      feeds[input.name!] = new ort.Tensor('float32', Float32Array.from({ length: size }, () => uniform() * 2 - 1), dims);
    }
  }
  return feeds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Per layer, a pool of `poolRows` sketched feature rows built as reference-pool.ts does (see the header for the jitter). */
async function poolsFor(model: ModelProto, layers: readonly string[]): Promise<Record<string, TapPool>> {
  const feeds = feedsFor(model, sourceRows);
  const probe = augmentModel(model, layers, { variant: 'plain', dropOriginalOutputs: true, head: { kind: 'features', sketches: {} } });
  const probeSession = await ort.InferenceSession.create(probe.bytes, options);
  const plain = await probeSession.run(feeds);
  await probeSession.release();
  const sketches: Record<string, Sketch | null> = {};
  for (const layer of layers) {
    const dims = (plain[gramOutputName(layer)]!.data as Float32Array).length / sourceRows;
    sketches[layer] = dims > sketchWidth ? countSketch(dims, sketchWidth, tapSeed(7, layer)) : null;
  }
  const head = augmentModel(model, layers, { variant: 'plain', dropOriginalOutputs: true, head: { kind: 'features', sketches } });
  const session = await ort.InferenceSession.create(head.bytes, options);
  const features = await session.run(feeds);
  await session.release();
  const pools: Record<string, TapPool> = {};
  for (const layer of layers) {
    const source = features[gramOutputName(layer)]!.data as Float32Array;
    const k = source.length / sourceRows;
    const rows = new Float64Array(poolRows * k);
    for (let a = 0; a < poolRows; a++) {
      for (let j = 0; j < k; j++) rows[a * k + j] = source[(a % sourceRows) * k + j]! * (1 + 0.05 * (uniform() - 0.5));
    }
    const mean = new Float64Array(k);
    for (let a = 0; a < poolRows; a++) for (let j = 0; j < k; j++) mean[j]! += rows[a * k + j]! / poolRows;
    const centred = rows.map((v, i) => v - mean[i % k]!);
    const norms = new Float32Array(poolRows);
    for (let a = 0; a < poolRows; a++) for (let j = 0; j < k; j++) norms[a]! += centred[a * k + j]! ** 2;
    const count = Math.min(poolRows, 256);
    pools[layer] = {
      sketch: sketches[layer] ?? null,
      m: poolRows,
      mean: Float32Array.from(mean),
      centred: Float32Array.from(centred),
      norms,
      gamma: medianGamma(gramOf(centred.subarray(0, count * k), count, k)),
    };
  }
  return pools;
}

console.log(
  `provider ${values.provider}, ${options.intraOpNumThreads} threads, rows ${rowCounts.join('/')}, pool ${poolRows} ` +
    `(sketch width ${sketchWidth}), ${reps} interleaved repetitions`,
);
for (const path of models) {
  const model = await readModel(path);
  const name = path.split('/').at(-1)!.replace(/\.onnx$/, '');
  const layers = values.layers === undefined ? defaultLayers(model).layers : values.layers.split(',');
  const pools = await poolsFor(model, layers);
  const variants: [string, Uint8Array][] = [
    ['bare', encodeModel(model)],
    ['pool head', augmentModel(model, layers, { variant: 'plain', dropOriginalOutputs: true, head: { kind: 'pool', pools } }).bytes],
  ];
  if (values.write !== undefined) writeFileSync(join(values.write, `${name}.pool-head.onnx`), variants[1]![1]);
  const sessions = await Promise.all(variants.map(([, bytes]) => ort.InferenceSession.create(bytes, options)));
  console.log(`\n${path}: ${layers.length} taps (${layers.join(', ')})`);
  const widths = layers.map((l) => pools[l]!.mean.length);
  console.log(`  features per tap after the sketch: ${widths.join(', ')}`);
  for (const n of rowCounts) {
    const feeds = feedsFor(model, n);
    for (const s of sessions) for (let i = 0; i < 2; i++) await s.run(feeds); // warm-up
    const times: number[][] = sessions.map(() => []);
    for (let r = 0; r < reps; r++) {
      for (const [i, s] of sessions.entries()) {
        const t0 = performance.now();
        await s.run(feeds);
        times[i]!.push(performance.now() - t0);
      }
    }
    const medians = times.map(median);
    const bare = medians[0]!;
    const ratio = medians[1]! / bare;
    const floor = FLOORS[name];
    const verdict = floor === undefined ? '' : `  (floor <= ${floor}x: ${ratio <= floor ? 'met' : 'missed'})`;
    console.log(`  n = ${n}: bare ${bare.toFixed(2)} ms, pool head ${medians[1]!.toFixed(2)} ms, ${ratio.toFixed(2)}x bare${verdict}`);
  }
  for (const s of sessions) await s.release();
}
