/**
 * The daemon's float64 statistics per batch and layer (cka/drift.ts driftPooled, on the main
 * thread while the worker runs the next batch), against the same function before it was
 * fused (kept here verbatim): K copied out of the pool head's rows (productionBlock),
 * U-centred into a second n × n array (uCenter), HSIC1(K, K) from it (hsicOfCentered), then
 * another pass for the kernel sums. Same pool batch, interleaved repetitions, one process.
 *
 *   npx tsx bench/statistics.ts [--n 64] [--m 2048] [--reps 4000]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { batchWeights, DRIFT_FIELDS, driftPooled, kernelRows, type DriftSums, type KernelRows } from '../src/cka/drift.js';
import { assertMinSamples } from '../src/cka/gram.js';
import { StatisticsError } from '../src/errors/index.js';
import { hsicOfCentered, uCenter } from '../src/cka/hsic.js';
import { poolSummary, productionBlock, rbfKernel, reduceBatch, type PoolBatch, type PoolSummary } from '../src/cka/pool.js';
import { gramOf } from '../src/cka/gram.js';
import { createPrng } from '../src/reference/prng.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '64' }, m: { type: 'string', default: '2048' }, reps: { type: 'string', default: '4000' } } });
const n = Number(values.n);
const m = Number(values.m);
const reps = Number(values.reps);
const d = 32;
const prng = createPrng(3);
const z = Float64Array.from({ length: (n + m) * d }, () => prng.nextUint32() / 2 ** 32 - 0.5);
const g = gramOf(z, n + m, d);
const top = { n, m, data: Float32Array.from(g.data.subarray(0, n * (n + m))) };
const pool = poolSummary({ n: m, data: Float64Array.from({ length: m * m }, (_, i) => g.data[(n + Math.floor(i / m)) * (n + m) + n + (i % m)]!) }, 2 / d);
const batch = reduceBatch(top, pool);

/** driftPooled as it was before the fusion (commit c7a4224), verbatim but for its name. */
function driftPooledBefore(b: PoolBatch, pool: PoolSummary, rows?: KernelRows): DriftSums {
  const { n, m } = b;
  assertMinSamples(n, 'production batch');
  assertMinSamples(m, 'reference batch');
  if (pool.m !== m) throw new StatisticsError(`a batch against ${m} reference rows, but the pool summary has ${pool.m}`);
  const width = n + 4;
  const r = b.rows;
  const k = productionBlock(b, n).data;
  const ku = uCenter({ n, data: k }, 'production Gram');

  let total = 0;
  let rowSquares = 0;
  let squares = 0;
  let crossRbf = 0;
  for (let i = 0; i < n; i++) {
    const sum = r[i * width + n]!;
    total += sum;
    rowSquares += sum * sum;
    squares += r[i * width + n + 1]!;
    const toR = r[i * width + n + 2]!;
    crossRbf += toR;
    if (rows) {
      rows.toR[i]! += toR;
      const nearest = r[i * width + n + 3]!;
      if (nearest > rows.nearestR[i]!) rows.nearestR[i] = nearest;
    }
  }
  let columnSquares = 0;
  for (let j = 0; j < m; j++) columnSquares += b.columns[j]! ** 2;
  const axrNumerator = Math.max(0, squares - rowSquares / m - columnSquares / n + (total * total) / (n * m));

  let linear = 0;
  let kernel = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = k[i * n + j]!;
      linear += 2 * v;
      const kv = rbfKernel(k[i * n + i]!, k[j * n + j]!, v, pool.gamma);
      kernel += 2 * kv;
      if (rows) {
        rows.toX[i]! += kv;
        rows.toX[j]! += kv;
      }
    }
  }
  if (rows) {
    for (let j = 0; j < m; j++) {
      rows.toX[n + j]! += b.columns[m + j]!;
      rows.toR[n + j]! += pool.rbfRowSums[j]!;
    }
  }
  const pairs = n * (n - 1);
  const { ckaWeight, mmdWeight } = batchWeights(n);
  const sums: DriftSums = {
    batches: 1,
    samples: n,
    axr: (ckaWeight * axrNumerator) / ((n - 1) * (m - 1)),
    axx: ckaWeight * hsicOfCentered(ku, ku, n),
    arr: ckaWeight * pool.arr,
    mmdLinear: mmdWeight * (linear / pairs + pool.linearWithin - (2 * total) / (n * m)),
    mmdRbf: mmdWeight * (kernel / pairs + pool.rbfWithin - (2 * crossRbf) / (n * m)),
    ckaWeight,
    mmdWeight,
  };
  for (const key of DRIFT_FIELDS) {
    if (!Number.isFinite(sums[key])) throw new StatisticsError(`the batch gives a non-finite ${key}`);
  }
  return sums;
}

const before = (b: PoolBatch, p: PoolSummary): number => driftPooledBefore(b, p, kernelRows(n, m)).axx;
const after = (b: PoolBatch, p: PoolSummary): number => driftPooled(b, p, kernelRows(n, m)).axx;
const times = { before: 0, after: 0 };
let sink = 0;
for (let r = 0; r < reps; r++) {
  let t = performance.now();
  sink += before(batch, pool);
  times.before += performance.now() - t;
  t = performance.now();
  sink += after(batch, pool);
  times.after += performance.now() - t;
}
const us = (ms: number): string => ((ms / reps) * 1000).toFixed(1);
console.log(`n = ${n}, m = ${m}, ${reps} interleaved repetitions (checksum ${sink.toExponential(3)})`);
const same = driftPooledBefore(batch, pool).axx === driftPooled(batch, pool).axx;
console.log(`  before (K copied, U-centred copy, kernel pass): ${us(times.before)} µs per call`);
console.log(`  now (K read in place, two passes):              ${us(times.after)} µs per call, ${(times.after / times.before).toFixed(2)}x; A_xx identical: ${same}`);
