import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closeMatches } from '../../../src/model/graph/tap-names.js';
import { editDistance } from '../../../src/util/edit-distance.js';

describe('closeMatches', () => {
  const names = ['/layer1/layer1.0/relu/Relu_output_0', '/layer1/layer1.1/relu/Relu_output_0', '/fc/Gemm_output_0', 'logits'];

  it('prefers names that contain what was typed', () => {
    expect(closeMatches('layer1.1', names)).toEqual(['/layer1/layer1.1/relu/Relu_output_0']);
    expect(closeMatches('Gemm', names)).toEqual(['/fc/Gemm_output_0']);
  });

  it('falls back to small edit distances, and to nothing', () => {
    expect(closeMatches('logit', names)).toEqual(['logits']);
    expect(closeMatches('lgoits', names)).toEqual(['logits']);
    expect(closeMatches('something else', names)).toEqual([]);
  });
});

describe('editDistance', () => {
  it('is a metric on small strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (a, b, c) => {
        expect(editDistance(a, a)).toBe(0);
        expect(editDistance(a, b)).toBe(editDistance(b, a));
        expect(editDistance(a, c)).toBeLessThanOrEqual(editDistance(a, b) + editDistance(b, c));
      }),
    );
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});
