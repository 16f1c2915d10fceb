import type { SourceConfig } from '../config/schema.js';
import { CkawatchError } from '../errors/index.js';
import { readNpyFile } from '../io/npy-file.js';
import type { Logger } from '../util/logger.js';
import { GeneratorSource } from './generator.js';
import { KafkaSource } from './kafka.js';
import { kafkaOptions } from './kafka-options.js';
import type { Source } from './source.js';

/**
 * The configured source: a Kafka consumer group, or a .npy file of samples replayed at
 * `ratePerSecond` (offsets are row indices, so checkpoints resume it).
 */
export async function createSource(config: SourceConfig, sampleSize: number, logger: Logger): Promise<Source> {
  if (config.kind === 'kafka') return KafkaSource.create(kafkaOptions(config, logger));
  const file = readNpyFile(config.path);
  if (file.kind !== 'float32') throw new CkawatchError(`${config.path}: production samples must be float32 or float64`);
  const count = Math.floor(file.data.length / sampleSize);
  return new GeneratorSource({
    topic: `file:${config.path.split('/').at(-1)}`,
    ratePerSecond: config.ratePerSecond,
    next: (i) => {
      if (i >= count && !config.loop) return null;
      const k = i % count;
      return new Uint8Array(file.data.buffer, file.data.byteOffset + k * sampleSize * 4, sampleSize * 4);
    },
    // Without this a finished file looks exactly like a stalled one.
    onEnd: (records) => logger.info({ path: config.path, records }, `file source reached its end after ${records} samples; the daemon keeps serving metrics`),
  });
}
