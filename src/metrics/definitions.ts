import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Every ckawatch metric, registered on the given (private) registry. Labels stay bounded:
 * layer, window, statistic, kernel, field, topic, partition, reason, provider; never an
 * offset or a message id.
 */

// 1 ms .. 10 s: a small batch on a GPU takes milliseconds, a large one on CPU seconds.
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface Collectors {
  /** brings every scrape-time window series up to date; must not throw */
  readonly windows: () => void;
  /** 1 or 0 for ckawatch_ready; must not throw */
  readonly ready: () => number;
  /** 1 or 0 for ckawatch_blind; must not throw */
  readonly blind: () => number;
  /** brings ckawatch_paired_cka up to date (paired mode); must not throw */
  readonly paired: () => void;
}

export function defineMetrics(registry: Registry, collectors: Collectors) {
  return { windows: defineWindowMetrics(registry, collectors), pipeline: definePipelineMetrics(registry) };
}

/** Series computed at scrape time: from the window sums (see window-gauges.ts), and readiness. */
function defineWindowMetrics(registry: Registry, collectors: Collectors) {
  const registers = [registry];
  const collect = collectors.windows;
  return {
    ready: new Gauge({
      name: 'ckawatch_ready',
      help: '1 when the daemon is ready (model loaded, reference calibrated, group joined)',
      registers,
      collect() {
        this.set(collectors.ready());
      },
    }),
    blind: new Gauge({
      name: 'ckawatch_blind',
      help: '1 while messages arrive but no window has gained a batch for batch.blindAfter (every sample rejected, or every batch failing)',
      registers,
      collect() {
        this.set(collectors.blind());
      },
    }),
    cka: new Gauge({
      name: 'ckawatch_cka',
      help: 'Covariance-alignment CKA of production against reference over the window (1: unchanged; absent when undefined)',
      labelNames: ['layer', 'window'] as const,
      registers,
      collect,
    }),
    mmd2: new Gauge({
      name: 'ckawatch_mmd2',
      help: 'Unbiased MMD² of production against reference over the window, mean of per-batch estimates (absent when undefined)',
      labelNames: ['layer', 'window', 'kernel'] as const,
      registers,
      collect,
    }),
    windowSum: new Gauge({
      name: 'ckawatch_window_sum',
      help:
        'Raw additive sums over the window, for recording rules that combine replicas: ' +
        'cka = sum(axr)/sqrt(sum(axx)*sum(arr)), mmd2 = sum(mmd_linear|mmd_rbf)/sum(mmd_weight) (batches weighted by their samples, docs/statistics.md)',
      labelNames: ['layer', 'window', 'field'] as const,
      registers,
      collect,
    }),
    threshold: new Gauge({
      name: 'ckawatch_threshold',
      help: 'Calibrated threshold for the statistic over the window (cka drifts below it, mmd2 above it)',
      labelNames: ['layer', 'window', 'statistic'] as const,
      registers,
      collect,
    }),
    drift: new Gauge({
      name: 'ckawatch_drift',
      help: '1 while the window score is beyond its threshold, else 0',
      labelNames: ['layer', 'window', 'statistic'] as const,
      registers,
      collect,
    }),
    pValue: new Gauge({
      name: 'ckawatch_pvalue',
      help: 'P-value of the window statistic under the calibrated null (clean data); absent until the window has a batch',
      labelNames: ['layer', 'window', 'statistic'] as const,
      registers,
      collect,
    }),
    alarm: new Gauge({
      name: 'ckawatch_alarm',
      help: 'The model alarm: 1 while the smallest p-value over every layer and statistic is below its jointly calibrated level (alarm.falseAlarmRate per window of clean data), else 0',
      labelNames: ['window'] as const,
      registers,
      collect,
    }),
    alarmScore: new Gauge({
      name: 'ckawatch_alarm_score',
      help: 'log10(level / smallest p-value): how far past the alarm level, in decades (> 0 exactly while ckawatch_alarm is 1)',
      labelNames: ['window'] as const,
      registers,
      collect,
    }),
    alarmCause: new Gauge({
      name: 'ckawatch_alarm_cause',
      help: 'The layer and statistic with the smallest p-value on the window: 1 while the alarm is on, 0 otherwise',
      labelNames: ['window', 'layer', 'statistic'] as const,
      registers,
      collect,
    }),
    pairedCka: new Gauge({
      name: 'ckawatch_paired_cka',
      help: 'Paired minibatch CKA between the model and the candidate model on the same production samples, per layer pair, over the window (1: same representation up to rotation and scale)',
      labelNames: ['layer', 'window'] as const,
      registers,
      collect: collectors.paired,
    }),
    droppedLate: new Counter({
      name: 'ckawatch_dropped_late_total',
      help: 'Per-layer additions dropped from a window because their time bucket had already left it',
      labelNames: ['window'] as const,
      registers,
      collect,
    }),
    collectErrors: new Counter({
      name: 'ckawatch_collect_errors_total',
      help: 'Scrapes whose window values could not be computed (the last good values were served)',
      registers,
    }),
  };
}

/** Series the daemon updates as things happen. */
function definePipelineMetrics(registry: Registry) {
  const registers = [registry];
  return {
    samples: new Counter({
      name: 'ckawatch_samples_total',
      help: 'Production samples seen: decoded, counted and committed (scored or not: see ckawatch_samples_scored_total)',
      labelNames: ['topic'] as const,
      registers,
    }),
    scored: new Counter({
      name: 'ckawatch_samples_scored_total',
      help: 'Production samples that reached the statistics: all those seen, less those sampling left out (sampling) and those unscored',
      labelNames: ['topic'] as const,
      registers,
    }),
    samplingFraction: new Gauge({
      name: 'ckawatch_sampling_fraction',
      help: 'Fraction of the samples seen that are chosen for scoring now (sampling: a fixed fraction, or auto from the measured capacity)',
      registers,
    }),
    rejected: new Counter({
      name: 'ckawatch_rejected_total',
      help: 'Messages rejected and skipped, by reason',
      labelNames: ['topic', 'reason'] as const,
      registers,
    }),
    unscored: new Counter({
      name: 'ckawatch_unscored_samples_total',
      help: 'Samples counted but left out of the statistics, by reason (too_few: 1-3 left to score; non_finite: its activations overflowed or turned NaN, its batch scored without it; layer_error: a layer whose batch statistics failed)',
      labelNames: ['reason'] as const,
      registers,
    }),
    duplicates: new Counter({
      name: 'ckawatch_duplicates_skipped_total',
      help: 'Records skipped because the state already holds their offset: redelivery after a rebalance or restart, or a topic recreated or reset below the state (then it keeps rising)',
      labelNames: ['topic'] as const,
      registers,
    }),
    offsetResets: new Counter({
      name: 'ckawatch_offset_resets_total',
      help: 'Partitions whose log ended below the offsets in the state (topic recreated, truncated or reset): their offsets were reset and their records read as new',
      labelNames: ['topic'] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: 'ckawatch_dead_letters_total',
      help: 'Rejected messages written to the dead-letter topic (sent) or not (failed: refused by the broker, topic missing, queue full)',
      labelNames: ['result'] as const,
      registers,
    }),
    batches: new Counter({ name: 'ckawatch_batches_total', help: 'Batches processed', registers }),
    batchDuration: new Histogram({
      name: 'ckawatch_batch_duration_seconds',
      help: 'Time to process one batch, from decode to window update',
      buckets: DURATION_BUCKETS,
      registers,
    }),
    inferenceDuration: new Histogram({
      name: 'ckawatch_inference_duration_seconds',
      help: 'Time of one forward pass of the augmented model',
      buckets: DURATION_BUCKETS,
      registers,
    }),
    consumerLag: new Gauge({
      name: 'ckawatch_consumer_lag',
      help: 'Messages between the committed offset and the end of the partition',
      labelNames: ['topic', 'partition'] as const,
      registers,
    }),
    executionProvider: new Gauge({
      name: 'ckawatch_execution_provider',
      help: '1 for the ONNX Runtime execution provider in use',
      labelNames: ['provider'] as const,
      registers,
    }),
    gramError: new Gauge({
      name: 'ckawatch_gram_relative_error',
      help: 'Relative Frobenius error of the layer Gram built on the execution provider against float64, measured at start-up',
      labelNames: ['layer', 'graph'] as const,
      registers,
    }),
    referenceCacheBytes: new Gauge({
      name: 'ckawatch_reference_cache_bytes',
      help: 'Bytes the reference pool keeps for the layer: its (sketched) features inside the model and their summary',
      labelNames: ['layer'] as const,
      registers,
    }),
    sketchError: new Gauge({
      name: 'ckawatch_sketch_relative_error',
      help: 'Relative Frobenius error of the layer\'s CountSketched Gram against its exact Gram on pool samples, measured at start-up',
      labelNames: ['layer'] as const,
      registers,
    }),
    buildInfo: new Gauge({
      name: 'ckawatch_build_info',
      help: 'Always 1; versions as labels',
      labelNames: ['version', 'node', 'onnxruntime'] as const,
      registers,
    }),
    checkpointErrors: new Counter({ name: 'ckawatch_checkpoint_errors_total', help: 'Checkpoint writes that failed', registers }),
    checkpointLastSuccess: new Gauge({
      name: 'ckawatch_checkpoint_last_success_timestamp_seconds',
      help: 'Unix time of the last checkpoint written',
      registers,
    }),
  };
}

export type WindowMetrics = ReturnType<typeof defineWindowMetrics>;
export type PipelineMetrics = ReturnType<typeof definePipelineMetrics>;
