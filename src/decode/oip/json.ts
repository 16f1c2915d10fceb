/**
 * The JSON bodies of KServe's two protocols, as its payload logger sends them:
 *
 *   oip-json        v2: {"inputs": [{"name", "shape", "datatype", "data"}, ...], "id"?, "parameters"?, ...}
 *   kserve-v1-json  v1: {"instances": [<sample>, ...]}, each sample nested to the model
 *                   input's shape (or flat), or {"<tensor>": <sample>} per instance
 *
 * With `responses` (model.responses) the bodies are the answers: v2 {"outputs": [...]} with the
 * same tensor fields, v1 {"predictions": [<sample>, ...]}.
 *
 * `data` is row-major, flat or nested to `shape`. Hostile bodies: the size is bounded before
 * this runs and the nesting depth by a byte scan before JSON.parse (json.ts); zod reads only
 * the keys named here, so `__proto__` and friends in a body never reach an object of ours.
 */
import { z } from 'zod';
import { fail, type Result } from '../../io/result.js';
import { jsonDepth } from '../json.js';
import { decodeBase64 } from '../envelope.js';
import type { RejectReason } from '../types.js';
import { checkDatatype, samplesOfElements, toSamples, type Datatype, type SamplesResult } from './tensor.js';
import { pickTensor, type TensorChoice } from './pick.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

const v2Tensors = z.array(
  z.object({
    name: z.string(),
    datatype: z.string(),
    shape: z.array(z.number().int().min(0)),
    // Checked as an array only: z.array would visit (and copy) every value, which fill() reads anyway.
    data: z.custom<unknown[]>(Array.isArray),
  }),
);
const v2Body = z.object({ inputs: v2Tensors });
const v2Response = z.object({ outputs: v2Tensors });

const v1Body = z.object({ instances: z.custom<unknown[]>((v) => Array.isArray(v) && v.length > 0) });
const v1Response = z.object({ predictions: z.custom<unknown[]>((v) => Array.isArray(v) && v.length > 0) });

function parse(bytes: Uint8Array, maxDepth: number): Result<unknown, RejectReason> {
  if (jsonDepth(bytes, maxDepth) > maxDepth) return fail('bad_json', `nested deeper than ${maxDepth} levels`);
  try {
    return { ok: true, value: JSON.parse(utf8.decode(bytes)) };
  } catch (error) {
    // TextDecoder and JSON.parse throw TypeError / SyntaxError with a one-line message.
    return fail('bad_json', error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'unreadable');
  }
}

/** A JSON value as float32 under a datatype's rules; a string says what is wrong. */
function convert(v: unknown, datatype: Datatype): number | string {
  if (datatype === 'BOOL') return typeof v === 'boolean' ? (v ? 1 : 0) : `expected true or false (BOOL), found ${typeof v}`;
  if (typeof v !== 'number') return `expected a number, found ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`;
  if (datatype.startsWith('FP') || Number.isInteger(v)) return v;
  return `expected an integer (${datatype}), found ${v}`;
}

/** Copies `data` (flat, or nested exactly to `dims`) into `out`, converting each value. */
function fill(data: readonly unknown[], dims: readonly number[], out: Float32Array, datatype: Datatype): string | undefined {
  if (data.length === out.length && !Array.isArray(data[0])) {
    for (let i = 0; i < data.length; i++) {
      const v = convert(data[i], datatype);
      if (typeof v === 'string') return v;
      out[i] = v;
    }
    return undefined;
  }
  let next = 0;
  const walk = (v: unknown, level: number): string | undefined => {
    if (level === dims.length) {
      const x = convert(v, datatype);
      if (typeof x === 'string') return x;
      out[next++] = x;
      return undefined;
    }
    if (!Array.isArray(v) || v.length !== dims[level]) return `ragged data: expected ${dims[level]} items at depth ${level + 1}`;
    for (const item of v) {
      const problem = walk(item, level + 1);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
  return walk(data, 0);
}

/** Nested values to samples: the count is checked against the shape before the copy. */
function samplesFrom(data: readonly unknown[], shape: readonly number[], datatype: Datatype, sampleShape: readonly number[]): SamplesResult {
  const count = shape.reduce((a, b) => a * b, 1);
  // Every value takes at least 2 bytes of JSON ("0,"): a shape claiming more than the body could hold is refused unallocated.
  if (!Number.isSafeInteger(count) || count > 2 * data.length * sampleShape.reduce((a, b) => a * b, 1) + 1e6) {
    return fail('wrong_size', `shape [${shape.join(',')}] claims ${count} values`);
  }
  const values = new Float32Array(count);
  const problem = fill(data, shape, values, datatype);
  if (problem !== undefined) return fail(problem.startsWith('ragged') ? 'wrong_size' : 'wrong_dtype', problem);
  return toSamples(values, shape, sampleShape);
}

const encoder = new TextEncoder();

/**
 * Strings (flat, or [[s], [s]] as a [B, 1] tensor; for images also {"b64": s}) as element
 * bytes: UTF-8 for text, base64-decoded for images. Null if any is not one.
 */
function textsOf(data: readonly unknown[], strings: 'utf8' | 'base64' = 'utf8'): Uint8Array[] | null {
  const flat = data.map((d) => (Array.isArray(d) && d.length === 1 ? (d[0] as unknown) : d));
  const text = flat.map((d) => (typeof d === 'string' ? d : typeof d === 'object' && d !== null && Object.hasOwn(d, 'b64') ? (d as { b64: unknown }).b64 : undefined));
  if (!text.every((d) => typeof d === 'string')) return null;
  const out = (text as string[]).map((s) => (strings === 'base64' ? decodeBase64(s) : encoder.encode(s)));
  return out.every((b) => b !== null) ? (out as Uint8Array[]) : null;
}

/** Which body a JSON message must be; `either` (encoding auto) tells them apart by their key. */
export type JsonBody = 'v2' | 'v1' | 'either';

export function decodeServingJson(bytes: Uint8Array, body: JsonBody, choice: TensorChoice, sampleShape: readonly number[], responses = false): SamplesResult {
  // v2: body { inputs [ tensor { data [batch [sample dims...]]}}}, one level of slack; v1 needs one level less.
  const parsed = parse(bytes, sampleShape.length + 5);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  const has = (key: string): boolean => typeof value === 'object' && value !== null && Object.hasOwn(value, key);
  const [v2Key, v1Key] = responses ? ['outputs', 'predictions'] : ['inputs', 'instances'];
  if (body === 'v2' || (body === 'either' && has(v2Key))) return fromV2(value, choice, sampleShape, responses);
  if (body === 'v1' || (body === 'either' && has(v1Key))) return responses ? fromV1Predictions(value, sampleShape) : fromV1(value, choice, sampleShape);
  return fail('bad_envelope', `expected {"${v2Key}": [...]} (Open Inference Protocol v2) or {"${v1Key}": [...]} (KServe v1)`);
}

function fromV2(value: unknown, choice: TensorChoice, sampleShape: readonly number[], responses: boolean): SamplesResult {
  const body = (responses ? v2Response : v2Body).safeParse(value);
  const key = responses ? 'outputs' : 'inputs';
  if (!body.success) return fail('bad_envelope', `expected {"${key}": [{"name", "datatype", "shape", "data"}, ...]} (Open Inference Protocol v2)`);
  const tensors = 'outputs' in body.data ? body.data.outputs : body.data.inputs;
  const picked = pickTensor(tensors, choice);
  if (!picked.ok) return picked;
  const { tensor } = picked.value;
  if (choice.elements) {
    if (tensor.datatype !== 'BYTES') return fail('wrong_dtype', `input.${choice.strings === 'base64' ? 'image' : 'text'} is set: expected a BYTES tensor, found ${tensor.datatype.slice(0, 20)}`);
    const texts = textsOf(tensor.data, choice.strings);
    return texts === null ? fail('bad_envelope', `BYTES data must be strings${choice.strings === 'base64' ? ' of base64' : ''}`) : samplesOfElements(texts, tensor.shape, choice.elements);
  }
  const datatype = checkDatatype(tensor.datatype);
  if (!datatype.ok) return datatype;
  return samplesFrom(tensor.data, tensor.shape, datatype.value, sampleShape);
}

function fromV1(value: unknown, choice: TensorChoice, sampleShape: readonly number[]): SamplesResult {
  const body = v1Body.safeParse(value);
  if (!body.success) return fail('bad_envelope', 'expected {"instances": [...]} (KServe v1)');
  let instances = body.data.instances;
  // Named instances, {"<tensor>": [...]}: the configured tensor's (or the model input's) entry of each.
  // ({"b64": ...} instances are images themselves, as TensorFlow Serving's JSON writes binary.)
  if (instances.every((i) => typeof i === 'object' && i !== null && !Array.isArray(i) && !Object.hasOwn(i, 'b64'))) {
    const name = typeof choice.tensor === 'string' ? choice.tensor : choice.inputName;
    if (!instances.every((i) => Object.hasOwn(i as object, name))) return fail('no_tensor', `an instance without ${JSON.stringify(name.slice(0, 40))}`);
    instances = instances.map((i) => (i as Record<string, unknown>)[name]);
  }
  if (choice.elements) {
    const texts = textsOf(instances, choice.strings);
    return texts === null ? fail('bad_envelope', `expected instances of ${choice.strings === 'base64' ? 'base64 images' : 'text (strings)'}`) : samplesOfElements(texts, [texts.length], choice.elements);
  }
  return nestedRows(instances, sampleShape);
}

/** KServe v1 responses, {"predictions": [<sample>, ...]}: each prediction one sample of the output tensor. */
function fromV1Predictions(value: unknown, sampleShape: readonly number[]): SamplesResult {
  const body = v1Response.safeParse(value);
  if (!body.success) return fail('bad_envelope', 'expected {"predictions": [...]} (KServe v1)');
  return nestedRows(body.data.predictions, sampleShape);
}

function nestedRows(rows: readonly unknown[], sampleShape: readonly number[]): SamplesResult {
  // The batch's shape is read along the first elements; fill() refuses rows that differ.
  const dims: number[] = [rows.length];
  for (let v: unknown = rows[0]; Array.isArray(v) && dims.length <= sampleShape.length + 1; v = v[0]) dims.push(v.length);
  return samplesFrom(rows, dims, 'FP32', sampleShape);
}
