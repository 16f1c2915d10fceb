/** Time-bucketed sliding windows of additive sums. Pure: no node:* imports, the clock is a parameter. */
export * from './spec.js';
export * from './window-set.js';
export type { RestoreReport, RestoreResult, WindowSetSnapshot } from './snapshot.js';
export * from './drift-vector.js';
