/**
 * Real inputs end to end: raw JPEG/PNG and UTF-8 text messages on the real broker, consumed
 * by the daemon as a child process (`node dist/cli/main.js run`), preprocessed (sharp +
 * PIL-exact resize; the MiniLM tokenizer), monitored, and scraped from /metrics.
 *
 *   photos:  photo-cnn.onnx; reference = a folder of JPEG crops; stream = clean JPEG and PNG
 *            crops with malformed images mixed in, then recoloured crops
 *   text:    all-MiniLM-L6-v2 (int8, 13 masked-mean-pooled LayerNorm taps); reference = a .txt
 *            of fortune cookies; stream = held-out fortunes with non-UTF-8, over-long and empty
 *            messages mixed in, then licence text
 *
 * Each phase is produced only after the one before is fully applied, so the additive window
 * sums (ckawatch_window_sum) split exactly into a clean part and a drifted part.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPhotos, PHOTO_DRIFTS, randomCrops, type Photo } from '../../src/demo/photos.js';
import { MINILM_MODEL, MINILM_TOKENIZER, PHOTO_MODEL, textSets } from '../../src/demo/texts.js';
import { createPrng } from '../../src/reference/prng.js';
import { DaemonProcess, NEVER } from '../helpers/daemon.js';
import { produceAndCount, useDaemonSuite } from '../helpers/daemon-suite.js';
import type { TestMessage } from '../helpers/kafka.js';
import { minus, rejectedByReason, scores, windowSums } from '../helpers/metrics.js';

const suite = useDaemonSuite('ckawatch-inputs-suite-');
let photos: Photo[];

beforeAll(async () => {
  photos = await loadPhotos();
});

interface Setup {
  readonly model: string;
  readonly reference: string;
  readonly input: Record<string, unknown>;
  readonly batch: number;
}

async function startDaemon(prefix: string, o: Setup): Promise<{ daemon: DaemonProcess; topic: string }> {
  const { topic, config } = await suite.run(prefix, 1, {
    modelPath: o.model,
    threads: 2,
    referencePath: o.reference,
    referencePerBatch: o.batch,
    input: o.input,
    batchSize: o.batch,
    schedule: NEVER,
    instanceId: 'inputs',
    // Thresholds are not what these tests look at; a short calibration keeps start-up quick.
    calibrationBatches: 8,
  });
  return { daemon: await DaemonProcess.start(config, { timeoutMs: 60_000 }), topic };
}

function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, tail]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(8))), chunk('IEND', Buffer.alloc(0))]);
}

/** `bad` spread evenly through `good`. */
function interleave(good: readonly TestMessage[], bad: readonly TestMessage[]): TestMessage[] {
  const out = [...good];
  bad.forEach((m, k) => out.splice(Math.floor(((k + 1) * good.length) / (bad.length + 1)) + k, 0, m));
  return out;
}

describe('images from Kafka (JPEG, PNG) through photo-cnn', () => {
  it('monitors clean crops, counts malformed images by reason, and sees recoloured crops drift', { timeout: 300_000 }, async () => {
    const random = createPrng(21);
    const referenceDir = join(suite.dir, 'photo-reference');
    mkdirSync(referenceDir);
    (await randomCrops(photos, random, 320)).forEach((bytes, i) => writeFileSync(join(referenceDir, `${String(i).padStart(3, '0')}.jpg`), bytes));
    const { daemon, topic } = await startDaemon('inputs-photos', {
      model: PHOTO_MODEL,
      reference: referenceDir,
      input: { encoding: 'image', image: { resize: 72, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], maxPixels: 4_000_000 } },
      batch: 32,
    });
    const jpegs = await randomCrops(photos, random, 96);
    const pngs = await randomCrops(photos, random, 32, { format: 'png', maxSide: 200 });
    const truncated = jpegs[0]!.subarray(0, jpegs[0]!.length >> 1);
    const bad: TestMessage[] = [
      truncated,
      Buffer.from(truncated),
      pngs[0]!.subarray(0, 200),
      Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'),
      Buffer.from('{"not": "an image"}'),
      pngClaiming(3_000, 3_000),
      pngClaiming(60_000, 60_000),
      { value: Buffer.alloc(0) },
    ];
    // Photos are up to a few hundred kB: a few per request keeps under the broker's 1 MB limit.
    const clean = await produceAndCount(daemon, topic, interleave([...jpegs, ...pngs], bad), { samples: 128, rejected: bad.length }, { chunkSize: 4, timeoutMs: 240_000 });
    expect(rejectedByReason(clean, topic)).toEqual({ bad_image: 3, image_format: 2, image_too_large: 2, empty: 1 });

    const recoloured = await randomCrops(photos, random, 128, { drift: PHOTO_DRIFTS['recolour']! });
    const drifted = await produceAndCount(daemon, topic, recoloured, { samples: 256, rejected: bad.length }, { chunkSize: 4, timeoutMs: 240_000 });
    const before = windowSums(clean);
    const after = windowSums(drifted);
    const rows = [...after.keys()].map((layer) => ({ layer, clean: scores(before.get(layer)!), drift: scores(minus(after.get(layer)!, before.get(layer)!)) }));
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const r of rows) expect([r.clean.batches, r.drift.batches].every((b) => b >= 4)).toBe(true);
    // Recolouring moves every layer: MMD² (RBF) far above the clean stream's, on every layer.
    const moved = rows.filter((r) => r.drift.mmd2Rbf > 0.02 && r.drift.mmd2Rbf > 5 * Math.abs(r.clean.mmd2Rbf));
    expect(moved.map((r) => r.layer)).toEqual(rows.map((r) => r.layer));
    await expect(daemon.stop()).resolves.toEqual({ code: 0, signal: null });
  });
});

describe('text from Kafka through all-MiniLM-L6-v2', () => {
  it('monitors fortunes, rejects non-UTF-8 and over-long text, and detects licence text on the transformer\'s layers', { timeout: 300_000 }, async () => {
    const sets = textSets(300);
    const referencePath = join(suite.dir, 'fortunes-reference.txt');
    writeFileSync(referencePath, `${sets.reference.join('\n')}\n`);
    const { daemon, topic } = await startDaemon('inputs-text', {
      model: MINILM_MODEL,
      reference: referencePath,
      input: { encoding: 'text', text: { tokenizer: MINILM_TOKENIZER, maxLength: 128, maxBytes: 4096 } },
      batch: 32,
    });
    const bad: TestMessage[] = [
      Buffer.from([0x66, 0x6f, 0x72, 0x74, 0x75, 0x6e, 0x65, 0xff]),
      Buffer.from('caf\xe9 au lait', 'latin1'),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from('w'.repeat(4097)),
      Buffer.from(`${'long text '.repeat(1000)}`),
      { value: Buffer.alloc(0) },
    ];
    const clean = await produceAndCount(daemon, topic, interleave(sets.clean.slice(0, 128), bad), { samples: 128, rejected: bad.length }, { chunkSize: 500, timeoutMs: 240_000 });
    expect(rejectedByReason(clean, topic)).toEqual({ bad_utf8: 3, text_too_long: 2, empty: 1 });

    const drifted = await produceAndCount(daemon, topic, sets.drift.slice(0, 128), { samples: 256, rejected: bad.length }, { chunkSize: 500, timeoutMs: 240_000 });
    const before = windowSums(clean);
    const after = windowSums(drifted);
    const rows = [...after.keys()].map((layer) => ({ layer, clean: scores(before.get(layer)!), drift: scores(minus(after.get(layer)!, before.get(layer)!)) }));
    // One tap per LayerNormalization of the six blocks and the embeddings, pooled over tokens.
    expect(rows).toHaveLength(13);
    expect(rows.map((r) => r.layer)).toContain('/bert/encoder/layer.5/attention/output/LayerNorm/LayerNormalization_output_0');
    for (const r of rows) expect([r.clean.batches, r.drift.batches].every((b) => b >= 4)).toBe(true);
    const table = rows.map((r) => `${r.layer}: cka ${r.clean.cka.toFixed(3)} -> ${r.drift.cka.toFixed(3)}, mmd2 ${r.clean.mmd2Rbf.toFixed(4)} -> ${r.drift.mmd2Rbf.toFixed(4)}`);
    // Fortunes against fortunes: CKA near 1 and MMD² near 0. Licence text: every layer moves.
    const flagged = rows.filter((r) => r.drift.mmd2Rbf > 0.05 && r.drift.mmd2Rbf > 10 * Math.abs(r.clean.mmd2Rbf) && r.drift.cka < r.clean.cka - 0.1);
    expect(flagged.length, table.join('\n')).toBe(rows.length);
    expect(rows.every((r) => Math.abs(r.clean.cka - 1) < 0.15 && Math.abs(r.clean.mmd2Rbf) < 0.02), table.join('\n')).toBe(true);
    await expect(daemon.stop()).resolves.toEqual({ code: 0, signal: null });
  });
});
