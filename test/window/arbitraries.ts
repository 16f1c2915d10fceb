import fc from 'fast-check';
import type { WindowSpec } from '../../src/window/spec.js';
import type { Addition } from './brute.js';

/** Small configurations so that rings wrap, buckets collide and additions arrive late. */
export const specsArb: fc.Arbitrary<WindowSpec[]> = fc
  .uniqueArray(
    fc.record({ granularity: fc.integer({ min: 1, max: 40 }), buckets: fc.integer({ min: 1, max: 6 }) }),
    { minLength: 1, maxLength: 3, selector: (s) => `${s.granularity}x${s.buckets}` },
  )
  .map((list) => list.map(({ granularity, buckets }, i) => ({ name: `w${i}`, durationMs: granularity * buckets, buckets })));

export interface Scenario {
  readonly specs: WindowSpec[];
  readonly keyCount: number;
  readonly width: number;
  readonly additions: Addition[];
}

// Integer components: float64 sums of integers are exact, so "same sums" can mean equal.
export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ specs: specsArb, keyCount: fc.integer({ min: 1, max: 3 }), width: fc.integer({ min: 1, max: 3 }) })
  .chain(({ specs, keyCount, width }) =>
    fc
      .array(
        fc.record({
          key: fc.integer({ min: 0, max: keyCount - 1 }),
          atMs: fc.integer({ min: -50, max: 600 }),
          vector: fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: width, maxLength: width }),
        }),
        { maxLength: 40 },
      )
      .map((additions) => ({ specs, keyCount, width, additions })),
  );

export const keyName = (k: number): string => `layer${k}`;
