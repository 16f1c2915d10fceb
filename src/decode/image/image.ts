/**
 * Image messages to model input tensors:
 *
 *   bytes ─empty? oversize?─▶ [JSON field, base64] ─▶ JPEG | PNG | WebP? ─▶ sharp: header ─▶ pixels (8-bit)
 *                                   │                        │             │ > maxPixels   │ corrupt
 *                         'bad_json' 'bad_envelope'    'image_format'  'image_too_large'  'bad_image'
 *   pixels ─▶ image-tensor.ts (PIL-exact resize, centre crop, channels, normalise, layout) ─▶ sample
 *
 * sharp (libvips) only decodes: its JPEG, PNG and WebP decoders give the same pixels as
 * Pillow's, and the geometry is done in JS exactly as Pillow does it, so the tensors equal
 * torchvision's. Decoding runs in libuv's thread pool, hence an async decoder. The pixel
 * bound is libvips' limitInputPixels, applied to the header before any pixel is decoded.
 * No EXIF auto-rotation (Pillow and torchvision do none). Colour: embedded ICC profiles are not
 * applied; CMYK JPEGs are converted by libvips (Pillow's naive CMYK conversion differs).
 */
import sharp, { type OutputInfo } from 'sharp';
import { reject, type AsyncDecoder } from '../types.js';
import { decodeBase64, readStringField } from '../envelope.js';
import { imageToTensor, type ImageTransform } from './tensor.js';
import { type Resampler } from '../../config/vocabulary.js';
import { ok } from '../../io/result.js';

export interface ImageDecoderOptions {
  readonly transform: ImageTransform;
  /** Width x height above which an image is refused unread. */
  readonly maxPixels: number;
  /** JSON field holding base64 image bytes; absent: the whole message is the image. */
  readonly field?: string | undefined;
  readonly maxMessageBytes: number;
  /**
   * 'pil' (default): Pillow's resize, bit-exact, in JS. 'vips': libvips resizes while decoding
   * (JPEG shrink-on-load), several times faster on large photos but not equal to torchvision.
   */
  readonly resampler?: Resampler | undefined;
}


export type ImageFormat = 'jpeg' | 'png' | 'webp';

/** The format told by the first bytes, or null. */
export function sniffImage(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  const ascii = (from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return null;
}

function describe(bytes: Uint8Array): string {
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `not JPEG, PNG or WebP (first bytes ${head})`;
}

export function createImageDecoder(o: ImageDecoderOptions): AsyncDecoder {
  // Each message is decoded once: libvips' operation cache would only hold memory.
  sharp.cache(false);
  return async (message) => {
    if (message.length === 0) return reject('empty', 'no bytes');
    if (message.length > o.maxMessageBytes) return reject('oversize', `${message.length} bytes, limit ${o.maxMessageBytes}`);
    let bytes = message;
    if (o.field !== undefined) {
      const field = readStringField(message, o.field);
      if (!field.ok) return reject(field.reason, field.detail);
      const decoded = decodeBase64(field.value);
      if (decoded === null) return reject('bad_envelope', `"${o.field}" is not base64`);
      bytes = decoded;
    }
    const format = sniffImage(bytes);
    if (format === null) return reject('image_format', describe(bytes));
    let raw: { data: Buffer; info: OutputInfo };
    const { resize, interpolation } = o.transform;
    const vips = o.resampler === 'vips' && resize !== null;
    try {
      let image = sharp(bytes, { limitInputPixels: o.maxPixels, failOn: 'error', pages: 1 });
      // 'outside': the shorter side becomes `resize`, as Resize(int) does.
      if (vips) image = image.resize({ width: resize, height: resize, fit: 'outside', kernel: interpolation === 'bicubic' ? 'cubic' : 'linear' });
      raw = await image.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    } catch (error) {
      const text = error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'undecodable';
      if (/pixel limit/i.test(text)) return reject('image_too_large', `${format}: more than ${o.maxPixels} pixels`);
      return reject('bad_image', `${format}: ${text}`);
    }
    const { width, height, channels } = raw.info;
    const data = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength);
    return ok(imageToTensor({ data, width, height, channels }, vips ? { ...o.transform, resize: null } : o.transform));
  };
}
