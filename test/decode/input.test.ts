/**
 * From the configuration to decoders and references: the input section (image, text,
 * pooling), the transform completed from the model input, raw references (a folder of
 * images, a text file) preprocessed by the production decoder, and packed multi-input rows.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigData } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { imageSection } from '../../src/config/schema.js';
import { ConfigError, DataError } from '../../src/errors/index.js';
import { layoutFeeds, sampleLayout, type SampleLayout } from '../../src/model/runtime/layout.js';
import { readModel } from '../../src/model/graph/onnx-file.js';
import { loadPhotos, randomCrops } from '../../src/demo/photos.js';
import { createInputDecoder, imageTransform, modelInputOptions } from '../../src/decode/input.js';
import { loadReferenceFor, referenceDigest } from '../../src/decode/reference.js';
import { createPrng } from '../../src/reference/prng.js';
import { thrownMessage } from '../helpers/errors.js';
import { useTempDir } from '../helpers/files.js';
import { modelFixture } from '../helpers/fixtures.js';

const base = { model: { path: 'm.onnx' }, reference: { path: 'ref.npy' }, source: { kind: 'file', path: 'prod.npy' } };
const parse = (input: unknown, model: unknown = base.model): Config => parseConfigData({ ...base, model, input }, { env: {}, baseDir: '/etc/ckawatch' });
const problems = (input: unknown, model?: unknown): string => thrownMessage(() => parse(input, model), ConfigError);

describe('input configuration', () => {
  it('fills image and text defaults', () => {
    expect(parse({ encoding: 'image' }).input).toEqual({ encoding: 'image' });
    expect(imageSection.parse({})).toEqual({ interpolation: 'bilinear', resampler: 'pil', scale: 255, mean: [0], std: [1], maxPixels: 25_000_000 });
    expect(parse({ encoding: 'text', text: { tokenizer: 'tok/tokenizer.json' } }).input.text).toEqual({
      tokenizer: '/etc/ckawatch/tok/tokenizer.json',
      maxLength: 128,
      maxBytes: 16_384,
    });
    expect(parse({}, { path: 'm.onnx', pooling: { default: 'first', layers: { h: 'flatten' } } }).model.pooling).toEqual({
      default: 'first',
      layers: { h: 'flatten' },
      mask: 'attention_mask',
    });
  });

  it('says what is wrong with an input section', () => {
    expect(problems({ encoding: 'text' })).toMatchInlineSnapshot(`"config error at input.text: expected a text section with at least the tokenizer (encoding: text), found nothing (the key is missing)"`);
    expect(problems({ encoding: 'raw-f32', image: {} })).toMatchInlineSnapshot(`"config error at input.image: expected no image section unless encoding is image or one of oip-protobuf, oip-json, kserve-v1-json, auto, found an empty mapping"`);
    expect(problems({ encoding: 'image', image: { crop: [1, 2, 3], std: [0], channels: 'cmyk', resise: 3 } })).toMatchInlineSnapshot(`
      "config error at input.image.crop: expected a size in pixels or [height, width], found a list of 3 items
      config error at input.image.channels: expected one of rgb, bgr, grey, found "cmyk"
      config error at input.image.std[0]: expected a number above 0, found 0
      config error at input.image.resise: unknown key; did you mean "resize"?"
    `);
    expect(problems({ encoding: 'jpeg' })).toMatchInlineSnapshot(`"config error at input.encoding: expected one of raw-f32, npy, json, oip-protobuf, oip-json, kserve-v1-json, auto, image, text, found "jpeg""`);
    expect(problems({ encoding: 'npy', tensor: 'input0' })).toMatchInlineSnapshot(`"config error at input.tensor: expected no tensor unless encoding is one of oip-protobuf, oip-json, kserve-v1-json, auto, found "input0""`);
    expect(problems({ encoding: 'oip-protobuf', tensor: -1 })).toMatchInlineSnapshot(`"config error at input.tensor: expected a whole number from 0 to 1023, found -1"`);
    expect(problems({ encoding: 'auto', tensor: '__proto__' })).toMatchInlineSnapshot(`"config error at input.tensor: expected an ONNX tensor name, found "__proto__""`);
    expect(problems({}, { path: 'm.onnx', pooling: { default: 'max' } })).toMatchInlineSnapshot(`"config error at model.pooling.default: expected one of auto, mean, first, flatten, found "max""`);
  });
});

describe('image transform from the model input', () => {
  const entry = (sampleShape: number[]) => ({ name: 'x', type: 'float32' as const, sampleShape, size: sampleShape.reduce((a, b) => a * b, 1), offset: 0, sequence: false });

  it('takes crop, channels and layout from [C,H,W], [H,W,C] and [H,W]', () => {
    const defaults = imageSection.parse({});
    expect(imageTransform(defaults, entry([3, 64, 48]))).toMatchObject({ crop: [64, 48], channels: 'rgb', layout: 'nchw', resize: 64 });
    expect(imageTransform(defaults, entry([224, 224, 3]))).toMatchObject({ crop: [224, 224], channels: 'rgb', layout: 'nhwc' });
    expect(imageTransform(defaults, entry([1, 28, 28]))).toMatchObject({ crop: [28, 28], channels: 'grey', layout: 'nchw' });
    expect(imageTransform(defaults, entry([28, 28]))).toMatchObject({ crop: [28, 28], channels: 'grey' });
    expect(imageTransform(imageSection.parse({ resize: null, channels: 'bgr' }), entry([3, 8, 8]))).toMatchObject({ resize: null, channels: 'bgr' });
  });

  it('refuses a transform whose tensor the model does not take', () => {
    expect(() => imageTransform(imageSection.parse({ crop: 32 }), entry([3, 64, 64]))).toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: config error at input.image: the transform makes [3,32,32] (rgb, nchw, crop 32x32) but model input 'x' takes [3,64,64]; set crop, channels or layout to match]`,
    );
    expect(() => imageTransform(imageSection.parse({ mean: [0.5, 0.5] }), entry([3, 8, 8]))).toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: config error at input.image.mean: expected 1 or 3 numbers (rgb), found 2]`,
    );
  });
});

describe('raw references, preprocessed like production messages', () => {
  const tmp = useTempDir('ckawatch-raw-ref-');

  it('reads a folder of images through the image decoder, in name order', async () => {
    const model = await readModel(modelFixture('photo-cnn.onnx'));
    const layout = sampleLayout(model);
    const crops = await randomCrops(await loadPhotos(), createPrng(1), 5);
    const folder = tmp.path('images');
    mkdirSync(folder);
    crops.forEach((bytes, i) => writeFileSync(join(folder, `${4 - i}.jpg`), bytes));
    writeFileSync(join(folder, 'notes.txt'), 'not an image: skipped');
    const input = parse({ encoding: 'image', image: { resize: 72, field: 'image' } }).input;
    const reference = await loadReferenceFor(folder, input, layout);
    expect([reference.count, reference.sampleSize]).toEqual([5, 3 * 64 * 64]);
    const decoder = createInputDecoder({ ...input, image: { ...input.image!, field: undefined } }, layout);
    const first = decoder.mode === 'async' ? await decoder.decode(crops[4]!) : null;
    expect(first?.ok && reference.data.subarray(0, reference.sampleSize)).toEqual(first?.ok && first.value);
    const digest = referenceDigest(folder);
    writeFileSync(join(folder, '9.png'), crops[0]!);
    expect(referenceDigest(folder)).not.toBe(digest);
    // A broken image, alone in its folder: libvips keeps one error buffer for the process,
    // so with good images decoding beside it the message could read "Unknown error".
    const broken = tmp.path('broken', 'images');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'broken.png'), crops[0]!.subarray(0, 100));
    await expect(loadReferenceFor(broken, input, layout)).rejects.toThrow(DataError);
    await expect(loadReferenceFor(broken, input, layout)).rejects.toThrow(/reference images, broken\.png: rejected as bad_image \(jpeg: .*premature end of JPEG/);
  });

  it('reads text lines (or JSON lines) through the text decoder', async () => {
    const model = await readModel(modelFixture('minilm-l6-v2-int8.onnx'));
    const input = parse({ encoding: 'text', text: { tokenizer: modelFixture('minilm-l6-v2.tokenizer.json'), maxLength: 16, field: 'body' } }).input;
    const layout = sampleLayout(model, { sequenceLength: 16 });
    writeFileSync(tmp.path('ref.txt'), 'first line\n\n  \nsecond line\r\n');
    writeFileSync(tmp.path('ref.jsonl'), '{"body": "first line"}\n{"body": "second line"}\n');
    const txt = await loadReferenceFor(tmp.path('ref.txt'), input, layout);
    const jsonl = await loadReferenceFor(tmp.path('ref.jsonl'), input, layout);
    expect([txt.count, txt.sampleSize]).toEqual([2, 48]);
    expect(jsonl.data).toEqual(txt.data);
    expect([...txt.data.subarray(0, 5)]).toEqual([101, 2034, 2240, 102, 0]);
    writeFileSync(tmp.path('long.txt'), `ok\n${'x'.repeat(20_000)}\n`);
    await expect(loadReferenceFor(tmp.path('long.txt'), input, layout)).rejects.toThrow('reference long.txt, line 2: rejected as text_too_long (20000 bytes, limit 16384)');
  });

  it('text in serving requests: the reference is text through the same tokenizer, and a request gives the same rows', async () => {
    const model = await readModel(modelFixture('minilm-l6-v2-int8.onnx'));
    const input = parse({ encoding: 'oip-json', tensor: 'text', text: { tokenizer: modelFixture('minilm-l6-v2.tokenizer.json'), maxLength: 16 } }).input;
    expect(modelInputOptions(input)).toEqual({ sequenceLength: 16 });
    const layout = sampleLayout(model, { sequenceLength: 16 });
    writeFileSync(tmp.path('serving-ref.txt'), 'first line\nsecond line\n');
    const reference = await loadReferenceFor(tmp.path('serving-ref.txt'), input, layout);
    expect([reference.count, reference.sampleSize]).toEqual([2, 48]);
    const decoder = createInputDecoder(input, layout);
    if (decoder.mode !== 'sync') throw new Error('sync expected');
    const request = { inputs: [{ name: 'text', shape: [2, 1], datatype: 'BYTES', data: [['first line'], ['second line']] }] };
    const result = decoder.decode(new TextEncoder().encode(JSON.stringify(request)));
    if (!result.ok || result.value instanceof Float32Array) throw new Error('two rows expected');
    expect(result.value.map((r) => Array.from(r))).toEqual([Array.from(reference.data.subarray(0, 48)), Array.from(reference.data.subarray(48))]);
  });
});

describe('packed rows of several inputs', () => {
  const layout: SampleLayout = {
    sampleSize: 8,
    entries: [
      { name: 'ids', type: 'int64', sampleShape: [4], size: 4, offset: 0, sequence: true },
      { name: 'mask', type: 'int64', sampleShape: [4], size: 4, offset: 4, sequence: true },
    ],
  };
  const rows = Float32Array.from([7, 8, 0, 0, 1, 1, 0, 0, 5, 6, 9, 0, 1, 1, 1, 0]);

  it('splits rows into int64 feeds, cut to the longest unmasked length when asked', () => {
    const full = layoutFeeds(layout, rows, 2);
    expect(full['ids']).toEqual({ type: 'int64', dims: [2, 4], data: BigInt64Array.from([7n, 8n, 0n, 0n, 5n, 6n, 9n, 0n]) });
    const cut = layoutFeeds(layout, rows, 2, 'mask');
    expect(cut['ids']).toEqual({ type: 'int64', dims: [2, 3], data: BigInt64Array.from([7n, 8n, 0n, 5n, 6n, 9n]) });
    expect(cut['mask']).toEqual({ type: 'int64', dims: [2, 3], data: BigInt64Array.from([1n, 1n, 0n, 1n, 1n, 1n]) });
  });

  it('decodes JSON {"inputs": {...}} into one packed row, integers only for int64 inputs', () => {
    const decoder = createInputDecoder(parse({ encoding: 'json' }).input, layout);
    if (decoder.mode !== 'sync') throw new Error('json decodes synchronously');
    const json = (inputs: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify({ inputs }));
    const ok = decoder.decode(json({ ids: [1, 2, 3, 0], mask: [1, 1, 1, 0] }));
    expect(ok.ok && [...ok.value]).toEqual([1, 2, 3, 0, 1, 1, 1, 0]);
    const fraction = decoder.decode(json({ ids: [1, 2.5, 3, 0], mask: [1, 1, 1, 0] }));
    expect(fraction.ok ? 'accepted' : `${fraction.reason}: ${fraction.detail}`).toBe("wrong_dtype: input 'ids' takes integers below 2^24, found 2.5 at index 1");
    expect(() => createInputDecoder(parse({ encoding: 'raw-f32' }).input, layout)).toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: config error at input.encoding: the model has 2 inputs (ids, mask) and raw-f32 carries one; use json with {"inputs": {...}} or, for token inputs, text]`,
    );
  });
});
