/**
 * Proves that kafkajs 2.2.4 works against the pinned broker (scripts/kafka.sh)
 * the way ckawatch's source uses it: a consumer group, eachBatch with manual
 * resolveOffset and explicit commits (autoCommit off), heartbeat() from inside
 * a batch, committed offsets visible to the admin API, and no re-delivery
 * after a restart.
 *
 * Needs a running broker: `scripts/kafka.sh fetch && scripts/kafka.sh start`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer, EachBatchPayload } from 'kafkajs';
import {
  committedOffsets,
  endOffsets,
  freshTopic,
  produce,
  requireBroker,
  testKafka,
  uniqueName,
  waitFor,
} from '../helpers/kafka.js';

const HEARTBEAT_INTERVAL_MS = 100;

/** Every consumer a test starts, so that afterEach stops them even on failure. */
const running: Consumer[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.disconnect()));
});

interface Received {
  key: string;
  partition: number;
}

interface ConsumeOptions {
  /**
   * How each batch ends: 'explicit' (default) commits the resolved offsets by
   * passing them to commitOffsetsIfNecessary; 'no-argument' calls it bare.
   */
  commit?: 'explicit' | 'no-argument';
  /** Called once per batch, before its messages are handled. */
  onBatch?: (payload: EachBatchPayload) => Promise<void>;
  /** Called once per batch, after its commit call returned. */
  afterBatch?: () => void;
  /** Called on each Heartbeat request the broker accepted. */
  onHeartbeat?: () => void;
}

/**
 * Starts a group member on `topic` that records every message into `sink`.
 * Settings are those of a test: short fetch wait, frequent heartbeats.
 */
async function consume(
  groupId: string,
  topic: string,
  sink: Received[],
  options: ConsumeOptions = {},
): Promise<Consumer> {
  const consumer = testKafka(uniqueName('ckawatch-test-consumer')).consumer({
    groupId,
    sessionTimeout: 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: HEARTBEAT_INTERVAL_MS,
    // Return an empty fetch after 100 ms instead of 5 s: disconnect() waits for it.
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
  });
  running.push(consumer);
  const { onHeartbeat } = options;
  if (onHeartbeat) consumer.on(consumer.events.HEARTBEAT, onHeartbeat);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async (payload) => {
      const { batch, resolveOffset, isRunning, isStale } = payload;
      await options.onBatch?.(payload);
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        sink.push({ key: message.key?.toString() ?? '', partition: batch.partition });
        resolveOffset(message.offset);
      }
      await payload.heartbeat();
      if ((options.commit ?? 'explicit') === 'explicit') {
        // With autoCommit off, commitOffsetsIfNecessary() with no argument
        // commits nothing (it only acts on autoCommitInterval/Threshold; see
        // the last test): hand it the resolved offsets explicitly.
        await payload.commitOffsetsIfNecessary(payload.uncommittedOffsets());
      } else {
        await payload.commitOffsetsIfNecessary();
      }
      options.afterBatch?.();
    },
  });
  return consumer;
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

async function committedEqualsEnd(groupId: string, topic: string): Promise<boolean> {
  const [committed, ends] = await Promise.all([committedOffsets(groupId, topic), endOffsets(topic)]);
  return [...ends].every(([partition, end]) => committed.get(partition) === end);
}

describe('kafkajs 2.2.4 against the test broker', () => {
  beforeAll(() => requireBroker());

  it('consumes 1,000 messages exactly once with manual commits and does not re-deliver after a restart', async () => {
    const topic = await freshTopic('smoke', 2);
    const groupId = uniqueName('smoke-group');
    await produce(
      topic,
      Array.from({ length: 1000 }, (_, i) => ({ key: `m${i}`, value: `value ${i}` })),
    );
    const ends = await endOffsets(topic);
    expect(ends.size).toBe(2);
    expect(sum(ends.values())).toBe(1000);
    // The default partitioner hashes keys: both partitions hold data.
    expect([...ends.values()].every((n) => n > 0)).toBe(true);

    // First member: consume everything; in the first batch, act like a slow
    // inference step and heartbeat by hand once the interval has passed.
    const first: Received[] = [];
    let heartbeatsSent = 0;
    let manualHeartbeat: { before: number; after: number } | undefined;
    const consumer = await consume(groupId, topic, first, {
      onBatch: async ({ heartbeat }) => {
        if (manualHeartbeat !== undefined) return;
        const before = heartbeatsSent;
        await sleep(HEARTBEAT_INTERVAL_MS + 50);
        await heartbeat();
        manualHeartbeat = { before, after: heartbeatsSent };
      },
      onHeartbeat: () => {
        heartbeatsSent += 1;
      },
    });

    await waitFor(() => first.length >= 1000, 20_000, '1,000 messages');
    await waitFor(() => committedEqualsEnd(groupId, topic), 10_000, 'committed offsets to reach the end');
    await consumer.disconnect();

    expect(first).toHaveLength(1000);
    expect(new Set(first.map((m) => m.key)).size).toBe(1000);
    expect(new Set(first.map((m) => m.partition))).toEqual(new Set([0, 1]));
    expect(await committedOffsets(groupId, topic)).toEqual(ends);
    // heartbeat() called from inside eachBatch sent a Heartbeat the broker accepted.
    expect(manualHeartbeat).toBeDefined();
    expect(manualHeartbeat!.after).toBeGreaterThan(manualHeartbeat!.before);

    // Restart: a new member of the same group must start at the committed
    // offsets. Ten new messages act as the end marker: a partition delivers in
    // offset order, so any re-delivered old message would arrive before them.
    const second: Received[] = [];
    await consume(groupId, topic, second);
    await produce(
      topic,
      Array.from({ length: 10 }, (_, i) => ({ key: `after${i}`, value: `after ${i}` })),
    );
    await waitFor(() => second.length >= 10, 20_000, 'the 10 new messages');
    expect(second.map((m) => m.key).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `after${i}`).sort(),
    );
    await waitFor(() => committedEqualsEnd(groupId, topic), 10_000, 'committed offsets to reach the new end');
    expect(sum((await committedOffsets(groupId, topic)).values())).toBe(1010);
  });

  it('commits nothing from commitOffsetsIfNecessary() without offsets when autoCommit is false', async () => {
    // Pins a kafkajs 2.2.4 behaviour the daemon must not rely on by mistake:
    // the bare call only commits when autoCommitInterval or -Threshold is set,
    // and with autoCommit off neither the runner nor disconnect() commits.
    const topic = await freshTopic('smoke-nocommit', 1);
    const groupId = uniqueName('smoke-nocommit-group');
    await produce(topic, ['a', 'b', 'c']);

    const got: Received[] = [];
    let handled = 0; // messages whose batch, commit call included, has returned
    const consumer = await consume(groupId, topic, got, {
      commit: 'no-argument',
      afterBatch: () => {
        handled = got.length;
      },
    });
    await waitFor(() => handled >= 3, 10_000, '3 messages handled');
    expect(await committedOffsets(groupId, topic)).toEqual(new Map([[0, -1]]));
    await consumer.disconnect();
    expect(await committedOffsets(groupId, topic)).toEqual(new Map([[0, -1]]));
  });
});
