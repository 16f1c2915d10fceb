import { describe, expect, it } from 'vitest';
import { createDeadLetterQueue, toLetter, type DeadLetter } from '../../src/source/dead-letter.js';
import type { Letter } from '../../src/source/source.js';
import { recordingLogger } from '../helpers/logger.js';

const item = (offset: number, bytes: number): DeadLetter => ({
  record: { topic: 't', partition: 0, offset, value: new Uint8Array(bytes).fill(offset % 251) },
  reason: 'wrong_size',
  detail: `${bytes} bytes`,
});

/** A topic that refuses requests over `limit` bytes of values, as a broker's max.message.bytes does. */
function topic(limit: number) {
  const kept: Letter[] = [];
  const requests: number[] = [];
  return {
    kept,
    requests,
    send: async (letters: readonly Letter[]) => {
      const bytes = letters.reduce((a, l) => a + (l.value?.length ?? 0), 0);
      requests.push(letters.length);
      if (bytes > limit) throw new Error('MESSAGE_TOO_LARGE');
      kept.push(...letters);
    },
  };
}

describe('dead-letter queue', () => {
  it('sends a burst in chunks under the request size, in order, without making the caller wait', async () => {
    const t = topic(1024 * 1024);
    const counts = { sent: 0, failed: 0 };
    const q = createDeadLetterQueue({ send: t.send, onResult: (r, n) => (counts[r] += n), logger: recordingLogger(), maxRequestBytes: 256 * 1024 });
    const burst = Array.from({ length: 2_000 }, (_, i) => item(i, 3_136)); // 6.3 MB, one fetch's worth
    q.enqueue(burst);
    expect(counts.sent).toBe(0); // enqueue returned before anything was sent
    expect(await q.drain(10_000)).toBe(0);
    expect(counts).toEqual({ sent: 2_000, failed: 0 });
    expect(t.kept.map((l) => l.headers['ckawatch-source'])).toEqual(burst.map((b) => `t/0/${b.record.offset}`));
    expect(Math.max(...t.requests)).toBeLessThanOrEqual(Math.floor((256 * 1024) / 3_136));
  });

  it('halves a refused chunk down to single letters; a value the topic refuses alone goes as headers only', async () => {
    const t = topic(10_000);
    const counts = { sent: 0, failed: 0 };
    const q = createDeadLetterQueue({ send: t.send, onResult: (r, n) => (counts[r] += n), logger: recordingLogger(), maxRequestBytes: 64 * 1024 });
    q.enqueue([item(0, 3_000), item(1, 3_000), item(2, 12_000), item(3, 3_000), item(4, 3_000), item(5, 3_000)]);
    await q.drain(10_000);
    expect(counts).toEqual({ sent: 6, failed: 0 });
    expect(t.kept.map((l) => l.headers['ckawatch-source'])).toEqual(['t/0/0', 't/0/1', 't/0/2', 't/0/3', 't/0/4', 't/0/5']);
    expect(t.kept.map((l) => l.value?.length ?? l.headers['ckawatch-value-bytes'])).toEqual([3_000, 3_000, '12000', 3_000, 3_000, 3_000]);
  });

  it('counts a letter failed, and logs once per failing streak, when the topic takes nothing', async () => {
    const counts = { sent: 0, failed: 0 };
    const logger = recordingLogger();
    const down = async (): Promise<void> => {
      throw new Error('dead-letter topic t-dlt does not exist');
    };
    const q = createDeadLetterQueue({ send: down, onResult: (r, n) => (counts[r] += n), logger, maxRequestBytes: 4_000 });
    q.enqueue([item(0, 3_000), item(1, 3_000), item(2, 3_000)]);
    await q.drain(10_000);
    expect(counts).toEqual({ sent: 0, failed: 3 });
    expect(logger.records.filter((r) => r.level === 'warn')).toHaveLength(1);
  });

  it('keeps the message\'s own headers (a CloudEvent\'s ce_*), and ckawatch\'s cannot be posed as', () => {
    const { record } = item(3, 10);
    const letter = toLetter({ record: { ...record, headers: { ce_type: 'org.kubeflow.serving.inference.request', 'content-type': 'application/json', 'ckawatch-reason': 'forged' } }, reason: 'bad_json', detail: 'x' }, 1000);
    expect(letter.headers).toEqual({
      ce_type: 'org.kubeflow.serving.inference.request',
      'content-type': 'application/json',
      'ckawatch-reason': 'bad_json',
      'ckawatch-detail': 'x',
      'ckawatch-source': 't/0/3',
    });
  });

  it('keeps headers only for a value over maxValueBytes', () => {
    const big = toLetter(item(7, 1_200_000), 1_000_000);
    expect(big.value).toBeNull();
    expect(big.headers).toMatchObject({ 'ckawatch-reason': 'wrong_size', 'ckawatch-source': 't/0/7', 'ckawatch-value-bytes': '1200000' });
  });

  it('room() holds the consumer while more than maxQueuedBytes wait, and lets go once the topic has taken enough', async () => {
    const t = topic(1024 * 1024);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const counts = { sent: 0, failed: 0 };
    const q = createDeadLetterQueue({
      send: async (letters) => {
        await gate;
        await t.send(letters);
      },
      onResult: (r, n) => (counts[r] += n),
      logger: recordingLogger(),
      maxRequestBytes: 4_000, // one letter a request
      maxQueuedBytes: 10 * 3_300,
    });
    q.enqueue(Array.from({ length: 30 }, (_, i) => item(i, 3_136)));
    let roomy = false;
    const room = q.room().then(() => (roomy = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(roomy).toBe(false); // 29 letters wait behind a topic that has taken nothing
    open();
    await room;
    expect(counts.sent).toBeGreaterThanOrEqual(19);
    expect(counts.sent).toBeLessThan(30);
    expect(await q.drain(10_000)).toBe(0);
    expect(counts).toEqual({ sent: 30, failed: 0 });
    // Past 4x the bound in one go (the consumer did not wait), letters are counted failed.
    const capped = { sent: 0, failed: 0 };
    const r = createDeadLetterQueue({ send: t.send, onResult: (k, n) => (capped[k] += n), logger: recordingLogger(), maxQueuedBytes: 2 * 3_300 });
    r.enqueue(Array.from({ length: 12 }, (_, i) => item(i, 3_136)));
    await r.drain(10_000);
    expect(capped.failed).toBeGreaterThan(0);
    expect(capped.sent + capped.failed).toBe(12);
  });

  it('gives up waiting at the deadline and says how many letters are left', async () => {
    const q = createDeadLetterQueue({ send: () => new Promise(() => undefined), onResult: () => undefined, logger: recordingLogger(), maxRequestBytes: 4_000 });
    q.enqueue(Array.from({ length: 5 }, (_, i) => item(i, 3_000)));
    expect(await q.drain(50)).toBe(5);
  });
});
