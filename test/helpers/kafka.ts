/**
 * Helpers for integration tests against the real broker that
 * `scripts/kafka.sh start` runs (or any broker named by CKAWATCH_TEST_BROKERS).
 *
 * Each test should make its own topic (`freshTopic`) and group (`uniqueName`),
 * as kafkajs's own suites do: tests then never see each other's data, and a
 * failed run leaves nothing that breaks the next one.
 *
 * kafkajs logging is off by default (a consumer restart logs rebalance errors
 * that are expected); set CKAWATCH_TEST_KAFKA_LOG=error|warn|info|debug to see it.
 *
 * Note for ESM code: kafkajs is CommonJS and only some of its exports are
 * visible as named imports under plain Node (`Kafka`, `logLevel` are; the error
 * classes such as `KafkaJSError` are not): import those through the default
 * export, `import kafkajs from 'kafkajs'; kafkajs.KafkaJSError`.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, type Admin, type KafkaConfig, type Message } from 'kafkajs';

/** Broker addresses from CKAWATCH_TEST_BROKERS (comma separated). */
export function brokers(): string[] {
  const raw = process.env['CKAWATCH_TEST_BROKERS'] ?? '127.0.0.1:19092';
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (list.length === 0) {
    throw new Error(`CKAWATCH_TEST_BROKERS is empty ("${raw}"); expected host:port[,host:port]`);
  }
  return list;
}

/**
 * Fails fast, saying how to fix it, when the first test broker does not accept
 * connections (kafkajs would retry and then report a bare ECONNREFUSED).
 * Call it from `beforeAll` in every suite that needs Kafka.
 */
export async function requireBroker(timeoutMs = 3_000): Promise<void> {
  const address = brokers()[0]!;
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  const reason = await new Promise<string | undefined>((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (why?: string): void => {
      socket.destroy();
      resolve(why);
    };
    socket.once('connect', () => done());
    socket.once('timeout', () => done(`no answer within ${timeoutMs} ms`));
    socket.once('error', (err) => done(err.message));
  });
  if (reason !== undefined) {
    throw new Error(
      `no Kafka broker at ${address} (${reason}): start one with ` +
        '`scripts/kafka.sh fetch && scripts/kafka.sh start`, or point CKAWATCH_TEST_BROKERS at one',
    );
  }
}

function testLogLevel(): logLevel {
  const name = (process.env['CKAWATCH_TEST_KAFKA_LOG'] ?? 'nothing').toUpperCase();
  const levels: Record<string, logLevel> = {
    NOTHING: logLevel.NOTHING,
    ERROR: logLevel.ERROR,
    WARN: logLevel.WARN,
    INFO: logLevel.INFO,
    DEBUG: logLevel.DEBUG,
  };
  const level = levels[name];
  if (level === undefined) {
    throw new Error(`CKAWATCH_TEST_KAFKA_LOG="${name}" is not one of ${Object.keys(levels).join(', ')}`);
  }
  return level;
}

/**
 * A kafkajs client for tests: test brokers, quiet logging, short retries (a
 * local broker that does not answer within seconds is broken, not slow).
 */
export function testKafka(clientId = uniqueName('ckawatch-test'), extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId,
    brokers: brokers(),
    logLevel: testLogLevel(),
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
    ...extra,
  });
}

/** A name no other test or run uses: `${prefix}-<time>-<random>`; legal as topic and group id. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Runs `fn` with a connected admin client and always disconnects it. */
export async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = testKafka(uniqueName('ckawatch-test-admin')).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates a uniquely named topic and waits until every partition has a leader. */
export async function freshTopic(prefix: string, partitions = 1): Promise<string> {
  const topic = uniqueName(prefix);
  await withAdmin(async (admin) => {
    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    if (!created) throw new Error(`topic ${topic} already existed`);
  });
  return topic;
}

/** A message: a bare value, or a kafkajs message (key, partition, headers...). */
export type TestMessage = string | Buffer | Message;

/**
 * Produces `messages` to `topic` in chunks of `chunkSize` (one request each),
 * with acks from all in-sync replicas. Resolves when all are acknowledged.
 */
export async function produce(
  topic: string,
  messages: readonly TestMessage[],
  chunkSize = 500,
): Promise<void> {
  const producer = testKafka(uniqueName('ckawatch-test-producer')).producer({
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += chunkSize) {
      const chunk = messages
        .slice(i, i + chunkSize)
        .map((m): Message => (typeof m === 'string' || Buffer.isBuffer(m) ? { value: m } : m));
      await producer.send({ topic, messages: chunk, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * The group's committed offset per partition of `topic` (the offset of the next
 * message to read; -1 where the group has committed nothing).
 */
export async function committedOffsets(groupId: string, topic: string): Promise<Map<number, number>> {
  const result = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
  const partitions = result.find((t) => t.topic === topic)?.partitions ?? [];
  return new Map(partitions.map((p) => [p.partition, Number(p.offset)]));
}

/** The high watermark (offset after the last message) per partition of `topic`. */
export async function endOffsets(topic: string): Promise<Map<number, number>> {
  const offsets = await withAdmin((admin) => admin.fetchTopicOffsets(topic));
  return new Map(offsets.map((p) => [p.partition, Number(p.high)]));
}

/**
 * Polls `predicate` every `intervalMs` until it returns true; throws after
 * `timeoutMs`, naming `what` and the last error the predicate threw, if any.
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what = 'condition',
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await predicate()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `: last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}
