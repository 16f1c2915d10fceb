/**
 * model.responses: the samples are a served model's output tensor, read from its responses
 * (ModelInferResponse typed or raw, v2 JSON "outputs", v1 "predictions"); requests and
 * malformed responses are refused by a reason of the closed set.
 */
import { describe, expect, it } from 'vitest';
import { createMessageDecoder, defaultMaxMessageBytes, REJECT_REASONS, type MessageHeaders } from '../../../src/decode/message.js';
import { encodeInferRequest, encodeInferResponse } from '../../../src/decode/oip/messages.js';
import type { ServingEncoding } from '../../../src/config/vocabulary.js';
import { servedInputName } from '../../../src/model/graph/identity.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The decoder the daemon builds for model.responses {tensor: logits, shape: [4]}. */
function decoder(encoding: ServingEncoding, responses = true) {
  const d = createMessageDecoder({
    encoding,
    inputs: [{ name: servedInputName('logits'), type: 'float32', sampleShape: [4] }],
    tensor: 'logits',
    maxMessageBytes: defaultMaxMessageBytes(encoding, 4),
    responses,
  });
  if (d.mode !== 'sync') throw new Error('sync expected');
  return (bytes: Uint8Array, headers?: MessageHeaders) => d.decode(bytes, headers);
}

/** Rows as plain arrays, or the reason. */
function rows(r: ReturnType<ReturnType<typeof decoder>>): number[][] | string {
  if (!r.ok) {
    expect(REJECT_REASONS).toContain(r.reason);
    return r.reason;
  }
  return (Array.isArray(r.value) ? r.value : [r.value]).map((row: Float32Array) => Array.from(row));
}

const logits = [
  [0.5, -1.25, 3, 0],
  [2, 0.25, -0.5, 1.5],
];
const flat = logits.flat();
const f32 = (values: readonly number[]): Buffer => Buffer.from(new Float32Array(values).buffer);
const f64 = (values: readonly number[]): Buffer => Buffer.from(new Float64Array(values).buffer);
/** A classifier's two outputs, the probabilities first: the configured tensor is picked by name. */
const probabilities = { name: 'probabilities', datatype: 'FP32', shape: [2, 4] };
const CE_RESPONSE = { ce_type: 'org.kubeflow.serving.inference.response', ce_id: 'r1', 'content-type': 'application/json' };
const CE_REQUEST = { ce_type: 'org.kubeflow.serving.inference.request', ce_id: 'q1', 'content-type': 'application/json' };

describe('serving responses as samples (model.responses)', () => {
  it('ModelInferResponse, typed fp32_contents and fp64_contents: each row of [B, 4] a sample', () => {
    const decode = decoder('oip-protobuf');
    const typed = encodeInferResponse({ model_name: 'digits', id: 'a', outputs: [{ ...probabilities, contents: { fp32_contents: new Array<number>(8).fill(0.25) } }, { name: 'logits', datatype: 'FP32', shape: [2, 4], contents: { fp32_contents: flat } }] });
    expect(rows(decode(typed))).toEqual(logits);
    const doubles = encodeInferResponse({ outputs: [{ name: 'logits', datatype: 'FP64', shape: [2, 4], contents: { fp64_contents: flat } }] });
    expect(rows(decode(doubles))).toEqual(logits);
  });

  it('ModelInferResponse, raw_output_contents: the entry at the tensor\'s position, FP32 or FP64; [B, 4] or one sample [4]', () => {
    const decode = decoder('oip-protobuf');
    const raw = encodeInferResponse({ outputs: [probabilities, { name: 'logits', datatype: 'FP32', shape: [2, 4] }], raw_output_contents: [f32(new Array<number>(8).fill(0.25)), f32(flat)] });
    expect(rows(decode(raw))).toEqual(logits);
    const wide = encodeInferResponse({ outputs: [{ name: 'logits', datatype: 'FP64', shape: [4] }], raw_output_contents: [f64(logits[1]!)] });
    expect(rows(decode(wide))).toEqual([logits[1]]);
    // encoding auto: no content type, not JSON, so protobuf (Seldon writes none).
    expect(rows(decoder('auto')(raw))).toEqual(logits);
  });

  it('v2 JSON {"outputs"} (oip-json, and auto with KServe\'s response CloudEvent), v1 {"predictions"} (kserve-v1-json)', () => {
    const body = utf8(JSON.stringify({ model_name: 'digits', id: 'r1', outputs: [{ ...probabilities, data: new Array<number>(8).fill(0.25) }, { name: 'logits', datatype: 'FP32', shape: [2, 4], data: flat }] }));
    expect(rows(decoder('oip-json')(body))).toEqual(logits);
    expect(rows(decoder('auto')(body, CE_RESPONSE))).toEqual(logits);
    const nested = utf8(JSON.stringify({ outputs: [{ name: 'logits', datatype: 'FP32', shape: [2, 4], data: logits }] }));
    expect(rows(decoder('oip-json')(nested))).toEqual(logits);
    expect(rows(decoder('kserve-v1-json')(utf8(JSON.stringify({ predictions: logits }))))).toEqual(logits);
    expect(rows(decoder('auto')(utf8(JSON.stringify({ predictions: logits })), CE_RESPONSE))).toEqual(logits);
  });

  it('requests and bad responses are refused by reason', () => {
    const proto = decoder('oip-protobuf');
    const json = decoder('oip-json');
    const auto = decoder('auto');
    // A request where responses are read: its tensors are inputs (field 5 too), none named logits.
    const request = encodeInferRequest({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } }] });
    expect(rows(proto(request))).toBe('no_tensor');
    expect(rows(auto(utf8(JSON.stringify({ inputs: [{ name: 'logits', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] })), CE_REQUEST))).toBe('not_response');
    expect(rows(json(utf8(JSON.stringify({ inputs: [{ name: 'logits', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }))))).toBe('bad_envelope');
    expect(rows(decoder('kserve-v1-json')(utf8(JSON.stringify({ instances: logits }))))).toBe('bad_envelope');
    expect(rows(proto(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])))).toBe('bad_protobuf');
    expect(rows(proto(encodeInferResponse({ model_name: 'digits', outputs: [] })))).toBe('no_tensor');
    expect(rows(proto(encodeInferResponse({ outputs: [{ name: 'logits', datatype: 'FP32', shape: [2, 3], contents: { fp32_contents: [1, 2, 3, 4, 5, 6] } }] })))).toBe('wrong_shape');
    expect(rows(proto(encodeInferResponse({ outputs: [{ name: 'logits', datatype: 'FP32', shape: [2, 4] }], raw_output_contents: [f32(flat.slice(1))] })))).toBe('wrong_size');
    expect(rows(proto(encodeInferResponse({ outputs: [probabilities, { name: 'logits', datatype: 'FP32', shape: [2, 4] }], raw_output_contents: [f32(flat)] })))).toBe('wrong_size');
    expect(rows(proto(encodeInferResponse({ outputs: [{ name: 'logits', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, Number.NaN, 3, 4] } }] })))).toBe('not_finite');
    expect(rows(proto(encodeInferResponse({ outputs: [{ name: 'logits', datatype: 'BYTES', shape: [1], contents: { bytes_contents: [Buffer.from('7')] } }] })))).toBe('bytes_tensor');
    expect(rows(json(utf8(JSON.stringify({ outputs: [{ name: 'logits', datatype: 'FP32', shape: [1, 4], data: [1, 2, 'x', 4] }] }))))).toBe('wrong_dtype');
  });

  it('without model.responses, responses stay refused as not_request and requests are read as before', () => {
    const auto = decoder('auto', false);
    const response = utf8(JSON.stringify({ outputs: [{ name: 'logits', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }));
    expect(rows(auto(response, CE_RESPONSE))).toBe('not_request');
    const request = utf8(JSON.stringify({ inputs: [{ name: 'logits', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }));
    expect(rows(auto(request, CE_REQUEST))).toEqual([[1, 2, 3, 4]]);
  });
});
