import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopKWindows, type Ranked } from '../../src/window/top-k.js';

const SPECS = [
  { name: 'short', durationMs: 10_000, buckets: 5 },
  { name: 'long', durationMs: 60_000, buckets: 6 },
];

describe('TopKWindows', () => {
  it('equals the brute-force top k of the items whose bucket is in the window', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 120_000 }), score: fc.double({ min: -5, max: 5, noNaN: true }) }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 8 }),
        (adds, k) => {
          const sorted = [...adds].sort((a, b) => a.at - b.at); // in time order: nothing late
          const t = new TopKWindows<number>(SPECS, ['layer'], k);
          sorted.forEach((a, i) => t.add('layer', [{ score: a.score, item: i }], a.at));
          const now = sorted.at(-1)?.at ?? 0;
          for (const w of t.windows) {
            const last = Math.floor(now / w.granularityMs);
            const live = sorted.map((a, i) => ({ score: a.score, item: i, bucket: Math.floor(a.at / w.granularityMs) })).filter((a) => a.bucket > last - w.buckets);
            const expected = live.sort((a, b) => b.score - a.score).slice(0, k).map((a) => a.score);
            expect(t.top(w.name, 'layer', now).map((r) => r.score)).toEqual(expected);
          }
        },
      ),
    );
  });

  it('floor: an item that does not beat it changes no window; -Infinity while a bucket has room', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 30_000 }), score: fc.double({ min: -5, max: 5, noNaN: true }) }), { maxLength: 80 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 40_000 }),
        (adds, k, at) => {
          const t = new TopKWindows<number>(SPECS, ['layer'], k);
          [...adds].sort((a, b) => a.at - b.at).forEach((a, i) => t.add('layer', [{ score: a.score, item: i }], a.at));
          const floor = t.floor('layer', at);
          if (floor === Number.NEGATIVE_INFINITY) return;
          const before = t.windows.map((w) => t.top(w.name, 'layer', Math.max(at, 40_000)));
          t.add('layer', [{ score: floor, item: -1 }], at);
          expect(t.windows.map((w) => t.top(w.name, 'layer', Math.max(at, 40_000)))).toEqual(before);
        },
      ),
    );
    const empty = new TopKWindows<number>(SPECS, ['layer'], 2);
    expect(empty.floor('layer', 0)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('holds at most k per bucket, drops what is late, skips non-finite scores, and clears', () => {
    const t = new TopKWindows<string>(SPECS, ['a', 'b'], 2);
    const items = (tag: string, scores: number[]): Ranked<string>[] => scores.map((score, i) => ({ score, item: `${tag}${i}` }));
    t.add('a', items('x', [1, 5, 3, Number.NaN, Number.POSITIVE_INFINITY]), 1_000);
    expect(t.top('short', 'a', 1_000).map((r) => r.item)).toEqual(['x1', 'x2']);
    expect(t.top('short', 'b', 1_000)).toEqual([]);
    t.add('a', items('y', [4]), 30_000);
    expect(t.top('short', 'a', 30_000).map((r) => r.item)).toEqual(['y0']); // x left the 10 s window
    expect(t.top('long', 'a', 30_000).map((r) => r.item)).toEqual(['x1', 'y0']);
    t.add('a', items('late', [100]), 1_000); // its 2 s bucket has left the short window
    expect(t.top('short', 'a', 30_000).map((r) => r.item)).toEqual(['y0']);
    t.clear();
    expect(t.top('long', 'a', 30_000)).toEqual([]);
    expect(() => t.top('nope', 'a', 0)).toThrow(/unknown window/);
  });
});
