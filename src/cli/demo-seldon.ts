/**
 * `ckawatch demo --kind seldon`: the digits demo's stream as Seldon Core 2 writes a model's
 * `.inputs` topic. Each message is an `inference.ModelInferRequest` (Open Inference Protocol)
 * of 1 or 8 digits, the tensor [B, 1, 28, 28] FP32, in raw_input_contents or in typed
 * fp32_contents by turns; the daemon reads them with `input.encoding: oip-protobuf`.
 */
import { encodeInferRequest } from '../decode/oip/messages.js';

/** Request sizes, in turn: single requests and small client-side batches, mixed. */
const SIZES = [8, 1, 8, 8, 1];
export const MEAN_REQUEST_SIZE = SIZES.reduce((a, b) => a + b, 0) / SIZES.length;

/** Request `i` of the stream, its digits drawn by `digit`. */
export function seldonRequest(i: number, digit: () => Float32Array): Uint8Array {
  const b = SIZES[i % SIZES.length]!;
  const values = new Float32Array(b * 784);
  for (let r = 0; r < b; r++) values.set(digit(), r * 784);
  const shape = [b, 1, 28, 28];
  const id = `demo-${i}`;
  return i % 2 === 0
    ? encodeInferRequest({ model_name: 'digits', id, inputs: [{ name: 'input', datatype: 'FP32', shape }], raw_input_contents: [new Uint8Array(values.buffer)] })
    : encodeInferRequest({ model_name: 'digits', id, inputs: [{ name: 'input', datatype: 'FP32', shape, contents: { fp32_contents: Array.from(values) } }] });
}
