/**
 * Images in serving requests' BYTES tensors (input.image with a serving encoding): requests
 * made by tritonclient (typed bytes_contents; raw contents by its serialize_byte_tensor) and
 * by the cloudevents SDK (v2 base64 strings, v1 {"b64"} instances) give exactly the tensors
 * the image decoder gives for the same files, one sample an image.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { ServingEncoding } from '../../../src/config/vocabulary.js';
import { createImageDecoder, type ImageDecoderOptions } from '../../../src/decode/image/image.js';
import { createMessageDecoder, type MessageDecoder, type MessageHeaders } from '../../../src/decode/message.js';
import { fixture } from '../../helpers/fixtures.js';

interface Case {
  readonly name: string;
  readonly file: string;
  readonly encoding: ServingEncoding;
  readonly headers?: MessageHeaders;
  readonly images?: string[];
  readonly imageReject?: string;
}

const manifest = JSON.parse(readFileSync(fixture('oip', 'manifest.json'), 'utf8')) as { cases: Case[] };
const options: ImageDecoderOptions = {
  transform: { resize: 40, interpolation: 'bilinear', crop: [32, 32], channels: 'rgb', layout: 'nchw', scale: 255, mean: [0.5], std: [0.25] },
  maxPixels: 10_000_000,
  maxMessageBytes: 1 << 20,
};
const plain = createImageDecoder(options);
const decoders: MessageDecoder[] = [];

/** On the main thread (threads 0) or on a pool of 2, as the daemon runs it. */
function decoder(encoding: ServingEncoding, threads: number): MessageDecoder {
  const d = createMessageDecoder({ encoding, inputs: [{ name: 'image', type: 'float32', sampleShape: [3, 32, 32] }], tensor: undefined, maxMessageBytes: 1 << 20, image: { options, threads } });
  decoders.push(d);
  return d;
}

afterAll(async () => {
  for (const d of decoders) if (d.mode === 'async') await d.close();
});

const good = manifest.cases.filter((c) => c.images !== undefined);
const bad = manifest.cases.filter((c) => c.imageReject !== undefined);

describe('images in BYTES tensors', () => {
  it('the fixtures hold image requests in all four forms and two bad ones', () => {
    expect(good.map((c) => c.name).sort()).toEqual(['img-ce-v1', 'img-ce-v2', 'img-pb-contents', 'img-pb-raw']);
    expect(bad).toHaveLength(2);
  });

  it.each(good.flatMap((c) => [0, 2].map((threads) => [`${c.name}, ${threads} threads`, c, threads] as const)))('%s: one tensor an image, equal to the image decoder\'s', async (_, c, threads) => {
    const d = decoder(c.encoding, threads);
    if (d.mode !== 'async') throw new Error('async expected');
    const result = await d.decode(new Uint8Array(readFileSync(fixture('oip', c.file))), c.headers);
    if (!result.ok) throw new Error(`${c.name}: ${result.reason} (${result.detail})`);
    const rows = result.value instanceof Float32Array ? [result.value] : result.value;
    expect(rows).toHaveLength(c.images!.length);
    for (const [i, row] of rows.entries()) {
      const expected = await plain(new Uint8Array(readFileSync(fixture(c.images![i]!))));
      if (!expected.ok) throw new Error(expected.detail);
      expect(row.length).toBe(3 * 32 * 32);
      expect(Array.from(row)).toEqual(Array.from(expected.value));
    }
  });

  it.each(bad.map((c) => [c.name, c] as const))('%s: rejected by its reason', async (_, c) => {
    const d = decoder(c.encoding, 0);
    if (d.mode !== 'async') throw new Error('async expected');
    const result = await d.decode(new Uint8Array(readFileSync(fixture('oip', c.file))), c.headers);
    expect(result.ok ? 'accepted' : result.reason).toBe(c.imageReject);
  });

  it('concurrent requests keep their own images (the collected elements are never shared)', async () => {
    const d = decoder('auto', 2);
    if (d.mode !== 'async') throw new Error('async expected');
    const cases = [...good, ...good, ...good];
    const results = await Promise.all(cases.map((c) => d.decode(new Uint8Array(readFileSync(fixture('oip', c.file))), c.headers)));
    const first = await d.decode(new Uint8Array(readFileSync(fixture('oip', good[0]!.file))), good[0]!.headers);
    for (const r of results) expect(r).toEqual(first);
  });
});
