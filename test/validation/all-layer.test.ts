import { describe, expect, it } from 'vitest';
import { driftRows, medianGamma, type DriftSums } from '../../src/cka/drift.js';
import { diagonalBlock, gramOf } from '../../src/cka/gram.js';
import { poolSummary } from '../../src/cka/pool.js';
import { createPrng } from '../../src/reference/prng.js';
import { centredRows, concatenatedGram, gramRowsOf, meanSquaredNorm } from './all-layer.js';

// The all-layer statistic of tools/all-layer.ts is computed from a weighted sum of the
// per-layer Grams; here against the statistic of the concatenated features themselves.
describe('the concatenation of layers, from their Grams', () => {
  const prng = createPrng(7);
  const gaussian = (): number => (prng.nextUint32() / 4294967296 - 0.5) * 2;
  const n = 9;
  const m = 13;
  const widths = [5, 3];
  // rows 0..m-1 are the pool, m..m+n-1 a production batch (shifted, so the statistics are not ~0)
  const layers = widths.map((k, l) => Float32Array.from({ length: (m + n) * k }, (_, i) => gaussian() * (l + 1) + (i >= m * k ? 0.4 : 0)));
  const poolRows = Array.from({ length: m }, (_, a) => a);
  const batchRows = Array.from({ length: n }, (_, i) => m + i);
  const means = layers.map((f, l) => {
    const k = widths[l]!;
    const mean = new Float64Array(k);
    for (const a of poolRows) for (let j = 0; j < k; j++) mean[j]! += f[a * k + j]! / m;
    return mean;
  });
  const pools = layers.map((f, l) => centredRows(f, poolRows, widths[l]!, means[l]!));
  const grams = pools.map((p, l) => gramOf(p, m, widths[l]!));
  const scales = grams.map(meanSquaredNorm);

  it('equals the statistics of the scaled, concatenated features', () => {
    const rows = layers.map((f, l) => gramRowsOf(centredRows(f, batchRows, widths[l]!, means[l]!), n, pools[l]!, m, widths[l]!));
    const lAll = { n: m, data: concatenatedGram(grams.map((g) => g.data), scales) };
    const gamma = medianGamma(lAll);
    const viaGrams = driftRows({ n, m, data: concatenatedGram(rows.map((r) => r.data), scales) }, poolSummary(lAll, gamma));

    // The concatenation itself: layer l's centred features divided by sqrt(s_l), side by side.
    const width = widths.reduce((a, b) => a + b, 0);
    const concat = (rowsOf: number[]): Float64Array => {
      const out = new Float64Array(rowsOf.length * width);
      rowsOf.forEach((row, i) => {
        let at = 0;
        layers.forEach((f, l) => {
          const k = widths[l]!;
          for (let j = 0; j < k; j++) out[i * width + at + j] = (f[row * k + j]! - means[l]![j]!) / Math.sqrt(scales[l]!);
          at += k;
        });
      });
      return out;
    };
    const pool = concat(poolRows);
    const direct = driftRows(gramRowsOf(concat(batchRows), n, pool, m, width), poolSummary(gramOf(pool, m, width), gamma));
    for (const key of ['axr', 'axx', 'arr', 'mmdLinear', 'mmdRbf'] as const) expect(viaGrams[key]).toBeCloseTo(direct[key], 10);
    expect(meanSquaredNorm(gramOf(pool, m, width))).toBeCloseTo(widths.length, 10);

    // The linear part is the weighted sum of the layers' own linear MMD² (what the daemon's window sums would give).
    const perLayer: DriftSums[] = rows.map((r, l) => driftRows(r, poolSummary(grams[l]!, medianGamma(diagonalBlock(grams[l]!, 0, m)))));
    expect(viaGrams.mmdLinear).toBeCloseTo(perLayer.reduce((s, d, l) => s + d.mmdLinear / scales[l]!, 0), 10);
  });
});
