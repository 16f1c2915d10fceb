import { kafkaClient, unreachable } from './kafka-client.js';
import type { KafkaSourceOptions } from './kafka.js';

/** What `config check --online` found: facts to print, and problems in the config's field-error format. */
export interface OnlineCheck {
  readonly facts: readonly string[];
  readonly problems: readonly string[];
}

/**
 * The brokers, as the daemon will see them: reachable with these credentials, the topic
 * there, the dead-letter topic there (the daemon's producer never creates topics; a
 * missing one makes every letter fail), and what the group has committed. Read-only.
 * An unreachable broker is an IoError (exit 1: try again), a missing topic a field error.
 */
export async function checkKafka(options: KafkaSourceOptions): Promise<OnlineCheck> {
  const kafka = kafkaClient(options, { retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 2_000 }, connectionTimeout: 5_000 });
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (error) {
    throw unreachable(options.brokers, error);
  }
  try {
    const facts: string[] = [];
    const problems: string[] = [];
    const topics = new Set(await admin.listTopics());
    const missing = (field: string, topic: string): string =>
      `config error at ${field}: a topic on ${options.brokers.join(',')}; found none named ${topic}`;
    if (topics.has(options.topic)) {
      const [meta] = (await admin.fetchTopicMetadata({ topics: [options.topic] })).topics;
      const partitions = meta?.partitions.length ?? 0;
      const committed = (await admin.fetchOffsets({ groupId: options.groupId, topics: [options.topic] }))[0]?.partitions ?? [];
      const withOffset = committed.filter((p) => Number(p.offset) >= 0).length;
      facts.push(`topic ${options.topic}: ${partitions} partition${partitions === 1 ? '' : 's'}; group ${options.groupId} has committed offsets on ${withOffset}`);
    } else {
      problems.push(missing('source.topic', options.topic));
    }
    const letters = options.deadLetterTopic;
    if (letters !== undefined && topics.has(letters)) {
      const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: letters, configNames: ['max.message.bytes'] }] });
      const max = described.resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue;
      facts.push(`dead-letter topic ${letters}: exists${max === undefined ? '' : `, max.message.bytes ${max}`}`);
    } else if (letters !== undefined) {
      problems.push(missing('source.deadLetterTopic', letters));
    }
    return { facts, problems };
  } finally {
    await admin.disconnect();
  }
}
