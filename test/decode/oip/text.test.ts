/**
 * Text in serving requests' BYTES tensors (input.text with a serving encoding): the requests
 * made by tritonclient (typed bytes_contents, and raw contents by its serialize_byte_tensor)
 * and by the cloudevents SDK (v2 BYTES data, v1 instances of strings) give exactly the rows
 * the text decoder gives for the same strings, one sample a text.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ServingEncoding } from '../../../src/config/vocabulary.js';
import { createMessageDecoder, type MessageHeaders } from '../../../src/decode/message.js';
import { createTextDecoder, type TextDecoderOptions } from '../../../src/decode/text/text.js';
import { loadTokenizer } from '../../../src/decode/text/tokenizer.js';
import { fixture, modelFixture } from '../../helpers/fixtures.js';

interface Case {
  readonly name: string;
  readonly file: string;
  readonly encoding: ServingEncoding;
  readonly headers?: MessageHeaders;
  readonly texts?: string[];
  readonly textReject?: string;
}

const manifest = JSON.parse(readFileSync(fixture('oip', 'manifest.json'), 'utf8')) as { cases: Case[] };
const T = 16;
const inputs = ['input_ids', 'attention_mask', 'token_type_ids'];
const text: TextDecoderOptions = { tokenizer: loadTokenizer(modelFixture('minilm-l6-v2.tokenizer.json')), maxLength: T, maxBytes: 1024, field: undefined, maxMessageBytes: 1 << 20, inputs };
const plain = createTextDecoder(text);

function decode(c: Case) {
  const d = createMessageDecoder({
    encoding: c.encoding,
    inputs: inputs.map((name) => ({ name, type: 'int64' as const, sampleShape: [T] })),
    tensor: undefined,
    maxMessageBytes: 1 << 20,
    text,
  });
  if (d.mode !== 'sync') throw new Error('sync expected');
  return d.decode(new Uint8Array(readFileSync(fixture('oip', c.file))), c.headers);
}

const good = manifest.cases.filter((c) => c.texts !== undefined);
const bad = manifest.cases.filter((c) => c.textReject !== undefined);

describe('text in BYTES tensors', () => {
  it('the fixtures hold text requests in all four forms and four bad ones', () => {
    expect(good.map((c) => c.name).sort()).toEqual(['text-ce-v1', 'text-ce-v2', 'text-pb-contents', 'text-pb-raw']);
    expect(bad).toHaveLength(4);
  });

  it.each(good.map((c) => [c.name, c] as const))('%s: one row a text, equal to the text decoder\'s', (_, c) => {
    const result = decode(c);
    if (!result.ok) throw new Error(`${c.name}: ${result.reason} (${result.detail})`);
    const rows = result.value instanceof Float32Array ? [result.value] : result.value;
    expect(rows).toHaveLength(c.texts!.length);
    rows.forEach((row, i) => {
      const expected = plain(new TextEncoder().encode(c.texts![i]!));
      if (!expected.ok) throw new Error(expected.detail);
      expect(Array.from(row)).toEqual(Array.from(expected.value));
      expect(row.length).toBe(3 * T);
    });
    // Not all the same row: the texts differ, and so do their token ids.
    expect(new Set(rows.map((r) => Array.from(r).join(','))).size).toBe(rows.length);
  });

  it.each(bad.map((c) => [c.name, c] as const))('%s: rejected by its reason', (_, c) => {
    const result = decode(c);
    expect(result.ok ? 'accepted' : result.reason).toBe(c.textReject);
  });

  it('without input.text a BYTES tensor stays a clear bytes_tensor rejection', () => {
    const d = createMessageDecoder({ encoding: 'oip-protobuf', inputs: [{ name: 'x', type: 'float32', sampleShape: [3] }], tensor: undefined, maxMessageBytes: 1 << 20 });
    if (d.mode !== 'sync') throw new Error('sync expected');
    const result = d.decode(new Uint8Array(readFileSync(fixture('oip', 'text-pb-contents.bin'))));
    expect(result.ok ? 'accepted' : result.reason).toBe('bytes_tensor');
  });
});
