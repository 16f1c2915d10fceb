import { fail, ok, type Result } from '../io/result.js';
import { reject, type DecodeResult, type RejectReason } from './types.js';

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

/**
 * Finite is not enough: one sample of 1e30s (or text bytes read as float32) is finite, yet
 * after the graph subtracts the batch mean it spreads into every row of the float32 Gram,
 * which overflows and takes the batch's good samples with it. Such a sample is refused
 * alone, before it reaches a batch.
 */
export function acceptInRange(sample: Float32Array, maxAbs: number): DecodeResult {
  for (let i = 0; i < sample.length; i++) {
    if (Math.abs(sample[i]!) > maxAbs) return reject('out_of_range', `value ${sample[i]} at index ${i} is beyond ±${maxAbs} (input.maxAbs)`);
  }
  return ok(sample);
}

/**
 * A message's samples, each within ±maxAbs, or the first bad one's reason: one poison sample
 * refuses its whole message (rejections count messages), and no samples at all is `empty`.
 */
export function samplesInRange(value: Float32Array | readonly Float32Array[], maxAbs: number): Result<readonly Float32Array[], RejectReason> {
  const samples = value instanceof Float32Array ? [value] : value;
  if (samples.length === 0) return fail('empty', 'a message of no samples');
  for (const sample of samples) {
    const checked = acceptInRange(sample, maxAbs);
    if (!checked.ok) return checked;
  }
  return ok(samples);
}

/** How far past the reference's largest |value| a sample may go by default (input.maxAbs). */
export const DEFAULT_RANGE_FACTOR = 1000;

/**
 * input.maxAbs when not configured: DEFAULT_RANGE_FACTOR x the reference's largest |value|
 * (1 for an all-zero reference). Wide enough that drift (brightness, scale, units off by
 * 10 or 100) is scored, not refused; narrow enough that the float32 Gram keeps its precision.
 */
export function defaultMaxAbs(reference: Float32Array): number {
  let largest = 0;
  for (let i = 0; i < reference.length; i++) largest = Math.max(largest, Math.abs(reference[i]!));
  return DEFAULT_RANGE_FACTOR * (largest > 0 ? largest : 1);
}
