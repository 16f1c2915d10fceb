/**
 * The compare orchestration with stand-in models (no ONNX): batching, pipelining, and that
 * paired, positional and drift modes add up exactly what the math core says for each batch.
 */
import { describe, expect, it } from 'vitest';
import { driftBatch, driftScores, addDrift, EMPTY_DRIFT, medianGamma } from '../../src/cka/drift.js';
import { gramOf, type Gram } from '../../src/cka/gram.js';
import { CkaMatrix } from '../../src/cka/paired.js';
import { batchRanges, pipelined } from '../../src/compare/batches.js';
import { compareDrift, comparePaired, comparePositional, gatherRows, referenceRowsPerBatch, shuffled, type Dataset, type GramModel } from '../../src/compare/compare.js';
import { deriveSeed } from '../../src/reference/prng.js';
import { ConfigError, DataError, StatisticsError } from '../../src/errors/index.js';
import { normals } from '../helpers/linalg.js';

const D = 6;

function dataset(name: string, count: number, seed: number, shift = 0): Dataset {
  const data = Float32Array.from(normals(seed, count * D), (v) => v + shift);
  return { name, count, sampleSize: D, data };
}

/** A stand-in model: layer k of a sample x is x mapped elementwise by layers[k]. */
function fakeModel(name: string, maps: ((v: number, i: number) => number)[], calls: number[] = []): GramModel {
  return {
    name,
    layers: maps.map((_, k) => `${name}/layer${k}`),
    async grams(samples, n) {
      calls.push(n);
      await new Promise((r) => setTimeout(r, 1));
      return maps.map((f) => gramOf(Float32Array.from(samples, (v, i) => f(v, i % D)), n, D));
    },
  };
}

const A = fakeModel('a', [(v) => v, (v) => Math.tanh(v), (v, i) => v * (i + 1)]);
const B = fakeModel('b', [(v) => v * v, (v) => Math.max(0, v)]);

/** What the orchestration should produce: the math core fed batch by batch, directly. */
async function expectedMatrix(a: GramModel, b: GramModel, ranges: [number, number][], data: Dataset): Promise<(number | null)[][]> {
  const m = new CkaMatrix(a.layers.length, b.layers.length);
  for (const [s, e] of ranges) {
    const x = data.data.subarray(s * D, e * D);
    m.add(await a.grams(x, e - s), await b.grams(x, e - s));
  }
  return m.values();
}

describe('batchRanges', () => {
  it('covers every sample in order, dropping a last batch under 4 samples', () => {
    expect(batchRanges(256, 32)).toEqual({ ranges: Array.from({ length: 8 }, (_, i) => [32 * i, 32 * i + 32]), unused: 0 });
    expect(batchRanges(10, 4)).toEqual({ ranges: [[0, 4], [4, 8]], unused: 2 });
    expect(batchRanges(12, 8)).toEqual({ ranges: [[0, 8], [8, 12]], unused: 0 });
    expect(batchRanges(3, 8)).toEqual({ ranges: [], unused: 3 });
    expect(batchRanges(0, 8)).toEqual({ ranges: [], unused: 0 });
  });
});

describe('pipelined', () => {
  it('starts fetching batch i + 1 before consuming batch i, and consumes in order', async () => {
    const events: string[] = [];
    await pipelined(
      3,
      async (i) => {
        events.push(`fetch ${i}`);
        await new Promise((r) => setTimeout(r, 2));
        return i * 10;
      },
      (v, i) => events.push(`consume ${i}=${v}`),
    );
    expect(events).toEqual(['fetch 0', 'fetch 1', 'consume 0=0', 'fetch 2', 'consume 1=10', 'consume 2=20']);
  });

  it('does nothing for no batches', async () => {
    let called = false;
    await pipelined(0, async () => (called = true), () => (called = true));
    expect(called).toBe(false);
  });

  it('rejects with a failed fetch', async () => {
    await expect(pipelined(3, async (i) => {
      if (i === 1) throw new DataError('batch 1 failed');
      return i;
    }, () => {})).rejects.toThrow('batch 1 failed');
  });

  it('rejects with the first error when consume throws, and waits for the batch in flight (whose failure is dropped)', async () => {
    let settled = false;
    const run = pipelined(
      3,
      async (i) => {
        await new Promise((r) => setTimeout(r, 5));
        settled = i === 1;
        if (i === 1) throw new DataError('second failure');
        return i;
      },
      () => {
        throw new StatisticsError('first failure');
      },
    );
    await expect(run).rejects.toThrow('first failure');
    expect(settled).toBe(true);
  });
});

describe('comparePaired', () => {
  const data = dataset('d', 67, 1);

  it('adds up per-batch HSICs exactly as the math core does, last short batch dropped', async () => {
    const progress: [number, number][] = [];
    const r = await comparePaired(A, B, data, 16, (done, total) => progress.push([done, total]));
    expect(r).toMatchObject({ batches: 4, samples: 64, unused: 3 });
    expect(progress).toEqual([[1, 4], [2, 4], [3, 4], [4, 4]]);
    const expected = await expectedMatrix(A, B, [[0, 16], [16, 32], [32, 48], [48, 64]], data);
    expect(r.cka).toEqual(expected);
    expect(r.cka).toHaveLength(3);
    for (const row of r.cka) expect(row).toHaveLength(2);
  });

  it('runs a model once per batch when compared with itself; 1 on the diagonal', async () => {
    const calls: number[] = [];
    const model = fakeModel('self', [(v) => v, (v) => v * v * v], calls);
    const r = await comparePaired(model, model, data, 32);
    expect(calls).toEqual([32, 32]);
    expect(r.cka[0]![0]).toBeCloseTo(1, 12);
    expect(r.cka[1]![1]).toBeCloseTo(1, 12);
    expect(r.cka[0]![1]).toBeCloseTo(r.cka[1]![0]!, 12);
  });

  it('refuses a batch size under 4 and a data set under 4 samples', async () => {
    await expect(comparePaired(A, B, data, 3)).rejects.toThrow(ConfigError);
    await expect(comparePaired(A, B, data, 4.5)).rejects.toThrow(/whole number of at least 4/);
    await expect(comparePaired(A, B, dataset('tiny.npy', 3, 2), 8)).rejects.toThrowErrorMatchingInlineSnapshot(
      `[DataError: tiny.npy: 3 samples, need at least 4]`,
    );
  });
});

describe('comparePositional', () => {
  it('pairs rows by position: the same data set twice gives 1 on the diagonal', async () => {
    const d = dataset('d', 40, 3);
    const r = await comparePositional(A, d, { ...d, name: 'copy' }, 20);
    expect(r.batches).toBe(2);
    r.cka.forEach((row, i) => expect(row[i]).toBeCloseTo(1, 12));
  });

  it('uses the shorter set and counts what it leaves out', async () => {
    const r = await comparePositional(A, dataset('a', 50, 4), dataset('b', 42, 5), 20);
    expect(r).toMatchObject({ batches: 2, samples: 40, unused: 2 + 8 });
  });

  it('refuses a set under 4 samples instead of returning an empty matrix', async () => {
    await expect(comparePositional(A, dataset('a', 50, 4), dataset('b.npy', 2, 5), 20)).rejects.toThrow('b.npy: 2 samples, need at least 4');
  });
});

describe('compareDrift', () => {
  const reference = dataset('reference', 96, 6);

  it('shuffles both sets, stacks each batch of production over the next m reference rows (cycling) and adds up driftBatch, gamma from the reference', async () => {
    const production = dataset('production', 100, 7, 0.5);
    const calls: number[] = [];
    const model = fakeModel('m', [(v) => v, (v) => Math.tanh(v)], calls);
    const r = await compareDrift(model, reference, production, 32, () => {}, { seed: 5 });
    // 4 batches (32, 32, 32, 4) against m = max(32, ceil(96 / 4)) = 32 reference rows each; the bandwidth from all 96 reference rows.
    expect(calls).toEqual([96, 64, 64, 64, 36]);
    expect(r).toMatchObject({ batches: 4, samples: 100, unused: 0, m: 32 });
    const order = shuffled(100, deriveSeed(5, 1));
    const referenceOrder = shuffled(96, deriveSeed(5, 2));
    expect(Array.from(r.referenceOrder)).toEqual(Array.from(referenceOrder));
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const gammas = (await model.grams(gatherRows(reference, referenceOrder), 96)).map((g) => medianGamma(g));
    for (const [l, layer] of r.layers.entries()) {
      let sums = EMPTY_DRIFT;
      for (const [b, [start, end]] of [[0, 32], [32, 64], [64, 96], [96, 100]].entries()) {
        const rows = Array.from({ length: 32 }, (_, k) => referenceOrder[(b * 32 + k) % 96]!);
        const stacked = new Float32Array((end! - start! + 32) * D);
        stacked.set(gatherRows(production, order.subarray(start, end)));
        stacked.set(gatherRows(reference, rows), (end! - start!) * D);
        const g: Gram = (await model.grams(stacked, end! - start! + 32))[l]!;
        sums = addDrift(sums, driftBatch(g, end! - start!, gammas[l]!));
      }
      expect(layer.rbfGamma).toBe(gammas[l]);
      expect(layer.sums).toEqual(sums);
      expect({ cka: layer.cka, mmd2Linear: layer.mmd2Linear, mmd2Rbf: layer.mmd2Rbf }).toEqual(driftScores(sums));
      // The short last batch counts by its pairs: 3 × 496 + 6.
      expect(layer.sums.mmdWeight).toBe(3 * 496 + 6);
    }
  });

  it('reference rows per batch: the reference divided among the batches, between a batch and 1,024, leaving a batch for the null draws', () => {
    expect(referenceRowsPerBatch(1000, 64, 8)).toBe(125);
    expect(referenceRowsPerBatch(1000, 64, 40)).toBe(64);
    expect(referenceRowsPerBatch(100_000, 64, 2)).toBe(1024);
    expect(referenceRowsPerBatch(100, 64, 1)).toBe(36);
  });

  it('sees a mean shift in MMD² and not in the clean case', async () => {
    const model = fakeModel('m', [(v) => v]);
    const clean = await compareDrift(model, reference, dataset('clean', 96, 8), 32);
    const shifted = await compareDrift(model, reference, dataset('shifted', 96, 8, 1), 32);
    expect(Math.abs(clean.layers[0]!.mmd2Linear!)).toBeLessThan(1);
    expect(shifted.layers[0]!.mmd2Linear!).toBeGreaterThan(D / 2); // |shift|² = D, estimated from 3 batches of 32
  });

  it('refuses data sets of different sample sizes or under 4 samples', async () => {
    await expect(compareDrift(A, reference, { ...dataset('p.npy', 10, 9), sampleSize: 5 }, 8)).rejects.toThrow(/p.npy has samples of 5 values/);
    await expect(compareDrift(A, reference, dataset('p.npy', 3, 9), 8)).rejects.toThrow('p.npy: 3 samples, need at least 4');
    await expect(compareDrift(A, reference, dataset('p.npy', 30, 9), 2)).rejects.toThrow(ConfigError);
  });
});
