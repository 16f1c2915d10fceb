/** Synthetic null batch sums for the calibration tests: iid, skewed like the real ones, seeded. */
import { batchWeights, type DriftSums } from '../../src/cka/drift.js';
import { rng } from '../helpers/random.js';

export function nullBatches(seed: number, count: number, shift = 0): DriftSums[] {
  const u = rng(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(u() || 1e-300)) * Math.cos(2 * Math.PI * u());
  const chi2 = (df: number): number => {
    let s = 0;
    for (let i = 0; i < df; i++) s += normal() ** 2;
    return s;
  };
  return Array.from({ length: count }, () => {
    const gx = normal();
    const gr = normal();
    const { ckaWeight: wc, mmdWeight: wm } = batchWeights(64);
    return {
      batches: 1,
      samples: 64,
      axx: wc * (1 + 0.3 * gx),
      arr: wc * (1 + 0.3 * gr),
      // correlated with both self terms, as the real ones are; `shift` lowers the alignment
      axr: wc * (1 - shift + 0.15 * (gx + gr) + 0.1 * normal()),
      // degenerate U-statistics: centred chi-squares (right-skewed), plus `shift`
      mmdLinear: wm * (0.01 * (chi2(2) - 2) + shift),
      mmdRbf: wm * (0.001 * (chi2(5) - 5) + shift / 10),
      ckaWeight: wc,
      mmdWeight: wm,
    };
  });
}
