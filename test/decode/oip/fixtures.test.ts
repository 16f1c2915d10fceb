/**
 * Messages made by the serving projects' own code (tools/fixtures/make_oip_fixtures.py:
 * tritonclient's ModelInferRequest classes, the cloudevents SDK's Kafka binding), decoded by
 * ckawatch: every row equals the source array cast to float32 by NumPy, value for value, and
 * every bad message gets its reason.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ServingEncoding } from '../../../src/config/vocabulary.js';
import { createMessageDecoder, defaultMaxMessageBytes, REJECT_REASONS, type MessageHeaders } from '../../../src/decode/message.js';
import { declaredFieldNumbers } from '../../../src/decode/oip/messages.js';
import { fixture } from '../../helpers/fixtures.js';

interface Case {
  readonly name: string;
  readonly file: string;
  readonly encoding: ServingEncoding;
  readonly headers?: MessageHeaders;
  readonly tensor?: string | number;
  readonly expected?: number[][];
  readonly reject?: string;
}

const manifest = JSON.parse(readFileSync(fixture('oip', 'manifest.json'), 'utf8')) as {
  sampleShape: number[];
  fieldNumbers: Record<string, Record<string, number>>;
  cases: Case[];
};

/**
 * As kafkajs delivers them: a Buffer inside a larger one (its byteOffset not 0), so that a
 * view mistaken for a copy reads the wrong bytes.
 */
function asKafkaValue(bytes: Buffer): Buffer {
  const pad = Buffer.alloc(13, 0x7f);
  return Buffer.concat([pad, bytes, pad]).subarray(pad.length, pad.length + bytes.length);
}

function decode(c: Case, as: 'array' | 'buffer' = 'array') {
  const decoder = createMessageDecoder({
    encoding: c.encoding,
    inputs: [{ name: 'input0', type: 'float32', sampleShape: manifest.sampleShape }],
    tensor: c.tensor,
    maxMessageBytes: defaultMaxMessageBytes(c.encoding, 6),
  });
  if (decoder.mode !== 'sync') throw new Error('serving decoders are sync');
  const bytes = readFileSync(fixture('oip', c.file));
  return decoder.decode(as === 'array' ? new Uint8Array(bytes) : asKafkaValue(bytes), c.headers);
}

const good = manifest.cases.filter((c) => c.expected !== undefined);
const bad = manifest.cases.filter((c) => c.reject !== undefined);

describe('Open Inference Protocol and KServe messages from their own libraries', () => {
  it('the fixtures cover every datatype in both protobuf forms, and a reason for each bad message', () => {
    const datatypes = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64'];
    for (const d of datatypes) {
      expect(good.map((c) => c.name), d).toContain(`pb-raw-${d}`);
      if (d !== 'FP16') expect(good.map((c) => c.name), d).toContain(`pb-contents-${d}`);
    }
    for (const c of bad) expect(REJECT_REASONS, c.name).toContain(c.reject);
    const reasons = new Set(bad.map((c) => c.reject));
    for (const r of ['bad_protobuf', 'no_tensor', 'bytes_tensor', 'not_request', 'unknown_encoding', 'wrong_shape', 'wrong_size', 'wrong_dtype', 'not_finite', 'bad_json', 'bad_envelope']) {
      expect(reasons, r).toContain(r);
    }
  });

  it('every field ckawatch declares has the number tritonclient\'s descriptor gives it', () => {
    const declared = declaredFieldNumbers();
    expect(Object.keys(declared).sort()).toEqual(Object.keys(manifest.fieldNumbers).sort());
    for (const [message, fields] of Object.entries(declared)) {
      for (const [field, id] of Object.entries(fields)) expect(id, `${message}.${field}`).toBe(manifest.fieldNumbers[message]![field]);
    }
  });

  it.each(good.flatMap((c) => (['array', 'buffer'] as const).map((as) => [`${c.name} (${as})`, c, as] as const)))('%s: rows equal the source array cast to float32', (_, c, as) => {
    const result = decode(c, as);
    if (!result.ok) throw new Error(`${c.name}: rejected as ${result.reason} (${result.detail})`);
    const rows = result.value instanceof Float32Array ? [result.value] : result.value;
    expect(rows.length).toBe(c.expected!.length);
    rows.forEach((row, r) => {
      // Exact: Object.is tells -0 from 0 and compares every bit of the float32 widened to a double.
      const got = Array.from(row);
      expect(got.length).toBe(6);
      got.forEach((v, i) => expect(Object.is(v, c.expected![r]![i]), `${c.name} row ${r} [${i}]: ${v} vs ${c.expected![r]![i]}`).toBe(true));
    });
  });

  it.each(bad.map((c) => [c.name, c] as const))('%s: rejected by its reason', (_, c) => {
    const result = decode(c);
    expect(result.ok ? 'accepted' : result.reason).toBe(c.reject);
    if (!result.ok) expect(result.detail.length).toBeLessThan(300);
  });
});
