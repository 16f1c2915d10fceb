// GPU check, one run: for ResNet-18 and ResNet-50 under each provider (cpu, webgpu, cuda
// where its libraries are installed):
//   - augmented-over-bare time of each tap graph (plain, channel-split) with the
//     residual-block taps, at 64 rows (DESIGN's table) and 128 rows (the daemon's
//     64 production + 64 reference);
//   - each graph's worst Gram error against float64 (the start-up precision probe), and
//     the graphs the precision check keeps at the default tolerance;
//   - the daemon batch path's samples/s after that check;
//   - the CKA matrix (compare, 256 samples) and its largest difference from cpu's.
// Plain JavaScript over dist/ so that the GPU machine needs only node: `npm run build`,
// then `node bench/gpu/check.mjs MODELS_DIR [providers]`. GPU_CHECK_MODELS, GPU_CHECK_ROWS
// and GPU_CHECK_REPS override the model list, row counts and timed repetitions;
// GPU_CHECK_JSON names a file for the numbers.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import { augmentModel, readModel } from '../../dist/model/index.js';
import { indexGraph } from '../../dist/model/graph/graph-index.js';
import { probeModel } from '../../dist/model/graph/augment.js';
import { DEFAULT_GRAM_TOLERANCE } from '../../dist/config/vocabulary.js';
import { TappedModel } from '../../dist/model/tapped.js';
import { comparePaired } from '../../dist/compare/compare.js';
import { decodeNpy } from '../../dist/io/npy.js';

const dir = process.argv[2] ?? '.gpu/models';
const providers = (process.argv[3] ?? 'cpu,webgpu,cuda').split(',');
const models = (process.env.GPU_CHECK_MODELS ?? 'resnet18,resnet50').split(',');
const rowCounts = (process.env.GPU_CHECK_ROWS ?? '64,128').split(',').map(Number);
const reps = Number(process.env.GPU_CHECK_REPS ?? 10);
const quiet = { info() {}, warn: (_f, m) => console.log(`  warning: ${m}`) };
const npy = decodeNpy(readFileSync(`${dir}/data.npy`));
if (!npy.ok) throw new Error(npy.detail);
const data = npy.value.data;
const shape = npy.value.shape.slice(1);
const sample = shape.reduce((a, b) => a * b, 1);
const rowsOf = (n) => data.slice(0, n * sample);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fmt = (x) => (x === null ? 'constant' : x.toExponential(1));
const results = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, models: {} };

/** Median time of `reps` runs after one warm-up, with the session options the daemon uses. */
async function timeSession(bytes, provider, rows) {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], graphOptimizationLevel: 'all' });
  try {
    const feeds = { input: new ort.Tensor('float32', rowsOf(rows), [rows, ...shape]) };
    await session.run(feeds);
    const times = [];
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t);
    }
    return median(times);
  } finally {
    await session.release();
  }
}

for (const name of models) {
  const path = `${dir}/${name}.onnx`;
  const model = await readModel(path);
  // The residual-block outputs (a Relu right after a residual Add), as in DESIGN's table.
  const index = indexGraph(model);
  const layers = index.nodes.filter((n) => n.opType === 'Relu' && index.producer.get(n.input[0])?.opType === 'Add').map((n) => n.output[0]);
  const cka = {};
  results.models[name] = { layers: layers.length, providers: {} };
  console.log(`\n${name}: ${layers.length} taps (residual-block outputs), ${reps} timed runs each`);
  for (const provider of providers) {
    const out = {};
    try {
      const line = [`  ${provider.padEnd(7)}`];
      for (const rows of rowCounts) {
        const bare = await timeSession(readFileSync(path), provider, rows);
        out[`bare_ms_${rows}`] = bare;
        const ratios = [];
        for (const variant of ['plain', 'channel-split']) {
          const aug = augmentModel(model, layers, { variant, dropOriginalOutputs: true });
          const ratio = (await timeSession(aug.bytes, provider, rows)) / bare;
          out[`${variant}_over_bare_${rows}`] = ratio;
          ratios.push(`${variant} ${ratio.toFixed(2)}x`);
        }
        line.push(`${rows} rows: bare ${bare.toFixed(1)} ms, ${ratios.join(', ')};`);
      }
      console.log(line.join(' '));

      const tapped = await TappedModel.open({ path, layers, providers: [provider], variant: 'auto', logger: quiet });
      try {
        if (tapped.provider !== provider) throw new Error(`fell back to ${tapped.provider}`);
        // Each graph's error against float64 on 16 samples, as the start-up check measures it;
        // the first run learns the tap shapes (the export records none) so that both graphs apply.
        const feeds = () => ({ input: { type: 'float32', data: rowsOf(16), dims: [16, ...shape] } });
        const first = await tapped.runner.probe(probeModel(model, layers, { variant: 'plain' }), feeds(), 16);
        const shapes = Object.fromEntries(layers.map((l, i) => [l, first.dims[i]]));
        const probe = await tapped.runner.probe(probeModel(model, layers, { variant: 'plain', shapes }), feeds(), 16);
        const worst = {};
        for (const tap of probe.taps) for (const { variant, error } of tap) worst[variant] = Math.max(worst[variant] ?? 0, error ?? 0);
        out.worst_gram_error = worst;
        const report = await tapped.checkPrecision(rowsOf(16), 16, DEFAULT_GRAM_TOLERANCE);
        const kept = report.taps.map((t) => t.variant);
        out.kept_graphs = kept;
        console.log(
          `          worst Gram error vs float64: ${Object.entries(worst).map(([v, e]) => `${v} ${fmt(e)}`).join(', ')}; ` +
            `kept at tolerance ${DEFAULT_GRAM_TOLERANCE}: ${kept.filter((v) => v === 'channel-split').length} channel-split, ${kept.filter((v) => v === 'plain').length} plain`,
        );
        const rows = 128;
        const batch = rowsOf(rows);
        await tapped.run(batch, rows);
        const t0 = performance.now();
        for (let r = 0; r < reps; r++) await tapped.run(batch, rows);
        out.daemon_samples_per_s = (reps * rows) / 2 / ((performance.now() - t0) / 1000);
        const result = await comparePaired(tapped, tapped, { name: 'data', count: 256, sampleSize: sample, data: rowsOf(256) }, 64);
        cka[provider] = result.cka;
        console.log(`          daemon path ${out.daemon_samples_per_s.toFixed(0)} production samples/s (${rows / 2} + ${rows / 2} rows per batch)`);
      } finally {
        await tapped.close();
      }
    } catch (error) {
      out.unavailable = error.message.split('\n')[0];
      console.log(`  ${provider.padEnd(7)} not available: ${out.unavailable}`);
    }
    results.models[name].providers[provider] = out;
  }
  for (const provider of providers.filter((p) => p !== 'cpu' && cka[p] && cka.cpu)) {
    let max = 0;
    cka.cpu.forEach((row, i) => row.forEach((v, j) => (max = Math.max(max, Math.abs(v - cka[provider][i][j])))));
    results.models[name].providers[provider].max_cka_difference_from_cpu = max;
    console.log(`  max |CKA(cpu) - CKA(${provider})| = ${max.toExponential(2)} over ${layers.length}x${layers.length} layers`);
  }
}
if (process.env.GPU_CHECK_JSON) writeFileSync(process.env.GPU_CHECK_JSON, `${JSON.stringify(results, null, 2)}\n`);
