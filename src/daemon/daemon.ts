import type { DriftSums } from '../cka/drift.js';
import type { Config } from '../config/schema.js';
import { createInputDecoder } from '../decode/input.js';
import { decodeRecords } from '../decode/records.js';
import type { MetricsServer } from '../http/server.js';
import type { Readiness } from '../http/routes.js';
import { createMetrics, type Metrics } from '../metrics/index.js';
import type { TappedModel } from '../model/tapped.js';
import type { ScoreRow } from '../page/rows.js';
import { createSource } from '../source/from-config.js';
import type { DeadLetterQueue } from '../source/dead-letter.js';
import type { Source, SourceRecord } from '../source/source.js';
import { createSchedule, type Schedule } from '../util/schedule.js';
import type { Logger } from '../util/logger.js';
import { ONNXRUNTIME_VERSION, VERSION } from '../util/version.js';
import { createWindowSet } from '../window/window-set.js';
import { vectorToDrift, DRIFT_WIDTH } from '../window/drift-vector.js';
import { counterSeed, openCalibrator, openModel, openDeadLetters, openPaired, openServer, openWitnesses, pipelineDeps, resetBehindLogEnd, type OpenWitnesses } from './assemble.js';
import type { CheckpointBody } from './checkpointing.js';
import { Lanes } from './lanes.js';
import { judgeWindows, scoreRows, windowBudget, type Judged, type WindowBudget } from './judge.js';
import { openPartitionStore, partitionHooks, stateScope, type PartitionStore } from './ownership.js';
import { createBlindness, type Blindness } from './blindness.js';
import { lagAndSampling, recordsHandler } from './intake.js';
import { createSampling } from './sampling.js';
import type { PairedMode } from './paired.js';
import type { Calibrator } from './reference.js';
import { closeSource } from './shutdown.js';
import { checkGramPrecision, checkSampleIndependence } from './startup.js';

/*
 *  config ─▶ HTTP server (/healthz at once; /readyz false until all below)
 *         ─▶ model (worker thread, provider fallback) ─▶ reference ─▶ [candidate model]
 *         ─▶ partition store (checkpoint file, or Kafka state topic) ─▶ RBF bandwidths
 *         ─▶ calibrated thresholds (restored or reference-against-reference batches) ─▶ pipeline
 *         ─▶ source (Kafka group or in-process stream) ─records─▶ lane of the partition ─▶ its windows
 *            (assigned: its state restored; revoked: dropped; ownership.ts)
 *  every `checkpoint.schedule`: each lane between its batches ─▶ file then commit, or one
 *            transaction per partition (state record + offset)
 *  every `calibration.schedule`: reference file changed? ─▶ recalibrate ─▶ swap between batches
 *  SIGTERM: pause source ─▶ finish batch ─▶ checkpoint ─▶ commit ─▶ leave group ─▶ exit 0
 */

export interface DaemonOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly now?: () => number;
  /** replaces the configured source (the demo's drifting stream) */
  readonly source?: Source;
  /** the model worker died or another unrecoverable error: the caller should exit non-zero */
  readonly onFatal: (error: Error) => void;
}

export class Daemon {
  readonly #o: DaemonOptions;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #status = { model: false, calibrated: false, stopping: false };
  #server!: MetricsServer;
  #metrics!: Metrics;
  #model: TappedModel | null = null;
  #lanes: Lanes | null = null;
  #source: Source | null = null;
  #schedule: Schedule | null = null;
  #timers: NodeJS.Timeout[] = [];
  /** Stops the image preprocessing threads, if any. */
  #closeDecoder: () => Promise<void> = async () => undefined;
  #inFlight: Promise<void> = Promise.resolve();
  #store: PartitionStore | null = null;
  #identity: Pick<CheckpointBody, 'modelSha256' | 'layers'> | null = null;
  #calibrator: Calibrator | null = null;
  #lastJudged: { key: string; judged: Judged } | null = null;
  readonly #budget: WindowBudget | undefined;
  #paired: PairedMode | null = null;
  #blindness: Blindness | null = null;
  #letters: DeadLetterQueue | null = null;
  #witnesses: OpenWitnesses | null = null;

  private constructor(options: DaemonOptions) {
    this.#o = options;
    this.#budget = windowBudget(options.config);
    this.#now = options.now ?? Date.now;
    this.#log = options.logger;
  }

  static async start(options: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(options);
    try {
      await daemon.#start();
    } catch (error) {
      await daemon.stop().catch(() => undefined);
      throw error;
    }
    return daemon;
  }

  get url(): string {
    return this.#server.url;
  }

  get layers(): readonly string[] {
    return this.#model?.layers ?? [];
  }

  /** Each owned partition's pipeline and state. */
  get pipeline(): Lanes | null {
    return this.#lanes;
  }

  get source(): Source | null {
    return this.#source;
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (!this.#status.model) reasons.push('model not loaded');
    if (!this.#status.calibrated) reasons.push('reference not calibrated');
    if (!this.#source?.ready) reasons.push('source not connected (Kafka consumer group not joined)');
    if (this.#status.stopping) reasons.push('shutting down');
    const blind = this.#blindness?.reason();
    if (blind) reasons.push(blind);
    const provider = this.#status.model ? this.#model?.provider : undefined;
    const warnings = this.#source?.warnings ?? [];
    return { ready: reasons.length === 0, reasons, ...(provider === undefined ? {} : { provider }), ...(warnings.length > 0 ? { warnings } : {}) };
  }

  /** Current scores of every layer and window, for tables and pages. */
  rows(): ScoreRow[] {
    return scoreRows(this.#judged(this.#now()));
  }

  /** Every layer's sums over every window at `now`: what rows and metrics are computed from. */
  #windowSums(now: number): { layer: string; window: string; sums: DriftSums }[] {
    const windows = this.#lanes?.view;
    if (!windows) return [];
    return windows.windows.flatMap((w) => windows.keys.map((layer) => ({ layer, window: w.name, sums: vectorToDrift(windows.sum(w.name, layer, now)) })));
  }

  async #start(): Promise<void> {
    const { config } = this.#o;
    this.#metrics = createMetrics({
      scoreSource: (now) => this.#judged(now).scores,
      alarmSource: (now) => this.#judged(now).alarms,
      lateSource: () => this.#lanes?.view.droppedLate() ?? [],
      pairedSource: (now) => this.#paired?.scores(now) ?? [],
      isReady: () => this.readiness().ready,
      isBlind: () => this.#blindness?.reason() != null,
      now: this.#now,
      build: { version: VERSION, node: process.version, onnxruntime: ONNXRUNTIME_VERSION },
      logger: this.#log,
    });
    const { server, page } = await openServer(config, {
      registry: this.#metrics.registry,
      rows: () => this.rows(),
      ready: () => this.readiness(),
      now: this.#now,
      logger: this.#log,
      witnesses: () => this.#witnesses?.source ?? null,
    });
    this.#server = server;
    this.#every(page.intervalMs, async () => page.sample());

    const { model, sha256: modelSha256 } = await openModel(config, this.#log);
    this.#model = model;
    const calibrator = await openCalibrator(config, model, this.#metrics, this.#log, this.#now);
    this.#calibrator = calibrator;
    // Before any statistics: may reload the model with other Gram graphs, or on another provider.
    const precision = await checkGramPrecision(model, calibrator.state.sampler, config.model.gramTolerance, this.#log);
    this.#metrics.setExecutionProvider(model.provider);
    this.#metrics.setGramPrecision(precision);
    this.#status.model = true;
    this.#log.info({ provider: model.provider, layers: model.layers }, 'model loaded');
    await checkSampleIndependence(model, calibrator.state.sampler);

    const windowSpecs = config.windows.map((w) => ({ name: w.name, durationMs: w.duration, buckets: w.buckets }));
    const paired = await openPaired(config, model, calibrator, windowSpecs, this.#log);
    this.#paired = paired;
    this.#identity = { modelSha256, layers: model.layers };
    const scope = stateScope(config, this.#o.source);
    const store = (this.#store = await openPartitionStore(config, { identity: this.#identity, scope, referenceSha256: () => calibrator.windowsKey, paired, now: this.#now, logger: this.#log }));
    // Bandwidths, then thresholds: /readyz stays false ('reference not calibrated') until here.
    await calibrator.prepare(store.restored?.reference ?? null);
    this.#status.calibrated = true;

    // Images decode off the main thread (async): a whole fetched batch is decoded before accept().
    const decoder = createInputDecoder(config.input, model.layout, config.model.responses);
    if (decoder.mode === 'async') this.#closeDecoder = decoder.close;
    const decode = decoder.mode === 'sync' ? decoder.decode : () => ({ ok: false, reason: 'internal', detail: 'decoded before accept' }) as const;
    const source = (this.#source = this.#o.source ?? (await createSource(config.source, model.sampleSize, this.#log)));
    this.#letters = openDeadLetters(source, this.#metrics, this.#log);
    this.#blindness = createBlindness(config.batch.blindAfter, this.#now);
    this.#witnesses = await openWitnesses(config, model, calibrator, decoder, this.#log, this.#now);
    if (this.#witnesses?.publish) this.#every(config.witnesses.every, this.#witnesses.publish);
    const witnesses = this.#witnesses?.witnesses ?? null;
    const sampling = createSampling(config.sampling, this.#now);
    this.#metrics.samplingFraction.set(sampling.fraction);
    const deps = { config, model, calibrator, paired, decode, witnesses, sampling, metrics: this.#metrics, logger: this.#log, now: this.#now, blindness: this.#blindness, letters: this.#letters };
    const lanes = (this.#lanes = new Lanes({
      topic: source.topic, windows: windowSpecs, layers: model.layers, width: DRIFT_WIDTH, lazy: source.committed === undefined,
      deps: (windows, live) => pipelineDeps({ ...deps, windows, live }),
      onChange: () => this.#metrics.setCounters(counterSeed(lanes.counters())),
    }));
    // A new reference invalidates every window sum (other samples, other RBF bandwidths)
    // and witness: they restart empty, counters and offsets go on.
    calibrator.watch((adopt) =>
      lanes.exclusive(async (sets) => {
        await adopt();
        for (const windows of sets) windows.restore(createWindowSet(windowSpecs, model.layers, DRIFT_WIDTH).snapshot());
        witnesses?.clear();
      }),
    );

    const onRecords = recordsHandler({
      lanes, letters: this.#letters, sampling, batchSize: config.batch.size, now: this.#now, stopping: () => this.#status.stopping, track: (work) => void (this.#inFlight = work),
      ...(decoder.mode === 'async' ? { decodeAll: (records: SourceRecord[]) => decodeRecords(records, decoder.decode) } : {}),
    });
    await source.start(onRecords, partitionHooks(lanes, store, source, this.#log), resetBehindLogEnd(lanes, this.#metrics, this.#log));

    // A partial batch goes through once it has waited batch.maxWait.
    this.#every(Math.max(50, config.batch.maxWait / 2), async () => {
      const left = await lanes.flushIdle(config.batch.maxWait);
      if (left > 0) this.#log.info({ samples: left }, 'stream idle with fewer than 4 samples queued: counted without statistics');
    });
    // Consumer lag, and with sampling auto the fraction that follows from it (intake.ts).
    this.#every(1_000, lagAndSampling(source, lanes, this.#metrics, sampling));
    this.#schedule = createSchedule(config.checkpoint.schedule, () => this.checkpoint(), {
      onError: (err) => this.#log.error({ err }, 'checkpoint failed'),
      logger: this.#log,
    });
  }

  /**
   * Writes a checkpoint of the state between batches, then commits the offsets it holds
   * (waiting at most `commitWithinMs`: the checkpoint holds them either way).
   */
  async checkpoint(commitWithinMs = Number.POSITIVE_INFINITY): Promise<void> {
    const [lanes, identity, calibrator, store] = [this.#lanes, this.#identity, this.#calibrator, this.#store];
    if (!store || !lanes || !identity || !calibrator) return;
    if (!(await store.save({ identity, lanes, calibrator, paired: this.#paired }, commitWithinMs, this.#source))) {
      this.#metrics.checkpointErrors.inc();
      return;
    }
    this.#metrics.checkpointLastSuccess.set(this.#now() / 1000);
  }

  /** Thresholds, p-values and alarms of every window at `now` (scores and alarms are read in one scrape). */
  #judged(now: number): Judged {
    // Once per change (a batch moves the total; buckets leave windows as time passes): 50 scrapers must not each pay for the p-values.
    const key = `${this.#lanes?.counters().batches ?? 0}/${this.#calibrator?.calibration ? 1 : 0}/${Math.floor(now / 250)}`;
    if (this.#lastJudged?.key !== key) this.#lastJudged = { key, judged: judgeWindows(this.#calibrator, this.#windowSums(now), this.#budget) };
    return this.#lastJudged.judged;
  }

  #every(ms: number, fn: () => Promise<void>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.#status.stopping) return;
      busy = true;
      fn()
        .catch((err: unknown) => this.#fatal(err))
        .finally(() => {
          busy = false;
        });
    }, ms);
    this.#timers.push(timer);
  }

  #fatal(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.#log.fatal({ err: error }, 'unrecoverable error');
    this.#o.onFatal(error);
  }

  /**
   * Graceful stop: pause, finish the batch, checkpoint, commit (10 s at most), then leave the
   * group and close (shutdown.ts, bounded too): the local checkpoint is written whatever the broker does.
   */
  async stop(): Promise<void> {
    if (this.#status.stopping) return;
    this.#status.stopping = true;
    for (const t of this.#timers) clearInterval(t);
    try {
      this.#source?.pause();
    } catch (err) {
      this.#log.warn({ err }, 'source pause failed'); // kafkajs throws while the group is not joined (a broker outage)
    }
    await this.#inFlight;
    await this.#schedule?.stop();
    await this.#calibrator?.stop();
    await this.checkpoint(10_000);
    if (this.#source) await closeSource(this.#source, this.#letters, this.#log);
    await this.#store?.close();
    await this.#model?.close();
    await this.#closeDecoder();
    await this.#paired?.close();
    await this.#witnesses?.close();
    await this.#server?.close();
    this.#log.info({}, 'stopped');
  }
}
