/** Checks and copies of input feeds, shared by the runner and the start-up batch check. */
import { DataError } from '../../errors/index.js';
import type { FeedTensor, Feeds } from './runner.js';

/** Every feed must be [batch, ...] with as many values as its dims say. */
export function assertFeeds(feeds: Feeds, batch: number): void {
  if (!Number.isInteger(batch) || batch < 1) throw new DataError(`batch size must be a whole number >= 1, got ${batch}`);
  const names = Object.keys(feeds);
  if (names.length === 0) throw new DataError('no input tensors given: feed at least the model input');
  for (const name of names) {
    const feed = feeds[name]!;
    const expected = feed.dims.reduce((a, b) => a * b, 1);
    if (feed.data.length !== expected) {
      throw new DataError(`input '${name}': dims [${feed.dims.join(', ')}] need ${expected} values, got ${feed.data.length}`);
    }
    if (feed.dims[0] !== batch) {
      throw new DataError(`input '${name}': first dimension ${feed.dims[0]} is not the batch size ${batch}`);
    }
  }
}

/** Samples [start, start + count) of every feed, as new arrays. */
export function sliceFeeds(feeds: Feeds, start: number, count: number): Feeds {
  const out: Record<string, FeedTensor> = {};
  for (const [name, feed] of Object.entries(feeds)) {
    const per = feed.data.length / (feed.dims[0] ?? 1);
    const dims = [count, ...feed.dims.slice(1)];
    out[name] =
      feed.type === 'float32'
        ? { type: 'float32', dims, data: feed.data.slice(start * per, (start + count) * per) }
        : { type: 'int64', dims, data: feed.data.slice(start * per, (start + count) * per) };
  }
  return out;
}

/** A deep copy, for callers that need their feeds after a run (which may transfer them away). */
export function copyFeeds(feeds: Feeds): Feeds {
  const first = Object.values(feeds)[0];
  return sliceFeeds(feeds, 0, first?.dims[0] ?? 0);
}

/**
 * The typed array itself when it owns its whole buffer, else a copy that does.
 * Transferring the buffer of a view would detach memory other code still uses
 * (Node's Buffer pool, protobufjs's writer pool).
 */
export function ownBuffer<T extends Float32Array | BigInt64Array | Uint8Array>(array: T): Owned<T> {
  const whole = array.byteOffset === 0 && array.byteLength === array.buffer.byteLength;
  return (whole && array.buffer instanceof ArrayBuffer ? array : array.slice()) as Owned<T>;
}

type Owned<T> = T extends Float32Array
  ? Float32Array<ArrayBuffer>
  : T extends BigInt64Array
    ? BigInt64Array<ArrayBuffer>
    : Uint8Array<ArrayBuffer>;
