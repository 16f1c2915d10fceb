import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors/index.js';
import { createSampler } from '../../src/reference/sampler.js';
import { referenceFromArray } from '../../src/reference/load.js';
import { splitIndices } from '../../src/reference/split.js';
import type { Reference } from '../../src/reference/reference.js';

/** count samples of shape [2]; sample i holds [i, i + 0.5], so a row says which sample it is. */
function numbered(count: number): Reference {
  const data = new Float32Array(count * 2);
  for (let i = 0; i < count; i++) data.set([i, i + 0.5], i * 2);
  return referenceFromArray('numbered.npy', [count, 2], data, [2]);
}

function rowsOf(draw: Float32Array): number[] {
  const ids: number[] = [];
  for (let k = 0; k < draw.length; k += 2) {
    expect(draw[k + 1]).toBe(draw[k]! + 0.5);
    ids.push(draw[k]!);
  }
  return ids;
}

describe('createSampler', () => {
  it('draws the same samples for the same seed', () => {
    const ref = numbered(100);
    const a = createSampler(ref, 5);
    const b = createSampler(ref, 5);
    const c = createSampler(ref, 6);
    const drawsA = [a.draw(10), a.draw(10)].map(rowsOf);
    expect([b.draw(10), b.draw(10)].map(rowsOf)).toEqual(drawsA);
    expect([c.draw(10), c.draw(10)].map(rowsOf)).not.toEqual(drawsA);
    expect(drawsA[0]).not.toEqual(drawsA[1]);
  });

  it('draws m distinct samples, every time, up to the whole pool', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer(), fc.integer({ min: 1, max: 5 }), (count, seed, draws) => {
        const sampler = createSampler(numbered(count), seed);
        for (let d = 0; d < draws; d++) {
          const m = 1 + ((seed >>> 0) + d) % count;
          const ids = rowsOf(sampler.draw(m));
          expect(ids).toHaveLength(m);
          expect(new Set(ids).size).toBe(m);
          expect(ids.every((i) => i >= 0 && i < count)).toBe(true);
        }
      }),
    );
  });

  it('gives every sample the same chance to be drawn', () => {
    const sampler = createSampler(numbered(10), 3);
    const hits = new Array<number>(10).fill(0);
    for (let d = 0; d < 5000; d++) for (const i of sampler.drawIndices(4)) hits[i]!++;
    // 2,000 expected per sample, sd about 35: 5 sd is 175.
    for (const h of hits) expect(Math.abs(h - 2000)).toBeLessThan(175);
  });

  it('writes into a larger buffer at an offset, for the stacked batch [X; R]', () => {
    const sampler = createSampler(numbered(20), 1);
    const stacked = new Float32Array(2 * 6).fill(99);
    sampler.drawInto(stacked, 4, 4);
    expect([...stacked.subarray(0, 4)]).toEqual([99, 99, 99, 99]);
    expect(new Set(rowsOf(stacked.subarray(4))).size).toBe(4);
    expect(() => sampler.drawInto(stacked, 6, 4)).toThrow(RangeError);
  });

  it('says when the reference is too small for a draw', () => {
    const sampler = createSampler(numbered(50), 1);
    expect(() => sampler.draw(64)).toThrow(DataError);
    expect(() => sampler.draw(64)).toThrowErrorMatchingInlineSnapshot(
      `[DataError: reference numbered.npy has 50 samples to draw from, fewer than the 64 needed per batch (reference.samplesPerBatch)]`,
    );
    expect(() => createSampler(numbered(5), 1, Int32Array.from([1, 1]))).toThrow(/twice/);
    expect(() => createSampler(numbered(5), 1, Int32Array.from([5]))).toThrow(/outside/);
  });
});

describe('split', () => {
  it('cuts the pool into disjoint parts that cover it, repeatably', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 7 }), fc.integer(), (count, parts, seed) => {
        fc.pre(parts <= count);
        const sets = splitIndices(Int32Array.from({ length: count }, (_, i) => i), parts, seed);
        const all = sets.flatMap((s) => [...s]);
        expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
        const sizes = sets.map((s) => s.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        expect(splitIndices(Int32Array.from({ length: count }, (_, i) => i), parts, seed)).toEqual(sets);
      }),
    );
  });

  it('gives samplers that only ever draw from their own half', () => {
    const [a, b] = createSampler(numbered(40), 9).split(2, 11) as [ReturnType<typeof createSampler>, ReturnType<typeof createSampler>];
    const inA = new Set(a.pool);
    expect([...b.pool].some((i) => inA.has(i))).toBe(false);
    expect(a.pool.length + b.pool.length).toBe(40);
    for (let d = 0; d < 50; d++) {
      expect(rowsOf(a.draw(10)).every((i) => inA.has(i))).toBe(true);
      expect(rowsOf(b.draw(10)).every((i) => !inA.has(i))).toBe(true);
    }
    expect(() => a.draw(21)).toThrow(/has 20 samples to draw from/);
  });

  it('refuses impossible splits', () => {
    expect(() => splitIndices(new Int32Array(3), 4, 1)).toThrow(/cannot split 3 samples into 4 parts/);
    expect(() => splitIndices(new Int32Array(3), 0, 1)).toThrow(RangeError);
  });
});
