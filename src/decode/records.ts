/**
 * Decodes many messages with an async decoder, `concurrency` at a time, results in input
 * order. sharp decodes in libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default), so a few
 * images in flight keep it busy while the main thread resizes the ones already decoded.
 */
import type { AsyncDecoder, DecodeResult } from './types.js';

export async function decodeAll(values: readonly (Uint8Array | null)[], decode: AsyncDecoder, concurrency = 8): Promise<DecodeResult[]> {
  const results = new Array<DecodeResult>(values.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < values.length) {
      const i = next++;
      const value = values[i];
      results[i] = value ? await decode(value) : { ok: false, reason: 'empty', detail: 'message has no value' };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, values.length) }, worker));
  return results;
}

/** decodeAll over the values of records (Kafka messages), in order. */
export function decodeRecords(records: Iterable<{ readonly value: Uint8Array | null }>, decode: AsyncDecoder, concurrency?: number): Promise<DecodeResult[]> {
  return decodeAll(Array.from(records, (r) => r.value), decode, concurrency);
}
