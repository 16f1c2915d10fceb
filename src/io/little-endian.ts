/**
 * Copies of little-endian numbers out of a byte range that may start anywhere.
 *
 * Kafka payloads and fs reads are Buffers that are slices of larger pools, so their
 * `byteOffset` is often not a multiple of 4 or 8 and `new Float32Array(buf.buffer,
 * buf.byteOffset)` would throw (or, on a pool, alias other messages' bytes). Copying
 * the bytes into a fresh ArrayBuffer gives an aligned, private array; on a big-endian
 * host (none that Node ships for today, but cheap to get right) values go through a
 * DataView instead.
 */

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function copyBytes(bytes: Uint8Array, offset: number, byteLength: number): ArrayBuffer {
  const out = new Uint8Array(byteLength);
  out.set(bytes.subarray(offset, offset + byteLength));
  return out.buffer;
}

function view(bytes: Uint8Array, offset: number, byteLength: number): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset + offset, byteLength);
}

/**
 * `owned` says that `bytes` is a fresh buffer no one else holds (a file read into
 * memory for this array alone): then an aligned range is viewed in place, not copied.
 */
function canView(bytes: Uint8Array, offset: number, owned: boolean): boolean {
  return owned && hostIsLittleEndian && (bytes.byteOffset + offset) % 4 === 0;
}

export function readFloat32LE(bytes: Uint8Array, offset: number, count: number, owned = false): Float32Array {
  if (canView(bytes, offset, owned)) return new Float32Array(bytes.buffer, bytes.byteOffset + offset, count);
  if (hostIsLittleEndian) return new Float32Array(copyBytes(bytes, offset, count * 4));
  const v = view(bytes, offset, count * 4);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = v.getFloat32(i * 4, true);
  return out;
}

/** float64 values narrowed to float32; magnitudes beyond float32 become ±Infinity (callers check finiteness). */
export function readFloat64LEAsFloat32(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  if (hostIsLittleEndian) {
    out.set(new Float64Array(copyBytes(bytes, offset, count * 8)));
    return out;
  }
  const v = view(bytes, offset, count * 8);
  for (let i = 0; i < count; i++) out[i] = v.getFloat64(i * 8, true);
  return out;
}

export function readInt32LE(bytes: Uint8Array, offset: number, count: number, owned = false): Int32Array {
  if (canView(bytes, offset, owned)) return new Int32Array(bytes.buffer, bytes.byteOffset + offset, count);
  if (hostIsLittleEndian) return new Int32Array(copyBytes(bytes, offset, count * 4));
  const v = view(bytes, offset, count * 4);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = v.getInt32(i * 4, true);
  return out;
}

/**
 * int64 values narrowed to int32 (labels and class ids), or the index of the first
 * value that does not fit, so that the caller can say which one.
 */
export function readInt64LEAsInt32(
  bytes: Uint8Array,
  offset: number,
  count: number,
): { ok: true; value: Int32Array } | { ok: false; index: number; found: bigint } {
  const v = view(bytes, offset, count * 8);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const x = v.getBigInt64(i * 8, true);
    if (x < -2147483648n || x > 2147483647n) return { ok: false, index: i, found: x };
    out[i] = Number(x);
  }
  return { ok: true, value: out };
}

/** Little-endian bytes of a typed array, for writers (the .npy encoder). */
export function toLittleEndianBytes(data: Float32Array | Float64Array | Int32Array | BigInt64Array): Uint8Array {
  if (hostIsLittleEndian) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint8Array(data.byteLength);
  const v = new DataView(out.buffer);
  const size = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) v.setFloat32(i * size, data[i]!, true);
    else if (data instanceof Float64Array) v.setFloat64(i * size, data[i]!, true);
    else if (data instanceof Int32Array) v.setInt32(i * size, data[i]!, true);
    else v.setBigInt64(i * size, data[i]!, true);
  }
  return out;
}
