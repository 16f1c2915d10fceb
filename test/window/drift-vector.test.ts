import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DRIFT_FIELDS, type DriftSums } from '../../src/cka/drift.js';
import { DRIFT_WIDTH, driftToVector, vectorToDrift } from '../../src/window/drift-vector.js';

describe('DriftSums <-> vector', () => {
  it('round-trips in DRIFT_FIELDS order', () => {
    const fields = fc.double({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(fc.record({ batches: fields, samples: fields, axr: fields, axx: fields, arr: fields, mmdLinear: fields, mmdRbf: fields, ckaWeight: fields, mmdWeight: fields }), (s: DriftSums) => {
        const v = driftToVector(s);
        expect(v).toHaveLength(DRIFT_WIDTH);
        DRIFT_FIELDS.forEach((field, i) => expect(v[i]).toBe(s[field]));
        expect(vectorToDrift(v)).toEqual(s);
      }),
    );
  });

  it('refuses a vector of another width', () => {
    expect(() => vectorToDrift([1, 2])).toThrowErrorMatchingInlineSnapshot(
      `[StatisticsError: a DriftSums vector has 9 components (batches, samples, axr, axx, arr, mmdLinear, mmdRbf, ckaWeight, mmdWeight), got 2]`,
    );
  });
});
