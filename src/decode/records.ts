/**
 * Decodes many messages with an async decoder, `concurrency` at a time, results in input
 * order. sharp decodes in libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default), so a few
 * images in flight keep it busy while the main thread resizes the ones already decoded.
 */
import type { MessageHeaders, RejectReason } from './types.js';
import type { Result } from '../io/result.js';

type Empty = { ok: false; reason: 'empty'; detail: string };

/** `headers[i]`, when given, goes with `values[i]` (encoding auto reads them). */
export async function decodeAll<R extends Result<unknown, RejectReason>>(
  values: readonly (Uint8Array | null)[],
  decode: (bytes: Uint8Array, headers?: MessageHeaders) => Promise<R>,
  concurrency = 8,
  headers?: readonly (MessageHeaders | undefined)[],
): Promise<(R | Empty)[]> {
  const results = new Array<R | Empty>(values.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < values.length) {
      const i = next++;
      const value = values[i];
      results[i] = value ? await decode(value, headers?.[i]) : { ok: false, reason: 'empty', detail: 'message has no value' };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, values.length) }, worker));
  return results;
}

/** decodeAll over the values (and headers) of records (Kafka messages), in order. */
export function decodeRecords<R extends Result<unknown, RejectReason>>(
  records: Iterable<{ readonly value: Uint8Array | null; readonly headers?: MessageHeaders }>,
  decode: (bytes: Uint8Array, headers?: MessageHeaders) => Promise<R>,
  concurrency?: number,
): Promise<(R | Empty)[]> {
  const list = Array.from(records);
  return decodeAll(list.map((r) => r.value), decode, concurrency, list.map((r) => r.headers));
}
