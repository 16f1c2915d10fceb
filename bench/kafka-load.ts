/**
 * Kafka traffic for the end-to-end benchmarks (bench/daemon.ts, bench/overload.ts): a
 * backlog, a producer at a steady rate, and bare kafkajs consumption as the baseline the
 * daemon's rate is set beside.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Message } from 'kafkajs';
import { ROOT } from '../test/helpers/fixtures.js';
import { brokers, testKafka, uniqueName } from '../test/helpers/kafka.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
// 160 x 3,136 bytes (a raw digit): one request well under the broker's 1 MiB.
const PER_REQUEST = 160;

/** Sends `count` messages (cycling through `pool`) with a few requests in flight; resolves when all are acknowledged. */
/** The test broker's pid when scripts/kafka.sh started it on this machine (its run directory says), else null. */
export function brokerPid(): number | null {
  const port = brokers()[0]!.split(':').at(-1);
  const file = join(ROOT, `.cache/kafka-run-${port}/kafka.pid`);
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8'));
  return existsSync(`/proc/${pid}`) ? pid : null;
}

/**
 * `count` messages from `pool`, `perRequest` to a produce request (one record batch, which the
 * broker's max.message.bytes, 1 MiB by default, bounds: large samples go one at a time).
 */
export async function produceBacklog(topic: string, pool: readonly Buffer[], count: number, perRequest = PER_REQUEST): Promise<void> {
  const producer = testKafka(uniqueName('bench-backlog')).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < count; i += perRequest) {
    const messages: Message[] = Array.from({ length: Math.min(perRequest, count - i) }, (_, k) => ({ value: pool[(i + k) % pool.length]! }));
    inFlight.push(producer.send({ topic, messages, acks: 1 }));
    if (inFlight.length >= 6) await inFlight.shift();
  }
  await Promise.all(inFlight);
  await producer.disconnect();
}

/** Sends at `rate` messages/s (a few requests in flight) until stopped; `sent()` counts acknowledged ones. */
export function produceAtRate(topic: string, pool: readonly Buffer[], rate: number): { sent: () => number; stop: () => Promise<number> } {
  let running = true;
  let sent = 0;
  let queued = 0;
  const done = (async () => {
    const producer = testKafka(uniqueName('bench-producer')).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const started = performance.now();
    const inFlight: Promise<unknown>[] = [];
    while (running) {
      const messages: Message[] = Array.from({ length: PER_REQUEST }, (_, k) => ({ value: pool[(queued + k) % pool.length]! }));
      queued += PER_REQUEST;
      inFlight.push(producer.send({ topic, messages, acks: 1 }).then(() => void (sent += PER_REQUEST)));
      if (inFlight.length >= 4) await inFlight.shift();
      const due = started + (queued / rate) * 1000;
      if (due > performance.now()) await sleep(due - performance.now());
    }
    await Promise.all(inFlight);
    await producer.disconnect();
  })();
  return {
    sent: () => sent,
    stop: async () => {
      running = false;
      await done;
      return sent;
    },
  };
}

/** Bare kafkajs: eachBatch counting messages, nothing else; messages/s between the first and last batch, and this process's CPU. */
export async function bareConsume(topic: string, count: number): Promise<{ rate: number; cpuMs: number; ms: number }> {
  const consumer = testKafka(uniqueName('bench-bare')).consumer({ groupId: uniqueName('bench-bare-group'), allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let got = 0;
  let first = 0;
  let last = 0;
  const cpu0 = process.cpuUsage();
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (first === 0) first = performance.now();
      got += batch.messages.length;
      last = performance.now();
    },
  });
  const deadline = Date.now() + 300_000;
  while (got < count && Date.now() < deadline) await sleep(20);
  const cpu = process.cpuUsage(cpu0);
  await consumer.disconnect();
  if (got < count) throw new Error(`bare consumer read ${got} of ${count} messages in 5 minutes`);
  return { rate: (count / (last - first)) * 1000, cpuMs: (cpu.user + cpu.system) / 1000, ms: last - first };
}
