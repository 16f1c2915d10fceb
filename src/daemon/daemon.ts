import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism, hostname } from 'node:os';
import type { Logger } from 'pino';
import { driftScores, type DriftSums } from '../cka/drift.js';
import { ONNXRUNTIME_VERSION, VERSION } from '../cli/version.js';
import type { Config } from '../config/index.js';
import { CkawatchError } from '../errors/index.js';
import { MetricsServer, type Readiness } from '../http/index.js';
import { createStatusPage } from '../page/index.js';
import { createMetrics, type Metrics, type WindowScore } from '../metrics/index.js';
import { TappedModel } from '../model/tapped.js';
import { decodeRecords } from '../preprocess/decode-all.js';
import { createInputDecoder, modelInputOptions } from '../preprocess/input-decoder.js';
import { loadReferenceVersion } from '../preprocess/reference.js';
import { GeneratorSource } from '../source/generator.js';
import { KafkaSource } from '../source/kafka.js';
import { kafkaOptions } from '../source/kafka-options.js';
import type { Source } from '../source/source.js';
import { createCheckpointSchedule, readCheckpoint, removeStaleTemps, writeCheckpoint, type CheckpointSchedule } from '../state/index.js';
import { createWindowSet, driftToVector, vectorToDrift, DRIFT_WIDTH, type WindowSet } from '../window/index.js';
import { usableCheckpoint, type CheckpointBody } from './checkpoint-body.js';
import { cloneOffsets } from './offsets.js';
import { Pipeline, type Counters, type PipelineState } from './pipeline.js';
import { checkGramPrecision, checkPin, checkSampleIndependence, sha256File } from './startup.js';
import { Calibrator, type RestoredReference } from './calibrate.js';
import { PairedMode } from './paired.js';
import { readNpyFile } from '../io/npy-file.js';

/*
 *  config ─▶ HTTP server (/healthz at once; /readyz false until all below)
 *         ─▶ model (worker thread, provider fallback) ─▶ reference ─▶ [candidate model]
 *         ─▶ checkpoint restore (windows, counters, offsets) ─▶ RBF bandwidths
 *         ─▶ calibrated thresholds (restored or reference-against-reference batches) ─▶ pipeline
 *         ─▶ source (Kafka group or in-process stream) ─records─▶ pipeline ─▶ windows
 *  every `checkpoint.schedule`: snapshot between batches ─▶ atomic write ─▶ Kafka commit
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

export interface LayerRow {
  readonly layer: string;
  readonly window: string;
  readonly cka: number | null;
  readonly mmd2Linear: number | null;
  readonly mmd2Rbf: number | null;
  readonly samples: number;
}

export class Daemon {
  readonly #o: DaemonOptions;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #status = { model: false, calibrated: false, stopping: false };
  #server!: MetricsServer;
  #metrics!: Metrics;
  #model: TappedModel | null = null;
  #windows: WindowSet | null = null;
  #pipeline: Pipeline | null = null;
  #source: Source | null = null;
  #schedule: CheckpointSchedule | null = null;
  #timers: NodeJS.Timeout[] = [];
  /** Stops the image preprocessing threads, if any. */
  #closeDecoder: () => Promise<void> = async () => undefined;
  #inFlight: Promise<void> = Promise.resolve();
  #lastBatchAt = 0;
  #checkpointName = '';
  #identity: Pick<CheckpointBody, 'modelSha256' | 'layers'> | null = null;
  #calibrator: Calibrator | null = null;
  #paired: PairedMode | null = null;

  private constructor(options: DaemonOptions) {
    this.#o = options;
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

  get pipeline(): Pipeline | null {
    return this.#pipeline;
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
    const provider = this.#status.model ? this.#model?.provider : undefined;
    return { ready: reasons.length === 0, reasons, ...(provider === undefined ? {} : { provider }) };
  }

  /** Current scores of every layer and window, for tables and pages. */
  rows(): LayerRow[] {
    const now = this.#now();
    const windows = this.#windows;
    if (!windows) return [];
    return windows.windows.flatMap((w) =>
      windows.keys.map((layer) => {
        const sums = vectorToDrift(windows.sum(w.name, layer, now));
        return { layer, window: w.name, ...driftScores(sums), samples: sums.samples };
      }),
    );
  }

  async #start(): Promise<void> {
    const { config } = this.#o;
    this.#metrics = createMetrics({
      scoreSource: (now) => this.#scores(now),
      lateSource: () => this.#windows?.droppedLate() ?? [],
      pairedSource: (now) => this.#paired?.scores(now) ?? [],
      isReady: () => this.readiness().ready,
      now: this.#now,
      build: { version: VERSION, node: process.version, onnxruntime: ONNXRUNTIME_VERSION },
      logger: this.#log,
    });
    // The built-in page (GET / and /api/scores): a heatmap of the last minutes, sampled by a timer.
    const page = createStatusPage({
      rows: () => this.rows(),
      now: this.#now,
      version: VERSION,
      onError: (err) => this.#log.warn({ err }, 'status page history sample failed'),
    });
    this.#every(page.intervalMs, async () => page.sample());
    this.#server = await MetricsServer.create({
      routes: page.routes,
      host: config.metrics.host,
      port: config.metrics.port,
      registry: this.#metrics.registry,
      // Scrapes within 250 ms share one rendering: a scrape storm costs consumption little.
      metricsCacheMs: 250,
      ready: () => this.readiness(),
      logger: this.#log,
      ...(config.metrics.basicAuth
        ? { basicAuth: { username: config.metrics.basicAuth.username, password: config.metrics.basicAuth.password.reveal() } }
        : {}),
      ...(config.metrics.tls
        ? { tls: { cert: await readFile(config.metrics.tls.cert, 'utf8'), key: await readFile(config.metrics.tls.key, 'utf8') } }
        : {}),
    });
    this.#log.info({ url: this.#server.url }, 'serving /metrics, /healthz, /readyz');

    const modelSha256 = await sha256File(config.model.path);
    checkPin(config.model.path, modelSha256, config.model.sha256);
    const model = await TappedModel.open({
      path: config.model.path,
      layers: config.model.layers,
      providers: config.model.providers,
      variant: config.model.tapGraph,
      threads: config.model.threads ?? defaultThreads(),
      inputName: config.input.name,
      sequenceLength: modelInputOptions(config.input).sequenceLength,
      pooling: config.model.pooling,
      logger: this.#log,
    });
    this.#model = model;

    const calibrator = await Calibrator.open({
      model,
      path: config.reference.path,
      n: config.batch.size,
      m: config.reference.samplesPerBatch,
      seed: config.reference.seed,
      batches: config.calibration.batches,
      timeLimitMs: config.calibration.timeLimit,
      falseAlarmRate: config.calibration.falseAlarmRate,
      schedule: config.calibration.schedule,
      overrides: config.calibration.thresholds ?? {},
      logger: this.#log,
      now: this.#now,
      load: (path) => loadReferenceVersion(path, config.input, model.layout),
    });
    this.#calibrator = calibrator;
    // Before any statistics: may reload the model with other Gram graphs, or on another provider.
    const precision = await checkGramPrecision(model, calibrator.state.sampler, config.model.gramTolerance, this.#log);
    this.#metrics.setExecutionProvider(model.provider);
    this.#metrics.setGramPrecision(precision);
    this.#status.model = true;
    this.#log.info({ provider: model.provider, layers: model.layers }, 'model loaded');
    await checkSampleIndependence(model, calibrator.state.sampler);

    const windowSpecs = config.windows.map((w) => ({ name: w.name, durationMs: w.duration, buckets: w.buckets }));
    if (config.candidate) {
      this.#paired = await PairedMode.open({
        candidate: config.candidate,
        model,
        windows: windowSpecs,
        providers: config.model.providers,
        tapGraph: config.model.tapGraph,
        gramTolerance: config.model.gramTolerance,
        sampler: calibrator.state.sampler,
        threads: config.model.threads ?? defaultThreads(),
        logger: this.#log,
      });
    }
    const paired = this.#paired;
    const windows = createWindowSet(windowSpecs, model.layers, DRIFT_WIDTH);
    this.#checkpointName = `ckawatch-${config.checkpoint.instanceId ?? hostname()}`;
    const restored = await this.#restore(windows, modelSha256, model.layers, calibrator.state.sha256);
    // Bandwidths, then thresholds: /readyz stays false ('reference not calibrated') until here.
    await calibrator.prepare(restored?.reference ?? null);
    this.#identity = { modelSha256, layers: model.layers };
    this.#windows = windows;
    this.#status.calibrated = true;
    if (restored) this.#metrics.seedCounters(toSeed(restored.counters));

    const m = config.reference.samplesPerBatch;
    // Images decode off the main thread (async): a whole fetched batch is decoded before accept().
    const decoder = createInputDecoder(config.input, model.layout);
    if (decoder.mode === 'async') this.#closeDecoder = decoder.close;
    const decode = decoder.mode === 'sync' ? decoder.decode : () => ({ ok: false, reason: 'internal', detail: 'decoded before accept' }) as const;
    const source = this.#o.source ?? (await this.#createSource());
    this.#source = source;
    const rejectedForDeadLetter: Parameters<Source['deadLetter']>[0][number][] = [];
    this.#pipeline = new Pipeline(
      {
        layers: model.layers,
        // Read per batch: a changed reference file swaps both in (see Calibrator.watch).
        get gammas() {
          return calibrator.state.gammas;
        },
        batchSize: config.batch.size,
        referencePerBatch: m,
        sampleSize: model.sampleSize,
        decode,
        drawReference: (k) => calibrator.state.sampler.draw(k),
        grams: (stacked, rows) => model.run(stacked, rows),
        addToWindows: (l, sums, at) => windows.add(model.layers[l]!, driftToVector(sums), at),
        ...(paired ? { companion: (production: Float32Array, n: number) => paired.companion(production, n) } : {}),
        now: this.#now,
        onReject: (record, reason, detail) => {
          this.#log.debug({ topic: record.topic, partition: record.partition, offset: record.offset, reason, detail }, 'rejected message');
          rejectedForDeadLetter.push({ record, reason, detail });
        },
        onApplied: ({ samples, rejected }) => {
          for (const [topic, n] of Object.entries(samples)) this.#metrics.samples.inc({ topic }, n);
          for (const { topic, reason } of rejected) this.#metrics.rejected.inc({ topic, reason });
        },
        onBatch: (report) => {
          this.#lastBatchAt = this.#now();
          this.#metrics.batches.inc();
          this.#metrics.batchDuration.observe(report.durationMs / 1000);
          this.#metrics.inferenceDuration.observe(report.inferenceMs / 1000);
        },
        onLayerError: (layer, error) => this.#log.warn({ layer, err: error.message }, 'batch left out of one layer'),
      },
      restored ?? undefined,
    );
    const pipeline = this.#pipeline;
    // A new reference invalidates every window sum (other samples, other RBF bandwidths):
    // the windows restart empty, counters and offsets go on.
    calibrator.watch((adopt) =>
      pipeline.exclusive(() => {
        adopt();
        windows.restore(createWindowSet(windowSpecs, model.layers, DRIFT_WIDTH).snapshot());
      }),
    );

    const onRecords = async (records: Parameters<Pipeline['accept']>[0] & unknown[]): Promise<void> => {
      if (this.#status.stopping) return;
      const work = (async () => {
        pipeline.accept(records, decoder.mode === 'async' ? await decodeRecords(records, decoder.decode) : undefined);
        if (rejectedForDeadLetter.length > 0) {
          const items = rejectedForDeadLetter.splice(0);
          await source.deadLetter(items).catch((err: unknown) => this.#log.warn({ err }, 'dead-letter topic write failed'));
        }
        await pipeline.process();
      })();
      this.#inFlight = work.catch(() => undefined);
      await work;
    };
    await source.start(onRecords, () => pipeline.offsets);

    // A partial batch goes through once it has waited batch.maxWait.
    const maxWait = config.batch.maxWait;
    this.#lastBatchAt = this.#now();
    this.#every(Math.max(50, maxWait / 2), async () => {
      if (pipeline.pendingSamples > 0 && this.#now() - this.#lastBatchAt >= maxWait) await pipeline.process({ flush: true });
      // 1-3 samples left after ten max-waits without a batch: the stream has stopped short.
      if (pipeline.pendingSamples > 0 && this.#now() - this.#lastBatchAt >= 10 * maxWait) {
        const left = await pipeline.drainShort();
        if (left > 0) {
          this.#lastBatchAt = this.#now();
          this.#log.info({ samples: left }, 'stream idle with fewer than 4 samples queued: counted without statistics');
        }
      }
    });
    this.#every(2_000, async () => {
      for (const { partition, lag } of source.lag(pipeline.offsets)) {
        this.#metrics.consumerLag.set({ topic: source.topic, partition: String(partition) }, lag);
      }
    });
    this.#schedule = createCheckpointSchedule(config.checkpoint.schedule, () => this.checkpoint(), {
      onError: (err) => this.#log.error({ err }, 'checkpoint failed'),
      logger: this.#log,
    });
  }

  async #createSource(): Promise<Source> {
    const { source } = this.#o.config;
    if (source.kind === 'kafka') return KafkaSource.create(kafkaOptions(source, this.#log));
    const file = readNpyFile(source.path);
    if (file.kind !== 'float32') throw new CkawatchError(`${source.path}: production samples must be float32 or float64`);
    const size = this.#model!.sampleSize;
    const count = Math.floor(file.data.length / size);
    return new GeneratorSource({
      topic: `file:${source.path.split('/').at(-1)}`,
      ratePerSecond: source.ratePerSecond,
      next: (i) => {
        if (i >= count && !source.loop) return null;
        const k = i % count;
        return new Uint8Array(file.data.buffer, file.data.byteOffset + k * size * 4, size * 4);
      },
      // Without this a finished file looks exactly like a stalled one.
      onEnd: (records) => this.#log.info({ path: source.path, records }, `file source reached its end after ${records} samples; the daemon keeps serving metrics`),
    });
  }

  async #restore(
    windows: WindowSet,
    modelSha256: string,
    layers: readonly string[],
    referenceSha256: string,
  ): Promise<(PipelineState & { reference: RestoredReference | null }) | null> {
    const dir = this.#o.config.checkpoint.dir;
    try {
      await mkdir(dir, { recursive: true });
      await removeStaleTemps(dir, this.#checkpointName);
    } catch (err) {
      this.#log.error({ err, dir }, 'checkpoint directory is not usable; serving without durable state until it is');
      return null;
    }
    const read = await readCheckpoint(dir, this.#checkpointName).catch((err: unknown) => {
      this.#log.error({ err }, 'cannot read the checkpoint; starting fresh');
      return null;
    });
    if (read === null || !read.ok) {
      if (read && read.reason !== 'missing') this.#log.warn({ reason: read.reason, detail: read.detail }, 'ignoring damaged checkpoint');
      return null;
    }
    const decision = usableCheckpoint(read.state, modelSha256, layers);
    if (!decision.use) {
      this.#log.warn({ why: decision.why }, 'ignoring checkpoint');
      return null;
    }
    const body = decision.body;
    const { counters, offsets } = body;
    if (body.referenceSha256 !== undefined && body.referenceSha256 !== referenceSha256) {
      // Same decision as a reference change while running: windows restart, the rest goes on.
      this.#log.warn(
        { from: body.referenceSha256, to: referenceSha256 },
        'the reference file changed since the checkpoint: its windows and RBF bandwidths are dropped; counters and offsets kept',
      );
      return { counters, offsets, reference: null };
    }
    const restored = windows.restore(body.windows);
    if (!restored.ok) {
      this.#log.warn({ detail: restored.detail }, 'ignoring checkpoint windows');
      return null;
    }
    const paired = this.#paired;
    if (paired && body.paired) {
      const same = body.paired.candidateSha256 === paired.candidateSha256 && JSON.stringify(body.paired.pairs) === JSON.stringify(paired.pairs);
      const result = same ? paired.windows.restore(body.paired.windows) : null;
      if (!result?.ok) this.#log.warn({ detail: result?.detail ?? 'another candidate model or other layer pairs' }, 'paired windows not restored');
    }
    this.#log.info({ offsets, writtenAt: read.writtenAt }, 'restored checkpoint');
    return { counters, offsets, reference: { gammas: body.gammas, calibration: body.calibration } };
  }

  /** Writes a checkpoint of the state between batches, then commits the offsets it holds. */
  async checkpoint(): Promise<void> {
    const pipeline = this.#pipeline;
    const identity = this.#identity;
    const windows = this.#windows;
    const calibrator = this.#calibrator;
    const paired = this.#paired;
    if (!pipeline || !identity || !windows || !calibrator) return;
    const body: CheckpointBody = await pipeline.exclusive((state) => ({
      format: 1,
      ...identity,
      gammas: calibrator.state.gammas,
      counters: structuredClone(state.counters),
      offsets: cloneOffsets(state.offsets),
      windows: windows.snapshot(),
      referenceSha256: calibrator.state.sha256,
      ...(calibrator.stored ? { calibration: calibrator.stored } : {}),
      ...(paired ? { paired: { ...paired.identity, windows: paired.windows.snapshot() } } : {}),
    }));
    try {
      await writeCheckpoint(this.#o.config.checkpoint.dir, this.#checkpointName, body, { now: this.#now });
      this.#metrics.checkpointLastSuccess.set(this.#now() / 1000);
    } catch (err) {
      this.#metrics.checkpointErrors.inc();
      this.#log.error({ err: (err as Error).message }, 'checkpoint not written; offsets not committed; still serving');
      return;
    }
    await this.#source?.commit(body.offsets).catch((err: unknown) => this.#log.warn({ err }, 'offset commit failed; the checkpoint holds them'));
  }

  #scores(now: number): WindowScore[] {
    const windows = this.#windows;
    if (!windows) return [];
    const calibrator = this.#calibrator;
    return windows.windows.flatMap((w) =>
      windows.keys.map((layer) => {
        const sums: DriftSums = vectorToDrift(windows.sum(w.name, layer, now));
        // The thresholds for this window's current number of batches (static ones where configured).
        return { layer, window: w.name, sums, thresholds: calibrator?.thresholds(layer, sums.batches) ?? {} };
      }),
    );
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

  /** Graceful stop: pause, finish the batch, checkpoint, commit, leave the group, close. */
  async stop(): Promise<void> {
    if (this.#status.stopping) return;
    this.#status.stopping = true;
    for (const t of this.#timers) clearInterval(t);
    this.#source?.pause();
    await this.#inFlight;
    await this.#schedule?.stop();
    await this.#calibrator?.stop();
    await this.checkpoint();
    await this.#source?.stop().catch((err: unknown) => this.#log.warn({ err }, 'source stop failed'));
    await this.#source?.close().catch((err: unknown) => this.#log.warn({ err }, 'source close failed'));
    await this.#model?.close();
    await this.#closeDecoder();
    await this.#paired?.close();
    await this.#server?.close();
    this.#log.info('stopped');
  }
}

function toSeed(c: Counters): { samples: { topic: string; value: number }[]; rejected: { topic: string; reason: string; value: number }[]; batches: number } {
  return {
    samples: Object.entries(c.samples).map(([topic, value]) => ({ topic, value })),
    rejected: Object.entries(c.rejected).flatMap(([topic, reasons]) => Object.entries(reasons).map(([reason, value]) => ({ topic, reason, value }))),
    batches: c.batches,
  };
}

/**
 * ONNX Runtime's intra-op threads when the config sets none: every core but one. The main
 * thread decodes, computes each batch's statistics while the worker runs the next batch,
 * and serves scrapes; ORT's default (all cores, spinning) starved it: 3,400-4,000 samples/s
 * against 5,400 with one thread on 2 cores (bench/daemon.ts).
 */
function defaultThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}
