/** For the suites that run models: a relative error for Grams and outputs, and ORT in this process. */
import ort from 'onnxruntime-node';
import { expect } from 'vitest';
import type { Numeric } from '../../src/cka/gram.js';

/** max |a - b| over max |b|: a relative error that ignores near-zero entries' own scale. */
export function relativeError(actual: Numeric, expected: Numeric): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Runs model bytes in this thread on the CPU and returns every output as Float32Array. */
export async function runInProcess(
  bytes: Uint8Array,
  feeds: Record<string, { data: Float32Array; dims: number[] }>,
): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  try {
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds)) tensors[name] = new ort.Tensor('float32', f.data, f.dims);
    const results = await session.run(tensors);
    const out: Record<string, Float32Array> = {};
    for (const [name, t] of Object.entries(results)) out[name] = t.data as Float32Array;
    return out;
  } finally {
    await session.release();
  }
}
