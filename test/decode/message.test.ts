import fc from 'fast-check';
import { describe, expect, it } from 'vitest';




import { ConfigError, ModelError } from '../../src/errors/index.js';



import { encodeNpy } from '../../src/io/npy.js';




import { createDecoder, defaultMaxMessageBytes, REJECT_REASONS, type DecodeResult } from '../../src/decode/message.js';
import { type Encoding } from '../../src/config/vocabulary.js';




const sampleShape = [1, 2, 3];
const sampleSize = 6;
const values = [0.5, -1, 2, 3.25, -4, 5];

function decoderFor(encoding: Encoding, maxMessageBytes = defaultMaxMessageBytes(encoding, sampleSize)) {
  return createDecoder({ encoding, inputName: 'pixels', sampleShape, maxMessageBytes });
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function rawBytes(v: readonly number[]): Uint8Array {
  return new Uint8Array(new Float32Array(v).buffer);
}

function outcome(r: DecodeResult): string | number[] {
  return r.ok ? [...r.value] : `${r.reason}: ${r.detail}`;
}

describe('createDecoder, raw-f32', () => {
  const decode = decoderFor('raw-f32');

  it('decodes exactly sampleSize little-endian floats', () => {
    expect(outcome(decode(rawBytes(values)))).toEqual(values);
  });

  it('reads from a Buffer slice at an unaligned offset', () => {
    for (const offset of [1, 2, 3, 5]) {
      const pool = Buffer.alloc(offset + 24 + 7, 0xff);
      Buffer.from(rawBytes(values)).copy(pool, offset);
      expect(outcome(decode(pool.subarray(offset, offset + 24)))).toEqual(values);
    }
  });

  it('rejects each problem with its reason', () => {
    expect(outcome(decode(new Uint8Array(0)))).toBe('empty: no bytes');
    expect(outcome(decode(new Uint8Array(23)))).toBe('wrong_size: 23 bytes, expected 24 (6 float32 values)');
    expect(outcome(decode(new Uint8Array(10_000)))).toBe('oversize: 10000 bytes, limit 4120');
    expect(outcome(decode(rawBytes([0, 1, NaN, 3, 4, 5])))).toBe('not_finite: value NaN at index 2');
    expect(outcome(decode(rawBytes([0, 1, 2, 3, 4, -Infinity])))).toBe('not_finite: value -Infinity at index 5');
  });

  it('refuses options that no message could satisfy', () => {
    expect(() => decoderFor('raw-f32', 23)).toThrow(ConfigError);
    expect(() => decoderFor('raw-f32', 23)).toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: config error at input.maxMessageBytes: expected a size from 24 (one raw-f32 sample of input 'pixels' [1,2,3]) to 67108864, found 23]`,
    );
    expect(() => createDecoder({ encoding: 'npy', inputName: 'x', sampleShape: [-1, 3], maxMessageBytes: 1000 })).toThrow(ModelError);
  });
});

describe('createDecoder, npy', () => {
  const decode = decoderFor('npy');

  it('takes one sample with or without a batch dimension of 1, float32 or float64', () => {
    expect(outcome(decode(encodeNpy(new Float32Array(values), [1, 2, 3])))).toEqual(values);
    expect(outcome(decode(encodeNpy(new Float32Array(values), [1, 1, 2, 3])))).toEqual(values);
    expect(outcome(decode(encodeNpy(new Float64Array(values), [1, 2, 3])))).toEqual(values);
  });

  it('rejects each problem with its reason', () => {
    expect(outcome(decode(encodeNpy(new Float32Array(values), [2, 3])))).toBe('wrong_shape: shape [2,3], expected [1,2,3] or [1,1,2,3]');
    expect(outcome(decode(encodeNpy(new Float32Array(values), [6])))).toMatch(/^wrong_shape/);
    expect(outcome(decode(encodeNpy(new Int32Array(6), [1, 2, 3])))).toBe("wrong_dtype: dtype '<i4', expected '<f4' or '<f8'");
    const be = encodeNpy(new Float32Array(values), [1, 2, 3]);
    be[12 + 9] = '>'.charCodeAt(0); // {'descr': '<f4' -> '>f4'
    expect(outcome(decode(be))).toMatch(/^wrong_dtype: big-endian dtype '>f4'/);
    expect(outcome(decode(rawBytes(values)))).toMatch(/^bad_npy: not a \.npy file/);
    expect(outcome(decode(encodeNpy(new Float32Array(values), [1, 2, 3]).subarray(0, 148)))).toMatch(/^bad_npy: shape \(1, 2, 3\) of <f4 needs 24 data bytes, found 20/);
    expect(outcome(decode(encodeNpy(new Float64Array([1, 2, 1e300, 4, 5, 6]), [1, 2, 3])))).toBe('not_finite: value Infinity at index 2');
  });

  it('reads from an unaligned offset', () => {
    const bytes = encodeNpy(new Float32Array(values), [1, 2, 3]);
    const pool = Buffer.alloc(bytes.length + 3);
    Buffer.from(bytes).copy(pool, 3);
    expect(outcome(decode(pool.subarray(3)))).toEqual(values);
  });
});

describe('createDecoder, json', () => {
  const decode = decoderFor('json');
  const json = (v: unknown): Uint8Array => utf8(JSON.stringify(v));

  it('takes flat or nested input, with or without a batch dimension, and named inputs', () => {
    expect(outcome(decode(json({ input: values })))).toEqual(values);
    expect(outcome(decode(json({ input: [[values.slice(0, 3), values.slice(3)]] })))).toEqual(values);
    expect(outcome(decode(json({ input: [[[values.slice(0, 3), values.slice(3)]]] })))).toEqual(values);
    expect(outcome(decode(json({ inputs: { mask: [1], pixels: values } })))).toEqual(values);
  });

  it('rejects each problem with its reason', () => {
    expect(outcome(decode(utf8('{"input": [1, 2,')))).toMatch(/^bad_json: /);
    expect(outcome(decode(new Uint8Array([0x7b, 0xff, 0x7d])))).toMatch(/^bad_json: /);
    expect(outcome(decode(utf8(`{"input": ${'['.repeat(50)}1${']'.repeat(50)}}`)))).toBe('bad_json: nested deeper than 6 levels');
    expect(outcome(decode(json([values])))).toMatch(/^bad_envelope: expected \{"input"/);
    expect(outcome(decode(json({ input: values, extra: 1 })))).toMatch(/^bad_envelope/);
    expect(outcome(decode(json({ inputs: { image: values } })))).toBe('bad_envelope: "inputs" has no "pixels" (found "image")');
    expect(outcome(decode(json({ input: [1, 2, 3, 4, 5, '6'] })))).toBe('bad_envelope: expected a number, found string');
    expect(outcome(decode(json({ input: [1, 2, 3, 4, 5, null] })))).toBe('bad_envelope: expected a number, found null');
    expect(outcome(decode(json({ inputs: { pixels: { 0: 1 } } })))).toBe('bad_envelope: the input must be an array of numbers');
    expect(outcome(decode(json({ input: [1, 2, 3] })))).toBe('wrong_shape: shape [3], expected [1,2,3] or 6 numbers');
    expect(outcome(decode(json({ input: [[[1, 2, 3], [4, 5]]] })))).toBe('wrong_shape: ragged array: expected 3 items at depth 3');
    expect(outcome(decode(json({ input: [[[1, 2, 3], [4, 5, [6]]]] })))).toBe('bad_envelope: expected a number, found an array');
    expect(outcome(decode(utf8('{"input": [1, 2, 3, 4, 5, 1e39]}')))).toBe('not_finite: value Infinity at index 5');
    expect(outcome(decode(utf8(`{"input": [${' '.repeat(5000)}]}`)))).toBe('oversize: 5013 bytes, limit 4288');
  });

  it('cannot pollute prototypes', () => {
    const hostile = [
      '{"__proto__": {"polluted": 1}, "input": [1, 2, 3, 4, 5, 6]}',
      '{"input": [1, 2, 3, 4, 5, 6], "constructor": {"prototype": {"polluted": 1}}}',
      '{"inputs": {"__proto__": {"polluted": 1}, "pixels": [1, 2, 3, 4, 5, 6]}}',
      '{"inputs": {"constructor": {"prototype": {"polluted": 1}}, "pixels": [1, 2, 3, 4, 5, 6]}}',
      '{"inputs": {"pixels": {"__proto__": [1, 2, 3, 4, 5, 6]}}}',
      '{"inputs": {"\\u005f_proto__": {"polluted": 1}, "pixels": [1, 2, 3, 4, 5, 6]}}',
    ];
    for (const text of hostile) {
      const r = decode(utf8(text));
      expect(r.ok ? 'accepted' : r.reason).toBe('bad_envelope');
    }
    const proto = createDecoder({ encoding: 'json', inputName: 'toString', sampleShape: [1], maxMessageBytes: 1000 });
    expect(outcome(proto(utf8('{"inputs": {}}')))).toBe('bad_envelope: "inputs" has no "toString" (found no names)');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});

describe('createDecoder never throws and never lets a non-finite value through', () => {
  const encodings: Encoding[] = ['raw-f32', 'npy', 'json'];
  const valid: Record<Encoding, Uint8Array> = {
    'raw-f32': rawBytes(values),
    npy: encodeNpy(new Float32Array(values), [1, 2, 3]),
    json: utf8(JSON.stringify({ input: values })),
  };

  function check(r: DecodeResult): void {
    if (r.ok) {
      expect(r.value.length).toBe(sampleSize);
      expect(r.value.every(Number.isFinite)).toBe(true);
    } else {
      expect(REJECT_REASONS).toContain(r.reason);
      expect(r.detail).not.toMatch(/\n/);
    }
  }

  it.each(encodings)('%s on random bytes', (encoding) => {
    const decode = decoderFor(encoding);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => check(decode(bytes))), { numRuns: 1000 });
  });

  it.each(encodings)('%s on mutations of a valid message, at any offset', (encoding) => {
    const decode = decoderFor(encoding);
    const base = valid[encoding];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(base.length),
        fc.nat(7),
        (edits, cut, offset) => {
          const pool = new Uint8Array(offset + base.length);
          pool.set(base, offset);
          for (const [at, value] of edits) pool[offset + at] = value;
          check(decode(pool.subarray(offset, offset + (cut === 0 ? base.length : cut))));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('json on random JSON values in the envelope', () => {
    const decode = decoderFor('json');
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), fc.constantFrom('input', 'inputs', '__proto__', 'constructor'), (value, key) => {
        check(decode(utf8(`{"${key}": ${JSON.stringify(value)}}`)));
        check(decode(utf8(JSON.stringify(value))));
      }),
      { numRuns: 1000 },
    );
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});
