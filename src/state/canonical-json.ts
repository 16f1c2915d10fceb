import { DataError } from '../errors/index.js';

/**
 * JSON text with object keys sorted at every level and no whitespace: one text per value,
 * so that a checksum over it does not depend on key order. Refuses what JSON.stringify
 * would silently change (NaN and infinities become null, typed arrays become objects
 * keyed "0", "1", ...), because a checkpoint must read back exactly as it was written.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, '$');
}

function encode(value: unknown, path: string): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DataError(`checkpoint state at ${path} is ${value}, which JSON cannot hold`);
    return JSON.stringify(value);
  }
  if (typeof value !== 'object') throw new DataError(`checkpoint state at ${path} is a ${typeof value}, which JSON cannot hold`);
  if (ArrayBuffer.isView(value)) {
    throw new DataError(`checkpoint state at ${path} is a ${value.constructor.name}: convert it with Array.from() first`);
  }
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => (item === undefined ? fail(`${path}[${i}]`) : encode(item, `${path}[${i}]`))).join(',')}]`;
  }
  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return encode(json.call(value), path);
  const entries = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined) // as JSON.stringify: absent, not null
    .sort()
    .map((key) => `${JSON.stringify(key)}:${encode((value as Record<string, unknown>)[key], `${path}.${key}`)}`);
  return `{${entries.join(',')}}`;
}

function fail(path: string): never {
  throw new DataError(`checkpoint state at ${path} is undefined, which a JSON array cannot hold`);
}
