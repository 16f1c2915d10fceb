/**
 * What `ckawatch compare` costs, side by side in one run: randomly initialised ResNet-18 vs
 * ResNet-34 (11 x 19 layers: maxpool, every BasicBlock output, avgpool, fc), the same data,
 * batch size and thread count for every contender:
 *
 *   ORT bare            both ONNX models in onnxruntime-node, no taps, in this thread (the limit)
 *   ORT + taps          both models augmented with Gram outputs, in this thread, no statistics
 *   ckawatch compare    comparePaired over TappedModel (worker threads, Grams in the graph,
 *                       float64 HSIC on the main thread, one batch in flight): what the CLI runs
 *                       after loading the models
 *   torch bare          both torch models, no hooks (context)
 *   torch_cka 0.21      CKA(...).compare(loader) under torch.no_grad()
 *
 * The torch side is one Python process (bench/compare_torch_cka.py serve) that answers a
 * command a line, so that the contenders run interleaved, round after round; each one's
 * fastest round counts (on a shared machine the minimum is the least disturbed; the first
 * contender rotates from round to round). The torch contenders, far slower, run in the first
 * --torch-rounds rounds only. Wall and process CPU seconds are both shown. Model
 * loading is left out everywhere. Floors: ckawatch >= 0.7x ORT bare and >= 2x torch_cka.
 * The matrices are checked too: ckawatch and torch_cka against a float64 reference.
 * Models and data: made by bench/compare_torch_cka.py export on the first run (.cache/bench/).
 *
 *   npx tsx bench/compare.ts [--size 64] [--images 256] [--batch 64] [--threads 2] [--rounds 5]
 *                            [--torch-rounds 2] [--tap-graph auto|plain|channel-split] [--skip-torch]
 */
import { asGram } from '../src/cka/pool.js';
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { comparePaired, type Dataset, type GramModel } from '../src/compare/compare.js';
import { readNpyFile } from '../src/io/npy-file.js';
import { augmentModel, type GramVariantOption } from '../src/model/graph/augment.js';
import { encodeModel, readModel } from '../src/model/graph/onnx-file.js';
import { TappedModel } from '../src/model/tapped.js';
import { silentLogger } from '../src/util/logger.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    images: { type: 'string', default: '256' },
    batch: { type: 'string', default: '64' },
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    'torch-rounds': { type: 'string', default: '2' },
    'tap-graph': { type: 'string', default: 'auto' },
    'skip-torch': { type: 'boolean', default: false },
  },
});
const [size, images, batch, threads, rounds] = [values.size, values.images, values.batch, values.threads, values.rounds].map(Number) as [
  number, number, number, number, number,
];
const torchRounds = Math.min(rounds, Number(values['torch-rounds']));
const variant = values['tap-graph'] as GramVariantOption;
const python = '.venv/bin/python';
const helper = 'bench/compare_torch_cka.py';
const common = ['--size', String(size), '--images', String(images)];

interface Setup {
  model1_onnx: string;
  model2_onnx: string;
  model1_onnx_layers: string[];
  model2_onnx_layers: string[];
  data: string;
}

const setupPath = `.cache/bench/layers-${size}px.json`;
if (!existsSync(setupPath)) {
  console.log(`exporting models and data at ${size} px (${python} ${helper} export) ...`);
  const made = spawnSync(python, [helper, 'export', ...common], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (made.status !== 0) throw new Error(`${helper} export failed (status ${made.status})`);
}
const setup = JSON.parse(readFileSync(setupPath, 'utf8')) as Setup;
const array = readNpyFile(setup.data);
if (array.kind !== 'float32') throw new Error(`${setup.data} is not float32`);
const sampleShape = array.shape.slice(1);
const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
const data: Dataset = { name: 'digits', count: array.shape[0]!, sampleSize, data: array.data };
const taps = [setup.model1_onnx_layers, setup.model2_onnx_layers];

/** The torch side: one JSON line back per command line. */
interface TorchSide {
  ask<T>(command: 'bare' | 'cka' | 'reference'): Promise<T>;
  close(): void;
  readonly info: { threads: number; versions: Record<string, string> };
}

async function startTorch(): Promise<TorchSide> {
  const child = spawn(python, [helper, 'serve', ...common, '--batch-size', String(batch), '--threads', String(threads)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, TQDM_DISABLE: '1' }, // torch_cka's progress bar
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async <T>(): Promise<T> => {
    const line = await lines.next();
    if (line.done) throw new Error(`${helper} serve exited (status ${child.exitCode})`);
    return JSON.parse(line.value) as T;
  };
  const info = await next<TorchSide['info']>();
  return {
    info,
    ask(command) {
      child.stdin.write(`${command}\n`);
      return next();
    },
    close: () => child.stdin.end('quit\n'),
  };
}

interface Timing {
  seconds: number;
  cpuSeconds: number;
}

/** Wall and process CPU time (every thread, workers included) of `run`. */
async function measure(run: () => Promise<unknown>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const c = process.cpuUsage(c0);
  return { seconds: (performance.now() - t0) / 1000, cpuSeconds: (c.user + c.system) / 1e6 };
}

/** Both sessions over every batch, A then B, in this thread. */
async function runSessions(sessions: ort.InferenceSession[]): Promise<void> {
  for (let start = 0; start < data.count; start += batch) {
    const n = Math.min(batch, data.count - start);
    const x = new ort.Tensor('float32', data.data.subarray(start * sampleSize, (start + n) * sampleSize), [n, ...sampleShape]);
    for (const s of sessions) await s.run({ [s.inputNames[0]!]: x });
  }
}

/** A GramModel that adds up the time ONNX Runtime spent in run() inside the worker. */
function timed(model: TappedModel, clock: { inferenceMs: number }): GramModel {
  return {
    name: model.name,
    layers: model.layers,
    async grams(samples, n) {
      const r = await model.run(samples, n);
      clock.inferenceMs += r.inferenceMs;
      return r.grams.map(asGram);
    },
  };
}

const sessionOptions: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  intraOpNumThreads: threads,
  logSeverityLevel: 3,
};
const models = [await readModel(setup.model1_onnx), await readModel(setup.model2_onnx)];
const bare = await Promise.all(models.map((m) => ort.InferenceSession.create(encodeModel(m), sessionOptions)));
const augmented = await Promise.all(
  models.map((m, i) => ort.InferenceSession.create(augmentModel(m, taps[i]!, { variant, dropOriginalOutputs: true }).bytes, sessionOptions)),
);
const logger = { ...silentLogger, warn: (_f: object, m?: string) => console.log(`warning: ${m}`) };
const open = (path: string, layers: string[]): Promise<TappedModel> =>
  TappedModel.open({ path, layers, providers: ['cpu'], variant, logger, threads });
const tapped = [await open(setup.model1_onnx, setup.model1_onnx_layers), await open(setup.model2_onnx, setup.model2_onnx_layers)] as const;
const torch = values['skip-torch'] ? null : await startTorch();

console.log(
  `resnet18 (${taps[0]!.length} layers) vs resnet34 (${taps[1]!.length} layers), ${data.count} images ${sampleShape.join('x')}, ` +
    `batch ${batch} (${Math.ceil(data.count / batch)} batches), ${threads} threads for ORT and torch alike, CPU, ` +
    `tap graph '${variant}', best of ${rounds} interleaved rounds (torch: ${torch === null ? 'skipped' : `the first ${torchRounds}`})`,
);
// Warm-up: one batch through every ONNX session (allocations, kernel selection); torch warmed itself.
const warm: Dataset = { name: 'warm-up', count: batch, sampleSize, data: data.data.subarray(0, batch * sampleSize) };
for (const s of [...bare, ...augmented]) await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', warm.data, [batch, ...sampleShape]) });
await comparePaired(tapped[0], tapped[1], warm, batch);

const best: Record<string, Timing> = {};
const all: Record<string, number[]> = {};
const keep = (key: string, t: Timing): boolean => {
  (all[key] ??= []).push(t.seconds);
  const better = t.seconds < (best[key]?.seconds ?? Infinity);
  if (better) best[key] = t;
  return better;
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');
const loadBefore = load();
let ckawatchMatrix: (number | null)[][] = [];
let inferenceSeconds = NaN;
interface TorchCka {
  error: string | null;
  CKA: (number | null)[][] | null;
}
// Set inside the contender closures; TypeScript cannot see that, hence the assertion where it is read.
let torchCka = null as TorchCka | null;
const contenders: ((round: number) => Promise<void>)[] = [
  async () => void keep('ortBare', await measure(() => runSessions(bare))),
  async () => void keep('ortTaps', await measure(() => runSessions(augmented))),
  async () => {
    const clock = { inferenceMs: 0 };
    const t = await measure(async () => {
      ckawatchMatrix = (await comparePaired(timed(tapped[0], clock), timed(tapped[1], clock), data, batch)).cka;
    });
    if (keep('ckawatch', t)) inferenceSeconds = clock.inferenceMs / 1000;
  },
  ...(torch === null
    ? []
    : [
        async (round: number) => {
          if (round >= torchRounds) return;
          const b = await torch.ask<{ seconds: number; cpu_seconds: number }>('bare');
          keep('torchBare', { seconds: b.seconds, cpuSeconds: b.cpu_seconds });
        },
        async (round: number) => {
          if (round >= torchRounds) return;
          const c = await torch.ask<{ seconds: number; cpu_seconds: number; error: string | null; CKA: (number | null)[][] | null }>('cka');
          keep('torchCka', { seconds: c.seconds, cpuSeconds: c.cpu_seconds });
          torchCka = c;
        },
      ]),
];
for (let r = 0; r < rounds; r++) {
  // A different contender goes first each round, so that no one always follows the same neighbour.
  for (let k = 0; k < contenders.length; k++) await contenders[(k + r) % contenders.length]!(r);
  console.log(`  round ${r + 1}/${rounds} done`);
}
const reference = torch === null ? null : (await torch.ask<{ CKA: (number | null)[][] }>('reference')).CKA;
torch?.close();
await Promise.all(tapped.map((m) => m.close()));
for (const s of [...bare, ...augmented]) await s.release();

const rate = (t: Timing | undefined): number => (t === undefined ? NaN : data.count / t.seconds);
console.log(`\n  load average (1, 5, 15 min) before ${loadBefore}, after ${load()} on ${availableParallelism()} cores: other work on the machine slows some rounds`);
console.log(`\n  ${'contender'.padEnd(18)} ${'wall s'.padStart(8)} ${'CPU s'.padStart(8)} ${'samples/s'.padStart(10)}   (best round; median wall s)`);
for (const [name, key] of [
  ['ORT bare (limit)', 'ortBare'],
  ['ORT + Gram taps', 'ortTaps'],
  ['ckawatch compare', 'ckawatch'],
  ['torch bare', 'torchBare'],
  ['torch_cka 0.21', 'torchCka'],
] as const) {
  const t = best[key];
  if (t === undefined) continue;
  console.log(
    `  ${name.padEnd(18)} ${t.seconds.toFixed(2).padStart(8)} ${t.cpuSeconds.toFixed(2).padStart(8)} ${rate(t).toFixed(1).padStart(10)}` +
      `   (median ${median(all[key]!).toFixed(2)})`,
  );
}
const ckawatch = rate(best.ckawatch);
const ratio = (x: number, floor?: number): string =>
  `${x.toFixed(2)}x${floor === undefined ? '' : `  (floor ${floor.toFixed(2)}x: ${x >= floor ? 'ok' : 'BELOW FLOOR'})`}`;
console.log(`\n  ckawatch / ORT bare        ${ratio(ckawatch / rate(best.ortBare), 0.7)}`);
console.log(`  ORT + taps / ORT bare      ${ratio(rate(best.ortTaps) / rate(best.ortBare))}  (the Gram taps inside ORT)`);
console.log(
  `  ckawatch's best round: ${inferenceSeconds.toFixed(2)} s in ORT run() inside the workers, ` +
    `${(best.ckawatch!.seconds - inferenceSeconds).toFixed(2)} s besides (messages, statistics the pipelining did not hide)`,
);
if (torch !== null && torchCka !== null) {
  console.log(`  ckawatch / torch_cka       ${ratio(ckawatch / rate(best.torchCka), 2)}`);
  console.log(`  ORT bare / torch bare      ${ratio(rate(best.ortBare) / rate(best.torchBare))}`);
  console.log(`  torch_cka ${torch.info.versions['torch-cka']}: ${torchCka.error ?? 'finished'}; torch ${torch.info.versions.torch}, ${torch.info.threads} threads`);
  const maxDiff = (a: (number | null)[][] | null, b: (number | null)[][] | null): string => {
    if (a === null || b === null) return 'n/a';
    let max = 0;
    let cells = 0;
    a.forEach((row, i) => row.forEach((v, j) => {
      const w = b[i]?.[j];
      if (v === null || w === null || w === undefined) return;
      max = Math.max(max, Math.abs(v - w));
      cells += 1;
    }));
    return `${max.toExponential(2)} over ${cells} cells`;
  };
  console.log(`  max |ckawatch - float64 reference| = ${maxDiff(ckawatchMatrix, reference)}`);
  console.log(`  max |torch_cka - float64 reference| = ${maxDiff(torchCka.CKA, reference)}`);
}
