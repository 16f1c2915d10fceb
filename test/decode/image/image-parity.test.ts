/**
 * Preprocessing parity for images: the tensors ckawatch feeds the model equal the ones
 * Pillow + numpy make (cross-checked against torchvision's transforms when the fixtures were
 * written) for JPEG 4:2:0 and 4:4:4 progressive, PNG with alpha, greyscale PNG, lossy and
 * lossless WebP and an image smaller than the crop, under four preprocessing configs.
 * Fixtures: tools/fixtures/make_input_fixtures.py --only images.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpyFile } from '../../../src/io/npy-file.js';
import { createImageDecoder } from '../../../src/decode/image/image.js';
import type { ImageTransform } from '../../../src/decode/image/tensor.js';
import { fixture } from '../../helpers/fixtures.js';

const DIR = fixture('images/parity');

interface ParityConfig {
  resize: number | null;
  crop: [number, number];
  interpolation: 'bilinear' | 'bicubic';
  channels: 'rgb' | 'bgr' | 'grey';
  layout: 'nchw' | 'nhwc';
  scale: number;
  mean: number[];
  std: number[];
  file: string;
  shape: number[];
}

const parity = JSON.parse(readFileSync(join(DIR, 'parity.json'), 'utf8')) as {
  images: { file: string; mode: string }[];
  configs: Record<string, ParityConfig>;
};

describe('image preprocessing equals Pillow + numpy (torchvision Resize, CenterCrop, ToTensor, Normalize)', () => {
  for (const [name, config] of Object.entries(parity.configs)) {
    it(`${name}: ${parity.images.length} images, largest difference <= 1e-6`, async () => {
      const transform: ImageTransform = { ...config, crop: [config.crop[0], config.crop[1]] };
      const decode = createImageDecoder({ transform, maxPixels: 1_000_000, maxMessageBytes: 1 << 20 });
      const expected = readNpyFile(join(DIR, config.file));
      expect(expected.shape).toEqual(config.shape);
      const size = config.shape.slice(1).reduce((a, b) => a * b, 1);
      const report: Record<string, number> = {};
      for (const [i, image] of parity.images.entries()) {
        const result = await decode(readFileSync(join(DIR, image.file)));
        if (!result.ok) throw new Error(`${image.file}: ${result.reason} ${result.detail}`);
        expect(result.value.length).toBe(size);
        const want = expected.data.subarray(i * size, (i + 1) * size) as Float32Array;
        let worst = 0;
        for (let k = 0; k < size; k++) worst = Math.max(worst, Math.abs(result.value[k]! - want[k]!));
        report[image.file] = worst;
      }
      // Every value is computed in the same float32 steps: the match is exact, 1e-6 is the promise.
      expect(Object.entries(report).filter(([, d]) => d > 1e-6)).toEqual([]);
      expect(Math.max(...Object.values(report))).toBe(0);
    });
  }
});
