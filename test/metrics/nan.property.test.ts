import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DriftSums } from '../../src/cka/drift.js';
import { createMetrics, type WindowScore } from '../../src/metrics/index.js';
import { recordingLogger } from '../helpers/logger.js';
import { sampleLines } from '../helpers/prom-text.js';

// Zeros, signed zeros, subnormals, huge values, NaN and infinities: whatever a source hands over.
const anyNumber = fc.oneof(
  fc.constantFrom(0, -0, 1, Number.MIN_VALUE, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  fc.double(),
);
const sumsArb: fc.Arbitrary<DriftSums> = fc.record({
  batches: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1000 }), anyNumber),
  samples: anyNumber,
  axr: anyNumber,
  axx: anyNumber,
  arr: anyNumber,
  mmdLinear: anyNumber,
  mmdRbf: anyNumber,
  ckaWeight: anyNumber,
  mmdWeight: anyNumber,
});
const scoreArb: fc.Arbitrary<WindowScore> = fc.record(
  {
    layer: fc.constantFrom('conv1', 'layer4.1.add'),
    window: fc.constantFrom('5m', '1h'),
    sums: sumsArb,
    thresholds: fc.record({ cka: anyNumber, mmd2_linear: anyNumber, mmd2_rbf: anyNumber }, { requiredKeys: [] }),
  },
  { requiredKeys: ['layer', 'window', 'sums'] },
);

describe('exposition (property)', () => {
  it('never carries NaN or an infinite value', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(scoreArb, { maxLength: 4 }), async (scores) => {
        const metrics = createMetrics({ scoreSource: () => scores, isReady: () => true, now: () => 0, logger: recordingLogger(), build: { version: 'a', node: 'b', onnxruntime: 'c' } });
        for (const line of sampleLines(await metrics.registry.metrics())) {
          const value = line.slice(line.lastIndexOf(' ') + 1);
          expect(Number.isFinite(Number(value)), line).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});
