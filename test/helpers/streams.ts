/**
 * Kafka traffic for daemon tests: a producer that keeps sending while the daemon runs (so
 * that a kill lands mid-stream), and a reader that collects a topic with its headers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, IHeaders, Message } from 'kafkajs';
import { testKafka, uniqueName, waitFor } from './kafka.js';

export interface SteadyProducer {
  /** messages acknowledged so far */
  readonly sent: () => number;
  /** lets a producer held at `holdAt` go on */
  readonly release: () => void;
  /** resolves when every message is acknowledged */
  readonly done: Promise<void>;
}

/**
 * Sends `messages` to `topic` in requests of `chunk` messages, one request every
 * `intervalMs` (about chunk / intervalMs * 1000 messages per second). With `holdAt`, it
 * stops once that many are sent until `release()`: a test that kills the consumer
 * "mid-stream" then knows the stream had not ended, however slow the machine is.
 */
export function produceSteadily(
  topic: string,
  messages: readonly (Buffer | Message)[],
  chunk: number,
  intervalMs: number,
  options: { holdAt?: number } = {},
): SteadyProducer {
  let sent = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const done = (async () => {
    const producer = testKafka(uniqueName('ckawatch-test-steady')).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      for (let i = 0; i < messages.length; i += chunk) {
        if (options.holdAt !== undefined && i >= options.holdAt && i - chunk < options.holdAt) await released;
        const started = Date.now();
        const part = messages.slice(i, i + chunk).map((m): Message => (Buffer.isBuffer(m) ? { value: m } : m));
        await producer.send({ topic, messages: part, acks: -1 });
        sent += part.length;
        const wait = intervalMs - (Date.now() - started);
        if (wait > 0) await sleep(wait);
      }
    } finally {
      await producer.disconnect();
    }
  })();
  return { sent: () => sent, release, done };
}

export interface ReadMessage {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
}

/** Reads `topic` from the start until `count` messages arrived (or throws after `timeoutMs`). */
export async function readTopic(topic: string, count: number, timeoutMs = 20_000): Promise<ReadMessage[]> {
  const got: ReadMessage[] = [];
  const consumer: Consumer = testKafka(uniqueName('ckawatch-test-reader')).consumer({
    groupId: uniqueName('ckawatch-test-reader-group'),
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        got.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value, headers: headerText(message.headers) });
      },
    });
    await waitFor(() => got.length >= count, timeoutMs, `${count} messages on ${topic} (have ${got.length})`);
    return got;
  } finally {
    await consumer.disconnect();
  }
}

function headerText(headers: IHeaders | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.map(String).join(',') : String(v ?? '')]));
}

export interface CheckpointOnDisk {
  readonly writtenAt: string;
  readonly body: {
    readonly counters: { samples: Record<string, number>; rejected: Record<string, Record<string, number>>; batches: number; scored?: Record<string, number> };
    readonly offsets: Record<string, Record<string, number>>;
  };
}

/** The daemon's checkpoint file (instance id `name`) in `stateDir`, parsed; null when there is none. */
export function readCheckpointFile(stateDir: string, name = 'ckawatch-test'): CheckpointOnDisk | null {
  try {
    return JSON.parse(readFileSync(join(stateDir, `${name}.json`), 'utf8')) as CheckpointOnDisk;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
