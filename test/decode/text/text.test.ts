/**
 * Text preprocessing: token ids equal the Python `tokenizers` library's exactly (fixture:
 * tools/fixtures/make_input_fixtures.py --only parity), and every bad text message is
 * rejected by reason before it reaches the tokenizer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTextDecoder } from '../../../src/decode/text/text.js';
import { loadTokenizer, siblingConfig } from '../../../src/decode/text/tokenizer.js';
import type { DecodeResult } from '../../../src/decode/message.js';
import { fixture } from '../../helpers/fixtures.js';

const MODELS = fixture('models');
const TOKENIZER = join(MODELS, 'minilm-l6-v2.tokenizer.json');
const parity = JSON.parse(readFileSync(fixture('text/parity.json'), 'utf8')) as {
  max_length: number;
  sentences: { text: string; input_ids: number[]; attention_mask: number[]; token_type_ids: number[] }[];
};
const tokenizer = loadTokenizer(TOKENIZER);
const INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'];
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const outcome = (r: DecodeResult): string => (r.ok ? 'ok' : `${r.reason}: ${r.detail}`);

describe('tokenizer parity with the Python tokenizers library', () => {
  it('finds the tokenizer config next to x.tokenizer.json', () => {
    expect(siblingConfig(TOKENIZER)).toBe(join(MODELS, 'minilm-l6-v2.tokenizer_config.json'));
    expect(tokenizer.vocabSize).toBe(30522);
    expect(tokenizer.specialTokens).toBe(2);
  });

  it(`gives the same ids, attention mask and type ids for ${parity.sentences.length} sentences (fortunes, licence text, edge cases)`, () => {
    const decode = createTextDecoder({ tokenizer, maxLength: parity.max_length, maxBytes: 4096, maxMessageBytes: 8192, inputs: INPUTS });
    const T = parity.max_length;
    const mismatches = parity.sentences.flatMap((s) => {
      const r = decode(utf8(s.text));
      if (!r.ok) return s.text.trim() === '' && r.reason === 'empty' ? [] : [`${JSON.stringify(s.text)}: ${r.reason}`];
      const got = [[...r.value.subarray(0, T)], [...r.value.subarray(T, 2 * T)], [...r.value.subarray(2 * T)]];
      return JSON.stringify(got) === JSON.stringify([s.input_ids, s.attention_mask, s.token_type_ids]) ? [] : [JSON.stringify(s.text)];
    });
    expect(mismatches).toEqual([]);
  });

  it('truncates to maxLength with the special tokens kept, and pads with the pad id', () => {
    const long = tokenizer.encode('word '.repeat(100), 16);
    expect([...long.ids]).toEqual([101, ...Array(14).fill(2773), 102]);
    expect(long.length).toBe(16);
    const short = tokenizer.encode('Hello', 8);
    expect([...short.ids]).toEqual([101, 7592, 102, 0, 0, 0, 0, 0]);
    expect([...short.attentionMask]).toEqual([1, 1, 1, 0, 0, 0, 0, 0]);
  });
});

describe('createTextDecoder', () => {
  const decode = createTextDecoder({ tokenizer, maxLength: 32, maxBytes: 64, maxMessageBytes: 512, inputs: INPUTS });
  const json = createTextDecoder({ tokenizer, maxLength: 32, maxBytes: 64, maxMessageBytes: 512, inputs: INPUTS, field: 'text' });

  it('packs the model\'s token inputs in its input order', () => {
    const r = createTextDecoder({ tokenizer, maxLength: 4, maxBytes: 64, maxMessageBytes: 512, inputs: ['attention_mask', 'input_ids'] })(utf8('hi'));
    expect(r.ok && [...r.value]).toEqual([1, 1, 1, 0, 101, 7632, 102, 0]);
  });

  it('rejects non-UTF-8, over-long and empty text by reason, before tokenizing', () => {
    const cases: Record<string, Uint8Array> = {
      'invalid byte': new Uint8Array([0x68, 0x69, 0xff]),
      'overlong encoding of /': new Uint8Array([0xc0, 0xaf]),
      'lone surrogate (CESU-8)': new Uint8Array([0xed, 0xa0, 0x80]),
      'cut multi-byte character': utf8('café').subarray(0, 4),
      'latin-1 text': new Uint8Array([0x63, 0x61, 0x66, 0xe9]),
      'over maxBytes': utf8('x'.repeat(65)),
      empty: new Uint8Array(0),
      'exactly maxBytes': utf8('y'.repeat(64)),
    };
    const results = Object.fromEntries(Object.entries(cases).map(([k, v]) => [k, outcome(decode(v))]));
    expect(results).toMatchInlineSnapshot(`
      {
        "cut multi-byte character": "bad_utf8: The encoded data was not valid for encoding utf-8",
        "empty": "empty: no bytes",
        "exactly maxBytes": "ok",
        "invalid byte": "bad_utf8: The encoded data was not valid for encoding utf-8",
        "latin-1 text": "bad_utf8: The encoded data was not valid for encoding utf-8",
        "lone surrogate (CESU-8)": "bad_utf8: The encoded data was not valid for encoding utf-8",
        "over maxBytes": "text_too_long: 65 bytes, limit 64",
        "overlong encoding of /": "bad_utf8: The encoded data was not valid for encoding utf-8",
      }
    `);
  });

  it('reads a JSON field, bounding the message and the text apart', () => {
    const cases: Record<string, Uint8Array> = {
      ok: utf8(JSON.stringify({ id: 1, text: 'Hello there' })),
      'text over maxBytes': utf8(JSON.stringify({ text: 'é'.repeat(33) })),
      'message over maxMessageBytes': utf8(JSON.stringify({ text: 'a', pad: 'x'.repeat(600) })),
      'no text': utf8('{"body": "x"}'),
      'text not a string': utf8('{"text": ["x"]}'),
      'empty text': utf8('{"text": ""}'),
      'not JSON': utf8('Hello there'),
      'not UTF-8': new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]),
      'nested too deep': utf8(`{"text": "a", "x": ${'['.repeat(20)}${']'.repeat(20)}}`),
    };
    const reasons = Object.fromEntries(Object.entries(cases).map(([k, v]) => {
      const r = json(v);
      return [k, r.ok ? 'ok' : r.reason];
    }));
    expect(reasons).toEqual({
      ok: 'ok',
      'text over maxBytes': 'text_too_long',
      'message over maxMessageBytes': 'oversize',
      'no text': 'bad_envelope',
      'text not a string': 'bad_envelope',
      'empty text': 'empty',
      'not JSON': 'bad_json',
      'not UTF-8': 'bad_utf8',
      'nested too deep': 'bad_json',
    });
    const viaJson = json(cases['ok']!);
    expect(viaJson).toEqual(decode(utf8('Hello there')));
  });

  it('never throws, and every accepted row holds whole token ids of the vocabulary and a 0/1 mask', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 40 }).map(utf8)), (bytes) => {
        const r = decode(bytes);
        if (!r.ok) return;
        const ids = r.value.subarray(0, 32);
        const mask = r.value.subarray(32, 64);
        expect(ids.every((v) => Number.isInteger(v) && v >= 0 && v < tokenizer.vocabSize)).toBe(true);
        expect(mask.every((v) => v === 0 || v === 1)).toBe(true);
        expect(ids[0]).toBe(101);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a model whose inputs a tokenizer cannot fill', () => {
    expect(() => createTextDecoder({ tokenizer, maxLength: 8, maxBytes: 8, maxMessageBytes: 8, inputs: ['input_ids', 'pixel_values'] })).toThrowErrorMatchingInlineSnapshot(
      `[ModelError: model input 'pixel_values' is not one a tokenizer fills (input_ids, attention_mask, token_type_ids); input.encoding text feeds models whose inputs are these]`,
    );
  });
});
