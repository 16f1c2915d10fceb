import { Secret } from './secret.js';
import type { Config } from './schema.js';

/**
 * The config as plain data for a start-up log line: every Secret becomes "[redacted]"
 * (the environment variable's name stays, so that an operator can see where the
 * password came from). Secret prints itself redacted anyway; this view also keeps
 * the log free of class instances.
 */
export type RedactedConfig = { readonly [key: string]: unknown };

function redact(value: unknown): unknown {
  if (value instanceof Secret) return '[redacted]';
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v)]));
  }
  return value;
}

export function redactedConfig(config: Config): RedactedConfig {
  return redact(config) as RedactedConfig;
}
