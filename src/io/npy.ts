import { readFloat32LE, readFloat64LEAsFloat32, readInt32LE, readInt64LEAsInt32, toLittleEndianBytes } from './little-endian.js';
import { parseNpyHeader, type NpyDtype, type NpyHeader, type NpyProblem } from './npy-header.js';
import { fail, ok, type Result } from './result.js';

/**
 * NumPy .npy in memory: decode (messages, files read whole) and encode (tests, tools).
 *
 * Two kinds of array come out: float data as Float32Array (what the model takes;
 * '<f8' is narrowed, so values beyond float32's range become ±Infinity and callers
 * that need finite data check for it), and integer labels as Int32Array ('<i8' must
 * fit in 32 bits). C order only; see npy-header.ts for what is checked before the
 * data is read.
 */

export type { NpyDtype, NpyHeader, NpyProblem } from './npy-header.js';

export type NpyArray =
  | { readonly kind: 'float32'; readonly dtype: '<f4' | '<f8'; readonly shape: readonly number[]; readonly data: Float32Array }
  | { readonly kind: 'int32'; readonly dtype: '<i4' | '<i8'; readonly shape: readonly number[]; readonly data: Int32Array };

/**
 * Reads the data that `header` describes out of `bytes`. `owned`: `bytes` is a private
 * buffer (see readFloat32LE), so float32 and int32 data may be viewed without a copy.
 */
export function decodeNpyData(bytes: Uint8Array, header: NpyHeader, owned = false): Result<NpyArray, NpyProblem> {
  const { dtype, shape, count, dataOffset } = header;
  switch (dtype) {
    case '<f4':
      return ok({ kind: 'float32', dtype, shape, data: readFloat32LE(bytes, dataOffset, count, owned) });
    case '<f8':
      return ok({ kind: 'float32', dtype, shape, data: readFloat64LEAsFloat32(bytes, dataOffset, count) });
    case '<i4':
      return ok({ kind: 'int32', dtype, shape, data: readInt32LE(bytes, dataOffset, count, owned) });
    case '<i8': {
      const ints = readInt64LEAsInt32(bytes, dataOffset, count);
      if (!ints.ok) return fail('unsupported_dtype', `'<i8' value ${ints.found} at index ${ints.index} does not fit in 32 bits`);
      return ok({ kind: 'int32', dtype, shape, data: ints.value });
    }
  }
}

export function decodeNpy(bytes: Uint8Array): Result<NpyArray, NpyProblem> {
  const header = parseNpyHeader(bytes);
  return header.ok ? decodeNpyData(bytes, header.value) : header;
}

type Encodable = Float32Array | Float64Array | Int32Array | BigInt64Array;

function dtypeOf(data: Encodable): NpyDtype {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Int32Array) return '<i4';
  return '<i8';
}

/** Python's repr of a tuple: () for a scalar, (n,) for one dimension. */
function shapeLiteral(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/**
 * A .npy file as NumPy writes it: format 1.0, the header padded with spaces and a
 * newline so that the data starts on a 64-byte boundary. (2.0 exists for headers over
 * 64 KiB, which only structured dtypes with many fields need.)
 */
export function encodeNpy(data: Encodable, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.length > 64 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0) || count !== data.length) {
    throw new RangeError(`encodeNpy: shape [${shape.join(', ')}] does not hold ${data.length} values`);
  }
  const dict = `{'descr': '${dtypeOf(data)}', 'fortran_order': False, 'shape': ${shapeLiteral(shape)}, }`;
  const prefix = 10;
  const padded = Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix;
  const header = dict.padEnd(padded - 1, ' ') + '\n';
  const body = toLittleEndianBytes(data);
  const out = new Uint8Array(prefix + padded + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, padded, true);
  out.set(Buffer.from(header, 'latin1'), prefix);
  out.set(body, prefix + padded);
  return out;
}
