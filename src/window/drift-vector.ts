import { StatisticsError } from '../errors/index.js';
import { DRIFT_FIELDS, EMPTY_DRIFT, type DriftSums } from '../cka/drift.js';

/** Width of the vector that holds one DriftSums in a window set. */
export const DRIFT_WIDTH = DRIFT_FIELDS.length;

/** DriftSums as a vector in DRIFT_FIELDS order, the layout window sets and snapshots use. */
export function driftToVector(s: DriftSums): Float64Array {
  return Float64Array.from(DRIFT_FIELDS, (field) => s[field]);
}

export function vectorToDrift(v: ArrayLike<number>): DriftSums {
  if (v.length !== DRIFT_WIDTH) {
    throw new StatisticsError(`a DriftSums vector has ${DRIFT_WIDTH} components (${DRIFT_FIELDS.join(', ')}), got ${v.length}`);
  }
  // Built from DRIFT_FIELDS itself so that the two helpers cannot disagree on the order.
  const sums: Record<(typeof DRIFT_FIELDS)[number], number> = { ...EMPTY_DRIFT };
  DRIFT_FIELDS.forEach((field, i) => {
    sums[field] = v[i]!;
  });
  return sums;
}
