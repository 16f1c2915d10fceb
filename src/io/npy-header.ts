import { parseNpyHeaderDict } from './npy-dict.js';
import { fail, ok, type Result } from './result.js';

/**
 * The fixed part of a .npy file (format spec: numpy.lib.format):
 *
 *   \x93NUMPY | major | minor | header length (u16 LE in v1, u32 LE in v2/v3) | header dict | data
 *
 * Everything here is checked before any data is touched, so that a forged header
 * can neither make ckawatch allocate a huge array nor read past the bytes it has.
 */

export type NpyDtype = '<f4' | '<f8' | '<i4' | '<i8';

export type NpyProblem = 'not_npy' | 'bad_header' | 'unsupported_dtype' | 'fortran_order' | 'size_mismatch';

export interface NpyHeader {
  readonly version: 1 | 2 | 3;
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  /** Number of elements: the product of shape (1 for a scalar). */
  readonly count: number;
  /** Byte offset where the data starts. */
  readonly dataOffset: number;
  /** Bytes the data must have: count times the item size. */
  readonly dataBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Bytes to read from a file to be sure of holding the whole header. */
export const NPY_PREFIX_BYTES = 12 + 65536;

/**
 * NumPy itself refuses headers over 10000 bytes unless told otherwise (max_header_size);
 * 64 KiB leaves room for odd writers and still bounds what a forged length can cost.
 */
const MAX_HEADER_BYTES = 65536;

export const ITEM_SIZE: Readonly<Record<NpyDtype, number>> = { '<f4': 4, '<f8': 8, '<i4': 4, '<i8': 8 };

function isDtype(descr: string): descr is NpyDtype {
  return Object.hasOwn(ITEM_SIZE, descr);
}

function describeDtype(descr: string): string {
  if (/^>/.test(descr)) return `big-endian dtype '${descr}' is not supported; save with '<${descr.slice(1)}'`;
  return `dtype '${descr}' is not supported; use '<f4' (float32), '<f8', '<i4' or '<i8'`;
}

/**
 * Reads and checks the header. `totalBytes` is the size of the whole file or message
 * when `bytes` holds only its start (a file read in two steps); by default, bytes.length.
 */
export function parseNpyHeader(bytes: Uint8Array, totalBytes = bytes.length): Result<NpyHeader, NpyProblem> {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    return fail('not_npy', 'not a .npy file (the first bytes are not \\x93NUMPY)');
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3 || minor !== 0) return fail('not_npy', `unsupported .npy format version ${major}.${minor}`);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) return fail('bad_header', 'header length is cut off');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const dataOffset = 8 + lengthBytes + headerLength;
  if (headerLength > MAX_HEADER_BYTES) return fail('bad_header', `header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes`);
  if (dataOffset > bytes.length) return fail('bad_header', `header of ${headerLength} bytes is cut off at ${bytes.length - 8 - lengthBytes}`);

  // latin1: one character per byte, never fails; the dict parser then demands ASCII.
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + 8 + lengthBytes, headerLength).toString('latin1');
  const dict = parseNpyHeaderDict(text);
  if (!dict.ok) return dict;
  const { descr, fortranOrder, shape } = dict.value;
  if (!isDtype(descr)) return fail('unsupported_dtype', describeDtype(descr));
  if (fortranOrder) {
    return fail('fortran_order', 'data is in Fortran (column-major) order; save a C-order array (np.ascontiguousarray)');
  }

  let count = 1;
  for (const dim of shape) count *= dim;
  const dataBytes = count * ITEM_SIZE[descr];
  // A forged shape overflows 2^53 long before it could match a real length.
  if (!Number.isSafeInteger(dataBytes) || dataBytes !== totalBytes - dataOffset) {
    const shown = `(${shape.join(', ')})`;
    return fail(
      'size_mismatch',
      `shape ${shown} of ${descr} needs ${Number.isSafeInteger(dataBytes) ? dataBytes : 'more than 2^53'} data bytes, found ${totalBytes - dataOffset}`,
    );
  }
  return ok({ version: major as 1 | 2 | 3, dtype: descr, shape, count, dataOffset, dataBytes });
}
