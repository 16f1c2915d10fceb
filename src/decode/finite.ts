import { ok } from '../io/result.js';
import { reject, type DecodeResult } from './types.js';

/**
 * The last check on every path: one NaN or Infinity would poison every Gram entry of
 * its batch (and every window sum after it), so such a sample never gets in.
 */
export function acceptFinite(sample: Float32Array): DecodeResult {
  for (let i = 0; i < sample.length; i++) {
    if (!Number.isFinite(sample[i]!)) return reject('not_finite', `value ${sample[i]} at index ${i}`);
  }
  return ok(sample);
}
