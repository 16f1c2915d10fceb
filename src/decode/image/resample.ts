import { type Interpolation } from '../../config/vocabulary.js';
/**
 * Pillow's resampling (libImaging/Resample.c), ported to the bit: separable convolution,
 * horizontal pass then vertical pass, with the filter widened by the scale factor when
 * shrinking (antialiasing), coefficients in 22-bit fixed point, and every pass rounded and
 * clipped to 8 bits. torchvision's Resize on PIL images is exactly this, so a model trained
 * with it sees the same pixels here.
 *
 *   source [h, w, c] uint8 ──horizontal──▶ [rows needed, outW, c] uint8 ──vertical──▶ [outH, outW, c]
 *
 * `region` computes only a window of the output (the centre crop): each output pixel
 * depends only on its own coefficients, so the window is equal to cropping the full result.
 */



interface Filter {
  readonly support: number;
  readonly weight: (x: number) => number;
}

const FILTERS: Readonly<Record<Interpolation, Filter>> = {
  bilinear: {
    support: 1,
    weight: (x) => {
      const a = Math.abs(x);
      return a < 1 ? 1 - a : 0;
    },
  },
  bicubic: {
    support: 2,
    weight: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
};

/** 32 bits minus 8 for the value and 2 for overflow of filters with negative lobes. */
const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);

/** An interleaved 8-bit image. */
export interface Pixels {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** Fixed-point coefficients for the output positions [from, from + count) of one axis. */
interface Coefficients {
  readonly ksize: number;
  /** first source index per output position */
  readonly start: Int32Array;
  /** number of source indices per output position */
  readonly length: Int32Array;
  readonly weights: Int32Array;
}

function coefficients(inSize: number, outSize: number, from: number, count: number, filter: Filter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(count);
  const length = new Int32Array(count);
  const weights = new Int32Array(count * ksize);
  const k = new Float64Array(ksize);
  for (let i = 0; i < count; i++) {
    const center = (from + i + 0.5) * scale;
    const ss = 1 / filterScale;
    // C's (int) cast truncates toward zero; negative starts are clamped to 0 just after.
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.weight((x + xmin - center + 0.5) * ss);
      k[x] = w;
      total += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = total !== 0 ? k[x]! / total : k[x]!;
      weights[i * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS)) : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    start[i] = xmin;
    length[i] = xmax;
  }
  return { ksize, start, length, weights };
}

/** Pillow's clip8: the fixed-point sum shifted down (arithmetic shift floors negatives), clamped. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

export interface Region {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Resizes `image` to outWidth x outHeight as Pillow's Image.resize does, returning the
 * pixels of `region` of that result (default: all of it).
 */
export function resample(image: Pixels, outWidth: number, outHeight: number, interpolation: Interpolation, region?: Region): Pixels {
  const r = region ?? { left: 0, top: 0, width: outWidth, height: outHeight };
  if (r.left < 0 || r.top < 0 || r.left + r.width > outWidth || r.top + r.height > outHeight || r.width < 1 || r.height < 1) {
    throw new RangeError(`region ${r.width}x${r.height}+${r.left}+${r.top} is not inside ${outWidth}x${outHeight}`);
  }
  const { channels: c } = image;
  const filter = FILTERS[interpolation];
  const needH = outWidth !== image.width;
  const needV = outHeight !== image.height;

  // Horizontal pass over the source rows that the vertical pass will read.
  let src = image;
  let rowOffset = 0;
  const vert = needV ? coefficients(image.height, outHeight, r.top, r.height, filter) : null;
  if (needH) {
    const horiz = coefficients(image.width, outWidth, r.left, r.width, filter);
    const first = vert ? vert.start[0]! : r.top;
    const last = vert ? vert.start[r.height - 1]! + vert.length[r.height - 1]! : r.top + r.height;
    const rows = last - first;
    const out = new Uint8Array(rows * r.width * c);
    const { ksize, start, length, weights } = horiz;
    const data = image.data;
    const inStride = image.width * c;
    for (let y = 0; y < rows; y++) {
      const rowIn = (y + first) * inStride;
      let o = y * r.width * c;
      for (let x = 0; x < r.width; x++) {
        const n = length[x]!;
        const kBase = x * ksize;
        let p = rowIn + start[x]! * c;
        if (c === 3) {
          // The common case unrolled: one pass over the taps for all three channels.
          let s0 = HALF;
          let s1 = HALF;
          let s2 = HALF;
          for (let k = 0; k < n; k++, p += 3) {
            const w = weights[kBase + k]!;
            s0 += data[p]! * w;
            s1 += data[p + 1]! * w;
            s2 += data[p + 2]! * w;
          }
          out[o++] = clip8(s0);
          out[o++] = clip8(s1);
          out[o++] = clip8(s2);
        } else {
          for (let ch = 0; ch < c; ch++) {
            let sum = HALF;
            for (let k = 0, q = p + ch; k < n; k++, q += c) sum += data[q]! * weights[kBase + k]!;
            out[o++] = clip8(sum);
          }
        }
      }
    }
    src = { data: out, width: r.width, height: rows, channels: c };
    rowOffset = first;
  } else {
    src = cropRows(image, r.left, r.width);
  }

  if (!vert) return cropHeight(src, r.top - rowOffset, r.height);
  const out = new Uint8Array(r.height * r.width * c);
  const { ksize, start, length, weights } = vert;
  const data = src.data;
  const stride = src.width * c;
  const sums = new Int32Array(stride);
  for (let y = 0; y < r.height; y++) {
    const ymin = start[y]! - rowOffset;
    const n = length[y]!;
    const kBase = y * ksize;
    // Row by row over the taps: each source row is read in order (cache-friendly), sums per column.
    sums.fill(HALF);
    for (let k = 0; k < n; k++) {
      const w = weights[kBase + k]!;
      const row = (ymin + k) * stride;
      for (let x = 0; x < stride; x++) sums[x]! += data[row + x]! * w;
    }
    const o = y * stride;
    for (let x = 0; x < stride; x++) out[o + x] = clip8(sums[x]!);
  }
  return { data: out, width: r.width, height: r.height, channels: c };
}

/** Columns [left, left + width) of every row. */
function cropRows(image: Pixels, left: number, width: number): Pixels {
  if (left === 0 && width === image.width) return image;
  const c = image.channels;
  const out = new Uint8Array(image.height * width * c);
  for (let y = 0; y < image.height; y++) {
    const from = (y * image.width + left) * c;
    out.set(image.data.subarray(from, from + width * c), y * width * c);
  }
  return { data: out, width, height: image.height, channels: c };
}

/** Rows [top, top + height). */
function cropHeight(image: Pixels, top: number, height: number): Pixels {
  if (top === 0 && height === image.height) return image;
  const stride = image.width * image.channels;
  return { ...image, data: image.data.slice(top * stride, (top + height) * stride), height };
}
