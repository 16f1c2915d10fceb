import { ConfigError } from '../errors/index.js';

/**
 * One sliding window: `durationMs` cut into `buckets` equal buckets of
 * `durationMs / buckets` ms each, aligned to multiples of that granularity since the epoch.
 * A window is "the last `buckets` buckets including the current one": at time `now` it
 * covers between `durationMs - granularity` and `durationMs` of history, and moves in
 * steps of one bucket. More buckets: smoother motion, more memory.
 */
export interface WindowSpec {
  readonly name: string;
  readonly durationMs: number;
  readonly buckets: number;
}

export interface ResolvedWindowSpec extends WindowSpec {
  readonly granularityMs: number;
}

/** Checks a list of specs and keys; throws ConfigError naming the bad value. */
export function resolveSpecs(specs: readonly WindowSpec[]): ResolvedWindowSpec[] {
  const names = new Set<string>();
  return specs.map((spec) => {
    const { name, durationMs, buckets } = spec;
    if (name.length === 0) throw new ConfigError('window name must not be empty');
    if (names.has(name)) throw new ConfigError(`window name "${name}" is used twice: window names must be unique`);
    names.add(name);
    if (!Number.isSafeInteger(buckets) || buckets < 1) {
      throw new ConfigError(`window "${name}": buckets must be a positive integer, got ${buckets}`);
    }
    if (!Number.isSafeInteger(durationMs) || durationMs < 1) {
      throw new ConfigError(`window "${name}": durationMs must be a positive integer, got ${durationMs}`);
    }
    // An integer granularity keeps bucket boundaries exact and comparable across replicas.
    if (durationMs % buckets !== 0) {
      throw new ConfigError(
        `window "${name}": durationMs ${durationMs} is not a multiple of buckets ${buckets}; ` +
          `pick a bucket count that divides the duration (e.g. ${suggestBuckets(durationMs, buckets)})`,
      );
    }
    return { name, durationMs, buckets, granularityMs: durationMs / buckets };
  });
}

export function assertKeys(keys: readonly string[]): void {
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key)) throw new ConfigError(`key "${key}" is listed twice: window keys (layer names) must be unique`);
    seen.add(key);
  }
}

export function assertWidth(width: number): void {
  if (!Number.isSafeInteger(width) || width < 1) {
    throw new ConfigError(`vector width must be a positive integer, got ${width}`);
  }
}

function suggestBuckets(durationMs: number, buckets: number): number {
  for (let delta = 1; delta < buckets; delta++) {
    if (durationMs % (buckets - delta) === 0) return buckets - delta;
    if (durationMs % (buckets + delta) === 0) return buckets + delta;
  }
  return 1;
}
