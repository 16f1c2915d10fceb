/**
 * Small order-statistic helpers for the calibration: an interpolated quantile of a sorted
 * sample, and the least-squares non-increasing fit of a sequence (pool adjacent violators).
 */

/** The p-quantile of an ascending array (linear interpolation between order statistics, R's type 7); NaN when empty. */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * Math.min(1, Math.max(0, p));
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/**
 * The non-increasing sequence closest to `values` in least squares (pool adjacent
 * violators, equal weights). Bootstrap quantiles for neighbouring window lengths carry
 * Monte Carlo noise; this removes the wiggles without moving the level.
 */
export function nonIncreasing(values: ArrayLike<number>): Float64Array {
  const means: number[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < values.length; i++) {
    let mean = values[i]!;
    let size = 1;
    while (means.length > 0 && means[means.length - 1]! < mean) {
      const m = means.pop()!;
      const s = sizes.pop()!;
      mean = (m * s + mean * size) / (s + size);
      size += s;
    }
    means.push(mean);
    sizes.push(size);
  }
  const out = new Float64Array(values.length);
  let at = 0;
  means.forEach((m, b) => {
    out.fill(m, at, at + sizes[b]!);
    at += sizes[b]!;
  });
  return out;
}
