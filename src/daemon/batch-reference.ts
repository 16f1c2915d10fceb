import { driftBatch, driftPooled } from '../cka/drift.js';
import { isPoolBatch } from '../cka/pool.js';
import { StatisticsError } from '../errors/index.js';
import type { ReferenceSampler } from '../reference/sampler.js';
import type { ReferencePool } from '../model/reference-pool.js';
import type { BatchReference } from './pipeline-deps.js';
import type { ReferenceState } from './reference.js';

const NO_ROWS = new Float32Array(0);

/**
 * Every batch against the whole pool: nothing is stacked (the pool is inside the model),
 * and each layer's statistics come from its Gram rows and the pool's summary.
 */
export function poolReference(pool: ReferencePool): BatchReference {
  const drawn = { rows: NO_ROWS, count: 0, indices: pool.indices };
  return {
    rows: pool.indices.length,
    draw: () => drawn,
    score: (layer, output, _n, kernels) => {
      if (!isPoolBatch(output)) throw new StatisticsError('the model gave a Gram where a batch reduced against the pool was expected');
      return driftPooled(output, pool.layers[layer]!.summary, kernels);
    },
  };
}

/**
 * Every batch against m fresh reference draws, stacked under it and run through the
 * model with it: the scheme before the pool (reference.scheme: draws).
 */
export function drawsReference(sampler: ReferenceSampler, m: number, gammas: readonly number[]): BatchReference {
  return {
    rows: m,
    draw: () => {
      const { rows, indices } = sampler.drawIndexed(m);
      return { rows, count: m, indices };
    },
    score: (layer, output, n, kernels) => {
      if (isPoolBatch(output)) throw new StatisticsError('the model gave a pool batch where the Gram of [X; R] was expected');
      return driftBatch(output, n, gammas[layer]!, kernels);
    },
  };
}

const made = new WeakMap<ReferenceState, BatchReference>();

/** The batch reference of a reference state (one per state: a swap makes a new state). */
export function batchReference(state: ReferenceState, m: number): BatchReference {
  let reference = made.get(state);
  if (reference === undefined) {
    reference = state.pool ? poolReference(state.pool) : drawsReference(state.sampler, m, state.gammas);
    made.set(state, reference);
  }
  return reference;
}
