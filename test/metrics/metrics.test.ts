import { pino } from 'pino';
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { EMPTY_DRIFT, type DriftSums } from '../../src/cka/drift.js';
import { createMetrics, type MetricsOptions, type WindowScore } from '../../src/metrics/index.js';
import { recordingLogger } from '../helpers/logger.js';
import { sampleLines } from '../helpers/prom-text.js';

const sums: DriftSums = { batches: 4, samples: 256, axr: 0.8, axx: 1, arr: 1, mmdLinear: 0.2, mmdRbf: 0.04, ckaWeight: 4, mmdWeight: 4 };
const build = { version: '0.1.0', node: 'v20.20.2', onnxruntime: '1.30.0' };

function options(scores: WindowScore[], overrides: Partial<MetricsOptions> = {}): MetricsOptions {
  return { scoreSource: () => scores, isReady: () => true, now: () => 1_000_000, build, logger: recordingLogger(), ...overrides };
}

describe('createMetrics', () => {
  it('exposes every series with its labels', async () => {
    const metrics = createMetrics(
      options([{ layer: 'conv1', window: '5m', sums, thresholds: { cka: 0.9, mmd2_linear: 0.5 } }], {
        lateSource: () => [{ window: '5m', count: 3 }],
      }),
    );
    metrics.samples.inc({ topic: 'images' }, 64);
    metrics.rejected.inc({ topic: 'images', reason: 'shape' });
    metrics.batches.inc();
    metrics.batchDuration.observe(0.2);
    metrics.inferenceDuration.observe(0.05);
    metrics.consumerLag.set({ topic: 'images', partition: '0' }, 12);
    metrics.setExecutionProvider('cpu');
    metrics.setExecutionProvider('webgpu');
    metrics.setGramPrecision({
      provider: 'webgpu', tolerance: 1e-4, refused: [],
      taps: [{ layer: 'conv1', variant: 'channel-split', error: 1.5e-7, switched: true }, { layer: 'dead', variant: 'plain', error: null, switched: false }],
    });
    metrics.checkpointErrors.inc();
    metrics.checkpointLastSuccess.set(1_700_000_000);
    const lines = sampleLines(await metrics.registry.metrics());
    expect(lines).toEqual(
      expect.arrayContaining([
        'ckawatch_cka{layer="conv1",window="5m"} 0.8',
        'ckawatch_mmd2{layer="conv1",window="5m",kernel="linear"} 0.05',
        'ckawatch_mmd2{layer="conv1",window="5m",kernel="rbf"} 0.01',
        'ckawatch_window_sum{layer="conv1",window="5m",field="batches"} 4',
        'ckawatch_window_sum{layer="conv1",window="5m",field="samples"} 256',
        'ckawatch_window_sum{layer="conv1",window="5m",field="axr"} 0.8',
        'ckawatch_window_sum{layer="conv1",window="5m",field="axx"} 1',
        'ckawatch_window_sum{layer="conv1",window="5m",field="arr"} 1',
        'ckawatch_window_sum{layer="conv1",window="5m",field="mmd_linear"} 0.2',
        'ckawatch_window_sum{layer="conv1",window="5m",field="mmd_rbf"} 0.04',
        'ckawatch_threshold{layer="conv1",window="5m",statistic="cka"} 0.9',
        'ckawatch_threshold{layer="conv1",window="5m",statistic="mmd2_linear"} 0.5',
        'ckawatch_drift{layer="conv1",window="5m",statistic="cka"} 1',
        'ckawatch_drift{layer="conv1",window="5m",statistic="mmd2_linear"} 0',
        'ckawatch_dropped_late_total{window="5m"} 3',
        'ckawatch_ready 1',
        'ckawatch_samples_total{topic="images"} 64',
        'ckawatch_rejected_total{topic="images",reason="shape"} 1',
        'ckawatch_batches_total 1',
        'ckawatch_batch_duration_seconds_count 1',
        'ckawatch_batch_duration_seconds_bucket{le="0.25"} 1',
        'ckawatch_batch_duration_seconds_bucket{le="0.1"} 0',
        'ckawatch_inference_duration_seconds_bucket{le="0.001"} 0',
        'ckawatch_inference_duration_seconds_bucket{le="10"} 1',
        'ckawatch_consumer_lag{topic="images",partition="0"} 12',
        'ckawatch_execution_provider{provider="webgpu"} 1',
        'ckawatch_gram_relative_error{layer="conv1",graph="channel-split"} 1.5e-7',
        'ckawatch_build_info{version="0.1.0",node="v20.20.2",onnxruntime="1.30.0"} 1',
        'ckawatch_checkpoint_errors_total 1',
        'ckawatch_checkpoint_last_success_timestamp_seconds 1700000000',
        'ckawatch_collect_errors_total 0',
      ]),
    );
    expect(lines.filter((l) => l.startsWith('ckawatch_execution_provider'))).toHaveLength(1);
    // A layer constant on the probe samples has no error to report: left out, never NaN.
    expect(lines.filter((l) => l.startsWith('ckawatch_gram_relative_error'))).toHaveLength(1);
    expect(lines.some((l) => l.includes('statistic="mmd2_rbf"'))).toBe(false);
    expect(lines.every((l) => l.startsWith('ckawatch_'))).toBe(true);
  });

  it('leaves undefined scores out instead of exporting NaN, but keeps the raw sums', async () => {
    const metrics = createMetrics(options([{ layer: 'fc', window: '1h', sums: EMPTY_DRIFT, thresholds: { cka: 0.9 } }]));
    const lines = sampleLines(await metrics.registry.metrics());
    expect(lines.filter((l) => /^ckawatch_(cka|mmd2|drift)\{/.test(l))).toEqual([]);
    expect(lines).toContain('ckawatch_window_sum{layer="fc",window="1h",field="batches"} 0');
    expect(lines).toContain('ckawatch_threshold{layer="fc",window="1h",statistic="cka"} 0.9');
  });

  it('reads the source once per scrape, at the injected time', async () => {
    const calls: number[] = [];
    const metrics = createMetrics(options([], { scoreSource: (now) => (calls.push(now), []) }));
    await metrics.registry.metrics();
    await metrics.registry.metrics();
    expect(calls).toEqual([1_000_000, 1_000_000]);
  });

  it('follows series that disappear from the source', async () => {
    let scores: WindowScore[] = [{ layer: 'a', window: '5m', sums }];
    const metrics = createMetrics(options([], { scoreSource: () => scores }));
    expect(await metrics.registry.metrics()).toContain('ckawatch_cka{layer="a",window="5m"}');
    scores = [];
    expect(await metrics.registry.metrics()).not.toContain('ckawatch_cka{layer="a"');
  });

  it('carries counters across restarts through seedCounters/readCounters', async () => {
    const before = createMetrics(options([]));
    before.samples.inc({ topic: 't1' }, 100);
    before.samples.inc({ topic: 't2' }, 5);
    before.rejected.inc({ topic: 't1', reason: 'nan' }, 2);
    before.batches.inc(7);
    before.unscored.inc({ reason: 'too_few' }, 3);
    before.scored.inc({ topic: 't1' }, 64);
    const seed = await before.readCounters();
    const after = createMetrics(options([]));
    after.seedCounters(JSON.parse(JSON.stringify(seed)));
    after.samples.inc({ topic: 't1' }, 1);
    expect(await after.readCounters()).toEqual({
      samples: [
        { topic: 't1', value: 101 },
        { topic: 't2', value: 5 },
      ],
      rejected: [{ topic: 't1', reason: 'nan', value: 2 }],
      batches: 7,
      unscored: [{ reason: 'too_few', value: 3 }],
      scored: [{ topic: 't1', value: 64 }],
    });
  });

  it('reports not ready, without failing the scrape, when the readiness check throws', async () => {
    const logger = recordingLogger();
    const metrics = createMetrics(options([], { isReady: () => { throw new Error('boom'); }, logger }));
    expect(sampleLines(await metrics.registry.metrics())).toContain('ckawatch_ready 0');
    await metrics.registry.metrics();
    expect(logger.records.filter((r) => r.level === 'error')).toHaveLength(1);
  });

  it('uses a private registry and takes a pino logger', async () => {
    const metrics = createMetrics(options([], { logger: pino({ level: 'silent' }) }));
    expect(await metrics.registry.metrics()).toContain('ckawatch_build_info');
    expect(await globalRegistry.metrics()).not.toContain('ckawatch_');
  });
});
