import { describe, expect, it } from 'vitest';
import { createMessageDecoder, defaultMaxMessageBytes, type MessageHeaders } from '../../../src/decode/message.js';
import { encodeInferRequest } from '../../../src/decode/oip/messages.js';
import { halfToFloat, rowsOf } from '../../../src/decode/oip/tensor.js';
import type { ServingEncoding } from '../../../src/config/vocabulary.js';
import { ConfigError } from '../../../src/errors/index.js';
import { thrownMessage } from '../../helpers/errors.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function decoder(encoding: ServingEncoding, options: { type?: 'float32' | 'int64'; maxMessageBytes?: number; tensor?: string | number } = {}) {
  const d = createMessageDecoder({
    encoding,
    inputs: [{ name: 'input0', type: options.type ?? 'float32', sampleShape: [2, 3] }],
    tensor: options.tensor,
    maxMessageBytes: options.maxMessageBytes ?? defaultMaxMessageBytes(encoding, 6),
  });
  if (d.mode !== 'sync') throw new Error('sync expected');
  return (bytes: Uint8Array, headers?: MessageHeaders) => d.decode(bytes, headers);
}

const reason = (r: { ok: boolean; reason?: string }): string => (r.ok ? 'accepted' : r.reason!);

describe('serving encodings', () => {
  it('rowsOf: [B, ...sample], [B, sampleSize] and the sample alone; nothing else', () => {
    expect(rowsOf([5, 2, 3], [2, 3])).toBe(5);
    expect(rowsOf([5, 6], [2, 3])).toBe(5);
    expect(rowsOf([2, 3], [2, 3])).toBe(1);
    expect(rowsOf([0, 2, 3], [2, 3])).toBe(0);
    expect(rowsOf([5, 3, 2], [2, 3])).toBeNull();
    expect(rowsOf([6], [2, 3])).toBeNull();
    expect(rowsOf([], [2, 3])).toBeNull();
    expect(rowsOf([-1, 2, 3], [2, 3])).toBeNull();
  });

  it('halfToFloat: zero, subnormals, the largest half, infinities and NaN', () => {
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
  });

  it('empty and oversize messages are refused before parsing, in every serving encoding', () => {
    for (const encoding of ['oip-protobuf', 'oip-json', 'kserve-v1-json', 'auto'] as const) {
      const decode = decoder(encoding, { maxMessageBytes: 64 });
      expect(reason(decode(new Uint8Array(0)))).toBe('empty');
      expect(reason(decode(new Uint8Array(65)))).toBe('oversize');
    }
  });

  it('a model input of int64 takes whole numbers below 2^24 only', () => {
    const request = (data: number[]) => utf8(JSON.stringify({ inputs: [{ name: 'input0', shape: [1, 2, 3], datatype: 'INT64', data }] }));
    const decode = decoder('oip-json', { type: 'int64' });
    expect(reason(decode(request([1, 2, 3, 4, 5, 6])))).toBe('accepted');
    expect(reason(decode(request([1, 2, 3, 4, 5, 2 ** 24])))).toBe('wrong_dtype');
  });

  it('auto reads the HTTP binding\'s ce-type too, and a protobuf request with content-type application/protobuf', () => {
    const decode = decoder('auto');
    const response = utf8('{"outputs": []}');
    expect(reason(decode(response, { 'ce-type': 'org.kubeflow.serving.inference.response' }))).toBe('not_request');
    const bytes = encodeInferRequest({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 6], contents: { fp32_contents: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] } }] });
    const result = decode(bytes, { 'content-type': 'application/protobuf' });
    expect(result.ok && (result.value as Float32Array[]).map((r) => Array.from(r))).toEqual([
      [0, 1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10, 11],
    ]);
  });

  it('a JSON shape claiming far more values than the body holds is refused unallocated', () => {
    const decode = decoder('oip-json');
    const body = utf8(JSON.stringify({ inputs: [{ name: 'input0', shape: [1e9, 2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] }));
    expect(reason(decode(body))).toBe('wrong_size');
  });

  it('hostile JSON: __proto__ keys are never read, deep nesting is bad_json', () => {
    const decode = decoder('kserve-v1-json');
    expect(reason(decode(utf8('{"__proto__": {"instances": [[1,2,3],[4,5,6]]}}')))).toBe('bad_envelope');
    expect(reason(decode(utf8(`{"instances": ${'['.repeat(50)}${']'.repeat(50)}}`)))).toBe('bad_json');
  });

  it('a model of several inputs is a config error naming input.name', () => {
    const make = () =>
      createMessageDecoder({
        encoding: 'oip-protobuf',
        inputs: [
          { name: 'a', type: 'float32', sampleShape: [2] },
          { name: 'b', type: 'float32', sampleShape: [2] },
        ],
        tensor: undefined,
        maxMessageBytes: 1000,
      });
    expect(thrownMessage(make, ConfigError)).toMatch(/input\.name/);
  });
});
