/**
 * What the Gram taps cost: bare model vs the model augmented with the 'plain' and the
 * 'channel-split' Gram subgraphs on its default layers, same session options, same
 * input (64 production + 64 reference rows), repetitions interleaved in one process
 * so that drift in machine load hits all three alike. Prints medians and ratios.
 *
 *   npx tsx bench/taps.ts [--provider cpu|webgpu|cuda] [--threads N] [--reps 20] [--batch 128] [MODEL.onnx ...]
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { augmentModel, type GramVariant } from '../src/model/graph/augment.js';
import { defaultLayers } from '../src/model/graph/layers.js';
import { encodeModel, readModel } from '../src/model/graph/onnx-file.js';
import { valueInfoShape } from '../src/model/graph/proto.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    provider: { type: 'string', default: 'cpu' },
    reps: { type: 'string', default: '20' },
    batch: { type: 'string', default: '128' },
    threads: { type: 'string', default: String(availableParallelism()) },
  },
});
const provider = values.provider;
const reps = Number(values.reps);
const batch = Number(values.batch);
const defaults = ['digits-cnn', 'digits-cnn-b', 'resnet-mini'].map((m) => `test/fixtures/models/${m}.onnx`);
const models = (positionals.length > 0 ? positionals : defaults).filter((path) => {
  if (!existsSync(path)) console.log(`skipping ${path}: not found`);
  return existsSync(path);
});

const options: ort.InferenceSession.SessionOptions = {
  executionProviders: [provider],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: Number(values.threads),
  logSeverityLevel: 3,
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

console.log(`provider ${provider}, ${options.intraOpNumThreads} threads, batch ${batch}, ${reps} interleaved repetitions`);
for (const path of models) {
  const model = await readModel(path);
  const input = model.graph!.input![0]!;
  const dims = [batch, ...valueInfoShape(input)!.slice(1).map((d) => (typeof d === 'number' ? d : 1))];
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => Math.random() * 2 - 1);
  const feeds = { [input.name!]: new ort.Tensor('float32', data, dims) };
  const { layers } = defaultLayers(model);
  const variants: ['bare' | GramVariant, Uint8Array][] = [
    ['bare', encodeModel(model)],
    ['plain', augmentModel(model, layers, { variant: 'plain' }).bytes],
    ['channel-split', augmentModel(model, layers, { variant: 'channel-split' }).bytes],
  ];
  const sessions = await Promise.all(variants.map(([, bytes]) => ort.InferenceSession.create(bytes, options)));
  for (const s of sessions) for (let i = 0; i < 3; i++) await s.run(feeds); // warm-up
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
  console.log(`\n${path}: ${layers.length} taps (${layers.join(', ')})`);
  variants.forEach(([name], i) => {
    const ratio = i === 0 ? '' : `  ${(medians[i]! / bare).toFixed(2)}x bare`;
    console.log(`  ${name.padEnd(14)} ${medians[i]!.toFixed(2).padStart(8)} ms${ratio}`);
  });
  for (const s of sessions) await s.release();
}
