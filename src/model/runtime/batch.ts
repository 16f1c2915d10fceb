/**
 * Two guards on the batch dimension. ckawatch stacks production and reference
 * samples into one batch, so the model must accept any batch size and treat the
 * samples independently; a model that does not gives wrong numbers, not errors.
 *
 *   checkBatchDimension     static: the file says the batch size is fixed
 *   checkBatchIndependence  at start-up: batch of k vs the first sample alone must agree
 */
import { DataError, ModelError } from '../../errors/index.js';
import { copyFeeds, sliceFeeds } from './feeds.js';
import { indexGraph } from '../graph/graph-index.js';
import type { ModelProto } from '../graph/proto.js';
import { valueInfoShape } from '../graph/proto.js';
import type { Feeds, ModelRunner, RunResult } from './runner.js';

/** Throws when the model's first input declares a fixed number as its batch dimension. */
export function checkBatchDimension(model: ModelProto): void {
  const input = indexGraph(model).inputs[0];
  if (input === undefined) throw new ModelError('the model has no inputs; ckawatch needs a model that takes samples');
  const batch = valueInfoShape(input)?.[0];
  if (typeof batch === 'number') {
    throw new ModelError(
      `model input '${input.name}' has a fixed batch dimension of ${batch}; ckawatch stacks production and ` +
        `reference samples into one batch, so re-export with a dynamic batch axis ` +
        `(torch.onnx.export dynamic_axes / dynamic_shapes)`,
    );
  }
}

export interface BatchCheckOptions {
  /** Largest relative difference (to the largest magnitude of the output) accepted. */
  readonly rtol?: number;
}

const FIX =
  'export the model after model.eval() (BatchNorm and Dropout in training mode mix samples), flatten with ' +
  'x.flatten(1) or x.view(x.size(0), -1) rather than a fixed shape, and export with a dynamic batch axis';

/**
 * Runs `feeds` (k >= 2 distinct samples) and their first sample alone, and requires
 * the model's own outputs for that sample to agree. The runner must return outputs.
 * The feeds are copied, so the caller keeps them.
 */
export async function checkBatchIndependence(
  runner: ModelRunner,
  feeds: Feeds,
  batch: number,
  options: BatchCheckOptions = {},
): Promise<void> {
  const rtol = options.rtol ?? 1e-4;
  if (batch < 2) throw new DataError(`the batch check needs at least 2 samples, got ${batch}`);
  assertDistinct(feeds, batch);
  const full = await runOrExplain(runner, copyFeeds(feeds), batch);
  const single = await runOrExplain(runner, sliceFeeds(feeds, 0, 1), 1);
  const names = Object.keys(full.outputs ?? {});
  if (names.length === 0) {
    throw new ModelError('the batch check needs the model outputs: create the runner with outputs: [...] (its model outputs)');
  }
  for (const name of names) {
    const many = full.outputs![name]!;
    const one = single.outputs?.[name];
    if (one === undefined || many.length !== one.length * batch) {
      throw new ModelError(
        `model output '${name}' has ${many.length} values for ${batch} samples but ${one?.length ?? 0} for one: ` +
          `its size does not follow the batch size, so the batch size is baked into the graph; ${FIX}`,
      );
    }
    const difference = relativeDifference(many.subarray(0, one.length), one);
    if (difference > rtol) {
      throw new ModelError(
        `model output '${name}' for the same sample differs between a batch of ${batch} and a batch of 1 ` +
          `(relative difference ${difference.toExponential(2)} > ${rtol}): the model mixes samples within a batch, ` +
          `which would make every ckawatch statistic wrong; ${FIX}`,
      );
    }
  }
}

async function runOrExplain(runner: ModelRunner, feeds: Feeds, batch: number): Promise<RunResult> {
  try {
    return await runner.run(feeds, batch);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new ModelError(
      `the model fails on a batch of ${batch} sample${batch === 1 ? '' : 's'} (${why}); a model that runs only at ` +
        `one batch size has it baked into the graph; ${FIX}`,
      { cause },
    );
  }
}

/** Identical samples would hide exactly the batch mixing this check looks for. */
function assertDistinct(feeds: Feeds, batch: number): void {
  const first = Object.values(feeds)[0];
  if (first === undefined) throw new DataError('the batch check got no input tensors');
  const per = first.data.length / batch;
  for (let s = 1; s < batch; s++) {
    for (let k = 0; k < per; k++) if (first.data[s * per + k] !== first.data[k]) return;
  }
  throw new DataError('the batch check needs distinct samples, but all samples given are identical: use reference samples');
}

function relativeDifference(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) !== Number.isNaN(y)) return Infinity;
    diff = Math.max(diff, Math.abs(x - y));
    scale = Math.max(scale, Math.abs(x), Math.abs(y));
  }
  return scale === 0 ? diff : diff / scale;
}
