import { writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfigData, parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors/index.js';
import { thrown } from '../helpers/errors.js';
import { useTempDir } from '../helpers/files.js';

/**
 * Random invalid configs: whatever the file holds, loading either succeeds or throws
 * a ConfigError whose message is one "config error ..." line per problem, with no
 * stack and no secret from the environment in it.
 */

const PASSWORD = 'pa55-W0rd-fuzz';
const env = { KAFKA_PASSWORD: PASSWORD, METRICS_PASSWORD: PASSWORD };
const tmp = useTempDir('ckawatch-fuzz-');

const valid = {
  model: { path: 'm.onnx', providers: ['webgpu', 'cpu'], layers: ['a', 'b'] },
  reference: { path: 'r.npy', samplesPerBatch: 32, seed: 7 },
  source: {
    kind: 'kafka',
    brokers: ['k:9092'],
    topic: 't',
    groupId: 'g',
    ssl: { ca: 'ca.pem' },
    sasl: { mechanism: 'plain', username: 'u', passwordEnv: 'KAFKA_PASSWORD' },
  },
  input: { encoding: 'json', name: 'x' },
  batch: { size: 16, maxWait: '1s' },
  windows: [{ name: 'a', duration: '5m' }, { name: 'b', duration: '1h', buckets: 6 }],
  metrics: { port: 0, basicAuth: { username: 'p', passwordEnv: 'METRICS_PASSWORD' } },
  checkpoint: { dir: 'state' },
  calibration: { falseAlarmRate: 0.05, thresholds: { a: { cka: 0.9 } } },
  log: { level: 'debug' },
};

const PATHS: (string | number)[][] = [
  [],
  ['model'],
  ['model', 'path'],
  ['model', 'providers', 0],
  ['model', 'layers'],
  ['reference', 'samplesPerBatch'],
  ['source'],
  ['source', 'kind'],
  ['source', 'brokers', 0],
  ['source', 'ssl'],
  ['source', 'sasl'],
  ['source', 'sasl', 'passwordEnv'],
  ['input', 'encoding'],
  ['batch', 'maxWait'],
  ['windows'],
  ['windows', 1],
  ['windows', 0, 'duration'],
  ['metrics', 'basicAuth'],
  ['checkpoint', 'schedule'],
  ['calibration', 'thresholds'],
  ['calibration', 'thresholds', 'a'],
  ['log'],
];

const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(NaN, Infinity, -0, 2 ** 53, '', '__proto__', 'a\nb', 'KAFKA_PASSWORD', 'x'.repeat(5000), '*/10 * * * * *', '5m', 'k:9092'),
  fc.constant(JSON.parse('{"__proto__": {"polluted": 1}}')),
  fc.constant(Object.create(null)),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

function setAt(root: unknown, path: readonly (string | number)[], key: string | undefined, value: unknown): unknown {
  if (typeof root !== 'object' || root === null) return root;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (const step of path) {
    const next = node[step];
    if (typeof next !== 'object' || next === null) return copy;
    node = next as Record<string | number, unknown>;
  }
  if (key === undefined) {
    if (path.length === 0) return value;
    return setAt(copy, path.slice(0, -1), String(path[path.length - 1]), value);
  }
  if (typeof node !== 'object' || node === null) return copy;
  // defineProperty, so that "__proto__" becomes an own key as JSON.parse and YAML make it.
  Object.defineProperty(node, key, { value, enumerable: true, configurable: true, writable: true });
  return copy;
}

/** Loads fine, or throws a ConfigError of one line per problem that shows no secret; pollutes no prototype either way. */
function checkOutcome(run: () => unknown): void {
  const error = thrown(run);
  if (error !== undefined) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message.length).toBeGreaterThan(0);
    for (const line of message.split('\n')) {
      expect(line).toMatch(/^config error( at [^\n]+| in [^\n]+)?: \S/);
      expect(line).not.toMatch(/^\s+at /);
      expect(line.length).toBeLessThan(1000);
    }
    expect(message).not.toContain(PASSWORD);
  }
  expect(Object.prototype).not.toHaveProperty('polluted');
}

describe('loading random invalid configs', () => {
  it('only ever throws ConfigError, one line per problem, no secret', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ path: fc.constantFrom(...PATHS), key: fc.option(fc.constantFrom('path', 'kind', 'extra', '__proto__', 'constructor', 'password', 'name')), value: hostileValue }),
          { minLength: 1, maxLength: 4 },
        ),
        (edits) => {
          let data: unknown = valid;
          for (const { path, key, value } of edits) data = setAt(data, path, key ?? undefined, value);
          checkOutcome(() => parseConfigData(data, { env, baseDir: '/etc/ckawatch' }));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('survives random text as YAML and as JSON', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.jsonValue().map((v) => JSON.stringify(v))), (text) => {
        checkOutcome(() => parseConfigText(text, 'yaml', { env, fileName: 'fuzz.yaml' }));
        checkOutcome(() => parseConfigText(text, 'json', { env, fileName: 'fuzz.json' }));
      }),
      { numRuns: 500 },
    );
  });

  it('survives YAML documents built from random values, read from a file', () => {
    const file = tmp.path('c.yaml');
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('model', 'source', 'windows', 'log', 'other'), hostileValue), (sections) => {
        writeFileSync(file, JSON.stringify({ ...valid, ...sections }));
        checkOutcome(() => loadConfig(file, { env }));
      }),
      { numRuns: 100 },
    );
  });

  it('accepts the unmodified base config', () => {
    expect(parseConfigData(valid, { env, baseDir: '/etc/ckawatch' }).source.kind).toBe('kafka');
  });
});
