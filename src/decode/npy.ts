import { decodeNpyData } from '../io/npy.js';
import { parseNpyHeader } from '../io/npy-header.js';
import { acceptFinite } from './finite.js';
import { fitsSampleShape, formatShape, reject, type DecodeResult } from './types.js';

/**
 * npy: one sample as a .npy file, of shape sampleShape or [1, ...sampleShape], float32
 * or float64. The header is checked (dtype, shape, length) before any data is copied.
 */
export function decodeNpyMessage(bytes: Uint8Array, sampleShape: readonly number[]): DecodeResult {
  const header = parseNpyHeader(bytes);
  if (!header.ok) return reject(header.reason === 'unsupported_dtype' ? 'wrong_dtype' : 'bad_npy', header.detail);
  const { dtype, shape } = header.value;
  if (dtype !== '<f4' && dtype !== '<f8') return reject('wrong_dtype', `dtype '${dtype}', expected '<f4' or '<f8'`);
  if (!fitsSampleShape(shape, sampleShape)) {
    return reject('wrong_shape', `shape ${formatShape(shape)}, expected ${formatShape(sampleShape)} or ${formatShape([1, ...sampleShape])}`);
  }
  const array = decodeNpyData(bytes, header.value);
  if (!array.ok) return reject('bad_npy', array.detail);
  if (array.value.kind !== 'float32') return reject('wrong_dtype', `dtype '${dtype}'`);
  return acceptFinite(array.value.data);
}
