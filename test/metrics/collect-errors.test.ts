import { describe, expect, it } from 'vitest';
import type { DriftSums } from '../../src/cka/drift.js';
import { createMetrics, type WindowScore } from '../../src/metrics/index.js';
import { recordingLogger } from '../helpers/logger.js';
import { sampleLines } from '../helpers/prom-text.js';

const sums: DriftSums = { batches: 2, samples: 128, axr: 0.5, axx: 1, arr: 1, mmdLinear: 0.1, mmdRbf: 0.1, ckaWeight: 2, mmdWeight: 2 };

describe('a failing window source', () => {
  it('does not fail the scrape: the last good values stay, the failure is logged once and counted', async () => {
    const logger = recordingLogger();
    let mode: 'good' | 'throw' | 'bad-entry' = 'good';
    const source = (): WindowScore[] => {
      if (mode === 'throw') throw new Error('window set is gone');
      if (mode === 'bad-entry') return [{ layer: 'a', window: '5m', sums: null as unknown as DriftSums }];
      return [{ layer: 'a', window: '5m', sums }];
    };
    const lateSource = () => {
      if (mode === 'throw') throw new Error('late counts are gone');
      return [{ window: '5m', count: 1 }];
    };
    const metrics = createMetrics({ scoreSource: source, lateSource, isReady: () => true, now: () => 0, logger, build: { version: 'x', node: 'y', onnxruntime: 'z' } });
    const good = sampleLines(await metrics.registry.metrics()).filter((l) => !l.startsWith('ckawatch_collect_errors_total'));
    expect(good).toContain('ckawatch_cka{layer="a",window="5m"} 0.5');

    mode = 'throw';
    const first = sampleLines(await metrics.registry.metrics());
    const second = sampleLines(await metrics.registry.metrics());
    mode = 'bad-entry';
    const third = sampleLines(await metrics.registry.metrics());
    for (const scrape of [first, second, third]) {
      expect(scrape.filter((l) => !l.startsWith('ckawatch_collect_errors_total'))).toEqual(good);
    }
    expect(third).toContain('ckawatch_collect_errors_total 3');
    expect(logger.records.filter((r) => r.level === 'error')).toHaveLength(1);

    mode = 'good';
    await metrics.registry.metrics();
    expect(logger.records.map((r) => r.level)).toEqual(['error', 'info']);
  });
});
