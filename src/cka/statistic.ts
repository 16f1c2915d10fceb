import { driftScores, type DriftSums } from './drift.js';

/** The drift statistics a threshold and a drift state are kept for (label `statistic`). */
export const STATISTICS = ['cka', 'mmd2_linear', 'mmd2_rbf'] as const;
export type Statistic = (typeof STATISTICS)[number];

export function statisticValues(sums: DriftSums): Record<Statistic, number | null> {
  const s = driftScores(sums);
  return { cka: s.cka, mmd2_linear: s.mmd2Linear, mmd2_rbf: s.mmd2Rbf };
}

/**
 * Whether a window's score is on the drifting side of its threshold: covariance alignment
 * (cka) falls as representations drift, MMD² rises. Equal to the threshold is not drift.
 */
export function isDrifting(statistic: Statistic, score: number, threshold: number): boolean {
  return statistic === 'cka' ? score < threshold : score > threshold;
}
