/**
 * ModelRunner backed by a worker thread (worker.ts) that owns the ONNX Runtime
 * session. Request/response after prom-client's cluster.js: every request gets an
 * id and a pending entry with a timeout; a reply settles it once; if the worker
 * dies, every pending request is rejected and the runner stays closed.
 */
import type { Worker } from 'node:worker_threads';
import { ModelError } from '../../errors/index.js';
import { augmentModel, type GramVariant, type GramVariantOption, type PoolingOptions, type ProbeModel, type TapHead } from '../graph/augment.js';
import { poolBatchOf, poolBatchSize, type LayerOutput } from '../../cka/pool.js';
import { checkBatchDimension } from './batch.js';
import { assertFeeds, ownBuffer } from './feeds.js';
import { decodeModel, readModel } from '../graph/onnx-file.js';
import type { Feeds, ModelRunner, RunResult } from './runner.js';
import { workerReply, type WorkerInit, type WorkerReply, type WorkerRequest } from './worker-protocol.js';
import { logTo, startWorker } from './worker-start.js';
import { type Pooling } from '../../config/vocabulary.js';
import type { Logger } from '../../util/logger.js';





export type WorkerRunnerOptions = ({ readonly modelPath: string } | { readonly bytes: Uint8Array }) & {
  readonly taps: readonly string[];
  readonly variant: GramVariantOption;
  /** Per tap, the variant to use whatever `variant` says (chosen by the precision check). */
  readonly overrides?: Readonly<Record<string, GramVariant>>;
  /** Pooling of sequence taps [N, T, ...] before their Grams; see pool-graph.ts. */
  readonly pooling?: PoolingOptions;
  /** Each tap's output: its Gram (absent), its features, or its Gram rows against a pool (reference-graph.ts). */
  readonly head?: TapHead;
  /** Execution providers in order of preference; see session.ts. */
  readonly providers: readonly string[];
  /** Model outputs to return with each run (for paired mode and the batch check). */
  readonly outputs?: readonly string[];
  readonly logger: Logger;
  readonly threads?: number;
  /** Per run; a run still pending after this is rejected (the worker is left to finish it). Default 120 s. */
  readonly runTimeoutMs?: number;
  /** Loading the model (TensorRT builds engines here). Default 300 s. */
  readonly startTimeoutMs?: number;
  /** Called once if the worker dies; the daemon should crash loudly rather than carry on without inference. */
  readonly onFailure?: (error: ModelError) => void;
};

type Answer = Extract<WorkerReply, { type: 'result' | 'probe-result' }>;
type ProbeFields = Omit<Extract<WorkerRequest, { type: 'probe' }>, 'id' | 'batch' | 'feeds'>;
type SentFeeds = Extract<WorkerRequest, { type: 'run' }>['feeds'];

interface Pending {
  /** Turns the worker's answer into the caller's result; throws if it is not the answer asked for. */
  readonly settle: (reply: Answer) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Per tap, the relative Gram error of each variant the probe model built (see probeModel). */
export interface ProbeResult {
  readonly taps: readonly (readonly { readonly variant: GramVariant; readonly error: number | null }[])[];
  /** Per tap, the dims of the features as run (the tap's own shape, unless it was pooled). */
  readonly dims: readonly (readonly number[])[];
  readonly ms: number;
}

export class WorkerModelRunner implements ModelRunner {
  readonly provider: string;
  readonly taps: readonly string[];
  readonly tapVariants: readonly GramVariant[];
  readonly tapPooling: readonly Pooling[];
  readonly outputs: readonly string[];
  /** Per tap, the rows of the pool its batches are reduced against (0: a plain Gram); null for a features head. */
  readonly #poolRows: readonly number[] | null;
  #worker: Worker;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: ModelError | null = null;
  #exited: Promise<void>;
  #runTimeoutMs: number;

  private constructor(
    worker: Worker,
    exited: Promise<void>,
    provider: string,
    tapVariants: readonly GramVariant[],
    tapPooling: readonly Pooling[],
    options: WorkerRunnerOptions,
  ) {
    this.#worker = worker;
    this.#exited = exited;
    this.provider = provider;
    this.taps = [...new Set(options.taps)];
    this.tapVariants = tapVariants;
    this.tapPooling = tapPooling;
    this.outputs = [...(options.outputs ?? [])];
    const head = options.head;
    this.#poolRows = head?.kind === 'features' ? null : this.taps.map((t) => (head?.kind === 'pool' ? head.pools[t]?.m ?? 0 : 0));
    this.#runTimeoutMs = options.runTimeoutMs ?? 120_000;
    // Each reply is settled on its own turn of the event loop (setImmediate), not where it
    // arrives: Node drains up to 1000 queued messages of a port in one go, and the daemon
    // sends the next run before computing the last batch's statistics, so its next reply is
    // usually queued by then. Settled in place, reply after reply would run back to back,
    // and /metrics, the group's heartbeats and every timer would wait (seconds per scrape and
    // a member dropped from its group, on a busy machine).
    worker.on('message', (raw: unknown) => setImmediate(() => this.#onMessage(raw, options)));
    worker.on('error', (error) => this.#fail(`the inference worker crashed: ${error.message}`, options, error));
    worker.on('exit', (code) => this.#fail(`the inference worker exited unexpectedly (exit code ${code})`, options));
  }

  /** Reads and augments the model, starts the worker and waits until a provider has loaded it. */
  static async create(options: WorkerRunnerOptions): Promise<WorkerModelRunner> {
    const model = 'bytes' in options ? decodeModel(options.bytes) : await readModel(options.modelPath);
    checkBatchDimension(model);
    const outputs = [...(options.outputs ?? [])];
    const augmented = augmentModel(model, options.taps, {
      variant: options.variant,
      dropOriginalOutputs: outputs.length === 0,
      ...(options.pooling === undefined ? {} : { pooling: options.pooling }),
      ...(options.overrides === undefined ? {} : { overrides: options.overrides }),
      ...(options.head === undefined ? {} : { head: options.head }),
    });
    const missing = outputs.filter((o) => !augmented.originalOutputs.includes(o));
    if (missing.length > 0) {
      throw new ModelError(
        `the model has no output ${missing.map((m) => `'${m}'`).join(', ')}; its outputs are ` +
          `${augmented.originalOutputs.map((m) => `'${m}'`).join(', ')}`,
      );
    }
    const bytes = ownBuffer(augmented.bytes);
    const init: WorkerInit = {
      bytes,
      providers: [...options.providers],
      gramOutputs: augmented.gramOutputs,
      outputs,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
    };
    const { worker, exited, provider } = await startWorker(init, bytes.buffer, options);
    return new WorkerModelRunner(worker, exited, provider, augmented.tapVariants, augmented.tapPooling, options);
  }

  run(feeds: Feeds, batch: number): Promise<RunResult> {
    if (this.#poolRows === null) return Promise.reject(new ModelError('this runner outputs features, not Grams: use features()'));
    return this.#request(feeds, batch, null, (reply) => {
      if (reply.type !== 'result') throw new ModelError(`the inference worker answered a run with '${reply.type}'`);
      return this.#toResult(reply, batch);
    });
  }

  /** With a features head: each tap's features for the batch, row after row. */
  features(feeds: Feeds, batch: number): Promise<Float32Array[]> {
    return this.#request(feeds, batch, null, (reply) => {
      if (reply.type !== 'result') throw new ModelError(`the inference worker answered a run with '${reply.type}'`);
      return reply.grams;
    });
  }

  /**
   * Loads `probe` (a probeModel) on this runner's provider beside the running session, runs
   * it once on `feeds`, and returns each tap's Gram error against float64 per variant.
   */
  probe(probe: ProbeModel, feeds: Feeds, batch: number): Promise<ProbeResult> {
    // A copy to transfer (the caller probes again with the same model after a provider is
    // refused); new Uint8Array copies where Buffer.slice would only make a view.
    const bytes = new Uint8Array(probe.bytes);
    const taps = probe.taps.map((t) => ({ features: t.features, grams: t.grams.map((g) => ({ ...g })) }));
    return this.#request(feeds, batch, { fields: { type: 'probe', bytes, taps }, transfer: [bytes.buffer] }, (reply) => {
      if (reply.type !== 'probe-result') throw new ModelError(`the inference worker answered a probe with '${reply.type}'`);
      return { taps: reply.taps, dims: reply.dims, ms: reply.ms };
    });
  }

  /** Sends a run (probe null) or a probe with `feeds`; `toResult` turns the answer into T. */
  #request<T>(
    feeds: Feeds,
    batch: number,
    probe: { readonly fields: ProbeFields; readonly transfer: readonly ArrayBuffer[] } | null,
    toResult: (reply: Answer) => T,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closed);
    try {
      assertFeeds(feeds, batch);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const id = this.#nextId++;
    const sent: SentFeeds = {};
    const transfer = [...(probe?.transfer ?? [])];
    for (const [name, feed] of Object.entries(feeds)) {
      const data = ownBuffer(feed.data);
      transfer.push(data.buffer);
      sent[name] = { ...feed, data, dims: [...feed.dims] } as SentFeeds[string];
    }
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#pending.delete(id)) return;
        reject(new ModelError(`inference did not finish within ${this.#runTimeoutMs} ms (batch of ${batch}); ` +
          'use a smaller batch, a faster provider or a longer runTimeoutMs', { retriable: true }));
      }, this.#runTimeoutMs);
      this.#pending.set(id, { settle: (reply) => resolve(toResult(reply)), reject, timer });
      const message: WorkerRequest = probe ? { ...probe.fields, id, batch, feeds: sent } : { type: 'run', id, batch, feeds: sent };
      this.#worker.postMessage(message, transfer);
    });
  }

  async close(): Promise<void> {
    if (this.#closed === null) {
      this.#rejectAll(new ModelError('the model runner was closed while this inference was pending'));
      this.#closed = new ModelError('the model runner is closed; create a new one to run the model');
      this.#worker.postMessage({ type: 'close' });
      // A run in progress cannot be interrupted from JS; give it a moment, then stop the thread.
      const force = setTimeout(() => void this.#worker.terminate(), 5_000);
      await this.#exited;
      clearTimeout(force);
    }
    await this.#exited;
  }

  /** Ends the worker thread abruptly, as a crash would: for tests and crash drills. */
  async simulateCrash(): Promise<void> {
    await this.#worker.terminate();
  }

  #onMessage(raw: unknown, options: WorkerRunnerOptions): void {
    const parsed = workerReply.safeParse(raw);
    if (!parsed.success) {
      this.#fail(`the inference worker sent an invalid message (${parsed.error.message})`, options);
      void this.#worker.terminate();
      return;
    }
    const reply = parsed.data;
    if (reply.type === 'log') return logTo(options.logger, reply);
    if (reply.type !== 'result' && reply.type !== 'probe-result' && reply.type !== 'run-error') return;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return; // timed out or closed meanwhile: already settled
    this.#pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (reply.type === 'run-error') {
      pending.reject(new ModelError(`inference failed: ${reply.message}`));
      return;
    }
    try {
      pending.settle(reply);
    } catch (error) {
      pending.reject(error as Error);
    }
  }

  #toResult(reply: Extract<WorkerReply, { type: 'result' }>, batch: number): RunResult {
    const grams = reply.grams.map((data, i): LayerOutput => {
      const m = this.#poolRows?.[i] ?? 0;
      const expected = m > 0 ? poolBatchSize(batch, m) : batch * batch;
      if (data.length !== expected) {
        throw new ModelError(
          `layer '${this.taps[i]}' gave ${data.length} values for a batch of ${batch} (expected ${expected}): ` +
            'its first dimension is not the batch; monitor a [batch, ...] tensor instead',
        );
      }
      return m > 0 ? poolBatchOf(data, batch, m) : { n: batch, data };
    });
    const base = { grams, inferenceMs: reply.inferenceMs };
    return this.outputs.length === 0 ? base : { ...base, outputs: reply.outputs };
  }

  #fail(message: string, options: WorkerRunnerOptions, cause?: unknown): void {
    if (this.#closed !== null) return;
    const error = new ModelError(`${message}; the model runner is closed: restart ckawatch`, cause === undefined ? {} : { cause });
    this.#closed = error;
    this.#rejectAll(error);
    options.onFailure?.(error);
  }

  #rejectAll(error: ModelError): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
  }
}
