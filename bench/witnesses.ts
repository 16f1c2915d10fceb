/**
 * What witnesses cost per batch, on the main thread where a batch's statistics are
 * computed (while the model worker runs the next batch): the batch statistics of every
 * layer alone (driftBatch) against the same with kernel row sums, witnessOf and the top-k update of
 * three windows (Witnesses.observe, k = 32), on real Grams of digits-cnn (64 production
 * + 64 reference rows, 6 layers), repetitions interleaved in one process. Prints medians,
 * the ratio, and the model run per batch beside them: as long as statistics + witnesses
 * take less than the model run, they are hidden behind it and cost no throughput.
 *
 * Then end to end, unless --no-daemon: the daemon (dist/cli/main.js) reads one backlog of
 * held-out digits on the test broker (started if none answers, as in tests) several times,
 * witnesses off (k = 0) and on (k = 32) by turns, each from the start with a fresh group;
 * samples/s between 10% and 90% of the backlog, from ckawatch_samples_total.
 *
 *   npx tsx bench/witnesses.ts [--reps 200] [--threads 1] [--no-daemon] [--samples 90000] [--rounds 2]
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { driftBatch, kernelRows, medianGamma } from '../src/cka/drift.js';
import { asGram } from '../src/cka/pool.js';
import { Witnesses } from '../src/daemon/witnesses.js';
import { TappedModel } from '../src/model/tapped.js';
import { readNpyFile } from '../src/io/npy-file.js';
import type { SourceRecord } from '../src/source/source.js';
import { DaemonProcess, editConfig, writeDaemonConfig } from '../test/helpers/daemon.js';
import { heldOutDigits, rawMessage, writeReference } from '../test/helpers/digits.js';
import { tempDir } from '../test/helpers/files.js';
import { freshTopic, produce, uniqueName } from '../test/helpers/kafka.js';
import { valueOf } from '../test/helpers/prom-text.js';
import { buildIfStale, ensureBroker } from '../test/helpers/services.js';

const { values } = parseArgs({
  options: {
    reps: { type: 'string', default: '200' },
    threads: { type: 'string', default: '1' },
    'no-daemon': { type: 'boolean', default: false },
    // 90,000: a 10%-90% stretch of ~10 s per run; 30,000 (~4 s) left +-10% of noise between runs.
    samples: { type: 'string', default: '90000' },
    rounds: { type: 'string', default: '2' },
  },
});
const reps = Number(values.reps);
const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, fatal: () => {} };
const model = await TappedModel.open({ path: 'test/fixtures/models/digits-cnn.onnx', layers: undefined, providers: ['cpu'], variant: 'auto', threads: Number(values.threads), logger: silent });
const data = readNpyFile('test/fixtures/data/digits-test-256.npy').data as Float32Array;
const n = 64;
const rows = 128;
const stacked = data.slice(0, rows * 784);
const inference: number[] = [];
let grams = (await model.run(stacked, rows)).grams.map(asGram);
for (let i = 0; i < 10; i++) {
  const started = performance.now();
  grams = (await model.run(stacked, rows)).grams.map(asGram);
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
});
const samples = Array.from({ length: n }, (_, i) => ({ record: { topic: 't', partition: 0, offset: i, value: null, key: null, timestamp: i } satisfies SourceRecord, index: 0 }));
const referenceIndices = Int32Array.from({ length: rows - n }, (_, i) => i);
const statsOnly: number[] = [];
const withWitnesses: number[] = [];
for (let r = 0; r < reps; r++) {
  for (const withThem of r % 2 === 0 ? [false, true] : [true, false]) {
    const started = performance.now();
    if (withThem) {
      // As the pipeline does: driftBatch fills the kernel row sums, witnesses read them.
      const kernels = grams.map(() => kernelRows(n, rows - n));
      grams.forEach((g, l) => driftBatch(g, n, gammas[l]!, kernels[l]));
      witnesses.observe({ kernels, n, samples, referenceIndices, at: r * 1000 });
    } else {
      grams.forEach((g, l) => driftBatch(g, n, gammas[l]!));
    }
    (withThem ? withWitnesses : statsOnly).push(performance.now() - started);
  }
}
await model.close();
function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const half = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}
const a = median(statsOnly);
const b = median(withWitnesses);
const m = median(inference);
console.log(`per batch of ${n} (+${rows - n} reference rows), ${model.layers.length} layers, ${reps} reps interleaved:`);
console.log(`  statistics alone              ${a.toFixed(2)} ms`);
console.log(`  statistics + witnesses (k 32) ${b.toFixed(2)} ms   (x${(b / a).toFixed(2)}, +${(b - a).toFixed(2)} ms)`);
console.log(`  model run (worker, ${values.threads} thread)  ${m.toFixed(2)} ms: statistics + witnesses are ${((100 * b) / m).toFixed(0)}% of it`);

if (!values['no-daemon']) await endToEnd(Number(values.samples), Number(values.rounds));

async function endToEnd(backlog: number, rounds: number): Promise<void> {
  const stopBroker = await ensureBroker();
  const dir = tempDir('ckawatch-bench-witnesses-');
  try {
    await buildIfStale();
    const referencePath = writeReference(dir.dir, 2_000);
    const topic = await freshTopic('bench-witnesses', 1);
    const digits = heldOutDigits(5_000).map(rawMessage);
    await produce(topic, Array.from({ length: backlog }, (_, i) => digits[i % digits.length]!), 300);
    const rates: Record<string, number[]> = { off: [], on: [] };
    for (let round = 0; round < 2 * rounds; round++) {
      const k = round % 2 === 0 ? 0 : 32;
      // A folder per run: each starts with no checkpoint.
      const config = writeDaemonConfig(mkdtempSync(join(dir.dir, 'run-')), { topic, groupId: uniqueName('bench-witnesses'), referencePath, batchSize: 64, threads: Number(values.threads), calibrationBatches: 16 });
      editConfig(config, (c) => {
        c['witnesses'] = { k, keepBytes: 0 };
      });
      const d = await DaemonProcess.start(config, { timeoutMs: 60_000 });
      try {
        let from: { t: number; n: number } | null = null;
        let rate = 0;
        for (;;) {
          const n = valueOf(await d.scrape(), 'ckawatch_samples_total', { topic }) ?? 0;
          const t = performance.now();
          if (from === null && n >= 0.1 * backlog) from = { t, n };
          if (from !== null && n >= 0.9 * backlog) {
            rate = ((n - from.n) / (t - from.t)) * 1000;
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        rates[k === 0 ? 'off' : 'on']!.push(rate);
        console.log(`  daemon, witnesses ${k === 0 ? 'off   ' : 'k = 32'}: ${rate.toFixed(0)} samples/s`);
      } finally {
        await d.stop(60_000);
      }
    }
    const off = median(rates['off']!);
    const on = median(rates['on']!);
    console.log(`end to end, ${backlog} digits, ${rounds} rounds each (medians): off ${off.toFixed(0)}, on ${on.toFixed(0)} samples/s: on/off ${(on / off).toFixed(3)}`);
  } finally {
    dir.cleanup();
    await stopBroker();
  }
}
