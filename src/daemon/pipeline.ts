import { driftBatch, type DriftSums } from '../cka/drift.js';
import { MIN_SAMPLES, type Gram } from '../cka/gram.js';
import { StatisticsError } from '../errors/index.js';
import { advance, cloneOffsets, nextOffset, type OffsetMap } from './offsets.js';

/*
 * The daemon's core loop, with every edge injected (source, model, clock, windows):
 *
 *   records ──decode──▶ FIFO of entries (samples and rejections, in arrival order)
 *                         │  n good samples (or >= 4 after max-wait)
 *                         ▼
 *            [X (n) ; R (m reference draws)] ──model──▶ one (n+m)² Gram per layer
 *                         │
 *                         ▼
 *        driftBatch per layer ──▶ window sums   +   counters   +   offsets
 *                                   (applied together: the state a checkpoint holds)
 *
 * A record's offset counts as "in the state" only once everything before it in its
 * partition is applied, so a checkpoint never claims a sample it does not hold and a
 * restart resumes exactly there. Records at offsets already accepted are skipped, which
 * makes redelivery (rebalances, seeks, restarts) harmless.
 */

export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: Uint8Array | null;
}

export type Decoded = { ok: true; sample: Float32Array } | { ok: false; reason: string; detail: string };

type Entry =
  | { readonly topic: string; readonly partition: number; readonly offset: number; readonly sample: Float32Array }
  | { readonly topic: string; readonly partition: number; readonly offset: number; readonly reason: string };

export interface Counters {
  samples: Record<string, number>;
  rejected: Record<string, Record<string, number>>;
  batches: number;
}

export interface PipelineState {
  readonly counters: Counters;
  readonly offsets: OffsetMap;
}

export interface BatchReport {
  readonly samples: number;
  readonly inferenceMs: number;
  readonly durationMs: number;
  readonly sums: readonly (DriftSums | null)[];
}

export interface PipelineDeps {
  readonly layers: readonly string[];
  /** RBF gamma per layer, fixed from the reference at start-up */
  readonly gammas: readonly number[];
  readonly batchSize: number;
  readonly referencePerBatch: number;
  readonly sampleSize: number;
  readonly decode: (bytes: Uint8Array) => Decoded;
  readonly drawReference: (m: number) => Float32Array;
  readonly grams: (stacked: Float32Array, rows: number) => Promise<{ grams: Gram[]; inferenceMs: number }>;
  /** adds one layer's batch sums to the windows at time `at` */
  readonly addToWindows: (layer: number, sums: DriftSums, at: number) => void;
  readonly now: () => number;
  readonly onReject?: (record: SourceRecord, reason: string, detail: string) => void;
  readonly onApplied?: (delta: { samples: Record<string, number>; rejected: { topic: string; reason: string }[] }) => void;
  readonly onBatch?: (report: BatchReport) => void;
  readonly onLayerError?: (layer: string, error: StatisticsError) => void;
}

export class Pipeline {
  readonly #deps: PipelineDeps;
  readonly #queue: Entry[] = [];
  #good = 0;
  readonly #counters: Counters;
  readonly #applied: OffsetMap;
  readonly #accepted: OffsetMap;
  #lock: Promise<unknown> = Promise.resolve();
  #duplicates = 0;

  constructor(deps: PipelineDeps, restored?: PipelineState) {
    if (deps.batchSize < MIN_SAMPLES || deps.referencePerBatch < MIN_SAMPLES) {
      throw new StatisticsError(`batch size and reference samples per batch must be at least ${MIN_SAMPLES}`);
    }
    this.#deps = deps;
    this.#counters = restored
      ? structuredClone(restored.counters)
      : { samples: {}, rejected: {}, batches: 0 };
    this.#applied = cloneOffsets(restored?.offsets ?? {});
    this.#accepted = cloneOffsets(this.#applied);
  }

  /** Good samples waiting for a batch. */
  get pendingSamples(): number {
    return this.#good;
  }

  /** Records skipped because their offset was already accepted (redelivery). */
  get duplicates(): number {
    return this.#duplicates;
  }

  /** Offsets applied so far: where each partition must resume. */
  get offsets(): OffsetMap {
    return cloneOffsets(this.#applied);
  }

  /** Decodes records into the FIFO. Cheap and synchronous; `process` does the work. */
  accept(records: Iterable<SourceRecord>): void {
    for (const record of records) {
      const seen = nextOffset(this.#accepted, record.topic, record.partition);
      if (seen !== undefined && record.offset < seen) {
        this.#duplicates += 1;
        continue;
      }
      advance(this.#accepted, record.topic, record.partition, record.offset);
      const decoded: Decoded = record.value
        ? this.#deps.decode(record.value)
        : { ok: false, reason: 'empty', detail: 'message has no value' };
      const { topic, partition, offset } = record;
      if (decoded.ok) {
        this.#queue.push({ topic, partition, offset, sample: decoded.sample });
        this.#good += 1;
      } else {
        this.#deps.onReject?.(record, decoded.reason, decoded.detail);
        this.#queue.push({ topic, partition, offset, reason: decoded.reason });
      }
    }
    this.#applyLeadingRejections();
  }

  /**
   * Runs every full batch; with `flush`, also a last partial one of at least 4 samples
   * (the batch's max-wait has passed). Serialised: concurrent calls queue up.
   */
  process(options: { flush: boolean } = { flush: false }): Promise<number> {
    const run = this.#lock.then(async () => {
      let batches = 0;
      while (this.#good >= this.#deps.batchSize) {
        await this.#runBatch(this.#deps.batchSize);
        batches += 1;
      }
      if (options.flush && this.#good >= MIN_SAMPLES) {
        await this.#runBatch(this.#good);
        batches += 1;
      }
      return batches;
    });
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /** A consistent copy of the state, taken between batches. */
  snapshot(): Promise<PipelineState> {
    const run = this.#lock.then(() => ({ counters: structuredClone(this.#counters), offsets: cloneOffsets(this.#applied) }));
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /** Runs `fn` between batches, with nothing else touching the state meanwhile. */
  exclusive<T>(fn: (state: PipelineState) => Promise<T> | T): Promise<T> {
    const run = this.#lock.then(() => fn({ counters: this.#counters, offsets: this.#applied }));
    this.#lock = run.catch(() => undefined);
    return run;
  }

  async #runBatch(size: number): Promise<void> {
    const { sampleSize, referencePerBatch: m, layers, gammas } = this.#deps;
    const started = this.#deps.now();
    // Take entries up to and including the size-th good sample.
    let taken = 0;
    let good = 0;
    while (good < size) {
      const entry = this.#queue[taken++]!;
      if ('sample' in entry) good += 1;
    }
    const entries = this.#queue.slice(0, taken);
    const stacked = new Float32Array((size + m) * sampleSize);
    let row = 0;
    for (const entry of entries) if ('sample' in entry) stacked.set(entry.sample, sampleSize * row++);
    stacked.set(this.#deps.drawReference(m), size * sampleSize);

    const { grams, inferenceMs } = await this.#deps.grams(stacked, size + m);
    const at = this.#deps.now();
    const sums = grams.map((gram, l) => {
      try {
        return driftBatch(gram, size, gammas[l]!);
      } catch (error) {
        if (!(error instanceof StatisticsError)) throw error;
        this.#deps.onLayerError?.(layers[l]!, error);
        return null;
      }
    });
    // Apply: windows, counters and offsets move together.
    sums.forEach((s, l) => s && this.#deps.addToWindows(l, s, at));
    this.#queue.splice(0, taken);
    this.#good -= size;
    this.#counters.batches += 1;
    this.#applyEntries(entries);
    this.#applyLeadingRejections();
    this.#deps.onBatch?.({ samples: size, inferenceMs, durationMs: this.#deps.now() - started, sums });
  }

  #applyLeadingRejections(): void {
    let k = 0;
    while (k < this.#queue.length && !('sample' in this.#queue[k]!)) k += 1;
    if (k > 0) this.#applyEntries(this.#queue.splice(0, k));
  }

  #applyEntries(entries: readonly Entry[]): void {
    const samples: Record<string, number> = {};
    const rejected: { topic: string; reason: string }[] = [];
    for (const entry of entries) {
      advance(this.#applied, entry.topic, entry.partition, entry.offset);
      if ('sample' in entry) {
        samples[entry.topic] = (samples[entry.topic] ?? 0) + 1;
      } else {
        const byReason = (this.#counters.rejected[entry.topic] ??= {});
        byReason[entry.reason] = (byReason[entry.reason] ?? 0) + 1;
        rejected.push({ topic: entry.topic, reason: entry.reason });
      }
    }
    for (const [topic, count] of Object.entries(samples)) {
      this.#counters.samples[topic] = (this.#counters.samples[topic] ?? 0) + count;
    }
    this.#deps.onApplied?.({ samples, rejected });
  }
}
