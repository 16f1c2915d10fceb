// GPU check, one run: for ResNet-18 and ResNet-50 under each provider (cpu, webgpu, cuda
// where its libraries are installed), the augmented-over-bare time ratio of each tap graph
// at batch 64 + 64 with the residual-block taps, the daemon batch path's samples/s, and
// the CKA difference between providers. Plain JavaScript over dist/ so that the GPU machine
// needs only node: `npm run build`, then `node bench/gpu/check.mjs MODELS_DIR [providers]`.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import { augmentModel, defaultLayers, encodeModel, readModel } from '../../dist/model/index.js';
import { TappedModel } from '../../dist/model/tapped.js';
import { comparePaired } from '../../dist/compare/compare.js';
import { decodeNpy } from '../../dist/io/npy.js';

const dir = process.argv[2] ?? '.gpu/models';
const providers = (process.argv[3] ?? 'cpu,webgpu,cuda').split(',');
const quiet = { info() {}, warn: (_f, m) => console.log(`  warning: ${m}`) };
const npy = decodeNpy(readFileSync(`${dir}/data.npy`));
if (!npy.ok) throw new Error(npy.detail);
const data = npy.value.data;
const shape = npy.value.shape.slice(1);
const sample = shape.reduce((a, b) => a * b, 1);
const models = (process.env.GPU_CHECK_MODELS ?? 'resnet18,resnet50').split(',');
const rows = 128;
const batch = data.slice(0, rows * sample);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function timeSession(bytes, provider, reps = 10) {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: [provider], graphOptimizationLevel: 'all' });
  const feeds = { input: new ort.Tensor('float32', batch, [rows, ...shape]) };
  await session.run(feeds);
  const times = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  await session.release();
  return median(times);
}

const cka = {};
for (const name of models) {
  const path = `${dir}/${name}.onnx`;
  const model = await readModel(path);
  const layers = defaultLayers(model).layers;
  console.log(`\n${name}: ${layers.length} taps (residual blocks), batch ${rows} rows`);
  for (const provider of providers) {
    try {
      const bare = await timeSession(readFileSync(path), provider);
      const line = [`  ${provider.padEnd(7)} bare ${bare.toFixed(1)} ms`];
      for (const variant of ['plain', 'channel-split']) {
        const aug = augmentModel(model, layers, { variant, dropOriginalOutputs: true });
        const t = await timeSession(aug.bytes, provider);
        line.push(`${variant} ${(t / bare).toFixed(2)}x`);
      }
      const tapped = await TappedModel.open({ path, layers, providers: [provider], variant: 'auto', logger: quiet });
      if (tapped.provider !== provider) throw new Error(`fell back to ${tapped.provider}`);
      const t0 = performance.now();
      const reps = 10;
      for (let r = 0; r < reps; r++) await tapped.run(batch, rows);
      line.push(`daemon path ${((reps * rows) / 2 / ((performance.now() - t0) / 1000)).toFixed(0)} production samples/s`);
      const result = await comparePaired(tapped, tapped, { name: 'data', count: 256, sampleSize: sample, data }, 64);
      cka[`${name}/${provider}`] = result.cka;
      await tapped.close();
      console.log(line.join(', '));
    } catch (error) {
      console.log(`  ${provider.padEnd(7)} not available: ${error.message.split('\n')[0]}`);
    }
  }
  const base = cka[`${name}/cpu`];
  for (const provider of providers.filter((p) => p !== 'cpu')) {
    const other = cka[`${name}/${provider}`];
    if (!base || !other) continue;
    let max = 0;
    base.forEach((row, i) => row.forEach((v, j) => (max = Math.max(max, Math.abs(v - other[i][j])))));
    console.log(`  max |CKA(cpu) - CKA(${provider})| = ${max.toExponential(2)} over ${base.length}x${base.length} layers`);
  }
}
