/**
 * A reference set of raw inputs, preprocessed by the same decoder as production messages,
 * so that a preprocessing difference can never show up as drift:
 *
 *   images: a folder of .jpg/.jpeg/.png/.webp files (sorted by name)
 *   text:   a .txt file, one sample per non-empty line; or .jsonl, one message per line
 *           (read through input.text.field)
 *
 * A .npy reference (already preprocessed rows) is loaded by src/reference as before.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { imageSection, type InputConfig } from '../config/schema.js';
import { DataError } from '../errors/index.js';
import type { SampleLayout } from '../model/runtime/layout.js';
import { loadReference } from '../reference/load.js';
import type { Reference } from '../reference/reference.js';
import type { MessageDecoder } from './message.js';
import type { DecodeResult, SamplesDecoder } from './types.js';
import { decodeAll } from './records.js';
import { createInputDecoder } from './input.js';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);

/** True when `path` is a raw reference this module reads (not a .npy). */
export function isRawReference(path: string): boolean {
  return extname(path).toLowerCase() !== '.npy';
}

export interface RawItem {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** The items of a raw reference: image files of a folder, or lines of a text file. */
export function readRawItems(path: string, encoding: 'image' | 'text'): RawItem[] {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (error) {
    throw new DataError(`cannot read the reference ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (encoding === 'image') {
    if (!isDir) throw new DataError(`the reference for images is a folder of .jpg, .png or .webp files (or a .npy of tensors); ${path} is a file`);
    const files = readdirSync(path).filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase())).sort();
    return files.map((f) => ({ name: f, bytes: readFileSync(join(path, f)) }));
  }
  if (isDir) throw new DataError(`the reference for text is a .txt file (one sample per line), a .jsonl file or a .npy; ${path} is a folder`);
  const lines = readFileSync(path).toString('utf8').split('\n');
  const encoder = new TextEncoder();
  return lines.flatMap((line, i) => (line.trim() === '' ? [] : [{ name: `line ${i + 1}`, bytes: encoder.encode(line.replace(/\r$/, '')) }]));
}

/** Decodes every item; a reference item that a production message would be rejected for is an error. */
export async function preprocessReference(name: string, items: readonly RawItem[], decoder: MessageDecoder, sampleShape: readonly number[]): Promise<Reference> {
  if (items.length === 0) throw new DataError(`reference ${name} holds no samples`);
  // Image and text decoders give one sample per item.
  const results: (DecodeResult | ReturnType<SamplesDecoder>)[] =
    decoder.mode === 'sync' ? items.map((item) => decoder.decode(item.bytes)) : await decodeAll(items.map((item) => item.bytes), decoder.decode);
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(items.length * sampleSize);
  results.forEach((result, i) => {
    if (!result.ok) throw new DataError(`reference ${name}, ${items[i]!.name}: rejected as ${result.reason} (${result.detail}); every reference sample must decode`);
    if (!(result.value instanceof Float32Array)) throw new DataError(`reference ${name}, ${items[i]!.name}: ${result.value.length} samples in one item, expected one`);
    if (result.value.length !== sampleSize) throw new DataError(`reference ${name}, ${items[i]!.name}: ${result.value.length} values, expected ${sampleSize}`);
    data.set(result.value, i * sampleSize);
  });
  return { name, count: items.length, sampleShape: [...sampleShape], sampleSize, data };
}

export async function loadRawReference(path: string, encoding: 'image' | 'text', decoder: MessageDecoder, sampleShape: readonly number[]): Promise<Reference> {
  return preprocessReference(basename(path), readRawItems(path, encoding), decoder, sampleShape);
}

/**
 * The reference for a configured input: a .npy of preprocessed rows, or raw inputs (images,
 * text) run through the production decoder. A raw reference item is the file or line itself,
 * so the JSON field of image messages does not apply to it (nor to text lines of a .txt).
 */
export async function loadReferenceFor(path: string, input: InputConfig, layout: SampleLayout): Promise<Reference> {
  // Text or images read from serving requests' BYTES tensors: the reference is text or images,
  // through the same tokenizer or transform.
  if ((input.text !== undefined && input.encoding !== 'text') || (input.image !== undefined && input.encoding !== 'image')) {
    const { tensor: _tensor, ...rest } = input;
    return loadReferenceFor(path, { ...rest, encoding: input.text !== undefined ? 'text' : 'image' }, layout);
  }
  const only = layout.entries.length === 1 ? layout.entries[0]! : undefined;
  if (!isRawReference(path) || (input.encoding !== 'image' && input.encoding !== 'text')) {
    return only ? loadReference(path, only.sampleShape, only.name) : loadReference(path, [layout.sampleSize], layout.entries.map((e) => e.name).join('+'));
  }
  const jsonLines = input.encoding === 'text' && extname(path).toLowerCase() === '.jsonl';
  if (jsonLines && input.text?.field === undefined) throw new DataError(`reference ${path}: a .jsonl reference needs input.text.field (the key of the text)`);
  const raw: InputConfig =
    input.encoding === 'image'
      ? { ...input, image: { ...(input.image ?? imageSection.parse({})), field: undefined } }
      : jsonLines
        ? input
        : { ...input, text: { ...input.text!, field: undefined } };
  const decoder = createInputDecoder(raw, layout);
  try {
    return await loadRawReference(path, input.encoding, decoder, [layout.sampleSize]);
  } finally {
    if (decoder.mode === 'async') await decoder.close();
  }
}

/**
 * The reference with a digest of what it was made from (the Calibrator recalibrates when the
 * digest changes): the file's SHA-256, or for a folder of images the SHA-256 over each image
 * file's name and bytes, in name order.
 */
export async function loadReferenceVersion(path: string, input: InputConfig, layout: SampleLayout): Promise<{ sha256: string; reference: Reference }> {
  const sha256 = referenceDigest(path);
  return { sha256, reference: await loadReferenceFor(path, input, layout) };
}

export function referenceDigest(path: string): string {
  const hash = createHash('sha256');
  if (statSync(path).isDirectory()) {
    for (const file of readdirSync(path).filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase())).sort()) {
      const bytes = readFileSync(join(path, file));
      hash.update(`${file}\0${bytes.length}\0`).update(bytes);
    }
  } else {
    hash.update(readFileSync(path));
  }
  return hash.digest('hex');
}
