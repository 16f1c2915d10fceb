import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWindowSet, type WindowSet } from '../../src/window/window-set.js';
import { keyName, scenarioArb, type Scenario } from './arbitraries.js';
import { bruteSum, bruteTotal, type Addition } from './brute.js';

function build(s: Scenario, additions: readonly Addition[] = s.additions): WindowSet {
  const set = createWindowSet(s.specs, Array.from({ length: s.keyCount }, (_, k) => keyName(k)), s.width);
  for (const a of additions) set.add(keyName(a.key), a.vector, a.atMs);
  return set;
}

const latestAt = (additions: readonly Addition[]): number => Math.max(-50, ...additions.map((a) => a.atMs));

describe('window sums (property)', () => {
  it('equal a brute-force sum of the additions whose bucket is in the window, in any arrival order', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 0, max: 300 }), (s, ahead) => {
        const set = build(s);
        // Queries at or after the newest addition: the window's contract (see WindowSet.add).
        const now = latestAt(s.additions) + ahead;
        for (const spec of s.specs) {
          for (let k = 0; k < s.keyCount; k++) {
            expect(Array.from(set.sum(spec.name, keyName(k), now))).toEqual(bruteSum(spec, s.additions, k, now, s.width));
          }
        }
        for (let k = 0; k < s.keyCount; k++) expect(Array.from(set.total(keyName(k)))).toEqual(bruteTotal(s.additions, k, s.width));
      }),
    );
  });

  it('give the same sums whatever order the additions arrive in', () => {
    fc.assert(
      fc.property(
        scenarioArb.chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray(s.additions, { minLength: s.additions.length }))),
        fc.integer({ min: 0, max: 300 }),
        ([s, shuffled], ahead) => {
          const a = build(s);
          const b = build(s, shuffled);
          const now = latestAt(s.additions) + ahead;
          for (const spec of s.specs) {
            for (let k = 0; k < s.keyCount; k++) expect(b.sum(spec.name, keyName(k), now)).toEqual(a.sum(spec.name, keyName(k), now));
          }
        },
      ),
    );
  });

  it('drop nothing when additions arrive in time order', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const set = build(s, [...s.additions].sort((x, y) => x.atMs - y.atMs));
        expect(set.droppedLate().every((d) => d.count === 0)).toBe(true);
      }),
    );
  });

  it('survive snapshot -> JSON -> restore, and keep evolving the same way afterwards', () => {
    fc.assert(
      fc.property(scenarioArb, scenarioArb, fc.integer({ min: 0, max: 300 }), (s, more, ahead) => {
        const original = build(s);
        const copy = build({ ...s, additions: [] });
        const restored = copy.restore(JSON.parse(JSON.stringify(original.snapshot())));
        expect(restored.ok).toBe(true);
        expect(copy.snapshot()).toEqual(original.snapshot());
        // The same later traffic on both (keys and widths of the second scenario folded into the first's).
        const later = more.additions.map((a) => ({
          key: a.key % s.keyCount,
          atMs: a.atMs + 300,
          vector: Array.from({ length: s.width }, (_, i) => a.vector[i % a.vector.length]!),
        }));
        for (const a of later) {
          original.add(keyName(a.key), a.vector, a.atMs);
          copy.add(keyName(a.key), a.vector, a.atMs);
        }
        const now = latestAt([...s.additions, ...later]) + ahead;
        for (const spec of s.specs) {
          for (let k = 0; k < s.keyCount; k++) expect(copy.sum(spec.name, keyName(k), now)).toEqual(original.sum(spec.name, keyName(k), now));
        }
        expect(copy.droppedLate()).toEqual(original.droppedLate());
      }),
    );
  });

  it('restore into coarser buckets: what the old window still held, re-bucketed', () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 300 }), (s, factor, buckets, ahead) => {
        const original = build(s);
        const coarser = s.specs.map((spec) => ({ name: spec.name, durationMs: (spec.durationMs / spec.buckets) * factor * buckets, buckets }));
        const target = createWindowSet(coarser, Array.from({ length: s.keyCount }, (_, k) => keyName(k)), s.width);
        const result = target.restore(original.snapshot());
        expect(result.ok && result.report.droppedWindows).toEqual([]);
        const head = latestAt(s.additions);
        const now = head + ahead;
        s.specs.forEach((spec, i) => {
          const g = spec.durationMs / spec.buckets;
          // Additions still live in the old window when the snapshot was taken.
          const live = s.additions.filter((a) => Math.floor(a.atMs / g) > Math.floor(head / g) - spec.buckets);
          for (let k = 0; k < s.keyCount; k++) {
            expect(Array.from(target.sum(spec.name, keyName(k), now))).toEqual(bruteSum(coarser[i]!, live, k, now, s.width));
          }
        });
      }),
    );
  });
});
