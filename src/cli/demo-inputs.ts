/**
 * The image and text demos (`ckawatch demo --kind image|text`): a reference of real inputs
 * written to a temp folder, an in-process stream of raw messages (JPEG crops, UTF-8 text)
 * that drifts part-way, and the config that preprocesses both the same way.
 *
 *   image: photo-cnn.onnx; reference = 1000 JPEG crops of the two sample photos; stream = other
 *          crops (JPEG and PNG), then rotated / blurred / recoloured ones
 *   text:  all-MiniLM-L6-v2 (int8); reference = 500 fortune cookies; stream = the other 300,
 *          then sentences of licence text
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigData } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { PHOTO_DRIFTS, loadPhotos, randomCrops } from '../demo/photos.js';
import { MINILM_MODEL, MINILM_TOKENIZER, PHOTO_MODEL, textSets } from '../demo/texts.js';
import { createPrng } from '../reference/prng.js';
import { GeneratorSource } from '../source/generator.js';

export const INPUT_DEMO_DRIFTS = { image: Object.keys(PHOTO_DRIFTS).filter((k) => k !== 'none'), text: ['legal'] } as const;

/** The preprocessing photo-cnn was trained with (tools/fixtures/make_input_fixtures.py). */
export const PHOTO_INPUT = { resize: 72, crop: 64, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

export interface InputDemo {
  readonly config: Config;
  readonly source: GeneratorSource;
  readonly model: string;
  readonly what: string;
}

interface DemoSettings {
  readonly dir: string;
  readonly port: number;
  readonly rate: number;
  readonly driftAfter: number;
  readonly drift: string;
}

function baseConfig(o: DemoSettings, model: string, reference: string, input: Record<string, unknown>, batch: number): Config {
  return parseConfigData({
    model: { path: model },
    reference: { path: reference, samplesPerBatch: batch, seed: 1 },
    // Never read: the demo hands the daemon its own in-process source.
    source: { kind: 'file', path: join(o.dir, 'unused.npy') },
    input,
    batch: { size: batch, maxWait: '1s' },
    windows: [
      { name: '30s', duration: '30s', buckets: 10 },
      { name: '5m', duration: '5m', buckets: 10 },
    ],
    metrics: { host: '127.0.0.1', port: o.port },
    checkpoint: { dir: join(o.dir, 'state'), schedule: '*/10 * * * * *' },
    calibration: { batches: 16 },
    log: { level: 'warn' },
  });
}

export async function imageDemo(o: DemoSettings): Promise<InputDemo> {
  const drift = PHOTO_DRIFTS[o.drift];
  if (drift === undefined || o.drift === 'none') throw new Error(`unknown image drift '${o.drift}' (${INPUT_DEMO_DRIFTS.image.join(', ')})`);
  const photos = await loadPhotos();
  const random = createPrng(3);
  const referenceDir = join(o.dir, 'reference');
  mkdirSync(referenceDir, { recursive: true });
  (await randomCrops(photos, random, 1000)).forEach((bytes, i) => writeFileSync(join(referenceDir, `crop-${String(i).padStart(4, '0')}.jpg`), bytes));
  const clean = [...(await randomCrops(photos, random, 200)), ...(await randomCrops(photos, random, 200, { format: 'png' }))];
  const drifted = await randomCrops(photos, random, 300, { drift });
  const config = baseConfig(o, PHOTO_MODEL, referenceDir, { encoding: 'image', image: { ...PHOTO_INPUT } }, 64);
  return { config, source: stream('demo-photos', o, clean, drifted), model: 'photo-cnn.onnx', what: 'crops of two photos (JPEG, PNG)' };
}

export function textDemo(o: DemoSettings): InputDemo {
  if (o.drift !== 'legal') throw new Error(`unknown text drift '${o.drift}' (legal)`);
  const sets = textSets(500);
  const referencePath = join(o.dir, 'reference.txt');
  writeFileSync(referencePath, `${sets.reference.join('\n')}\n`);
  const encoder = new TextEncoder();
  const config = baseConfig(o, MINILM_MODEL, referencePath, { encoding: 'text', text: { tokenizer: MINILM_TOKENIZER, maxLength: 128 } }, 32);
  return {
    config,
    source: stream('demo-text', o, sets.clean.map((s) => encoder.encode(s)), sets.drift.map((s) => encoder.encode(s))),
    model: 'minilm-l6-v2-int8.onnx (all-MiniLM-L6-v2)',
    what: 'fortune cookies, drifting to licence text',
  };
}

/**
 * Clean messages, then drifted ones from `driftAfter` seconds after the first message on
 * (by the clock, not the count: a slow model holds the stream back). Each pool is walked in
 * a fresh random order per pass, so that a batch does not hold the same message twice.
 */
function stream(topic: string, o: DemoSettings, clean: readonly Uint8Array[], drifted: readonly Uint8Array[]): GeneratorSource {
  const random = createPrng(11);
  const cycle = (pool: readonly Uint8Array[]): (() => Uint8Array) => {
    let order: number[] = [];
    return () => {
      if (order.length === 0) {
        order = pool.map((_, i) => i);
        for (let i = order.length - 1; i > 0; i--) {
          const j = random.below(i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
      }
      return pool[order.pop()!]!;
    };
  };
  const nextClean = cycle(clean);
  const nextDrifted = cycle(drifted);
  let started: number | null = null;
  return new GeneratorSource({
    topic,
    ratePerSecond: o.rate,
    chunk: 16,
    next: () => {
      started ??= Date.now();
      return Date.now() - started >= o.driftAfter * 1000 ? nextDrifted() : nextClean();
    },
  });
}
