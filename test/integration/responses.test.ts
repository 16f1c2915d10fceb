/**
 * Responses as the monitored signal (model.responses), on the real broker: digits-cnn's
 * logits, as Seldon Core 2 writes them to a model's `.outputs` topic (protobuf
 * inference.ModelInferResponse, [B, 10] with B 1 or 8, typed and raw contents mixed), read
 * by a daemon that has no model file, only the output tensor's name and shape.
 *
 * The reference is made as a user makes it, `ckawatch outputs` on the reference digits;
 * production's logits (the serving system's part) with onnxruntime in this process on
 * test/fixtures/models/digits-cnn.onnx, for clean held-out digits, then rotated ones. Every sample is counted, a request on the topic is refused by reason, and
 * the rotation shows on the output layer as prediction drift.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { drifts } from '../../src/demo/drifts.js';
import { encodeInferRequest, encodeInferResponse } from '../../src/decode/oip/messages.js';
import { readNpyFile } from '../../src/io/npy-file.js';
import { cli } from '../helpers/cli.js';
import { DaemonProcess, editConfig } from '../helpers/daemon.js';
import { produceAndCount, useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { heldOutDigits, writeReference } from '../helpers/digits.js';
import { DIGITS_MODEL, fixture } from '../helpers/fixtures.js';
import { endOffsets, type TestMessage } from '../helpers/kafka.js';
import { minus, rejectedByReason, scores, windowSums } from '../helpers/metrics.js';
import { runInProcess } from '../helpers/model.js';
import { valueOf, type PromSample } from '../helpers/prom-text.js';

const suite = useDaemonSuite('ckawatch-responses-suite-');
const CLASSES = 10;

/** digits-cnn's logits of each digit [1, 28, 28], one Float32Array of 10 per digit. */
async function logitsOf(digits: Float32Array, count: number): Promise<Float32Array[]> {
  const out = await runInProcess(readFileSync(DIGITS_MODEL), { input: { data: digits, dims: [count, 1, 28, 28] } });
  const logits = out['logits']!;
  expect(logits.length).toBe(count * CLASSES);
  return Array.from({ length: count }, (_, k) => logits.slice(k * CLASSES, (k + 1) * CLASSES));
}

const concat = (rows: readonly Float32Array[]): Float32Array => {
  const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  rows.reduce((at, r) => (out.set(r, at), at + r.length), 0);
  return out;
};

/** A ModelInferResponse of B samples' logits [B, 10], as a Seldon `.outputs` topic holds it. */
function seldonResponse(rows: readonly Float32Array[], form: 'raw' | 'contents', id: string): TestMessage {
  const shape = [rows.length, CLASSES];
  // A classifier served with two outputs: the configured one is picked by name, its raw contents by position.
  const probabilities = { name: 'probabilities', datatype: 'FP32', shape };
  const value = encodeInferResponse(
    form === 'raw'
      ? { model_name: 'digits', id, outputs: [probabilities, { name: 'logits', datatype: 'FP32', shape }], raw_output_contents: [Buffer.from(concat(rows.map(softmax)).buffer), Buffer.from(concat(rows).buffer)] }
      : { model_name: 'digits', id, outputs: [{ name: 'logits', datatype: 'FP32', shape, contents: { fp32_contents: rows.flatMap((r) => Array.from(r)) } }] },
  );
  return { key: id, value: Buffer.from(value) };
}

function softmax(row: Float32Array): Float32Array {
  const top = Math.max(...row);
  const e = row.map((v) => Math.exp(v - top));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** Responses of 8 and 1 samples, mixed, raw and typed by turns. */
function responses(rows: readonly Float32Array[], prefix: string): TestMessage[] {
  const pattern = [8, 1, 1, 8, 8, 1, 8];
  const out: TestMessage[] = [];
  for (let at = 0, k = 0; at < rows.length; k++) {
    const b = Math.min(rows.length - at, pattern[k % pattern.length]!);
    out.push(seldonResponse(rows.slice(at, at + b), k % 2 === 0 ? 'raw' : 'contents', `${prefix}${k}`));
    at += b;
  }
  return out;
}

/** The ce_* headers the cloudevents SDK wrote for KServe's request and response events (test/fixtures/oip), with this event's id. */
const fixtureHeaders = (() => {
  const manifest = JSON.parse(readFileSync(fixture('oip', 'manifest.json'), 'utf8')) as { cases: { name: string; headers?: Record<string, string> }[] };
  const of = (name: string): Record<string, string> => manifest.cases.find((c) => c.name === name)!.headers!;
  return { request: of('ce-v1-instances'), response: of('ce-response') };
})();

function kserveEvent(body: unknown, id: string, kind: 'request' | 'response'): TestMessage {
  return { key: id, value: Buffer.from(JSON.stringify(body)), headers: { ...fixtureHeaders[kind], ce_id: id } };
}

/** v2 {"outputs"} for even responses (flat data and a shape), v1 {"predictions"} (nested rows) for odd ones. */
function kserveResponse(rows: readonly Float32Array[], k: number, id: string): TestMessage {
  if (k % 2 === 1) return kserveEvent({ predictions: rows.map((r) => Array.from(r)) }, id, 'response');
  return kserveEvent({ model_name: 'digits', id, outputs: [{ name: 'logits', shape: [rows.length, CLASSES], datatype: 'FP32', data: rows.flatMap((r) => Array.from(r)) }] }, id, 'response');
}

function groupsOf<T>(items: readonly T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, k) => items.slice(k * size, (k + 1) * size));
}

let referencePath = '';

beforeAll(async () => {
  // The served model's outputs on the reference inputs: what model.responses compares against.
  referencePath = join(suite.dir, 'reference-logits.npy');
  const made = await cli(['outputs', '--model', DIGITS_MODEL, '--data', writeReference(suite.dir, 1_000), '--tensor', 'logits', '--out', referencePath]);
  expect(made, made.stderr).toMatchObject({ code: 0 });
  expect(readNpyFile(referencePath).shape).toEqual([1_000, CLASSES]);
});

/**
 * The rotated part alone against the reference (the window's sums after minus before):
 * prediction drift, clearly above the clean part's noise; and the daemon's own verdict on the
 * window, quiet on clean outputs and alarmed once half are rotated.
 */
function expectPredictionDrift(s1: readonly PromSample[], s2: readonly PromSample[], samples: number): void {
  const before = windowSums(s1);
  const after = windowSums(s2);
  expect([...after.keys()]).toEqual(['logits']);
  // Every sample is in the window, or counted as too_few: 1-3 left idle for 10 x batch.maxWait
  // (a busy machine can pause a stream that long) are counted without statistics.
  expect(after.get('logits')!.samples + (valueOf(s2, 'ckawatch_unscored_samples_total', { reason: 'too_few' }) ?? 0)).toBe(samples);
  const cleanScores = scores(before.get('logits')!);
  const driftScores = scores(minus(after.get('logits')!, before.get('logits')!));
  const table = `logits: cka ${cleanScores.cka.toFixed(3)} -> ${driftScores.cka.toFixed(3)}, rbf mmd2 ${cleanScores.mmd2Rbf.toFixed(4)} -> ${driftScores.mmd2Rbf.toFixed(4)}, linear mmd2 ${cleanScores.mmd2Linear.toFixed(3)} -> ${driftScores.mmd2Linear.toFixed(3)}`;
  if (process.env['CKAWATCH_TEST_VERBOSE'] === '1') console.log(table);
  const flags = (s: readonly PromSample[]): Record<string, number | undefined> =>
    Object.fromEntries(['cka', 'mmd2_linear', 'mmd2_rbf'].map((statistic) => [statistic, valueOf(s, 'ckawatch_drift', { layer: 'logits', window: 'all', statistic })]));
  if (process.env['CKAWATCH_TEST_VERBOSE'] === '1') console.log({ clean: flags(s1), mixed: flags(s2) });
  expect(driftScores.mmd2Rbf, table).toBeGreaterThan(5 * Math.abs(cleanScores.mmd2Rbf) + 0.005);
  expect(driftScores.mmd2Linear, table).toBeGreaterThan(3 * Math.abs(cleanScores.mmd2Linear) + 0.5);
  expect(driftScores.cka, table).toBeLessThan(cleanScores.cka - 0.03);
  expect(flags(s1)['mmd2_rbf'], table).toBe(0);
  expect(flags(s2)['mmd2_rbf'], table).toBe(1);
}

const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);

describe('responses as a monitored signal (model.responses) on the real broker', () => {
  it('Seldon .outputs: digits-cnn logits in ModelInferResponse, each sample counted, a request refused, rotation detected on the output layer', { timeout: 300_000 }, async () => {
    const { topic, groupId, config } = await suite.run('responses-seldon', 2, { referencePath, input: { encoding: 'oip-protobuf' }, batchSize: 32, referencePerBatch: 32, threads: 1, calibrationBatches: 8 });
    // No model file: the served output tensor, by name and shape, is the one layer.
    editConfig(config, (c) => {
      c['model'] = { responses: { tensor: 'logits', shape: [CLASSES] }, providers: ['cpu'], threads: 1 };
    });
    const daemon = await DaemonProcess.start(config, { timeoutMs: 60_000 });

    const clean = await logitsOf(concat(heldOutDigits(512)), 512);
    const messages = responses(clean, 'c');
    const bad: TestMessage[] = [
      // A request on the outputs topic: its tensor is `input`, not `logits`.
      { key: 'q1', value: Buffer.from(encodeInferRequest({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, CLASSES], contents: { fp32_contents: new Array<number>(CLASSES).fill(0) } }] })) },
      { key: 'bad', value: Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]) },
      { key: 'shape', value: Buffer.from(encodeInferResponse({ outputs: [{ name: 'logits', datatype: 'FP32', shape: [1, 9], contents: { fp32_contents: new Array<number>(9).fill(0) } }] })) },
    ];
    const mixed = [...messages];
    bad.forEach((m, k) => mixed.splice(10 + 20 * k, 0, m));
    const s1 = await produceAndCount(daemon, topic, mixed, { samples: 512, rejected: bad.length });
    expect(rejectedByReason(s1, topic)).toEqual({ no_tensor: 1, bad_protobuf: 1, wrong_shape: 1 });
    const committed = await waitForCommitsAtEnd(groupId, topic, daemon);
    expect(sum(committed.values())).toBe(mixed.length);
    expect(sum((await endOffsets(topic)).values())).toBe(mixed.length);

    const rotated = await logitsOf(concat(heldOutDigits(512, { from: 512, drift: drifts.rotate(40) })), 512);
    const s2 = await produceAndCount(daemon, topic, responses(rotated, 'r'), { samples: 1024, rejected: bad.length });

    expectPredictionDrift(s1, s2, 1024);
    await expect(daemon.stop()).resolves.toEqual({ code: 0, signal: null });
  });

  it('KServe logger in mode all: v2 {"outputs"} and v1 {"predictions"} response events read, request events counted as not_response, rotation detected', { timeout: 300_000 }, async () => {
    const { topic, groupId, config } = await suite.run('responses-kserve', 2, { referencePath, input: { encoding: 'auto' }, batchSize: 32, referencePerBatch: 32, threads: 1, calibrationBatches: 8 });
    editConfig(config, (c) => {
      c['model'] = { responses: { tensor: 'logits', shape: [CLASSES] }, providers: ['cpu'], threads: 1 };
    });
    const daemon = await DaemonProcess.start(config, { timeoutMs: 60_000 });
    const clean = await logitsOf(concat(heldOutDigits(512)), 512);
    // Each response after its request, as the logger sends them in mode all.
    const events = (rows: readonly Float32Array[], prefix: string): TestMessage[] =>
      groupsOf(rows, 4).flatMap((g, k) => [kserveEvent({ instances: [[0]] }, `${prefix}${k}`, 'request'), kserveResponse(g, k, `${prefix}${k}`)]);
    const s1 = await produceAndCount(daemon, topic, events(clean, 'c'), { samples: 512, rejected: 128 });
    expect(rejectedByReason(s1, topic)).toEqual({ not_response: 128 });
    const committed = await waitForCommitsAtEnd(groupId, topic, daemon);
    expect(sum(committed.values())).toBe(256);
    const rotated = await logitsOf(concat(heldOutDigits(512, { from: 512, drift: drifts.rotate(40) })), 512);
    const s2 = await produceAndCount(daemon, topic, events(rotated, 'r'), { samples: 1024, rejected: 256 });
    expectPredictionDrift(s1, s2, 1024);
    await expect(daemon.stop()).resolves.toEqual({ code: 0, signal: null });
  });
});
