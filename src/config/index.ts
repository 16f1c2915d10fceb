/** Configuration: the file's schema, loading with one-line errors, secrets kept out of logs. */
export { loadConfig, parseConfigData, parseConfigText, formatOf, type ConfigFormat, type ParseConfigOptions } from './load.js';
export {
  createConfigSchema,
  type Config,
  type FileSourceConfig,
  type KafkaSourceConfig,
  type LogLevel,
  type SourceConfig,
  type WindowConfig,
} from './schema.js';
export { redactedConfig, type RedactedConfig } from './redact.js';
export { Secret } from './secret.js';
export { formatDuration, parseDuration } from './duration.js';
