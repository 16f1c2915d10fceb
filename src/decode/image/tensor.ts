/**
 * Decoded pixels to the model's input tensor, as torchvision's
 * Compose([Resize(size), CenterCrop(crop), ToTensor(), Normalize(mean, std)]) does on a PIL
 * image, plus the channel order and layout the model wants:
 *
 *   8-bit pixels (1-4 channels) ─▶ RGB or L (PIL's convert) ─▶ shorter side to `resize`
 *     ─▶ centre crop (zero padding if larger) ─▶ RGB | BGR | grey ─▶ (v / scale - mean) / std ─▶ NCHW | NHWC
 *
 * Pure: no I/O, no sharp. Arithmetic is float32 step by step (Math.fround), as torch does it,
 * so the tensor equals torchvision's to the bit.
 */
import { resample, type Pixels } from './resample.js';
import { type ChannelOrder, type Interpolation, type Layout } from '../../config/vocabulary.js';


export interface ImageTransform {
  /** Shorter side resized to this (torchvision Resize(int)); null: no resize. */
  readonly resize: number | null;
  readonly interpolation: Interpolation;
  /** [height, width] */
  readonly crop: readonly [number, number];
  readonly channels: ChannelOrder;
  readonly layout: Layout;
  /** Pixel values are divided by this first (255: ToTensor). */
  readonly scale: number;
  /** One per output channel (or one for all). */
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** The tensor's shape without the batch dimension. */
export function tensorShape(t: ImageTransform): number[] {
  const c = t.channels === 'grey' ? 1 : 3;
  const [h, w] = t.crop;
  return t.layout === 'nchw' ? [c, h, w] : [h, w, c];
}

/**
 * PIL's convert('RGB') or convert('L') of 8-bit pixels with 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA)
 * channels: alpha is dropped (not composited), grey is replicated, and RGB to L is ITU-R 601-2
 * luma in Pillow's fixed point.
 */
export function toColourModel(image: Pixels, grey: boolean): Pixels {
  const { data, width, height, channels } = image;
  const n = width * height;
  const want = grey ? 1 : 3;
  if (channels === want) return image;
  const out = new Uint8Array(n * want);
  if (grey) {
    if (channels === 2) {
      for (let p = 0; p < n; p++) out[p] = data[p * 2]!;
    } else {
      for (let p = 0; p < n; p++) {
        const i = p * channels;
        out[p] = (data[i]! * 19595 + data[i + 1]! * 38470 + data[i + 2]! * 7471 + 0x8000) >>> 16;
      }
    }
  } else if (channels <= 2) {
    for (let p = 0; p < n; p++) {
      const v = data[p * channels]!;
      out[p * 3] = v;
      out[p * 3 + 1] = v;
      out[p * 3 + 2] = v;
    }
  } else {
    for (let p = 0; p < n; p++) {
      out[p * 3] = data[p * channels]!;
      out[p * 3 + 1] = data[p * channels + 1]!;
      out[p * 3 + 2] = data[p * channels + 2]!;
    }
  }
  return { data: out, width, height, channels: want };
}

/** torchvision's _compute_resized_output_size for Resize(int): [width, height]. */
export function resizedSize(width: number, height: number, size: number): [number, number] {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const newLong = Math.trunc((size * long) / short);
  return width <= height ? [size, newLong] : [newLong, size];
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Where torchvision's CenterCrop cuts: offsets into an image of width x height (after padding). */
export function centreCrop(width: number, height: number, crop: readonly [number, number]): { top: number; left: number } {
  return { top: roundHalfEven((height - crop[0]) / 2), left: roundHalfEven((width - crop[1]) / 2) };
}

/** Zero padding so that the image is at least crop-sized, split as torchvision's CenterCrop does. */
function padTo(image: Pixels, crop: readonly [number, number]): Pixels {
  const [ch, cw] = crop;
  if (ch <= image.height && cw <= image.width) return image;
  const top = ch > image.height ? Math.floor((ch - image.height) / 2) : 0;
  const left = cw > image.width ? Math.floor((cw - image.width) / 2) : 0;
  const height = Math.max(ch, image.height);
  const width = Math.max(cw, image.width);
  const c = image.channels;
  const out = new Uint8Array(width * height * c);
  for (let y = 0; y < image.height; y++) {
    out.set(image.data.subarray(y * image.width * c, (y + 1) * image.width * c), ((y + top) * width + left) * c);
  }
  return { data: out, width, height, channels: c };
}

/** The resized and centre-cropped pixels, in RGB or L. */
export function cropPixels(decoded: Pixels, t: ImageTransform): Pixels {
  const image = toColourModel(decoded, t.channels === 'grey');
  const [ch, cw] = t.crop;
  if (t.resize !== null) {
    const [w, h] = resizedSize(image.width, image.height, t.resize);
    if (h >= ch && w >= cw) {
      const { top, left } = centreCrop(w, h, t.crop);
      return resample(image, w, h, t.interpolation, { left, top, width: cw, height: ch });
    }
    return cropPixels(resample(image, w, h, t.interpolation), { ...t, resize: null });
  }
  const padded = padTo(image, t.crop);
  const { top, left } = centreCrop(padded.width, padded.height, t.crop);
  const c = padded.channels;
  const out = new Uint8Array(ch * cw * c);
  for (let y = 0; y < ch; y++) {
    const from = ((y + top) * padded.width + left) * c;
    out.set(padded.data.subarray(from, from + cw * c), y * cw * c);
  }
  return { data: out, width: cw, height: ch, channels: c };
}

/**
 * Per output channel, the float32 value of each of the 256 pixel values, computed in
 * torch's steps: ((v / scale) - mean) / std, each rounded to float32.
 */
function lookupTables(t: ImageTransform, c: number): Float32Array[] {
  const f = Math.fround;
  const scale = f(t.scale);
  return Array.from({ length: c }, (_, k) => {
    const mean = f(t.mean.length === 1 ? t.mean[0]! : t.mean[k]!);
    const std = f(t.std.length === 1 ? t.std[0]! : t.std[k]!);
    return Float32Array.from({ length: 256 }, (_, v) => f(f(f(v / scale) - mean) / std));
  });
}

const tableCache = new WeakMap<ImageTransform, Float32Array[]>();

/** Channel order, float32 scaling and normalisation, layout: the model's input values for one sample. */
export function toTensor(pixels: Pixels, t: ImageTransform, out = new Float32Array(pixels.width * pixels.height * pixels.channels)): Float32Array {
  const { data, width, height, channels: c } = pixels;
  let tables = tableCache.get(t);
  if (tables === undefined || tables.length !== c) {
    tables = lookupTables(t, c);
    tableCache.set(t, tables);
  }
  const bgr = t.channels === 'bgr';
  const plane = width * height;
  for (let k = 0; k < c; k++) {
    const table = tables[k]!;
    const source = bgr ? c - 1 - k : k;
    if (t.layout === 'nchw') {
      const base = k * plane;
      for (let p = 0; p < plane; p++) out[base + p] = table[data[p * c + source]!]!;
    } else {
      for (let p = 0; p < plane; p++) out[p * c + k] = table[data[p * c + source]!]!;
    }
  }
  return out;
}

/** Decoded pixels to the model's input values. */
export function imageToTensor(decoded: Pixels, t: ImageTransform): Float32Array {
  return toTensor(cropPixels(decoded, t), t);
}
