/**
 * From the validated config to the daemon's parts, one constructor each: the HTTP
 * server with the built-in page, the tapped model, the reference and its calibrator, paired
 * mode, and the pipeline's edges. Daemon (daemon.ts) orders them and owns their lives.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { SPELL_STEPS } from '../calibration/budget.js';
import { windowBudget } from './judge.js';
import { loadReferenceVersion } from '../decode/reference.js';
import type { Registry } from 'prom-client';
import type { Readiness } from '../http/routes.js';
import { MetricsServer } from '../http/server.js';
import type { CounterSeed, Metrics } from '../metrics/index.js';
import { TappedModel } from '../model/tapped.js';
import { identityModel } from '../model/graph/identity.js';
import { modelInputOptions } from '../decode/input.js';
import { createStatusPage, type StatusPage } from '../page/index.js';
import { witnessRoutes, type WitnessSource } from '../page/witnesses.js';
import type { MessageDecoder } from '../decode/message.js';
import type { ScoreRow } from '../page/rows.js';
import { createDeadLetterQueue, type DeadLetterQueue } from '../source/dead-letter.js';
import { kafkaOptions } from '../source/kafka-options.js';
import { createPublisher } from '../source/publisher.js';
import type { Source } from '../source/source.js';
import type { Logger } from '../util/logger.js';
import { VERSION } from '../util/version.js';
import { driftToVector } from '../window/drift-vector.js';
import type { WindowSet } from '../window/window-set.js';
import type { WindowSpec } from '../window/spec.js';
import type { Blindness } from './blindness.js';
import { PairedMode } from './paired.js';
import type { Lanes } from './lanes.js';
import type { Counters, PipelineDeps, ScoredBatch } from './pipeline.js';
import { viewSample, viewTensor, Witnesses } from './witnesses.js';
import { batchReference } from './batch-reference.js';
import { Calibrator } from './reference.js';
import type { Sampling } from './sampling.js';
import { checkPin, sha256File } from './startup.js';

/**
 * The metrics server on config.metrics (basic auth and TLS, the password revealed here only)
 * with the built-in page (GET / and /api/scores), whose history `page.sample()` fills.
 */
export async function openServer(
  config: Config,
  o: {
    readonly registry: Registry;
    readonly rows: () => readonly ScoreRow[];
    readonly ready: () => Readiness;
    readonly now: () => number;
    readonly logger: Logger;
    readonly witnesses: () => WitnessSource | null;
  },
): Promise<{ server: MetricsServer; page: StatusPage }> {
  const { basicAuth, tls } = config.metrics;
  const page = createStatusPage({
    rows: o.rows,
    now: o.now,
    version: VERSION,
    onError: (err) => o.logger.warn({ err }, 'status page history sample failed'),
  });
  // The layer that moved most in a window: the lowest CKA there.
  const mostMoved = (window: string): string | undefined =>
    o.rows()
      .filter((r) => r.window === window && r.cka !== null)
      .sort((a, b) => a.cka! - b.cka!)[0]?.layer;
  const server = await MetricsServer.create({
    routes: { ...page.routes, ...witnessRoutes({ source: o.witnesses, mostMoved, now: o.now }) },
    host: config.metrics.host,
    port: config.metrics.port,
    registry: o.registry,
    // Scrapes within 250 ms share one rendering: a scrape storm costs consumption little.
    metricsCacheMs: 250,
    ready: o.ready,
    logger: o.logger,
    ...(basicAuth ? { basicAuth: { username: basicAuth.username, password: basicAuth.password.reveal() } } : {}),
    ...(tls ? { tls: { cert: await readFile(tls.cert, 'utf8'), key: await readFile(tls.key, 'utf8') } } : {}),
  });
  o.logger.info({ url: server.url }, 'serving /metrics, /healthz, /readyz');
  return { server, page };
}

/**
 * The model file's digest (checked against model.sha256 when pinned) and the model opened with its taps.
 * With model.responses, the identity model of the served output tensor (model/graph/identity.ts), its one layer.
 */
export async function openModel(config: Config, logger: Logger): Promise<{ model: TappedModel; sha256: string }> {
  const { responses } = config.model;
  const path = responses ? await writeIdentityModel(responses.tensor, responses.shape) : config.model.path!;
  const sha256 = await sha256File(path);
  checkPin(path, sha256, config.model.sha256);
  const model = await TappedModel.open({
    path,
    layers: responses ? [responses.tensor] : config.model.layers,
    providers: config.model.providers,
    variant: config.model.tapGraph,
    threads: config.model.threads ?? defaultThreads(),
    inputName: config.input.name,
    sequenceLength: modelInputOptions(config.input).sequenceLength,
    pooling: config.model.pooling,
    logger,
  });
  return { model, sha256 };
}

/**
 * The identity model in a temp folder of its own, removed when the process exits: the model
 * worker reads the file (again when the precision check reloads it), so it stays for the run.
 */
async function writeIdentityModel(tensor: string, shape: readonly number[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ckawatch-responses-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'responses.onnx');
  await writeFile(path, identityModel(tensor, shape));
  return path;
}

export function openCalibrator(config: Config, model: TappedModel, metrics: Metrics, logger: Logger, now: () => number): Promise<Calibrator> {
  return Calibrator.open({
    model,
    path: config.reference.path,
    n: config.batch.size,
    m: config.reference.samplesPerBatch,
    scheme: config.reference.scheme,
    pool: config.reference.pool,
    // Paired CKA reads the model's own K of each batch: a sketched one would bias it (docs/statistics.md).
    sketchWidth: config.candidate ? Number.MAX_SAFE_INTEGER : config.reference.sketchWidth,
    maxCacheBytes: config.reference.maxCacheMiB * 2 ** 20,
    seed: config.reference.seed,
    batches: config.calibration.batches,
    timeLimitMs: config.calibration.timeLimit,
    falseAlarmRate: config.calibration.falseAlarmRate,
    alarmRate: config.alarm.falseAlarmRate,
    // A false-page budget needs the alarm simulated on null batches of their own (calibration/budget.ts).
    spellSteps: windowBudget(config) ? SPELL_STEPS : undefined,
    schedule: config.calibration.schedule,
    overrides: config.calibration.thresholds ?? {},
    logger,
    now,
    load: (path) => loadReferenceVersion(path, config.input, model.layout),
    onPool: (pool) => metrics.setReferencePool(pool),
  });
}

/** Paired mode (a candidate model on the same samples), when the config has a candidate. */
export async function openPaired(config: Config, model: TappedModel, calibrator: Calibrator, windows: readonly WindowSpec[], logger: Logger): Promise<PairedMode | null> {
  if (!config.candidate) return null;
  return PairedMode.open({
    candidate: config.candidate,
    model,
    windows,
    providers: config.model.providers,
    tapGraph: config.model.tapGraph,
    gramTolerance: config.model.gramTolerance,
    sampler: calibrator.state.sampler,
    threads: config.model.threads ?? defaultThreads(),
    logger,
  });
}

/** The dead-letter queue, when the source has a dead-letter topic. */
export function openDeadLetters(source: Source, metrics: Metrics, logger: Logger): DeadLetterQueue | null {
  const send = source.deadLetter;
  if (!send) return null;
  return createDeadLetterQueue({ send, onResult: (result, n) => metrics.deadLetters.inc({ result }, n), logger });
}

/** The pipeline's edges: the model, the reference, the windows, paired mode, metrics and logs. */
export function pipelineDeps(o: {
  readonly config: Config;
  readonly model: TappedModel;
  readonly calibrator: Calibrator;
  readonly windows: WindowSet;
  readonly paired: PairedMode | null;
  readonly decode: PipelineDeps['decode'];
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now: () => number;
  /** where rejected records go, when there is a dead-letter topic */
  readonly letters: DeadLetterQueue | null;
  readonly blindness: Blindness;
  readonly witnesses: Witnesses | null;
  /** which samples are scored (sampling.ts) */
  readonly sampling: Sampling;
  /** false once the partition went to another member: what its pipeline still applies is not exported */
  readonly live?: () => boolean;
}): PipelineDeps {
  const live = o.live ?? (() => true);
  const { model, calibrator, windows, paired, metrics, logger } = o;
  return {
    layers: model.layers,
    // Read per batch: a changed reference file swaps a new one in (see Calibrator.watch).
    get reference() {
      return batchReference(calibrator.state, o.config.reference.samplesPerBatch);
    },
    batchSize: o.config.batch.size,
    sampleSize: model.sampleSize,
    decode: o.decode,
    // A fixed 1 scores every sample: no choice to make per sample. A raw-f32 message of the
    // right length is one sample: left out, it need not be decoded.
    ...(o.config.sampling === 1
      ? {}
      : { choose: o.sampling.choose, ...(o.config.input.encoding === 'raw-f32' ? { oneSample: (bytes: Uint8Array) => bytes.length === model.sampleSize * 4 } : {}) }),
    // Read per accept: a changed reference file moves the default bound with it.
    get maxAbs() {
      return o.config.input.maxAbs ?? calibrator.state.maxAbs;
    },
    grams: (stacked, rows) => model.run(stacked, rows),
    addToWindows: (l, sums, at) => windows.add(model.layers[l]!, driftToVector(sums), at),
    ...(paired ? { companion: (production: Float32Array, n: number) => paired.companion(production, n) } : {}),
    now: o.now,
    onReject: (record, reason, detail) => {
      logger.debug({ topic: record.topic, partition: record.partition, offset: record.offset, reason, detail }, 'rejected message');
      o.letters?.enqueue([{ record, reason, detail }]);
    },
    onDuplicate: (record) => metrics.duplicates.inc({ topic: record.topic }),
    onApplied: ({ samples, rejected, unscored, scored }) => {
      if (!live()) return;
      for (const [topic, n] of Object.entries(samples)) metrics.samples.inc({ topic }, n);
      for (const [topic, n] of Object.entries(scored)) metrics.scored.inc({ topic }, n);
      for (const { topic, reason } of rejected) metrics.rejected.inc({ topic, reason });
      for (const u of unscored) metrics.unscored.inc({ reason: u.reason }, u.count);
      o.blindness.arrived(Object.values(samples).reduce((a, n) => a + n, 0) + rejected.length);
    },
    onBatch: (report) => {
      if (report.sums.some((s) => s !== null)) o.blindness.scored();
      metrics.batches.inc();
      metrics.batchDuration.observe(report.durationMs / 1000);
      metrics.inferenceDuration.observe(report.inferenceMs / 1000);
    },
    onLayerError: (layer, error) => logger.warn({ layer, err: error.message }, 'batch left out of one layer'),
    ...(o.witnesses ? { onScored: (batch: ScoredBatch) => live() && o.witnesses!.observe(batch) } : {}),
  };
}

/** Source.start's onLogEnd: a partition whose log ends below the state (Pipeline.resetIfAhead) is reset, counted and logged. */
export function resetBehindLogEnd(lanes: Lanes, metrics: Metrics, logger: Logger): (partition: number, logEnd: number) => void {
  const topic = lanes.topic;
  return (partition, logEnd) => {
    const ahead = lanes.resetIfAhead(partition, logEnd);
    if (ahead === null) return;
    metrics.offsetResets.inc({ topic });
    logger.warn({ topic, partition, stateOffset: ahead, logEnd }, 'partition log ends below the state (topic recreated or offsets reset): its offsets are reset, its records read as new');
  };
}

export interface OpenWitnesses {
  readonly witnesses: Witnesses;
  /** what the page's routes read */
  readonly source: WitnessSource;
  /** sends every list to witnesses.topic (never throws: a failure is logged); absent without one */
  readonly publish?: () => Promise<void>;
  close(): Promise<void>;
}

/** The samples behind an alarm (witnesses.ts), their routes' view and their topic; null when witnesses.k is 0. */
export async function openWitnesses(config: Config, model: TappedModel, calibrator: Calibrator, decoder: MessageDecoder, logger: Logger, now: () => number): Promise<OpenWitnesses | null> {
  const { k, keepBytes, topic } = config.witnesses;
  if (k === 0) return null;
  const windows = config.windows.map((w) => ({ name: w.name, durationMs: w.duration, buckets: w.buckets }));
  const witnesses = new Witnesses({ k, keepBytes, windows, layers: model.layers });
  const view = { encoding: config.input.encoding, decode: decoder.mode === 'sync' ? decoder.decode : null, sampleShape: model.input.sampleShape };
  const source: WitnessSource = {
    windows: witnesses.windows,
    layers: witnesses.layers,
    list: (window, layer, now) => witnesses.list(window, layer, now),
    missing: (window, layer, now) => witnesses.missing(window, layer, now),
    referenceView: async (window, layer, rank, now) => {
      const row = witnesses.missing(window, layer, now)[rank - 1];
      if (row === undefined) return null;
      const { data, sampleSize } = calibrator.state.sampler.reference;
      return viewTensor(data.subarray(row.index * sampleSize, (row.index + 1) * sampleSize), model.input.sampleShape);
    },
    view: async (window, layer, rank, now) => {
      const kept = witnesses.bytes(window, layer, rank, now);
      return kept === null ? null : viewSample(kept, view);
    },
  };
  if (topic === undefined || config.source.kind !== 'kafka') {
    if (topic !== undefined) logger.warn({ topic }, 'witnesses.topic needs a Kafka source: not published');
    return { witnesses, source, close: async () => undefined };
  }
  const publisher = await createPublisher(kafkaOptions(config.source, logger), topic);
  const publish = async (): Promise<void> => {
    try {
      await publisher.send(witnesses.report(now()));
    } catch (err) {
      logger.warn({ topic, err: (err as Error).message }, 'witnesses not published (is the topic there?)');
    }
  };
  return { witnesses, source, publish, close: () => publisher.close() };
}

/** The restored counters in the shape the metrics seed their counters with. */
export function counterSeed(c: Counters): CounterSeed {
  return {
    unscored: Object.entries(c.unscored).map(([reason, value]) => ({ reason, value })),
    scored: Object.entries(c.scored).map(([topic, value]) => ({ topic, value })),
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
