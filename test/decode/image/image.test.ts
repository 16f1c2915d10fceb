import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createImageDecoder, sniffImage } from '../../../src/decode/image/image.js';
import { createImagePool } from '../../../src/decode/image/pool.js';
import { decodeAll } from '../../../src/decode/records.js';
import { centreCrop, imageToTensor, resizedSize, tensorShape, toColourModel, type ImageTransform } from '../../../src/decode/image/tensor.js';
import { resample } from '../../../src/decode/image/resample.js';
import type { DecodeResult } from '../../../src/decode/message.js';
import { fixture } from '../../helpers/fixtures.js';

const FIXTURES = fixture('images');
const jpeg = readFileSync(join(FIXTURES, 'china.jpg'));
const png = readFileSync(join(FIXTURES, 'parity/flower-rgba.png'));
const webp = readFileSync(join(FIXTURES, 'parity/china-lossy.webp'));

const transform: ImageTransform = {
  resize: 40,
  interpolation: 'bilinear',
  crop: [32, 32],
  channels: 'rgb',
  layout: 'nchw',
  scale: 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A well-formed PNG header claiming width x height RGB pixels, with almost no pixel data. */
function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(10))), pngChunk('IEND', Buffer.alloc(0))]);
}

const outcome = (r: DecodeResult): string => (r.ok ? `ok ${r.value.length}` : `${r.reason}: ${r.detail}`);

describe('createImageDecoder', () => {
  const decode = createImageDecoder({ transform, maxPixels: 25_000_000, maxMessageBytes: 4 << 20 });

  it('takes JPEG, PNG and WebP to a tensor of the configured shape', async () => {
    for (const bytes of [jpeg, png, webp]) expect(outcome(await decode(bytes))).toBe('ok 3072');
    expect(tensorShape(transform)).toEqual([3, 32, 32]);
  });

  it('rejects every malformed image by reason, never throwing', async () => {
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
    const corruptCrc = Buffer.from(png);
    corruptCrc[40]! ^= 0xff;
    const cases: Record<string, Uint8Array> = {
      empty: new Uint8Array(0),
      gif,
      svg: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'),
      text: Buffer.from('hello, not an image'),
      'truncated jpeg': jpeg.subarray(0, jpeg.length >> 1),
      'jpeg header only': jpeg.subarray(0, 600),
      'truncated png': png.subarray(0, png.length >> 1),
      'png with a bad checksum': corruptCrc,
      'truncated webp': webp.subarray(0, webp.length >> 1),
      'png claiming 60000 x 60000': pngClaiming(60_000, 60_000),
      'too big a message': new Uint8Array((4 << 20) + 1),
    };
    const reasons: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(cases)) {
      const r = await decode(bytes);
      reasons[name] = r.ok ? 'accepted' : r.reason;
    }
    expect(reasons).toEqual({
      empty: 'empty',
      gif: 'image_format',
      svg: 'image_format',
      text: 'image_format',
      'truncated jpeg': 'bad_image',
      'jpeg header only': 'bad_image',
      'truncated png': 'bad_image',
      'png with a bad checksum': 'bad_image',
      'truncated webp': 'bad_image',
      'png claiming 60000 x 60000': 'image_too_large',
      'too big a message': 'oversize',
    });
    expect(outcome(await decode(cases['gif']!))).toMatchInlineSnapshot(`"image_format: not JPEG, PNG or WebP (first bytes 47 49 46 38 39 61 01 00)"`);
    expect(outcome(await decode(cases['png claiming 60000 x 60000']!))).toMatchInlineSnapshot(`"image_too_large: png: more than 25000000 pixels"`);
  });

  it('bounds the pixel count from the header: a small maxPixels refuses an ordinary photo', async () => {
    const small = createImageDecoder({ transform, maxPixels: 640 * 427 - 1, maxMessageBytes: 4 << 20 });
    expect(outcome(await small(jpeg))).toBe('image_too_large: jpeg: more than 273279 pixels');
    const exact = createImageDecoder({ transform, maxPixels: 640 * 427, maxMessageBytes: 4 << 20 });
    expect(outcome(await exact(jpeg))).toBe('ok 3072');
  });

  it('reads base64 from a JSON field (a data: URL too), with the same tensor as the raw bytes', async () => {
    const field = createImageDecoder({ transform, maxPixels: 25_000_000, maxMessageBytes: 4 << 20, field: 'image' });
    const raw = await decode(png);
    const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify({ id: 7, image: value }));
    const viaJson = await field(json(png.toString('base64')));
    const viaDataUrl = await field(json(`data:image/png;base64,${png.toString('base64')}`));
    expect(viaJson).toEqual(raw);
    expect(viaDataUrl).toEqual(raw);
    const bad: Record<string, Uint8Array> = {
      'not base64': json('!!!not base64!!!'),
      'a number': json(12),
      'no field': Buffer.from('{"picture": ""}'),
      'not JSON': Buffer.from('{"image": '),
      'not UTF-8': Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
      'an array': Buffer.from('[1, 2]'),
      'base64 of text': json(Buffer.from('plain text').toString('base64')),
    };
    const reasons: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(bad)) {
      const r = await field(bytes);
      reasons[name] = r.ok ? 'accepted' : r.reason;
    }
    expect(reasons).toEqual({
      'not base64': 'bad_envelope',
      'a number': 'bad_envelope',
      'no field': 'bad_envelope',
      'not JSON': 'bad_json',
      'not UTF-8': 'bad_utf8',
      'an array': 'bad_envelope',
      'base64 of text': 'image_format',
    });
  });

  it('never throws on arbitrary bytes, with or without an image signature in front', async () => {
    const signatures = [[], [0xff, 0xd8, 0xff], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [...Buffer.from('RIFF\0\0\0\0WEBP')]];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...signatures), fc.uint8Array({ maxLength: 256 }), async (head, tail) => {
        const r = await decode(new Uint8Array([...head, ...tail]));
        expect(r.ok).toBe(false);
      }),
      { numRuns: 150 },
    );
  });
});

describe('the libvips resampler (faster, not bit-equal)', () => {
  it('stays within a few grey levels of Pillow\'s resize on photos, on average', async () => {
    const flat: ImageTransform = { ...transform, mean: [0], std: [1] };
    const pil = createImageDecoder({ transform: flat, maxPixels: 25_000_000, maxMessageBytes: 4 << 20 });
    const vips = createImageDecoder({ transform: flat, maxPixels: 25_000_000, maxMessageBytes: 4 << 20, resampler: 'vips' });
    for (const bytes of [jpeg, png, webp]) {
      const [a, b] = [await pil(bytes), await vips(bytes)];
      if (!a.ok || !b.ok) throw new Error('both decode');
      expect(b.value.length).toBe(a.value.length);
      let total = 0;
      for (let i = 0; i < a.value.length; i++) total += Math.abs(a.value[i]! - b.value[i]!);
      const meanLevels = (total / a.value.length) * 255;
      expect(meanLevels).toBeGreaterThan(0);
      // china.jpg shrunk 10x differs most (about 5.5 levels: JPEG shrink-on-load, another kernel).
      expect(meanLevels).toBeLessThan(8);
    }
  });
});

describe('the image preprocessing pool', () => {
  it('gives the same results as the main thread, in order, and fails every call once closed', async () => {
    const options = { transform, maxPixels: 25_000_000, maxMessageBytes: 4 << 20 };
    const pool = createImagePool(options, 2);
    const local = createImageDecoder(options);
    const messages = [jpeg, png, webp, Buffer.from('nope'), jpeg.subarray(0, 1000), png, webp, jpeg];
    try {
      expect(await decodeAll(messages, pool.decode)).toEqual(await decodeAll(messages, local));
      // the caller's bytes are untouched (a copy is transferred to the thread)
      expect(jpeg.length).toBeGreaterThan(1000);
    } finally {
      await pool.close();
    }
    await expect(pool.decode(jpeg)).rejects.toThrow('the image preprocessing pool is closed');
  });
});

describe('image geometry (torchvision semantics)', () => {
  it('sniffs formats by their first bytes', () => {
    expect([jpeg, png, webp, Buffer.from('GIF89a')].map(sniffImage)).toEqual(['jpeg', 'png', 'webp', null]);
  });

  it('resizes the shorter side and truncates the longer, as _compute_resized_output_size', () => {
    expect(resizedSize(640, 427, 72)).toEqual([107, 72]);
    expect(resizedSize(427, 640, 72)).toEqual([72, 107]);
    expect(resizedSize(100, 100, 32)).toEqual([32, 32]);
    expect(resizedSize(3, 1000, 2)).toEqual([2, 666]);
  });

  it('centres the crop with Python round() (halves to even)', () => {
    expect(centreCrop(107, 72, [64, 64])).toEqual({ top: 4, left: 22 }); // (107-64)/2 = 21.5 -> 22
    expect(centreCrop(105, 72, [64, 64])).toEqual({ top: 4, left: 20 }); // 20.5 -> 20
    expect(centreCrop(64, 64, [64, 64])).toEqual({ top: 0, left: 0 });
  });

  it('converts to grey with Pillow\'s ITU-R 601-2 fixed point, and RGBA to RGB by dropping alpha', () => {
    const rgba = { data: new Uint8Array([255, 0, 0, 9, 0, 255, 0, 9, 0, 0, 255, 9, 10, 20, 30, 0]), width: 4, height: 1, channels: 4 };
    expect([...toColourModel(rgba, true).data]).toEqual([76, 150, 29, 18]);
    expect([...toColourModel(rgba, false).data]).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
  });

  it('pads images smaller than the crop with zeros before normalising', () => {
    const tiny = { data: new Uint8Array([200, 200, 200]), width: 1, height: 1, channels: 3 };
    const t: ImageTransform = { ...transform, resize: null, crop: [3, 3], mean: [0], std: [1], layout: 'nhwc' };
    const out = imageToTensor(tiny, t);
    expect(Array.from(out, (v) => Math.round(v * 255))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 200, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('resampling to the same size is the identity, and a constant image stays constant at any size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(1, 3),
        fc.constantFrom('bilinear', 'bicubic') as fc.Arbitrary<'bilinear' | 'bicubic'>,
        fc.integer({ min: 0, max: 255 }),
        (w, h, ow, oh, c, interpolation, value) => {
          const data = Uint8Array.from({ length: w * h * c }, (_, i) => (i * 37) % 256);
          expect(resample({ data, width: w, height: h, channels: c }, w, h, interpolation).data).toEqual(data);
          const flat = { data: new Uint8Array(w * h * c).fill(value), width: w, height: h, channels: c };
          const out = resample(flat, ow, oh, interpolation);
          expect(out.data.every((v) => v === value)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a region of the resize equals the same region cut from the full resize', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 30 }),
        fc.integer({ min: 2, max: 30 }),
        fc.integer({ min: 2, max: 30 }),
        fc.integer({ min: 2, max: 30 }),
        fc.constantFrom('bilinear', 'bicubic') as fc.Arbitrary<'bilinear' | 'bicubic'>,
        fc.nat(),
        (w, h, ow, oh, interpolation, seed) => {
          const data = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 2654435761 + seed) % 256);
          const image = { data, width: w, height: h, channels: 3 };
          const full = resample(image, ow, oh, interpolation);
          const left = seed % ow;
          const top = (seed >> 3) % oh;
          const width = ow - left;
          const height = oh - top;
          const part = resample(image, ow, oh, interpolation, { left, top, width, height });
          for (let y = 0; y < height; y++) {
            const want = full.data.subarray(((y + top) * ow + left) * 3, ((y + top) * ow + left + width) * 3);
            expect(part.data.subarray(y * width * 3, (y + 1) * width * 3)).toEqual(want);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
