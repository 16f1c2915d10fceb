import { readFileSync } from 'node:fs';
import type { SASLOptions } from 'kafkajs';
import type { KafkaSourceConfig } from '../config/schema.js';
import { ConfigError } from '../errors/index.js';
import type { KafkaSourceOptions } from './kafka.js';

/** Turns the validated `source` section into kafkajs options: PEM files read, secrets revealed only here. */
export function kafkaOptions(config: KafkaSourceConfig, logger: KafkaSourceOptions['logger']): KafkaSourceOptions {
  const pem = (path: string | undefined): string | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new ConfigError(`source.ssl: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  const ssl = config.ssl
    ? {
        rejectUnauthorized: config.ssl.rejectUnauthorized,
        ...(config.ssl.ca ? { ca: [pem(config.ssl.ca)!] } : {}),
        ...(config.ssl.cert ? { cert: pem(config.ssl.cert)! } : {}),
        ...(config.ssl.key ? { key: pem(config.ssl.key)! } : {}),
      }
    : undefined;
  const sasl: SASLOptions | undefined = config.sasl
    ? ({ mechanism: config.sasl.mechanism, username: config.sasl.username, password: config.sasl.password.reveal() } as SASLOptions)
    : undefined;
  return {
    brokers: config.brokers,
    clientId: config.clientId,
    groupId: config.groupId,
    topic: config.topic,
    fromBeginning: config.fromBeginning,
    sessionTimeoutMs: config.sessionTimeout,
    logger,
    ...(ssl ? { ssl } : {}),
    ...(sasl ? { sasl } : {}),
    ...(config.deadLetterTopic ? { deadLetterTopic: config.deadLetterTopic } : {}),
  };
}
