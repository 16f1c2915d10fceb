/**
 * Which limits a daemon on real inputs, preprocessing or inference? In one process and one
 * run: decode + preprocess throughput of raw messages (JPEG/PNG crops and whole photos
 * through sharp and the PIL-exact resize; fortune cookies and licence text through the
 * MiniLM tokenizer) against the augmented model's throughput on the same samples (photo-cnn
 * and all-MiniLM-L6-v2 with their Gram taps, batches of n production + n reference rows, as
 * the daemon runs them). Throughput counts production samples per second; the ratio
 * preprocessing / inference above 1 means inference is the limit.
 *
 * Images are measured on the main thread and on the preprocessing pool the daemon uses
 * (input.image.threads, default one per core up to 8). The daemon decodes a fetched batch and
 * then runs it, so the two take turns: what matters is which one takes longer per sample.
 *
 * First, what serving systems write (bench/serving.ts): samples/s of every numeric and
 * serving encoding against raw float32, and against digits-cnn's inference.
 *
 *   npx tsx bench/inputs.ts [--threads N] [--image-threads K] [--seconds 3] [--batch 32] [--only serving]
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { loadPhotos, PHOTOS_DIR, PHOTO_NAMES, randomCrops } from '../src/demo/photos.js';
import { MINILM_MODEL, MINILM_TOKENIZER, PHOTO_MODEL, textSets } from '../src/demo/texts.js';
import { TappedModel } from '../src/model/tapped.js';
import { decodeAll } from '../src/decode/records.js';
import { createImageDecoder } from '../src/decode/image/image.js';
import { createImagePool } from '../src/decode/image/pool.js';
import { defaultImageThreads } from '../src/decode/input.js';
import { imageToTensor, type ImageTransform } from '../src/decode/image/tensor.js';
import { createTextDecoder } from '../src/decode/text/text.js';
import { loadTokenizer } from '../src/decode/text/tokenizer.js';
import { createPrng } from '../src/reference/prng.js';
import type { DecodeResult } from '../src/decode/message.js';
import { benchServing } from './serving.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: String(availableParallelism()) },
    seconds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '32' },
    'image-threads': { type: 'string', default: String(defaultImageThreads()) },
    only: { type: 'string' },
  },
});
const imageThreads = Number(values['image-threads']);
const threads = Number(values.threads);
const seconds = Number(values.seconds);
const n = Number(values.batch);
const logger = pino({ level: 'warn' });

/** Repeats `fn` (which handles `count` samples) for about `seconds`; samples per second. */
async function rate(count: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  await fn();
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await fn();
    done += count;
  }
  return done / ((performance.now() - start) / 1000);
}

function rows(results: readonly DecodeResult[], size: number): Float32Array {
  const out = new Float32Array(results.length * size);
  results.forEach((r, i) => {
    if (!r.ok) throw new Error(`${r.reason}: ${r.detail}`);
    out.set(r.value, i * size);
  });
  return out;
}

const report = (what: string, perSecond: number, unit: string): void => {
  console.log(`${what.padEnd(66)} ${perSecond.toFixed(0).padStart(8)} ${unit}/s`);
};

console.log(
  `${availableParallelism()} cores; ORT intra-op threads ${threads}; image preprocessing threads ${imageThreads}; ` +
    `batch ${n} + ${n} reference; ~${seconds}s per measurement\n`,
);

// ---- serving systems (and the numeric encodings) -------------------------------------------
await benchServing({ rate, report, threads, n, logger });
if (values.only === 'serving') process.exit(0);

// ---- images -------------------------------------------------------------------------------
const transform: ImageTransform = { resize: 72, interpolation: 'bilinear', crop: [64, 64], channels: 'rgb', layout: 'nchw', scale: 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
const imageOptions = { transform, maxPixels: 25_000_000, maxMessageBytes: 16 << 20 };
const decodeImage = createImageDecoder(imageOptions);
const pool = createImagePool(imageOptions, imageThreads);
const photos = await loadPhotos();
const random = createPrng(5);
const jpegs = await randomCrops(photos, random, 4 * n);
const pngs = await randomCrops(photos, random, 4 * n, { format: 'png' });
const whole = PHOTO_NAMES.map((name) => readFileSync(`${PHOTOS_DIR}/${name}`));
const wholeBatch = Array.from({ length: 4 * n }, (_, i) => whole[i % whole.length]!);
const photoModel = await TappedModel.open({ path: PHOTO_MODEL, providers: ['cpu'], variant: 'auto', logger, threads });
const photoRows = rows(await decodeAll(jpegs, decodeImage), photoModel.sampleSize);
const stacked = photoRows.slice(0, 2 * n * photoModel.sampleSize);

const imageRates: Record<string, number> = {};
for (const [where, decode] of [['main thread', decodeImage], [`${imageThreads} threads`, pool.decode]] as const) {
  const concurrency = where === 'main thread' ? 8 : 4 * imageThreads;
  for (const [what, batch] of [['JPEG crops (96-320 px, q90)', jpegs], ['PNG crops (96-320 px)', pngs], ['whole photos (640x427 JPEG)', wholeBatch]] as const) {
    const r = await rate(batch.length, () => decodeAll(batch, decode, concurrency));
    imageRates[`${what}, ${where}`] = r;
    report(`images, ${where}: ${what}`, r, 'images');
  }
}
await pool.close();
const vipsPool = createImagePool({ ...imageOptions, resampler: 'vips' }, imageThreads);
const vipsRate = await rate(wholeBatch.length, () => decodeAll(wholeBatch, vipsPool.decode, 4 * imageThreads));
imageRates[`whole photos, ${imageThreads} threads, resampler vips`] = vipsRate;
report(`images, ${imageThreads} threads: whole photos, resampler 'vips' (not bit-exact)`, vipsRate, 'images');
await vipsPool.close();
const raw = await sharp(whole[0]).raw().toBuffer({ resolveWithObject: true });
const pixels = { data: new Uint8Array(raw.data), width: raw.info.width, height: raw.info.height, channels: raw.info.channels };
report(`  of which the JS resize/crop/normalise of a 640x427 photo`, await rate(1, () => imageToTensor(pixels, transform)), 'images');
const photoInference = await rate(n, () => photoModel.run(stacked, 2 * n));
report(`photo-cnn inference with ${photoModel.layers.length} Gram taps (production samples)`, photoInference, 'images');
await photoModel.close();

// ---- text ---------------------------------------------------------------------------------
const tokenizer = loadTokenizer(MINILM_TOKENIZER);
const sets = textSets(300);
const encoder = new TextEncoder();
const fortunes = sets.clean.slice(0, 4 * n).map((s) => encoder.encode(s));
const legal = sets.drift.slice(0, 4 * n).map((s) => encoder.encode(s));
const textModel = await TappedModel.open({ path: MINILM_MODEL, providers: ['cpu'], variant: 'auto', logger, threads, sequenceLength: 128 });
const decodeText = createTextDecoder({ tokenizer, maxLength: 128, maxBytes: 16_384, maxMessageBytes: 1 << 20, inputs: textModel.layout.entries.map((e) => e.name) });
const fortuneRate = await rate(fortunes.length, () => fortunes.map(decodeText));
report(`text: fortune cookies (avg ${avgBytes(fortunes)} B) UTF-8 check + tokenize + pad`, fortuneRate, 'sentences');
const legalRate = await rate(legal.length, () => legal.map(decodeText));
report(`text: licence sentences (avg ${avgBytes(legal)} B) UTF-8 check + tokenize + pad`, legalRate, 'sentences');
const fortuneRows = rows(fortunes.slice(0, 2 * n).map(decodeText), textModel.sampleSize);
const legalRows = rows(legal.slice(0, 2 * n).map(decodeText), textModel.sampleSize);
const fortuneInference = await rate(n, () => textModel.run(fortuneRows, 2 * n));
report(`MiniLM-L6 inference, ${textModel.layers.length} pooled taps, fortunes (production)`, fortuneInference, 'sentences');
const legalInference = await rate(n, () => textModel.run(legalRows, 2 * n));
report(`MiniLM-L6 inference, ${textModel.layers.length} pooled taps, licence text (production)`, legalInference, 'sentences');
await textModel.close();

function avgBytes(items: readonly Uint8Array[]): number {
  return Math.round(items.reduce((s, b) => s + b.length, 0) / items.length);
}

console.log('\npreprocessing / inference (above 1: inference limits, preprocessing keeps up)');
const ratio = (a: number, b: number): string => `${(a / b).toFixed(1)}x`;
for (const [what, r] of Object.entries(imageRates)) console.log(`  images: ${what.padEnd(44)} ${ratio(r, photoInference)}`);
console.log(`  text:   ${'fortune cookies'.padEnd(44)} ${ratio(fortuneRate, fortuneInference)}`);
console.log(`  text:   ${'licence text'.padEnd(44)} ${ratio(legalRate, legalInference)}`);
