import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findFailingRows } from '../../src/daemon/non-finite.js';

describe('findFailingRows', () => {
  it('finds exactly the rows that fail on their own, in about 2k·log2(n) runs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 128 }).chain((n) => fc.tuple(fc.constant(n), fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: Math.min(n, 6) }))),
        async ([n, bad]) => {
          let runs = 0;
          const failing = new Set(bad);
          const found = await findFailingRows(n, async (subset) => {
            runs += 1;
            return subset.every((row) => !failing.has(row));
          });
          expect(found).toEqual([...bad].sort((a, b) => a - b));
          expect(runs).toBeLessThanOrEqual(2 * bad.length * Math.ceil(Math.log2(Math.max(n, 2))) + 2);
        },
      ),
    );
  });

  it('blames no row when every half passes on its own', async () => {
    expect(await findFailingRows(16, async (subset) => subset.length < 16)).toEqual([]);
  });
});
