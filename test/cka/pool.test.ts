import { describe, expect, it } from 'vitest';
import { driftBatch, driftRows, kernelRows } from '../../src/cka/drift.js';
import { diagonalBlock, gramOf } from '../../src/cka/gram.js';
import { hsic } from '../../src/cka/hsic.js';
import { poolSummary, poolSummaryBuilder, topRows } from '../../src/cka/pool.js';
import { normals, stack } from '../helpers/linalg.js';

describe('a reference pool summarised once', () => {
  const d = 6;
  const n = 10;
  const m = 23;
  const x = normals(3, n * d).map((v) => v * 1.3 + 0.2);
  const p = normals(4, m * d);
  const g = gramOf(stack(x, p), n + m, d);
  const l = diagonalBlock(g, n, m);
  const gamma = 0.07;

  it('gives HSIC1(L, L) in its sum form, and the same summary from rows given in chunks and any order', () => {
    const whole = poolSummary(l, gamma);
    expect(whole.arr).toBeCloseTo(hsic(l, l), 10);
    const norms = new Float64Array(m).map((_, a) => l.data[a * m + a]!);
    const builder = poolSummaryBuilder(norms, gamma);
    for (const [first, count] of [[15, 8], [0, 7], [7, 8]] as const) builder.addRows(first, count, l.data.subarray(first * m, (first + count) * m));
    const chunked = builder.finish();
    for (const key of ['arr', 'linearWithin', 'rbfWithin'] as const) expect(chunked[key]).toBeCloseTo(whole[key], 12);
    expect([...chunked.rbfRowSums]).toEqual([...whole.rbfRowSums].map((v) => expect.closeTo(v, 12)));
  });

  it('refuses a row twice and a row never given', () => {
    const norms = new Float64Array(m).fill(1);
    const builder = poolSummaryBuilder(norms, gamma);
    builder.addRows(0, 1, l.data.subarray(0, m));
    expect(() => builder.addRows(0, 1, l.data.subarray(0, m))).toThrow(/given twice/);
    expect(() => builder.finish()).toThrow(/row 1 was never given/);
  });

  it('scores a batch from its Gram rows exactly as from the whole stacked Gram, kernel row sums included', () => {
    const fromStack = kernelRows(n, m);
    const fromRows = kernelRows(n, m);
    const a = driftBatch(g, n, gamma, fromStack);
    const b = driftRows(topRows(g, n), poolSummary(l, gamma), fromRows);
    for (const key of ['axr', 'axx', 'arr', 'mmdLinear', 'mmdRbf'] as const) expect(b[key]).toBeCloseTo(a[key], 12);
    expect(Math.max(...fromRows.toR.map((v, i) => Math.abs(v - fromStack.toR[i]!)))).toBeLessThan(1e-12);
    expect(Math.max(...fromRows.toX.map((v, i) => Math.abs(v - fromStack.toX[i]!)))).toBeLessThan(1e-12);
  });

  it('names a mismatch between the rows and the pool', () => {
    const other = poolSummary(diagonalBlock(g, n + 1, m - 1), gamma);
    expect(() => driftRows(topRows(g, n), other)).toThrow(/23 reference rows, but the pool summary has 22/);
    expect(() => driftRows({ n, m, data: new Float64Array(5) }, poolSummary(l, gamma))).toThrow(/expected 10×33/);
  });
});
