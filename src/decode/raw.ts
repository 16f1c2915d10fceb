import { readFloat32LE } from '../io/little-endian.js';
import { acceptFinite } from './finite.js';
import { reject, type DecodeResult } from './types.js';

/** raw-f32: exactly sampleSize little-endian float32 values, nothing else. */
export function decodeRaw(bytes: Uint8Array, sampleSize: number): DecodeResult {
  if (bytes.length !== sampleSize * 4) {
    return reject('wrong_size', `${bytes.length} bytes, expected ${sampleSize * 4} (${sampleSize} float32 values)`);
  }
  return acceptFinite(readFloat32LE(bytes, 0, sampleSize));
}
