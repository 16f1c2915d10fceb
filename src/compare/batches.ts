import { MIN_SAMPLES } from '../cka/gram.js';

/**
 * [start, end) ranges of consecutive batches over `count` samples. A last batch under
 * MIN_SAMPLES is left out (unbiased HSIC needs n >= 4); `unused` counts its rows.
 */
export function batchRanges(count: number, size: number): { ranges: [number, number][]; unused: number } {
  const ranges: [number, number][] = [];
  for (let start = 0; start < count; start += size) ranges.push([start, Math.min(count, start + size)]);
  const last = ranges.at(-1);
  if (last && last[1] - last[0] < MIN_SAMPLES) {
    ranges.pop();
    return { ranges, unused: last[1] - last[0] };
  }
  return { ranges, unused: 0 };
}

/**
 * Runs `fetch` for every batch with one batch in flight ahead of `consume`, so the
 * statistics of batch i are computed while the model runs batch i + 1. The first
 * failure (of either) rejects; a batch still in flight then is awaited, so that no
 * inference outlives the call, and its own failure is dropped in favour of the first.
 */
export async function pipelined<T>(
  count: number,
  fetch: (index: number) => Promise<T>,
  consume: (value: T, index: number) => void,
): Promise<void> {
  if (count === 0) return;
  let next = fetch(0);
  for (let i = 0; i < count; i++) {
    const value = await next;
    if (i + 1 < count) next = fetch(i + 1);
    try {
      consume(value, i);
    } catch (error) {
      if (i + 1 < count) await next.then(ignore, ignore);
      throw error;
    }
  }
}

/** Settles a batch whose result is no longer wanted (the first error is what the caller sees). */
function ignore(): void {}
