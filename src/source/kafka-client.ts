import { Kafka, logLevel, type KafkaConfig, type RetryOptions } from 'kafkajs';
import { IoError } from '../errors/index.js';
import type { Logger } from '../util/logger.js';

export interface KafkaClientOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: KafkaConfig['ssl'];
  readonly sasl?: KafkaConfig['sasl'];
  readonly logger: Logger;
}

/** A kafkajs client that logs through ours (kafkajs's warnings and errors at their level, the rest at debug). */
export function kafkaClient(options: KafkaClientOptions, extra: { retry?: RetryOptions; connectionTimeout?: number } = {}): Kafka {
  const log = options.logger;
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
    ...extra,
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      const { message, ...extra } = entry.log;
      const level = entry.level === logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : 'debug';
      log[level]({ ...extra, component: 'kafkajs', namespace: entry.namespace }, message);
    },
  });
}

/** The error for brokers that do not answer: retriable (exit 1), naming them. */
export function unreachable(brokers: readonly string[], error: unknown): IoError {
  return new IoError(`cannot reach Kafka at ${brokers.join(',')}: ${(error as Error).message}`, { retriable: true, cause: error });
}
