/**
 * Finding the samples that break a batch's arithmetic.
 *
 * A sample whose activations overflow (or turn NaN) in some layer poisons the whole batch's
 * Grams: the graph centres each tap over the batch before its MatMul, so one infinite row
 * makes every entry NaN, and the Gram cannot say which row it was. The model itself runs
 * each row on its own, though, so the culprits are found by running halves of the batch
 * again (with the same reference rows) until each failing half is one row. For k bad rows
 * among n this costs about 2k·log2(n) extra runs, paid only when it happens (input.maxAbs
 * refuses most such samples before they reach the model).
 */
import { MIN_SAMPLES } from '../cka/gram.js';
import { isFiniteOutput, type LayerOutput } from '../cka/pool.js';

/**
 * Indices (0..rows-1) of the rows whose own run fails, given that the run of all `rows`
 * failed. Empty when every half passes on its own: the failure is not any one row's.
 */
export async function findFailingRows(rows: number, passes: (subset: readonly number[]) => Promise<boolean>): Promise<number[]> {
  const failing: number[] = [];
  const search = async (subset: readonly number[]): Promise<void> => {
    if (subset.length === 0 || (await passes(subset))) return;
    if (subset.length === 1) {
      failing.push(subset[0]!);
      return;
    }
    const half = subset.length >> 1;
    await search(subset.slice(0, half));
    await search(subset.slice(half));
  };
  const all = Array.from({ length: rows }, (_, i) => i);
  const half = rows >> 1;
  // The whole set is known to fail: start from its halves.
  if (rows === 1) return all;
  await search(all.slice(0, half));
  await search(all.slice(half));
  return failing;
}

/** One run of the model and its Gram taps over `rows` stacked rows. */
export type GramRun = (stacked: Float32Array, rows: number) => Promise<{ grams: LayerOutput[]; inferenceMs: number }>;

export interface Rerun {
  /** the production rows kept, in batch order, and their stacked values followed by the reference rows */
  readonly rows: readonly number[];
  readonly stacked: Float32Array;
  readonly failing: number;
  /** the Grams of `stacked`; empty when fewer than 4 rows are left to score */
  readonly grams: LayerOutput[];
  readonly inferenceMs: number;
}

/**
 * A batch whose Grams (`first`) hold NaN or infinities: find the failing production rows of
 * `stacked` (`size` production rows, then the reference rows) and run again without them.
 */
export async function rerunWithoutFailing(stacked: Float32Array, size: number, sampleSize: number, first: LayerOutput[], run: GramRun): Promise<Rerun> {
  const m = stacked.length / sampleSize - size;
  const rowsOf = (subset: readonly number[]): Float32Array => {
    const z = new Float32Array((subset.length + m) * sampleSize);
    subset.forEach((row, i) => z.set(stacked.subarray(row * sampleSize, (row + 1) * sampleSize), i * sampleSize));
    z.set(stacked.subarray(size * sampleSize), subset.length * sampleSize);
    return z;
  };
  let inferenceMs = 0;
  const grams = async (z: Float32Array, rows: number): Promise<LayerOutput[]> => {
    const r = await run(z, rows + m);
    inferenceMs += r.inferenceMs;
    return r.grams;
  };
  const failing = new Set(await findFailingRows(size, async (subset) => (await grams(rowsOf(subset), subset.length)).every(isFiniteOutput)));
  const rows = Array.from({ length: size }, (_, i) => i).filter((i) => !failing.has(i));
  const kept = rowsOf(rows);
  // With no single row to blame, the first Grams stand and the layers report the failure;
  // with fewer than 4 left there is nothing to score.
  const scored = failing.size === 0 ? first : rows.length >= MIN_SAMPLES ? await grams(kept, rows.length) : [];
  return { rows, stacked: kept, failing: failing.size, grams: scored, inferenceMs };
}
