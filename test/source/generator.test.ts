import { describe, expect, it } from 'vitest';
import type { SourceRecord } from '../../src/source/source.js';
import { GeneratorSource } from '../../src/source/generator.js';

describe('GeneratorSource', () => {
  it('delivers every record once and says once that it reached its end, with the count', async () => {
    const ends: number[] = [];
    const source = new GeneratorSource({ topic: 't', chunk: 4, next: (i) => (i < 10 ? new Uint8Array([i]) : null), onEnd: (n) => ends.push(n) });
    const seen: SourceRecord[] = [];
    await source.start(async (records) => void seen.push(...records), { assigned: async () => new Map(), revoked: () => undefined });
    for (let spin = 0; !source.ended && spin < 1_000; spin++) await new Promise((r) => setImmediate(r));
    await source.stop();
    expect(seen.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ends).toEqual([10]);
  });

  it('resumes after the stored offset and counts from there', async () => {
    const ends: number[] = [];
    const source = new GeneratorSource({ topic: 't', next: (i) => (i < 5 ? new Uint8Array([i]) : null), onEnd: (n) => ends.push(n) });
    const seen: number[] = [];
    await source.start(async (records) => void seen.push(...records.map((r) => r.offset)), { assigned: async (ps) => new Map(ps.map((p) => [p, 3])), revoked: () => undefined });
    for (let spin = 0; !source.ended && spin < 1_000; spin++) await new Promise((r) => setImmediate(r));
    await source.stop();
    expect(seen).toEqual([3, 4]);
    expect(ends).toEqual([5]);
  });
});
