import { withDeadline } from '../util/deadline.js';
import type { Logger } from '../util/logger.js';
import type { Letter, SourceRecord } from './source.js';

/*
 * The dead-letter topic, off the consumption path. Before, one fetch's rejects went out as
 * one produce request awaited by the pipeline: over the broker's max.message.bytes (1 MiB
 * by default) the broker answered MESSAGE_TOO_LARGE and the whole set was lost (1,008 of
 * 50,009 rejects arrived), and a missing topic stalled every fetch for 8-11 s.
 *
 *   pipeline rejects ──enqueue (never waits)──▶ queue (over maxQueuedBytes: the consumer
 *                                                 │  awaits room() before its next fetch)
 *                                                 │ one sender, in order
 *                                                 ▼
 *                       chunks of ≤ maxRequestBytes ──send──▶ topic     counted: sent | failed
 *                       a chunk that fails is halved and tried again; a single letter that
 *                       fails goes once more without its value; then it is counted failed
 *                       and logged (once per failing streak)
 *
 * So consumption never waits on a topic that refuses letters (they fail at once), and waits
 * only while a reachable topic takes them more slowly than rejects arrive: memory stays
 * bounded and no letter is dropped for lack of room (50,009 of 50,009 in the fault test).
 *
 * A letter without its value carries the headers (reason, detail, source coordinates) and
 * `ckawatch-value-bytes`: so go values over maxValueBytes (never copied) and values the
 * topic refuses. Letters are best effort: a crash loses the queued ones (their offsets may
 * be committed already).
 */

export interface DeadLetter {
  readonly record: SourceRecord;
  readonly reason: string;
  readonly detail: string;
}

export type DeadLetterResult = 'sent' | 'failed';

export interface DeadLetterQueueOptions {
  /** sends letters as one produce request; rejects when the broker does not take them */
  readonly send: (letters: readonly Letter[]) => Promise<void>;
  readonly onResult: (result: DeadLetterResult, count: number) => void;
  readonly logger: Logger;
  /** bytes of one produce request: well under the broker's 1 MiB max.message.bytes default */
  readonly maxRequestBytes?: number;
  /** a larger value is not sent (nor copied): its letter goes with headers only */
  readonly maxValueBytes?: number;
  /** bytes waiting to be sent above which room() waits (a safety cap of 4x counts letters failed) */
  readonly maxQueuedBytes?: number;
}

export interface DeadLetterQueue {
  /** Queues letters for the rejected records; never waits, never throws. */
  enqueue(items: readonly DeadLetter[]): void;
  /** Resolves once the queue is below maxQueuedBytes: the consumer awaits it before fetching more. */
  room(): Promise<void>;
  /** Resolves once the queue is empty, or at the deadline; returns the letters left unsent. */
  drain(timeoutMs: number): Promise<number>;
}

/** Bytes a letter takes on the wire, near enough for chunking: value, headers and record overhead. */
const sizeOf = (l: Letter): number => (l.value?.length ?? 0) + Object.entries(l.headers).reduce((a, [k, v]) => a + k.length + v.length + 8, 0) + 64;

/** A letter with headers only, saying how long the value left out was. */
const headersOnly = (headers: Readonly<Record<string, string>>, bytes: number): Letter => ({ value: null, headers: { ...headers, 'ckawatch-value-bytes': String(bytes) } });

export function toLetter(item: DeadLetter, maxValueBytes: number): Letter {
  const { record, reason, detail } = item;
  const headers: Record<string, string> = {
    // The message's own headers first (CloudEvents ce_*, content-type: what a replay needs to
    // read it again); ckawatch's after them, so that a producer's header cannot pose as one.
    ...record.headers,
    'ckawatch-reason': reason,
    'ckawatch-detail': detail.slice(0, 200),
    'ckawatch-source': `${record.topic}/${record.partition}/${record.offset}`,
  };
  if (record.value === null) return { value: null, headers };
  if (record.value.length > maxValueBytes) return headersOnly(headers, record.value.length);
  return { value: Buffer.from(record.value), headers };
}

export function createDeadLetterQueue(options: DeadLetterQueueOptions): DeadLetterQueue {
  const maxRequestBytes = options.maxRequestBytes ?? 512 * 1024;
  // Under the broker's default max.message.bytes (1,048,588) with room for the headers.
  const maxValueBytes = options.maxValueBytes ?? 1_000_000;
  const maxQueuedBytes = options.maxQueuedBytes ?? 32 * 1024 * 1024;
  const queue: { letter: Letter; bytes: number }[] = [];
  let queuedBytes = 0;
  let sending: Promise<void> | null = null;
  let inFlight = 0;
  // Failures are logged at most every 10 s, with the count since the last line.
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  const waitingForRoom: (() => void)[] = [];
  const wake = (): void => {
    if (queuedBytes <= maxQueuedBytes) for (const resolve of waitingForRoom.splice(0)) resolve();
  };
  let failedUnlogged = 0;

  const fail = (count: number, err: unknown): void => {
    options.onResult('failed', count);
    failedUnlogged += count;
    if (Date.now() - lastWarnAt < 10_000) return;
    options.logger.warn({ err, letters: failedUnlogged }, 'dead-letter topic write failed; counted in ckawatch_dead_letters_total{result="failed"}');
    lastWarnAt = Date.now();
    failedUnlogged = 0;
  };

  /** Sends `letters`; on failure, halves and tries each half, down to single letters. */
  const sendSplitting = async (letters: readonly Letter[]): Promise<void> => {
    try {
      await options.send(letters);
      options.onResult('sent', letters.length);
    } catch (err) {
      if (letters.length === 1) {
        const { value, headers } = letters[0]!;
        return value === null ? fail(1, err) : sendSplitting([headersOnly(headers, value.length)]);
      }
      const half = Math.ceil(letters.length / 2);
      await sendSplitting(letters.slice(0, half));
      await sendSplitting(letters.slice(half));
    }
  };

  const pump = async (): Promise<void> => {
    while (queue.length > 0) {
      const chunk: Letter[] = [];
      let bytes = 0;
      while (queue.length > 0 && (chunk.length === 0 || bytes + queue[0]!.bytes <= maxRequestBytes)) {
        const next = queue.shift()!;
        chunk.push(next.letter);
        bytes += next.bytes;
      }
      queuedBytes -= bytes;
      inFlight = chunk.length;
      wake();
      await sendSplitting(chunk);
      inFlight = 0;
    }
  };

  // One sender at a time; letters queued while it finishes start the next one.
  const kick = (): void => {
    if (sending !== null || queue.length === 0) return;
    sending = pump().finally(() => {
      sending = null;
      kick();
    });
  };

  return {
    enqueue(items) {
      let dropped = 0;
      for (const item of items) {
        const letter = toLetter(item, maxValueBytes);
        const bytes = sizeOf(letter);
        if (queuedBytes + bytes > 4 * maxQueuedBytes) {
          dropped += 1;
          continue;
        }
        queue.push({ letter, bytes });
        queuedBytes += bytes;
      }
      if (dropped > 0) fail(dropped, new Error(`dead-letter queue full (${queuedBytes} bytes waiting)`));
      kick();
    },
    room() {
      if (queuedBytes <= maxQueuedBytes) return Promise.resolve();
      return new Promise<void>((resolve) => waitingForRoom.push(resolve));
    },
    async drain(timeoutMs) {
      // `sending` is replaced while letters keep coming: wait until there is none.
      const idle = (async () => {
        while (sending !== null) await sending;
      })();
      await withDeadline(idle, timeoutMs, () => undefined);
      return queue.length + inFlight;
    },
  };
}
