/** Shared by the test/model suites: fixture paths, seeded inputs, a capturing logger, ORT in-process. */
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { expect } from 'vitest';
import type { Numeric } from '../../src/cka/gram.js';
import { silentLogger, type Logger } from '../../src/util/logger.js';

export const tinyPath = (name: string): string => fileURLToPath(new URL(`../fixtures/tiny/${name}`, import.meta.url));
export const fixturePath = (name: string): string => fileURLToPath(new URL(`../fixtures/models/${name}`, import.meta.url));

/** Seeded uniform values in [-1, 1) (mulberry32): the same inputs on every run. */
export function seededInput(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

export interface LogEntry {
  readonly fields: object;
  readonly message: string;
}

export function captureLogger(): { logger: Logger; warnings: LogEntry[]; infos: LogEntry[] } {
  const warnings: LogEntry[] = [];
  const infos: LogEntry[] = [];
  return {
    logger: {
      ...silentLogger,
      warn: (fields, message = '') => warnings.push({ fields, message }),
      info: (fields, message = '') => infos.push({ fields, message }),
    },
    warnings,
    infos,
  };
}

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
