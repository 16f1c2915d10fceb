/**
 * Real photos with no download: scikit-learn's two sample photos (china.jpg, flower.jpg,
 * CC BY 2.0; test/fixtures/images/SOURCES.md) cut into many random crops, encoded as JPEG or
 * PNG messages, clean or drifted (rotated, blurred, recoloured). The demo's and the tests'
 * image stream.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp, { type Sharp } from 'sharp';
import type { Prng } from '../reference/prng.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
export const PHOTOS_DIR = join(ROOT, 'test/fixtures/images');
export const PHOTO_NAMES = ['china.jpg', 'flower.jpg'] as const;

export interface Photo {
  readonly name: string;
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

/** What drift does to a crop (a sharp pipeline step). */
export type PhotoDrift = (image: Sharp) => Sharp;

export const PHOTO_DRIFTS: Readonly<Record<string, PhotoDrift>> = {
  none: (image) => image,
  /** a quarter turn */
  rotate: (image) => image.rotate(90),
  /** Gaussian blur, sigma 8 px (crops are shrunk 1.5-5x by the model's resize, which hides milder blur) */
  blur: (image) => image.blur(8),
  /** hue turned by 150 degrees */
  recolour: (image) => image.modulate({ hue: 150 }),
};

/** The photos, decoded once to raw RGB. */
export async function loadPhotos(dir = PHOTOS_DIR): Promise<Photo[]> {
  return Promise.all(
    PHOTO_NAMES.map(async (name) => {
      const { data, info } = await sharp(readFileSync(join(dir, name))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return { name, data, width: info.width, height: info.height };
    }),
  );
}

export interface CropOptions {
  readonly format?: 'jpeg' | 'png';
  readonly drift?: PhotoDrift;
  /** side of the square crop, in pixels */
  readonly minSide?: number;
  readonly maxSide?: number;
}

/** One random square crop of a random photo, encoded. */
export async function randomCrop(photos: readonly Photo[], random: Prng, options: CropOptions = {}): Promise<Buffer> {
  const photo = photos[random.below(photos.length)]!;
  const min = options.minSide ?? 96;
  const max = Math.min(options.maxSide ?? 320, photo.width, photo.height);
  const side = min + random.below(max - min + 1);
  const left = random.below(photo.width - side + 1);
  const top = random.below(photo.height - side + 1);
  let image = sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } }).extract({ left, top, width: side, height: side });
  if (options.drift) image = options.drift(image);
  return options.format === 'png' ? image.png({ compressionLevel: 1 }).toBuffer() : image.jpeg({ quality: 90 }).toBuffer();
}

/** `count` crops, in order. */
export async function randomCrops(photos: readonly Photo[], random: Prng, count: number, options: CropOptions = {}): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) out.push(await randomCrop(photos, random, options));
  return out;
}
