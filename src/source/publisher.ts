import { kafkaClient, unreachable, type KafkaClientOptions } from './kafka-client.js';

/** Messages to one Kafka topic, keyed: for reports that tools read (witnesses), not for samples. */
export interface Publisher {
  /** Sends them as one request; rejects when the broker refuses them. */
  send(messages: readonly { readonly key: string; readonly value: string }[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * A producer of its own (the consumer's group never waits on it), that never creates the
 * topic: a missing one fails each send, which the caller logs and counts.
 */
export async function createPublisher(options: KafkaClientOptions, topic: string): Promise<Publisher> {
  const producer = kafkaClient(options).producer({ allowAutoTopicCreation: false });
  try {
    await producer.connect();
  } catch (error) {
    throw unreachable(options.brokers, error);
  }
  return {
    send: async (messages) => {
      await producer.send({ topic, acks: -1, messages: messages.map((m) => ({ key: m.key, value: m.value })) });
    },
    close: () => producer.disconnect(),
  };
}
