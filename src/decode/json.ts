import { z } from 'zod';
import { acceptFinite } from './finite.js';
import { fitsSampleShape, formatShape, reject, type DecodeResult } from './types.js';

/**
 * json: `{"input": [...]}` or, for a model with several inputs, `{"inputs": {"name": [...]}}`.
 * The array is either flat (sampleSize numbers) or nested to sampleShape, with or
 * without a leading batch dimension of 1.
 *
 * Hostile payloads: the size is bounded before this runs; nesting depth is bounded by
 * a byte scan before JSON.parse; the envelope is a strict zod object, so `__proto__`
 * or `constructor` at the top are unknown keys; inside `inputs` only own properties
 * are read and those names are refused outright; values are copied into a fresh
 * Float32Array, never merged into an object. Nothing from the payload can reach a
 * prototype.
 */

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const envelopeSchema = z.union([
  z.strictObject({ input: z.array(z.unknown()) }),
  z.strictObject({ inputs: z.custom<object>((v) => typeof v === 'object' && v !== null && !Array.isArray(v)) }),
]);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Deepest nesting of [ and { outside strings; a byte scan is safe on UTF-8 (no ASCII inside multi-byte characters). */
export function jsonDepth(bytes: Uint8Array, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c) i++; // backslash: skip the escaped character
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      depth++;
      deepest = Math.max(deepest, depth);
      if (deepest > limit) return deepest; // no need to read on
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return deepest;
}

function quoted(key: string): string {
  return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}...` : key);
}

function pickInput(envelope: z.infer<typeof envelopeSchema>, inputName: string): { ok: true; value: unknown } | { ok: false; detail: string } {
  if ('input' in envelope) return { ok: true, value: envelope.input };
  const names = Object.keys(envelope.inputs);
  const forbidden = names.find((k) => FORBIDDEN_KEYS.has(k));
  if (forbidden !== undefined) return { ok: false, detail: `forbidden key ${quoted(forbidden)} in "inputs"` };
  if (!Object.hasOwn(envelope.inputs, inputName)) {
    const found = names.slice(0, 5).map(quoted).join(', ') + (names.length > 5 ? ', ...' : '');
    return { ok: false, detail: `"inputs" has no ${quoted(inputName)} (found ${found || 'no names'})` };
  }
  return { ok: true, value: (envelope.inputs as Record<string, unknown>)[inputName] };
}

/** Dimensions along the first elements: [[1,2],[3,4]] -> [2, 2]; stops past maxDepth. */
function leadingDims(value: unknown, maxDepth: number): number[] {
  const dims: number[] = [];
  let v = value;
  while (Array.isArray(v) && dims.length <= maxDepth) {
    dims.push(v.length);
    v = v[0];
  }
  return dims;
}

/** Copies a nested array of exactly `dims` into `out`; a string or a ragged row is an error. */
function fill(value: unknown, dims: readonly number[], out: Float32Array): string | undefined {
  let next = 0;
  const walk = (v: unknown, level: number): string | undefined => {
    if (level === dims.length) {
      if (typeof v !== 'number') return `expected a number, found ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`;
      out[next++] = v;
      return undefined;
    }
    if (!Array.isArray(v) || v.length !== dims[level]) return `ragged array: expected ${dims[level]} items at depth ${level + 1}`;
    for (const item of v) {
      const problem = walk(item, level + 1);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
  return walk(value, 0);
}

export function decodeJsonMessage(bytes: Uint8Array, inputName: string, sampleShape: readonly number[]): DecodeResult {
  // Envelope object, optional "inputs" object, optional batch dimension, the sample's dimensions.
  const maxDepth = sampleShape.length + 3;
  if (jsonDepth(bytes, maxDepth) > maxDepth) return reject('bad_json', `nested deeper than ${maxDepth} levels`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(bytes));
  } catch (error) {
    // TextDecoder and JSON.parse throw TypeError / SyntaxError with a one-line message.
    return reject('bad_json', error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'unreadable');
  }
  const envelope = envelopeSchema.safeParse(parsed);
  if (!envelope.success) return reject('bad_envelope', 'expected {"input": [...]} or {"inputs": {"<name>": [...]}}');
  const input = pickInput(envelope.data, inputName);
  if (!input.ok) return reject('bad_envelope', input.detail);

  if (!Array.isArray(input.value)) return reject('bad_envelope', 'the input must be an array of numbers');
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  const dims = leadingDims(input.value, sampleShape.length + 1);
  const flat = dims.length === 1 && dims[0] === sampleSize;
  if (!flat && !fitsSampleShape(dims, sampleShape)) {
    const shown = dims.length > sampleShape.length + 1 ? 'nested too deep' : `shape ${formatShape(dims)}`;
    return reject('wrong_shape', `${shown}, expected ${formatShape(sampleShape)} or ${sampleSize} numbers`);
  }
  const sample = new Float32Array(sampleSize);
  const problem = fill(input.value, dims, sample);
  if (problem !== undefined) return reject(problem.startsWith('ragged') ? 'wrong_shape' : 'bad_envelope', problem);
  return acceptFinite(sample);
}
