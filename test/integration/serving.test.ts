/**
 * What serving systems write, on the real broker, read by the daemon as a child process:
 *
 *   Seldon Core 2 style:  inference.ModelInferRequest protobuf values keyed by request id
 *                         (some with a `pipeline` header), tensors [B, 1, 28, 28] with B 1 or 8
 *                         mixed, half in raw_input_contents and half in fp32_contents;
 *                         encoding oip-protobuf
 *   KServe style:         CloudEvents in Knative's binary Kafka layout (ce_* headers taken from
 *                         the cloudevents SDK's fixture), values v1 {"instances"} and v2
 *                         {"inputs"} JSON; encoding auto
 *
 * Requests of 8 samples against batches of 32 split across batches, so the counts at the end
 * and the commits at the log end show that no sample of a split request was lost or doubled.
 * Then rotated digits in the same format: a drift on every layer. And a stop while a batch
 * has taken part of a request: the checkpoint says how much, and the restart counts the rest.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { drifts } from '../../src/demo/drifts.js';
import { encodeInferRequest } from '../../src/decode/oip/messages.js';
import { loadPhotos, randomCrops } from '../../src/demo/photos.js';
import { PHOTO_MODEL } from '../../src/demo/texts.js';
import { createPrng } from '../../src/reference/prng.js';
import { DaemonProcess, editConfig, NEVER } from '../helpers/daemon.js';
import { produceAndCount, useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { heldOutDigits, rawMessage } from '../helpers/digits.js';
import { fixture } from '../helpers/fixtures.js';
import { endOffsets, produce, type TestMessage } from '../helpers/kafka.js';
import { minus, rejectedByReason, samplesOf, scores, windowSums } from '../helpers/metrics.js';
import type { PromSample } from '../helpers/prom-text.js';
import { readCheckpointFile } from '../helpers/streams.js';

const suite = useDaemonSuite('ckawatch-serving-suite-', { referenceDigits: 1_000 });

/** Request sizes 8 and 1, mixed, until `total` samples. */
function sizes(total: number): number[] {
  const pattern = [8, 1, 1, 8, 8, 1, 8];
  const out: number[] = [];
  for (let k = 0, left = total; left > 0; k++) {
    const b = Math.min(left, pattern[k % pattern.length]!);
    out.push(b);
    left -= b;
  }
  return out;
}

function groups(digits: readonly Float32Array[], batchSizes: readonly number[]): Float32Array[][] {
  let at = 0;
  return batchSizes.map((b) => digits.slice(at, (at += b)));
}

/** A ModelInferRequest of B digits, [B, 1, 28, 28], as Seldon's Kafka topics hold them. */
function seldonRequest(samples: readonly Float32Array[], form: 'raw' | 'contents', id: string): TestMessage {
  const shape = [samples.length, 1, 28, 28];
  const value = encodeInferRequest(
    form === 'raw'
      ? { model_name: 'digits', id, inputs: [{ name: 'input', datatype: 'FP32', shape }], raw_input_contents: [Buffer.concat(samples.map(rawMessage))] }
      : { model_name: 'digits', id, inputs: [{ name: 'input', datatype: 'FP32', shape, contents: { fp32_contents: samples.flatMap((s) => Array.from(s)) } }] },
  );
  return { key: id, value: Buffer.from(value), headers: id.endsWith('0') ? { pipeline: 'digits-pipeline' } : {} };
}

/** The ce_* headers the cloudevents SDK wrote for a request event (test/fixtures/oip), with this event's id. */
const fixtureHeaders = (() => {
  const manifest = JSON.parse(readFileSync(fixture('oip', 'manifest.json'), 'utf8')) as { cases: { name: string; headers?: Record<string, string> }[] };
  const of = (name: string): Record<string, string> => manifest.cases.find((c) => c.name === name)!.headers!;
  return { request: of('ce-v1-instances'), response: of('ce-response') };
})();

function kserveEvent(body: unknown, id: string, kind: 'request' | 'response' = 'request', contentType?: string): TestMessage {
  const headers = { ...fixtureHeaders[kind], ce_id: id, ...(contentType ? { 'content-type': contentType } : {}) };
  return { key: id, value: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), headers };
}

/** v1 for odd requests, v2 for even ones: nested [B, 1, 28, 28] rows, or flat data with a shape. */
function kserveRequest(samples: readonly Float32Array[], k: number): TestMessage {
  const nested = (s: Float32Array): number[][][] => [Array.from({ length: 28 }, (_, y) => Array.from(s.subarray(28 * y, 28 * (y + 1))))];
  if (k % 2 === 1) return kserveEvent({ instances: samples.map(nested) }, `req-${k}`);
  return kserveEvent(
    { id: `req-${k}`, inputs: [{ name: 'input', shape: [samples.length, 1, 28, 28], datatype: 'FP32', data: samples.flatMap((s) => Array.from(s)) }] },
    `req-${k}`,
  );
}

/**
 * One partition: batches are runs of one partition's records (issue 17), so 200 samples over
 * two partitions would end in two partial batches per phase instead of one, and these tests
 * compare drift between phases of 200.
 */
async function startDaemon(prefix: string, input: Record<string, unknown>) {
  const { topic, groupId, config } = await suite.run(prefix, 1, { input, batchSize: 32, referencePerBatch: 32, threads: 1, schedule: '* * * * * *', calibrationBatches: 8 });
  return { topic, groupId, daemon: await DaemonProcess.start(config, { timeoutMs: 60_000 }) };
}

/** Every layer's rotated part against its clean part: MMD² up on each, CKA down on the most moved. */
function expectDrift(clean: PromSample[], drifted: PromSample[]): void {
  const before = windowSums(clean);
  const after = windowSums(drifted);
  const rows = [...after.keys()].map((layer) => ({ layer, clean: scores(before.get(layer)!), drift: scores(minus(after.get(layer)!, before.get(layer)!)) }));
  const table = rows.map((r) => `${r.layer}: cka ${r.clean.cka.toFixed(3)} -> ${r.drift.cka.toFixed(3)}, rbf mmd2 ${r.clean.mmd2Rbf.toFixed(4)} -> ${r.drift.mmd2Rbf.toFixed(4)}`).join('\n');
  if (process.env['CKAWATCH_TEST_VERBOSE'] === '1') console.log(table);
  expect(rows, table).toHaveLength(4); // digits-cnn's default layers
  for (const r of rows) expect(r.drift.mmd2Rbf, `${r.layer}\n${table}`).toBeGreaterThan(5 * Math.abs(r.clean.mmd2Rbf) + 0.005);
  expect(Math.max(...rows.map((r) => r.clean.cka - r.drift.cka)), table).toBeGreaterThan(0.1);
}

const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);

describe('serving systems\' topics on the real broker', () => {
  it('Seldon Core 2: protobuf requests of 1 and 8 digits, each digit counted once, bad requests by reason, rotation detected', { timeout: 300_000 }, async () => {
    const { topic, groupId, daemon } = await startDaemon('serving-seldon', { encoding: 'oip-protobuf' });
    const clean = heldOutDigits(512);
    const cleanSizes = sizes(clean.length);
    const requests = groups(clean, cleanSizes).map((g, k) => seldonRequest(g, k % 2 === 0 ? 'raw' : 'contents', `c${k}`));
    const bad: TestMessage[] = [
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
      Buffer.from(encodeInferRequest({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 27, 28], contents: { fp32_contents: new Array<number>(2 * 27 * 28).fill(0) } }] })),
      Buffer.from(encodeInferRequest({ inputs: [{ name: 'input', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from('7')] } }] })),
      { value: Buffer.alloc(0) },
    ];
    const mixed = [...requests];
    bad.forEach((m, k) => mixed.splice(10 + 20 * k, 0, m));
    expect(cleanSizes).toContain(1);
    expect(cleanSizes).toContain(8);
    const s1 = await produceAndCount(daemon, topic, mixed, { samples: 512, rejected: bad.length });
    expect(rejectedByReason(s1, topic)).toEqual({ bad_protobuf: 1, wrong_shape: 1, bytes_tensor: 1, empty: 1 });
    // Every request committed: the last sample of each is in the state.
    const committed = await waitForCommitsAtEnd(groupId, topic, daemon);
    expect(sum(committed.values())).toBe(mixed.length);
    expect(sum((await endOffsets(topic)).values())).toBe(mixed.length);

    const rotated = heldOutDigits(512, { from: 512, drift: drifts.rotate(40) });
    const s2 = await produceAndCount(daemon, topic, groups(rotated, sizes(512)).map((g, k) => seldonRequest(g, k % 2 === 0 ? 'contents' : 'raw', `r${k}`)), { samples: 1024, rejected: bad.length });
    expectDrift(s1, s2);
    await expect(daemon.stop()).resolves.toEqual({ code: 0, signal: null });
  });

  it('KServe: CloudEvents with v1 and v2 JSON bodies, responses and bad bodies counted by reason, rotation detected', { timeout: 300_000 }, async () => {
    const { topic, groupId, daemon } = await startDaemon('serving-kserve', { encoding: 'auto' });
    const clean = heldOutDigits(256);
    const batch = [1, 2, 4, 1];
    const cleanSizes = Array.from({ length: 100 }, (_, k) => batch[k % 4]!);
    expect(sum(cleanSizes)).toBe(200);
    const requests = groups(clean, cleanSizes).map((g, k) => kserveRequest(g, k));
    const bad: TestMessage[] = [
      kserveEvent({ predictions: [3] }, 'resp-1', 'response'),
      kserveEvent({ outputs: [{ name: 'logits', shape: [1, 10], datatype: 'FP32', data: new Array<number>(10).fill(0) }] }, 'resp-2', 'response'),
      kserveEvent('{"instances": [[', 'bad-json'),
      kserveEvent({ instances: [[1, 2, 3]] }, 'bad-shape'),
      kserveEvent('<request/>', 'xml', 'request', 'application/xml'),
    ];
    const mixed = [...requests];
    bad.forEach((m, k) => mixed.splice(5 + 15 * k, 0, m));
    const s1 = await produceAndCount(daemon, topic, mixed, { samples: 200, rejected: bad.length });
    expect(rejectedByReason(s1, topic)).toEqual({ not_request: 2, bad_json: 1, wrong_shape: 1, unknown_encoding: 1 });
    const committed = await waitForCommitsAtEnd(groupId, topic, daemon);
    expect(sum(committed.values())).toBe(mixed.length);

    const rotated = heldOutDigits(200, { from: 256, drift: drifts.rotate(40) });
    const s2 = await produceAndCount(daemon, topic, groups(rotated, cleanSizes).map((g, k) => kserveRequest(g, k)), { samples: 400, rejected: bad.length });
    expectDrift(s1, s2);
    await expect(daemon.stop()).resolves.toEqual({ code: 0, signal: null });
  });

  it('a stop while a request is split between batches: the checkpoint holds how many of its samples are in, the restart counts each sample once', { timeout: 180_000 }, async () => {
    // One partition and batch.maxWait 1 h: only full batches of 32 run, so where they split
    // the requests is fixed. 10 requests of 7 = 70 samples: two batches take 64, the first
    // sample of request 9 (samples 63-69) among them.
    const { topic, groupId, config, stateDir } = await suite.run('serving-split', 1, { input: { encoding: 'oip-protobuf' }, batchSize: 32, referencePerBatch: 32, threads: 1, schedule: NEVER, calibrationBatches: 8, maxWait: '1h' });
    const digits = heldOutDigits(126);
    const requests = groups(digits, new Array<number>(18).fill(7)).map((g, k) => seldonRequest(g, k % 2 === 0 ? 'raw' : 'contents', `s${k}`));
    await produce(topic, requests.slice(0, 10));
    const first = await DaemonProcess.start(config, { timeoutMs: 60_000 });
    await first.waitForMetrics((s) => samplesOf(s, topic) === 64, '64 samples (two batches)', { timeoutMs: 60_000, show: (s) => samplesOf(s, topic) });
    await expect(first.stop()).resolves.toEqual({ code: 0, signal: null });
    const checkpoint = readCheckpointFile(stateDir)!;
    expect(checkpoint.body.counters.samples[topic]).toBe(64);
    expect(checkpoint.body.offsets[topic]).toEqual({ '0': 9 });
    expect((checkpoint.body as { partitions?: unknown }).partitions).toMatchObject([{ partition: 0, offset: 9, partial: { offset: 9, applied: 1 } }]);

    // Restarted with the usual max-wait and checkpoints: request 9's other 6 samples, then 8 more requests.
    editConfig(config, (c) => {
      (c['batch'] as Record<string, unknown>)['maxWait'] = '300ms';
      (c['checkpoint'] as Record<string, unknown>)['schedule'] = '* * * * * *';
    });
    await produce(topic, requests.slice(10));
    const second = await DaemonProcess.start(config, { timeoutMs: 60_000 });
    const s = await second.waitForMetrics((x) => samplesOf(x, topic) >= 126, '126 samples', { timeoutMs: 60_000, show: (x) => samplesOf(x, topic) });
    const committed = await waitForCommitsAtEnd(groupId, topic, second);
    expect(sum(committed.values())).toBe(18);
    const after = await second.scrape();
    expect(samplesOf(after, topic)).toBe(126);
    expect(samplesOf(s, topic)).toBe(126);
    for (const [layer, sums] of windowSums(after)) expect(sums.samples, layer).toBe(126);
    await expect(second.stop()).resolves.toEqual({ code: 0, signal: null });
  });

  it('images in BYTES tensors: Seldon requests of 1-4 JPEG and PNG crops through photo-cnn, each image counted once, bad ones by reason', { timeout: 300_000 }, async () => {
    const photos = await loadPhotos();
    const random = createPrng(16);
    const referenceDir = join(suite.dir, 'serving-photo-reference');
    mkdirSync(referenceDir);
    (await randomCrops(photos, random, 128)).forEach((bytes, i) => writeFileSync(join(referenceDir, `${String(i).padStart(3, '0')}.jpg`), bytes));
    // One partition: batches are runs of one partition's records, and only a multiple of 16
    // crops per partition makes full batches (keys spread these 64 unevenly over two).
    const { topic, groupId, config } = await suite.run('serving-images', 1, {
      modelPath: PHOTO_MODEL,
      referencePath: referenceDir,
      input: { encoding: 'oip-protobuf', image: { resize: 72, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], threads: 2 } },
      batchSize: 16,
      referencePerBatch: 16,
      threads: 1,
      calibrationBatches: 8,
      // 64 crops are 4 full batches: none waits on the clock. With the default 300 ms, a
      // slow image decode (a busy machine) could leave 1-3 samples idle for 3 s, and those
      // are then counted without statistics (too_few): 62 of 64 in the windows, once in CI.
      maxWait: '1h',
    });
    const crops = [...(await randomCrops(photos, random, 40)), ...(await randomCrops(photos, random, 24, { format: 'png', maxSide: 160 }))];
    const imageRequest = (images: readonly Buffer[], k: number): TestMessage => ({
      key: `img-${k}`,
      value: Buffer.from(encodeInferRequest({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [images.length, 1], contents: { bytes_contents: images } }] })),
    });
    const sizes = [1, 4, 2, 3];
    const requests: TestMessage[] = [];
    for (let at = 0, k = 0; at < crops.length; k++) {
      const b = Math.min(sizes[k % sizes.length]!, crops.length - at);
      requests.push(imageRequest(crops.slice(at, at + b), k));
      at += b;
    }
    const bad: TestMessage[] = [
      imageRequest([crops[0]!, Buffer.from('GIF89a\x01\x00', 'latin1')], 900),
      imageRequest([crops[1]!.subarray(0, crops[1]!.length >> 1)], 901),
      Buffer.from(encodeInferRequest({ inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3], contents: { fp32_contents: [1, 2, 3] } }] })),
    ];
    const daemon = await DaemonProcess.start(config, { timeoutMs: 90_000 });
    const s = await produceAndCount(daemon, topic, [...requests.slice(0, 5), ...bad, ...requests.slice(5)], { samples: crops.length, rejected: bad.length });
    expect(rejectedByReason(s, topic)).toEqual({ image_format: 1, bad_image: 1, wrong_dtype: 1 });
    const committed = await waitForCommitsAtEnd(groupId, topic, daemon);
    expect(sum(committed.values())).toBe(requests.length + bad.length);
    for (const [layer, sums] of windowSums(await daemon.scrape())) expect(sums.samples, layer).toBe(crops.length);
    await expect(daemon.stop()).resolves.toEqual({ code: 0, signal: null });
  });
});
