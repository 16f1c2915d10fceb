import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors/index.js';
import { loadConfig, parseConfigData, parseConfigText } from '../../src/config/load.js';
import { redactedConfig } from '../../src/config/redact.js';
import { Secret } from '../../src/config/secret.js';
import type { Config } from '../../src/config/schema.js';
import { thrownMessage } from '../helpers/errors.js';
import { useTempDir } from '../helpers/files.js';

const tmp = useTempDir('ckawatch-config-');
const PASSWORD = 'hunter2-do-not-print';
const env = { KAFKA_PASSWORD: PASSWORD, METRICS_PASSWORD: `${PASSWORD}-metrics` };
const example = fileURLToPath(new URL('../../deploy/ckawatch.example.yaml', import.meta.url));

const minimal = { model: { path: 'm.onnx' }, reference: { path: 'ref.npy' }, source: { kind: 'file', path: 'prod.npy' } };
const kafka = { kind: 'kafka', brokers: ['localhost:9092'], topic: 'samples', groupId: 'g' };

const errorOf = (f: () => unknown): string => thrownMessage(f, ConfigError);

const parse = (data: unknown): Config => parseConfigData(data, { env, baseDir: '/etc/ckawatch' });
const problems = (data: unknown): string => errorOf(() => parse(data));

describe('loadConfig', () => {
  it('reads the example config', () => {
    const config = loadConfig(example, { env });
    expect(config.model.path).toMatch(/deploy\/models\/resnet18\.onnx$/);
    expect(config.source.kind === 'kafka' && config.source.sasl?.password.reveal()).toBe(PASSWORD);
    expect(config.windows.map((w) => [w.name, w.duration, w.buckets])).toEqual([
      ['5m', 300_000, 10],
      ['1h', 3_600_000, 10],
      ['24h', 86_400_000, 24],
    ]);
  });

  it('fills every default for a minimal config', () => {
    expect(parse(minimal)).toMatchInlineSnapshot(`
      {
        "alarm": {
          "falseAlarmRate": 0.01,
        },
        "batch": {
          "blindAfter": 120000,
          "maxWait": 2000,
          "size": 64,
        },
        "calibration": {
          "batches": 1024,
          "falseAlarmRate": 0.01,
          "timeLimit": 300000,
        },
        "checkpoint": {
          "dir": "/etc/ckawatch/ckawatch-state",
          "schedule": "*/10 * * * * *",
          "stateTopic": "ckawatch-state",
          "store": "file",
        },
        "input": {
          "encoding": "raw-f32",
        },
        "log": {
          "level": "info",
        },
        "metrics": {
          "host": "0.0.0.0",
          "port": 9464,
        },
        "model": {
          "gramTolerance": 0.0001,
          "path": "/etc/ckawatch/m.onnx",
          "pooling": {
            "default": "auto",
            "mask": "attention_mask",
          },
          "providers": [
            "cpu",
          ],
          "tapGraph": "auto",
        },
        "reference": {
          "maxCacheMiB": 1024,
          "path": "/etc/ckawatch/ref.npy",
          "pool": 2048,
          "samplesPerBatch": 64,
          "scheme": "pool",
          "seed": 1,
          "sketchWidth": 256,
        },
        "sampling": 1,
        "source": {
          "kind": "file",
          "loop": false,
          "path": "/etc/ckawatch/prod.npy",
        },
        "windows": [
          {
            "buckets": 10,
            "duration": 300000,
            "name": "5m",
          },
          {
            "buckets": 10,
            "duration": 3600000,
            "name": "1h",
          },
          {
            "buckets": 10,
            "duration": 86400000,
            "name": "24h",
          },
        ],
        "witnesses": {
          "every": 60000,
          "k": 32,
          "keepBytes": 0,
        },
      }
    `);
  });

  it('reads JSON by extension and YAML otherwise, with paths relative to the file', () => {
    const sub = tmp.path('conf');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'a.json'), JSON.stringify({ ...minimal, batch: { size: 32 } }));
    writeFileSync(join(sub, 'b.conf'), 'model: {path: ../m.onnx}\nreference: {path: /abs/ref.npy}\nsource: {kind: file, path: p.npy}\n');
    const a = loadConfig(join(sub, 'a.json'), { env });
    expect([a.batch.size, a.model.path]).toEqual([32, join(sub, 'm.onnx')]);
    const b = loadConfig(join(sub, 'b.conf'), { env });
    expect([b.model.path, b.reference.path]).toEqual([tmp.path('m.onnx'), '/abs/ref.npy']);
  });

  it('says in one line why a file cannot be read or parsed', () => {
    expect(errorOf(() => loadConfig(tmp.path('absent.yaml')))).toBe(`config error: cannot read ${tmp.path('absent.yaml')}: no such file`);
    expect(errorOf(() => loadConfig(tmp.dir))).toMatch(/^config error: cannot read .*: is a directory$/);
    const bad = tmp.path('bad.json');
    writeFileSync(bad, '{\n  "model": {"path": "m"},\n}');
    expect(errorOf(() => loadConfig(bad))).toMatch(/^config error in .*bad\.json: not valid JSON: .* at line 3, column 1$/);
    expect(errorOf(() => parseConfigText('model:\n  path: m\nmodel: {}\n', 'yaml', { fileName: 'c.yaml' }))).toBe(
      'config error in c.yaml: Map keys must be unique at line 3, column 1',
    );
    expect(errorOf(() => parseConfigText('a: !!js/function "f"', 'yaml', { fileName: 'c.yaml' }))).toMatch(/^config error in c\.yaml: Unresolved tag/);
    expect(errorOf(() => parseConfigText('a: 1\n---\nb: 2\n', 'yaml', { fileName: 'c.yaml' }))).toMatch(/multiple documents/);
    expect(errorOf(() => parseConfigText(' \n', 'yaml', { fileName: 'c.yaml' }))).toBe('config error in c.yaml: the file is empty');
    const big = tmp.path('big.yaml');
    writeFileSync(big, `# ${'x'.repeat(1024 * 1024)}\n`);
    expect(errorOf(() => loadConfig(big))).toMatch(/^config error: .*big\.yaml is 1048579 bytes; a config file is at most 1048576$/);
  });
});

describe('config errors', () => {
  it('give one line per problem: path, what was expected, what was found', () => {
    expect(
      problems({
        model: { path: 'm', providers: ['gpu'], threads: 0, gramTolerance: 0.5 },
        reference: { path: 'r', samplesPerBatch: '64' },
        source: { ...kafka, brokers: [42, 'kafka'], topic: 'a topic' },
        batch: { size: 2.5, maxWait: 30 },
        windows: [{ name: '5m', duration: '5m' }, { name: '5m', duration: '1x' }, { name: 'a-b', duration: '10s', buckets: 20 }],
        metrics: { port: 70000 },
        checkpoint: { schedule: '70 * * * * *' },
        log: { level: 'verbose' },
      }),
    ).toMatchInlineSnapshot(`
      "config error at model.providers[0]: expected one of cuda, tensorrt, webgpu, cpu, found "gpu"
      config error at model.gramTolerance: expected a relative error above 0 and at most 0.01, found 0.5
      config error at model.threads: expected a whole number from 1 to 1024, found 0
      config error at reference.samplesPerBatch: expected a whole number from 4 to 4096, found "64"
      config error at source.brokers[0]: expected a "host:port" string, found 42
      config error at source.brokers[1]: expected a "host:port" string, found "kafka"
      config error at source.topic: expected a Kafka topic name (letters, digits, ".", "_", "-"; at most 249), found "a topic"
      config error at batch.size: expected a whole number from 4 to 4096, found 2.5
      config error at batch.maxWait: expected a duration from 1ms to 1d like "30s", "5m" or "1h", found 30
      config error at windows[1].duration: expected a duration from 1s to 90d like "30s", "5m" or "1h", found "1x"
      config error at windows[2].name: expected a name of letters, digits and "_" (at most 64), found "a-b"
      config error at windows[2]: expected each of the 20 buckets to span a second or more, found 10s / 20; use fewer buckets or a longer duration
      config error at metrics.port: expected a whole number from 0 to 65535, found 70000
      config error at checkpoint.schedule: expected a cron expression like "*/10 * * * * *" (70 is a invalid expression for second), found "70 * * * * *"
      config error at log.level: expected one of debug, info, warn, error, found "verbose""
    `);
  });

  it('name missing sections and check cross-field rules', () => {
    expect(problems({})).toMatchInlineSnapshot(`
      "config error at model: expected a mapping (key: value), found nothing (the key is missing)
      config error at reference: expected a mapping (key: value), found nothing (the key is missing)
      config error at source: expected a source with kind: kafka or kind: file, found nothing (the key is missing)"
    `);
    expect(problems([1])).toBe('config error at top level: expected a mapping with the sections model, reference, source and optional others, found a list of 1 item');
    expect(problems({ ...minimal, source: { kind: 'kafkaa' } })).toBe('config error at source.kind: expected one of "kafka", "file", found "kafkaa"');
    expect(problems({ ...minimal, source: { ...kafka, deadLetterTopic: 'samples' } })).toBe(
      'config error at source.deadLetterTopic: expected a dead-letter topic other than the topic consumed, found "samples"',
    );
    expect(problems({ ...minimal, windows: [{ name: 'a', duration: '1m' }, { name: 'a', duration: '1h' }] })).toBe(
      'config error at windows[1]: expected a window name that is not listed before, found a mapping with "name", "duration"',
    );
    expect(problems({ ...minimal, windows: [{ name: 'w', duration: '5s' }] })).toBe(
      'config error at windows[0]: expected each of the 10 buckets to span a second or more, found 5s / 10; use fewer buckets or a longer duration',
    );
    expect(problems({ ...minimal, model: { path: 'm', layers: ['a', 'b', 'a'] } })).toBe(
      'config error at model.layers[2]: expected a layer that is not listed before, found "a"',
    );
  });

  it('take a false-page budget in time or in batches, not both', () => {
    expect(parse({ ...minimal, alarm: { meanTimeBetweenFalseAlarms: '30d' } }).alarm.meanTimeBetweenFalseAlarms).toBe(30 * 86_400_000);
    expect(parse({ ...minimal, alarm: { meanBatchesBetweenFalseAlarms: 100_000 } }).alarm.meanBatchesBetweenFalseAlarms).toBe(100_000);
    expect(problems({ ...minimal, alarm: { meanTimeBetweenFalseAlarms: '30d', meanBatchesBetweenFalseAlarms: 100 } })).toMatch(
      /^config error at alarm\.meanBatchesBetweenFalseAlarms: expected one false-page budget: meanTimeBetweenFalseAlarms or meanBatchesBetweenFalseAlarms, not both/,
    );
    expect(problems({ ...minimal, alarm: { meanBatchesBetweenFalseAlarms: 1 } })).toMatch(/^config error at alarm\.meanBatchesBetweenFalseAlarms: /);
  });

  it('model.responses: a served output tensor instead of a model file, read in a serving encoding, each misuse named by its field', () => {
    const responses = { ...minimal, model: { responses: { tensor: 'logits', shape: [10] } }, source: kafka, input: { encoding: 'oip-protobuf' } };
    const config = parse(responses);
    expect(config.model.responses).toEqual({ tensor: 'logits', shape: [10] });
    expect(config.model.path).toBeUndefined();
    expect(problems({ ...responses, model: {} })).toBe("config error at model.path: expected an .onnx file path (or responses, to watch a served model's outputs), found nothing (the key is missing)");
    expect(problems({ ...responses, model: { path: 'm.onnx', responses: { tensor: 'logits', shape: [10] } } })).toBe(
      'config error at model.responses: expected either path or responses, not both, found a mapping with "tensor", "shape"',
    );
    expect(problems({ ...responses, model: { responses: { tensor: 'logits', shape: [] }, layers: ['x'] } })).toMatchInlineSnapshot(`
      "config error at model.responses.shape: expected a list of at least one dimension, e.g. [10], found an empty list
      config error at model.layers: expected no layers with responses (the monitored layer is responses.tensor), found a list of 1 item"
    `);
    expect(problems({ ...responses, model: { responses: { tensor: 'logits', shape: [10] }, layers: ['x'], sha256: 'a'.repeat(64) } })).toMatchInlineSnapshot(`
      "config error at model.layers: expected no layers with responses (the monitored layer is responses.tensor), found a list of 1 item
      config error at model.sha256: expected no sha256 with responses (the monitored layer is responses.tensor), found "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...""
    `);
    expect(problems({ ...responses, input: { encoding: 'raw-f32' } })).toMatchInlineSnapshot(`"config error at input.encoding: expected one of oip-protobuf, oip-json, kserve-v1-json, auto with model.responses (responses are read as the serving system writes them), found "raw-f32""`);
    expect(problems({ ...responses, input: { encoding: 'auto', name: 'x' }, candidate: { path: 'c.onnx' } })).toMatchInlineSnapshot(`
      "config error at input.name: expected no name with model.responses (the output tensor is read as numbers), found "x"
      config error at candidate: expected no candidate with model.responses (there is no model to pair it with), found a mapping with "path""
    `);
  });

  it('refuse unknown keys with a "did you mean"', () => {
    expect(
      problems({
        ...minimal,
        model: { path: 'm', layer: ['x'], tap_graph: 'auto', colour: 'blue' },
        source: { ...kafka, group_id: 'g', ssl: { ca: 'ca.pem', rejectunauthorized: false } },
        windwos: [],
      }),
    ).toMatchInlineSnapshot(`
      "config error at model.layer: unknown key; did you mean "layers"?
      config error at model.tap_graph: unknown key; did you mean "tapGraph"?
      config error at model.colour: unknown key; expected one of path, responses, sha256, layers, providers, tapGraph, gramTolerance, threads, pooling
      config error at source.ssl.rejectunauthorized: unknown key; did you mean "rejectUnauthorized"?
      config error at source.group_id: unknown key; did you mean "groupId"?
      config error at windwos: unknown key; did you mean "windows"?"
    `);
    expect(problems({ ...minimal, source: { kind: 'file', path: 'p', topic: 't' } })).toBe(
      'config error at source.topic: unknown key; expected one of kind, path, ratePerSecond, loop',
    );
  });

  it('refuse "__proto__" keys, which zod records would drop silently', () => {
    const data = JSON.parse('{"model":{"path":"m"},"reference":{"path":"r"},"source":{"kind":"file","path":"p"},"__proto__":{},"calibration":{"thresholds":{"__proto__":{"cka":0.5}}}}');
    expect(problems(data)).toMatchInlineSnapshot(`
      "config error at calibration.thresholds.__proto__: expected a layer name other than "__proto__", found a mapping with "cka"
      config error at __proto__: unknown key; expected one of model, candidate, reference, source, input, batch, sampling, windows, witnesses, metrics, checkpoint, calibration, alarm, log"
    `);
    expect(({} as Record<string, unknown>)['cka']).toBeUndefined();
  });

  it('accept threshold overrides by layer and statistic', () => {
    const config = parse({ ...minimal, calibration: { thresholds: { '/layer4/Add_output_0': { cka: 0.9, mmd2_rbf: 0.02 } } } });
    expect(config.calibration.thresholds).toEqual({ '/layer4/Add_output_0': { cka: 0.9, mmd2_rbf: 0.02 } });
    expect(problems({ ...minimal, calibration: { thresholds: { l: { cka: 2 }, m: {}, 'a\nb': { cka: 0.5 } } } })).toMatchInlineSnapshot(`
      "config error at calibration.thresholds.l.cka: expected a CKA threshold from 0 to 1, found 2
      config error at calibration.thresholds.m: expected a mapping with at least one of cka, mmd2_linear, mmd2_rbf, found an empty mapping
      config error at calibration.thresholds["a\\nb"]: expected an ONNX tensor name as the key, found "a\\nb""
    `);
  });
});

describe('secrets', () => {
  const withSasl = (passwordEnv: unknown): unknown => ({
    ...minimal,
    source: { ...kafka, sasl: { mechanism: 'scram-sha-512', username: 'u', passwordEnv } },
    metrics: { basicAuth: { username: 'prom', passwordEnv: 'METRICS_PASSWORD' } },
  });

  it('come from the environment and never print', () => {
    const config = parse(withSasl('KAFKA_PASSWORD'));
    const sasl = config.source.kind === 'kafka' ? config.source.sasl : undefined;
    expect(sasl?.password).toBeInstanceOf(Secret);
    expect(sasl?.password.reveal()).toBe(PASSWORD);
    expect(config.metrics.basicAuth?.password.reveal()).toBe(`${PASSWORD}-metrics`);
    const views = [JSON.stringify(config), inspect(config, { depth: 10 }), `${sasl?.password}`, JSON.stringify(redactedConfig(config))];
    for (const view of views) expect(view).not.toContain(PASSWORD);
    expect(redactedConfig(config)).toMatchObject({
      source: { sasl: { username: 'u', passwordEnv: 'KAFKA_PASSWORD', password: '[redacted]' } },
      metrics: { basicAuth: { username: 'prom', passwordEnv: 'METRICS_PASSWORD', password: '[redacted]' } },
    });
  });

  it('name the missing variable, never its value', () => {
    expect(problems(withSasl('KAFKA_PASS'))).toBe(
      'config error at source.sasl.passwordEnv: expected the environment variable KAFKA_PASS to be set (it holds the password), found it unset',
    );
    expect(errorOf(() => parseConfigData(withSasl('KAFKA_PASSWORD'), { env: { KAFKA_PASSWORD: '', METRICS_PASSWORD: 'x' } }))).toBe(
      'config error at source.sasl.passwordEnv: expected the environment variable KAFKA_PASSWORD to be set (it holds the password), found it empty',
    );
  });

  it('do not show a password pasted where the variable name belongs', () => {
    const message = problems(withSasl(PASSWORD));
    expect(message).toBe(
      'config error at source.sasl.passwordEnv: expected the name of an environment variable in upper case, like KAFKA_PASSWORD, found a string of 20 characters (not shown)',
    );
    expect(problems({ ...minimal, source: { ...kafka, sasl: { mechanism: 'plain', username: 'u', password: PASSWORD } } })).not.toContain(PASSWORD);
  });
});
