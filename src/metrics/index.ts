import { Registry } from 'prom-client';
import { readCounters, seedCounters, type CounterSeed } from './counter-seed.js';
import { defineMetrics, type PipelineMetrics } from './definitions.js';
import type { Logger } from '../util/logger.js';
import { oncePerTurn } from './once-per-scrape.js';
import { createPairedRefresh, type PairedSource } from './paired-gauges.js';
import { createWindowRefresh, type AlarmSource, type LateSource, type ScoreSource } from './window-gauges.js';
import type { PrecisionReport } from '../model/tapped.js';
import type { ReferencePool } from '../model/reference-pool.js';

export type { CounterSeed } from './counter-seed.js';

export type { AlarmSource, LateSource, ScoreSource, WindowAlarm, WindowScore } from './window-gauges.js';
export type { PairedScore, PairedSource } from './paired-gauges.js';

export interface MetricsOptions {
  /** window sums per layer and window, read at every scrape */
  readonly scoreSource: ScoreSource;
  /** the model alarm per window, read at every scrape (ckawatch_alarm, _score, _cause) */
  readonly alarmSource?: AlarmSource;
  /** late-drop counts per window, read at every scrape */
  readonly lateSource?: LateSource;
  /** paired-mode sums per layer pair and window, read at every scrape (ckawatch_paired_cka) */
  readonly pairedSource?: PairedSource;
  /** readiness at scrape time, for ckawatch_ready (the same check /readyz uses) */
  readonly isReady: () => boolean;
  /** blindness at scrape time, for ckawatch_blind; absent: never blind */
  readonly isBlind?: () => boolean;
  /** the clock (ms) that window sums are read at */
  readonly now: () => number;
  readonly build: { readonly version: string; readonly node: string; readonly onnxruntime: string };
  readonly logger: Logger;
}

/**
 * The metrics handle the rest of the daemon uses: `metrics.samples.inc({ topic }, n)`,
 * `metrics.batchDuration.observe(s)`, ... The scrape-time series (cka, mmd2, window_sum,
 * threshold, drift, dropped_late, ready, collect_errors) are computed from the options'
 * sources and are not exposed.
 */
export type Metrics = PipelineMetrics & {
  /** a private registry (not prom-client's global one): serve it with MetricsServer */
  readonly registry: Registry;
  /** marks `provider` as the one in use (1) and forgets any other */
  setExecutionProvider(provider: string): void;
  /** the start-up precision check's error per layer (constant layers, with no error, are left out) */
  setGramPrecision(report: PrecisionReport): void;
  /** the reference pool's size and precision per layer (ckawatch_reference_cache_bytes); null: no pool */
  setReferencePool(pool: ReferencePool | null): void;
  /** adds counts restored from a checkpoint; once, at start-up */
  seedCounters(seed: CounterSeed): void;
  /**
   * Replaces the counts with `seed`: the daemon exports the counters of the partitions it
   * owns, so a partition that moves takes its counts along (they may go down here and up
   * on its new owner: sum over replicas, by topic, for the group's total)
   */
  setCounters(seed: CounterSeed): void;
  /** the counts to write into a checkpoint */
  readCounters(): Promise<CounterSeed>;
};

export function createMetrics(options: MetricsOptions): Metrics {
  const { logger } = options;
  const registry = new Registry();
  // The window refresh needs the gauges it fills; the gauges call it only at scrape time.
  let refresh = (): void => {};
  let refreshPaired = (): void => {};
  let readyFailing = false;
  const { windows, pipeline } = defineMetrics(registry, {
    // A collect() must never throw: one throwing collect fails the whole scrape.
    windows: () => {
      try {
        refresh();
      } catch (err) {
        logger.error({ err }, 'unexpected error while updating window metrics');
      }
    },
    paired: () => {
      try {
        refreshPaired();
      } catch (err) {
        logger.error({ err }, 'unexpected error while updating paired metrics');
      }
    },
    blind: () => {
      try {
        return options.isBlind?.() ? 1 : 0;
      } catch (err) {
        logger.error({ err }, 'blindness check failed; reporting not blind');
        return 0;
      }
    },
    ready: () => {
      try {
        const ready = options.isReady();
        readyFailing = false;
        return ready ? 1 : 0;
      } catch (err) {
        if (!readyFailing) logger.error({ err }, 'readiness check failed; reporting not ready');
        readyFailing = true;
        return 0;
      }
    },
  });
  refresh = oncePerTurn(createWindowRefresh(windows, options.scoreSource, options.lateSource, options.now, logger, options.alarmSource));
  if (options.pairedSource) refreshPaired = createPairedRefresh(windows, options.pairedSource, options.now, logger);
  pipeline.buildInfo.set(options.build, 1);

  return {
    ...pipeline,
    registry,
    setExecutionProvider(provider) {
      pipeline.executionProvider.reset();
      pipeline.executionProvider.set({ provider }, 1);
    },
    setGramPrecision(report) {
      pipeline.gramError.reset();
      for (const t of report.taps) if (t.error !== null) pipeline.gramError.set({ layer: t.layer, graph: t.variant }, t.error);
    },
    setReferencePool(pool) {
      pipeline.referenceCacheBytes.reset();
      pipeline.sketchError.reset();
      for (const l of pool?.layers ?? []) {
        pipeline.referenceCacheBytes.set({ layer: l.layer }, l.bytes);
        if (l.sketchError !== null) pipeline.sketchError.set({ layer: l.layer }, l.sketchError);
        if (l.gramError !== null) pipeline.gramError.set({ layer: l.layer, graph: 'pool' }, l.gramError);
      }
    },
    seedCounters: (seed) => seedCounters(pipeline, seed),
    setCounters: (seed) => {
      for (const counter of [pipeline.samples, pipeline.scored, pipeline.rejected, pipeline.unscored, pipeline.batches]) counter.reset();
      seedCounters(pipeline, seed);
    },
    readCounters: () => readCounters(pipeline),
  };
}
