/**
 * What witnesses cost per batch, on the main thread where a batch's statistics are
 * computed (while the model worker runs the next batch): the batch statistics of every
 * layer alone (driftBatch) against the same plus rbfWitness and the top-k update of
 * three windows (Witnesses.observe, k = 32), on real Grams of digits-cnn (64 production
 * + 64 reference rows, 6 layers), repetitions interleaved in one process. Prints medians,
 * the ratio, and the model run per batch beside them: as long as statistics + witnesses
 * take less than the model run, they are hidden behind it and cost no throughput.
 *
 *   npx tsx bench/witnesses.ts [--reps 200] [--threads 1]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { driftBatch, medianGamma } from '../src/cka/drift.js';
import { Witnesses } from '../src/daemon/witnesses.js';
import { TappedModel } from '../src/model/tapped.js';
import { readNpyFile } from '../src/io/npy-file.js';
import type { SourceRecord } from '../src/source/source.js';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '200' }, threads: { type: 'string', default: '1' } } });
const reps = Number(values.reps);
const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, fatal: () => {} };
const model = await TappedModel.open({ path: 'test/fixtures/models/digits-cnn.onnx', layers: undefined, providers: ['cpu'], variant: 'auto', threads: Number(values.threads), logger: silent });
const data = readNpyFile('test/fixtures/data/digits-test-256.npy').data as Float32Array;
const n = 64;
const rows = 128;
const stacked = data.slice(0, rows * 784);
const inference: number[] = [];
let grams = (await model.run(stacked, rows)).grams;
for (let i = 0; i < 10; i++) {
  const started = performance.now();
  grams = (await model.run(stacked, rows)).grams;
  inference.push(performance.now() - started);
}
const gammas = grams.map((g) => medianGamma({ n: 64, data: Float64Array.from({ length: 64 * 64 }, (_, k) => g.data[(64 + Math.floor(k / 64)) * rows + 64 + (k % 64)]!) }));
const witnesses = new Witnesses({
  k: 32,
  keepBytes: 0,
  windows: [
    { name: '5m', durationMs: 300_000, buckets: 10 },
    { name: '1h', durationMs: 3_600_000, buckets: 10 },
    { name: '24h', durationMs: 86_400_000, buckets: 10 },
  ],
  layers: model.layers,
  gammas: () => gammas,
});
const records: SourceRecord[] = Array.from({ length: n }, (_, i) => ({ topic: 't', partition: 0, offset: i, value: null, key: null, timestamp: i }));
const referenceIndices = Int32Array.from({ length: rows - n }, (_, i) => i);
const statsOnly: number[] = [];
const withWitnesses: number[] = [];
for (let r = 0; r < reps; r++) {
  for (const withThem of r % 2 === 0 ? [false, true] : [true, false]) {
    const started = performance.now();
    grams.forEach((g, l) => driftBatch(g, n, gammas[l]!));
    if (withThem) witnesses.observe({ grams, n, records, referenceIndices, at: r * 1000 });
    (withThem ? withWitnesses : statsOnly).push(performance.now() - started);
  }
}
await model.close();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const a = median(statsOnly);
const b = median(withWitnesses);
const m = median(inference);
console.log(`per batch of ${n} (+${rows - n} reference rows), ${model.layers.length} layers, ${reps} reps interleaved:`);
console.log(`  statistics alone              ${a.toFixed(2)} ms`);
console.log(`  statistics + witnesses (k 32) ${b.toFixed(2)} ms   (x${(b / a).toFixed(2)}, +${(b - a).toFixed(2)} ms)`);
console.log(`  model run (worker, ${values.threads} thread)  ${m.toFixed(2)} ms: statistics + witnesses are ${((100 * b) / m).toFixed(0)}% of it`);
