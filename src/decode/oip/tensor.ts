/**
 * One Open Inference Protocol tensor to samples of the model input:
 *
 *   {datatype, shape [B, ...], contents | raw bytes | JSON data}
 *        │ datatype known? ──no──▶ 'wrong_dtype' (BYTES: 'bytes_tensor')
 *        │ shape fits B samples of the model input? ──no──▶ 'wrong_shape'
 *        │ element count = product(shape)? ──no──▶ 'wrong_size'
 *        ▼
 *   float32 values (one row per sample) ──finite?──▶ B samples
 *
 * Every datatype is widened or narrowed to float32 as the model's input takes it: FP64 and
 * the 64-bit integers round to the nearest float32 (as NumPy's astype does), the rest are
 * exact. Raw contents are the protocol's row-major little-endian bytes.
 */
import { fail, ok, type Result } from '../../io/result.js';
import { acceptFinite } from '../finite.js';
import { formatShape, sameShape, type Decoder, type RejectReason } from '../types.js';
import { toNumber, type Int64, type WireContents } from './messages.js';

export const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64'] as const;
export type Datatype = (typeof DATATYPES)[number];

/** Bytes per element in raw contents. */
const WIDTH: Readonly<Record<Datatype, number>> = {
  BOOL: 1, UINT8: 1, UINT16: 2, UINT32: 4, UINT64: 8, INT8: 1, INT16: 2, INT32: 4, INT64: 8, FP16: 2, FP32: 4, FP64: 8,
};

/** Which InferTensorContents field carries each datatype (the protocol's table); FP16 travels only raw. */
const CONTENTS_FIELD: Readonly<Record<Datatype, keyof WireContents | null>> = {
  BOOL: 'bool_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  FP16: null,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
};

export type SamplesResult = Result<Float32Array[], RejectReason>;

/** A tensor's datatype as a known one, or why not. */
export function checkDatatype(datatype: string): Result<Datatype, RejectReason> {
  if ((DATATYPES as readonly string[]).includes(datatype)) return ok(datatype as Datatype);
  if (datatype === 'BYTES') return fail('bytes_tensor', 'a BYTES tensor (images or text): not read from serving encodings yet');
  return fail('wrong_dtype', `datatype ${JSON.stringify(datatype.slice(0, 20))} is none of ${DATATYPES.join(', ')}`);
}

/**
 * How many samples a tensor of `shape` holds for a model input of `sampleShape`:
 * [B, ...sampleShape] is B; [B, sampleSize] (rows flattened) is B; sampleShape alone is 1.
 * Null when it fits none of these.
 */
export function rowsOf(shape: readonly number[], sampleShape: readonly number[]): number | null {
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  const [first, ...rest] = shape;
  if (first === undefined || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return null;
  if (sameShape(rest, sampleShape)) return first;
  if (rest.length === 1 && rest[0] === sampleSize) return first;
  if (sameShape(shape, sampleShape)) return 1;
  return null;
}

/** Shape from the wire (int64) to numbers; a negative or huge dimension fails rowsOf. */
export function shapeOf(shape: readonly Int64[]): number[] {
  return shape.map(toNumber);
}

/** Checks the shape and counts, then splits the values into B rows (views of one buffer), finite or rejected. */
export function toSamples(values: Float32Array, shape: readonly number[], sampleShape: readonly number[]): SamplesResult {
  const rows = rowsOf(shape, sampleShape);
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  if (rows === null || rows === 0) {
    return fail('wrong_shape', `tensor shape ${formatShape(shape)}, expected [B,${sampleShape.join(',')}] or [B,${sampleSize}] with B >= 1`);
  }
  if (values.length !== rows * sampleSize) {
    return fail('wrong_size', `${values.length} values for shape ${formatShape(shape)} (${rows * sampleSize})`);
  }
  const finite = acceptFinite(values);
  if (!finite.ok) return finite;
  return ok(Array.from({ length: rows }, (_, r) => values.subarray(r * sampleSize, (r + 1) * sampleSize)));
}

/** The elements a shape claims, checked against the message size before anything is allocated. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Raw row-major little-endian bytes of `datatype` to float32 values; null when the length is not a whole number of elements. */
export function fromRaw(bytes: Uint8Array, datatype: Datatype): Float32Array | null {
  const width = WIDTH[datatype];
  if (bytes.length % width !== 0) return null;
  const n = bytes.length / width;
  // FP32 on a little-endian host: one copy of the bytes is the array (a memcpy, not a loop).
  // Not bytes.slice(): protobufjs hands out Buffers under Node, whose slice() is a view.
  if (datatype === 'FP32' && LITTLE_ENDIAN) {
    const copy = new Uint8Array(bytes.length);
    copy.set(bytes);
    return new Float32Array(copy.buffer, 0, n);
  }
  const out = new Float32Array(n);
  // protobufjs hands out views into the message buffer at any offset: DataView reads need no alignment.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (datatype) {
    case 'FP32':
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'FP64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'FP16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case 'BOOL':
    case 'UINT8':
      for (let i = 0; i < n; i++) out[i] = bytes[i]!;
      break;
    case 'INT8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      break;
    case 'UINT16':
      for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, true);
      break;
    case 'INT16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true);
      break;
    case 'UINT32':
      for (let i = 0; i < n; i++) out[i] = view.getUint32(4 * i, true);
      break;
    case 'INT32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      break;
    case 'UINT64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigUint64(8 * i, true));
      break;
    case 'INT64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(8 * i, true));
      break;
  }
  return out;
}

const FIELDS = [...new Set(Object.values(CONTENTS_FIELD).filter((f) => f !== null)), 'bytes_contents'] as const;

/** Typed contents to float32 values, or what is wrong: FP16 has no typed field; values in another datatype's field. */
export function fromContents(contents: WireContents | null | undefined, datatype: Datatype): Float32Array | string {
  const field = CONTENTS_FIELD[datatype];
  if (field === null) return `${datatype} has no typed contents field; it travels in raw contents`;
  if (!contents) return 'neither contents nor raw contents';
  const other = FIELDS.find((f) => f !== field && contents[f].length > 0);
  if (other !== undefined) return `datatype ${datatype} with values in ${other} (expected ${field})`;
  const values = contents[field] as readonly (number | boolean | Int64)[];
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    out[i] = typeof v === 'boolean' ? (v ? 1 : 0) : toNumber(v);
  }
  return out;
}

/**
 * BYTES raw contents, as the protocol serialises them: each element a 4-byte little-endian
 * length, then that many bytes. Null when the lengths do not add up to the whole.
 */
export function bytesElements(raw: Uint8Array): Uint8Array[] | null {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < raw.length; ) {
    if (at + 4 > raw.length) return null;
    const length = view.getUint32(at, true);
    if (at + 4 + length > raw.length) return null;
    out.push(raw.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

/**
 * A BYTES tensor of text, [B] or [B, 1]: each element through the text decoder (`decode`),
 * one sample each; any element refused refuses the message, by its reason.
 */
export function samplesOfElements(elements: readonly Uint8Array[], shape: readonly number[], decode: Decoder): SamplesResult {
  const count = elementCount(shape);
  if (shape.length === 0 || shape.length > 2 || count !== shape[0] || count === 0) {
    return fail('wrong_shape', `BYTES tensor shape ${formatShape(shape)}, expected [B] or [B,1] with B >= 1 (one text a sample)`);
  }
  if (elements.length !== count) return fail('wrong_size', `${elements.length} elements for shape ${formatShape(shape)}`);
  const rows: Float32Array[] = [];
  for (const element of elements) {
    const row = decode(element);
    if (!row.ok) return row;
    rows.push(row.value);
  }
  return ok(rows);
}

/** IEEE 754 binary16 to a number: every half is exactly a float32. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}
