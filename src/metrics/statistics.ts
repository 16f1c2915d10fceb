import type { DRIFT_FIELDS } from '../cka/drift.js';
export { STATISTICS, statisticValues, isDrifting, type Statistic } from '../cka/statistic.js';

/** `field` label of ckawatch_window_sum for each DriftSums field: snake_case, as PromQL users expect. */
export const SUM_FIELD_LABELS: Readonly<Record<(typeof DRIFT_FIELDS)[number], string>> = {
  batches: 'batches',
  samples: 'samples',
  axr: 'axr',
  axx: 'axx',
  arr: 'arr',
  mmdLinear: 'mmd_linear',
  mmdRbf: 'mmd_rbf',
};
