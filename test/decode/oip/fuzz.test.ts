/**
 * Hostile serving messages in process: the fixtures of the serving projects' own libraries,
 * bit-flipped, truncated, spliced and replaced by random bytes, through every serving
 * encoding. A decoder must never throw, must answer with a reason of the closed set, and
 * what it accepts must be whole finite samples of the input's size.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SERVING_ENCODINGS } from '../../../src/config/vocabulary.js';
import { createMessageDecoder, defaultMaxMessageBytes, REJECT_REASONS, type MessageHeaders } from '../../../src/decode/message.js';
import { fixture } from '../../helpers/fixtures.js';

const manifest = JSON.parse(readFileSync(fixture('oip', 'manifest.json'), 'utf8')) as { cases: { file: string; headers?: MessageHeaders }[] };
const seeds = manifest.cases.map((c) => ({ bytes: new Uint8Array(readFileSync(fixture('oip', c.file))), headers: c.headers }));

const decoders = SERVING_ENCODINGS.map((encoding) => {
  const d = createMessageDecoder({ encoding, inputs: [{ name: 'input0', type: 'float32', sampleShape: [2, 3] }], tensor: undefined, maxMessageBytes: defaultMaxMessageBytes(encoding, 6) });
  if (d.mode !== 'sync') throw new Error('sync expected');
  return { encoding, decode: d.decode };
});

const mutated = fc.oneof(
  // a bit flipped in a real message
  fc.tuple(fc.nat(seeds.length - 1), fc.nat(), fc.integer({ min: 0, max: 7 })).map(([s, at, bit]) => {
    const { bytes, headers } = seeds[s]!;
    const out = bytes.slice();
    if (out.length > 0) out[at % out.length]! ^= 1 << bit;
    return { bytes: out, headers };
  }),
  // truncated
  fc.tuple(fc.nat(seeds.length - 1), fc.nat()).map(([s, cut]) => ({ bytes: seeds[s]!.bytes.slice(0, cut % (seeds[s]!.bytes.length + 1)), headers: seeds[s]!.headers })),
  // two messages spliced
  fc.tuple(fc.nat(seeds.length - 1), fc.nat(seeds.length - 1), fc.nat()).map(([a, b, at]) => {
    const x = seeds[a]!.bytes;
    const y = seeds[b]!.bytes;
    const cut = at % (x.length + 1);
    const out = new Uint8Array(cut + y.length);
    out.set(x.subarray(0, cut));
    out.set(y, cut);
    return { bytes: out, headers: seeds[b]!.headers };
  }),
  // random bytes, with or without a JSON or protobuf content type
  fc.tuple(fc.uint8Array({ maxLength: 512 }), fc.constantFrom(undefined, { 'content-type': 'application/json' }, { 'content-type': 'application/protobuf' })).map(([bytes, headers]) => ({ bytes, headers })),
);

describe('hostile serving messages', () => {
  it('never throw, answer with a known reason, accept only whole finite samples (10,000 per encoding)', () => {
    const reasons = new Set<string>();
    fc.assert(
      fc.property(mutated, ({ bytes, headers }) => {
        for (const { decode } of decoders) {
          const result = decode(bytes, headers);
          if (!result.ok) {
            expect(REJECT_REASONS).toContain(result.reason);
            expect(result.detail.length).toBeLessThan(400);
            reasons.add(result.reason);
            continue;
          }
          const rows = result.value instanceof Float32Array ? [result.value] : result.value;
          expect(rows.length).toBeGreaterThan(0);
          for (const row of rows) {
            expect(row.length).toBe(6);
            expect(row.every(Number.isFinite)).toBe(true);
          }
        }
      }),
      { numRuns: 10_000, seed: 16 },
    );
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
    // The mutations reach most of the reasons, not one catch-all.
    expect(reasons.size).toBeGreaterThanOrEqual(8);
  });
});
