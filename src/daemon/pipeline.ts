import { kernelRows } from '../cka/drift.js';
import { MIN_SAMPLES } from '../cka/gram.js';
import { isFiniteOutput, type LayerOutput } from '../cka/pool.js';
import { StatisticsError } from '../errors/index.js';
import { advance, cloneOffsets, nextOffset, type OffsetMap } from '../source/offsets.js';
import type { SourceRecord } from '../source/source.js';
import { samplesInRange } from '../decode/finite.js';
import { rerunWithoutFailing } from './non-finite.js';
import { PartialTracker } from './partial.js';
import { pushSamples, type Entry } from './queue.js';
import type { BatchReference, Counters, Decoded, PipelineDeps, PipelineState, SampleOrigin, Unscored } from './pipeline-deps.js';

export type { BatchReport, Counters, Decoded, PipelineDeps, PipelineState, SampleOrigin, ScoredBatch, Unscored, UnscoredReason } from './pipeline-deps.js';

/*
 * The daemon's core loop, with every edge injected (source, model, clock, windows):
 *
 *   records ──decode──▶ FIFO of entries (samples and rejections, in arrival order)
 *                         │  n good samples (or >= 4 after max-wait)
 *                         ▼
 *            X (n) ──model (reference pool inside)──▶ per layer, X reduced against the pool
 *              (or [X; R] with m fresh reference draws ──▶ one (n+m)² Gram per layer)
 *                         │
 *                         ▼
 *        reference.score per layer ──▶ window sums   +   counters   +   offsets
 *                                   (applied together: the state a checkpoint holds)
 *
 * The model run of batch k+1 overlaps the statistics of batch k (two threads busy, not
 * one after the other); batches are still applied one by one, in queue order.
 *
 * A record's offset counts as "in the state" only once everything before it in its
 * partition is applied, so a checkpoint never claims a sample it does not hold and a
 * restart resumes exactly there. Records at offsets already accepted are skipped, which
 * makes redelivery (rebalances, seeks, restarts) harmless.
 *
 * A record may hold several samples (a serving request's tensor [B, ...]); its offset moves
 * only once all of them are applied. A state taken while a batch has applied some of them
 * resumes at that record and says how many (partial.ts): none is lost, none counted twice.
 */

/**
 * `n`: the production rows the Grams hold, `dropped` fewer than the batch's when some were
 * non-finite; `rows` then says which of the batch's rows they are.
 */
type BatchResult = {
  grams: LayerOutput[];
  n: number;
  dropped: number;
  rows?: readonly number[];
  inferenceMs: number;
  applyCompanion: ((grams: readonly LayerOutput[], at: number) => void) | undefined;
};

interface StartedBatch {
  readonly size: number;
  /** queue entries (samples and rejections) the batch covers */
  readonly taken: number;
  /** where its good samples came from, in row order, and the reference rows' indices */
  readonly samples: readonly SampleOrigin[];
  readonly referenceIndices: Int32Array;
  /** what the batch was drawn and is scored against (a reference swap cannot fall between the two) */
  readonly reference: BatchReference;
  readonly started: number;
  readonly result: Promise<BatchResult>;
}

export class Pipeline {
  readonly #deps: PipelineDeps;
  readonly #queue: Entry[] = [];
  /** good samples in the queue */
  #good = 0;
  /** leading queue entries, and good samples among them, that belong to started batches */
  #reserved = 0;
  #reservedGood = 0;
  readonly #counters: Counters;
  readonly #applied: OffsetMap;
  readonly #accepted: OffsetMap;
  #lock: Promise<unknown> = Promise.resolve();
  #duplicates = 0;
  /** when the last batch was applied (or the pipeline made): what partial batches wait against */
  #lastBatchAt: number;
  /** per "topic/partition", bumped each time its log went backwards: older entries move no offset */
  readonly #epochs = new Map<string, number>();
  readonly #partial: PartialTracker;

  constructor(deps: PipelineDeps, restored?: PipelineState) {
    if (deps.batchSize < MIN_SAMPLES || deps.reference.rows < MIN_SAMPLES) {
      throw new StatisticsError(`batch size and reference samples per batch must be at least ${MIN_SAMPLES}`);
    }
    this.#deps = deps;
    this.#counters = restored
      ? { ...structuredClone(restored.counters), scored: structuredClone(restored.counters.scored ?? {}) }
      : { samples: {}, rejected: {}, batches: 0, unscored: {}, scored: {} };
    this.#applied = cloneOffsets(restored?.offsets ?? {});
    this.#accepted = cloneOffsets(this.#applied);
    this.#partial = new PartialTracker(restored?.partial);
    this.#lastBatchAt = deps.now();
  }

  /**
   * The log of a partition ends at `logEnd`, below the offsets this state has accepted: the
   * topic was deleted and recreated, or truncated, or its offsets reset. Its records would
   * all be skipped as duplicates until they passed the old offsets, with lag 0 and nothing
   * said. Instead the partition's offsets are forgotten, so that its records are read as the
   * new data they are; what the windows hold stays (it was real traffic). Entries of the old
   * log still queued are counted but move no offset. Returns the accepted offset that was
   * ahead, or null when the log is not behind.
   */
  resetIfAhead(topic: string, partition: number, logEnd: number): number | null {
    const seen = nextOffset(this.#accepted, topic, partition);
    if (seen === undefined || logEnd >= seen) return null;
    const key = `${topic}/${partition}`;
    this.#epochs.set(key, (this.#epochs.get(key) ?? 0) + 1);
    delete this.#accepted[topic]![String(partition)];
    delete this.#applied[topic]?.[String(partition)];
    this.#partial.forget(topic, partition);
    return seen;
  }

  /** Good samples waiting for a batch. */
  get pendingSamples(): number {
    return this.#good;
  }

  /** Records skipped because their offset was already accepted (redelivery). */
  get duplicates(): number {
    return this.#duplicates;
  }

  /** A copy of the counters applied so far (they move with the offsets, synchronously). */
  get counters(): Counters {
    return structuredClone(this.#counters);
  }

  /** Offsets applied so far: where each partition must resume. */
  get offsets(): OffsetMap {
    return cloneOffsets(this.#applied);
  }

  /**
   * Decodes records into the FIFO. Cheap and synchronous; `process` does the work.
   * `decoded`, when given, holds each record's result already (decoders that are async,
   * such as images, run before this over the whole batch; see decode/records.ts).
   */
  accept(records: Iterable<SourceRecord>, decoded?: readonly Decoded[]): void {
    const { maxAbs, choose, oneSample } = this.#deps;
    let index = -1;
    for (const record of records) {
      index += 1;
      const seen = nextOffset(this.#accepted, record.topic, record.partition);
      if (seen !== undefined && record.offset < seen) {
        this.#duplicates += 1;
        this.#deps.onDuplicate?.(record);
        continue;
      }
      advance(this.#accepted, record.topic, record.partition, record.offset);
      const epoch = this.#epochs.get(`${record.topic}/${record.partition}`) ?? 0;
      // Under sampling, a one-sample message left out is counted without being decoded: at
      // a fraction f, 1 - f of the decoding (a copy and a pass over every value) was for nothing.
      if (choose && oneSample && !decoded && record.value && oneSample(record.value) && !choose(record.topic, record.partition, record.offset, 0)) {
        this.#queue.push({ topic: record.topic, partition: record.partition, offset: record.offset, epoch, skipped: true });
        continue;
      }
      const given: Decoded = decoded?.[index] ?? (record.value
        ? this.#deps.decode(record.value, record.headers)
        : { ok: false, reason: 'empty', detail: 'message has no value' });
      const result = given.ok ? samplesInRange(given.value, maxAbs) : given;
      const { topic, partition, offset } = record;
      if (result.ok) {
        // One entry per sample, scored or skipped (queue.ts); not those a restored state holds (partial.ts).
        const held = Math.min(this.#partial.held(topic, partition, offset), result.value.length - 1);
        this.#good += pushSamples(this.#queue, record, epoch, result.value, held, this.#deps.choose);
      } else {
        this.#deps.onReject?.(record, result.reason, result.detail);
        this.#queue.push({ topic, partition, offset, epoch, reason: result.reason });
      }
    }
    this.#applyLeadingRejections();
  }

  /**
   * Runs every full batch; with `flush`, also a last partial one of at least 4 samples
   * (the batch's max-wait has passed). Serialised: concurrent calls queue up.
   *
   * Batches overlap by one step: as soon as batch k's Grams are back, batch k+1 goes to
   * the model, and this thread computes batch k's statistics while the worker runs k+1.
   * Batches are still applied one at a time, in order; the model never has two in flight.
   */
  process(options: { flush: boolean } = { flush: false }): Promise<number> {
    const run = this.#lock.then(async () => {
      let batches = 0;
      let next = this.#startBatch(options.flush);
      try {
        while (next !== null) {
          const current = next;
          const result = await current.result;
          next = this.#startBatch(options.flush);
          this.#finishBatch(current, result);
          batches += 1;
        }
      } finally {
        // After a failure the entries of a batch started but not applied stay queued (a
        // later call runs them again); its result, if it ever comes, is dropped.
        next?.result.catch(() => undefined);
        this.#reserved = 0;
        this.#reservedGood = 0;
        this.#applyLeadingRejections();
      }
      return batches;
    });
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Called on a timer. A partial batch (4 or more) goes through once no batch has come for
   * `maxWaitMs`; 1-3 samples still queued after ten such waits mean the stream has stopped
   * short, and they are drained (drainShort). Returns how many samples were drained.
   */
  async flushIdle(maxWaitMs: number): Promise<number> {
    const idleMs = (): number => this.#deps.now() - this.#lastBatchAt;
    if (this.#good > 0 && idleMs() >= maxWaitMs) await this.process({ flush: true });
    if (this.#good === 0 || idleMs() < 10 * maxWaitMs) return 0;
    const left = await this.drainShort();
    if (left > 0) this.#lastBatchAt = this.#deps.now();
    return left;
  }

  /**
   * The stream has gone quiet with 1-3 good samples queued: too few for the unbiased
   * statistics (n >= 4), and nothing more is coming to complete a batch. Applies them
   * without statistics (counted and committed, left out of the windows) so that a
   * finished stream is fully accounted for. Returns how many samples were left out.
   */
  drainShort(): Promise<number> {
    const run = this.#lock.then(() => {
      if (this.#good === 0 || this.#good >= MIN_SAMPLES || this.#reserved > 0) return 0;
      const left = this.#good;
      this.#good = 0;
      this.#applyEntries(this.#queue.splice(0, this.#queue.length), [{ reason: 'too_few', count: left }]);
      return left;
    });
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /** A consistent copy of the state, taken between batches. */
  snapshot(): Promise<PipelineState> {
    const run = this.#lock.then(() => ({ counters: structuredClone(this.#counters), offsets: cloneOffsets(this.#applied), partial: this.#partial.snapshot() }));
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /** Runs `fn` between batches, with nothing else touching the state meanwhile. */
  exclusive<T>(fn: (state: PipelineState) => Promise<T> | T): Promise<T> {
    const run = this.#lock.then(() => fn({ counters: this.#counters, offsets: this.#applied, partial: this.#partial.snapshot() }));
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Takes the next batch off the queue (entries stay there, reserved, until the batch is
   * applied) and starts its model run; null when no batch is due.
   */
  #startBatch(flush: boolean): StartedBatch | null {
    const { sampleSize, batchSize } = this.#deps;
    const reference = this.#deps.reference;
    const drawn = reference.draw();
    const m = drawn.count;
    const available = this.#good - this.#reservedGood;
    const size = available >= batchSize ? batchSize : flush && available >= MIN_SAMPLES ? available : 0;
    if (size === 0) return null;
    const started = this.#deps.now();
    // Take entries after the reserved ones, up to and including the size-th good sample.
    let taken = 0;
    let good = 0;
    while (good < size) {
      const entry = this.#queue[this.#reserved + taken++]!;
      if ('sample' in entry) good += 1;
    }
    const stacked = new Float32Array((size + m) * sampleSize);
    const samples: SampleOrigin[] = [];
    for (let i = this.#reserved; i < this.#reserved + taken; i++) {
      const entry = this.#queue[i]!;
      if (!('sample' in entry)) continue;
      stacked.set(entry.sample, sampleSize * samples.length);
      samples.push(entry.origin);
    }
    stacked.set(drawn.rows, size * sampleSize);
    this.#reserved += taken;
    this.#reservedGood += size;

    const companion = this.#deps.companion?.(stacked.subarray(0, size * sampleSize), size);
    companion?.catch(() => undefined); // awaited below; if the primary run throws first, not an unhandled rejection
    const result = this.#deps.grams(stacked, size + m).then(async (r) =>
      r.grams.every(isFiniteOutput)
        ? { ...r, n: size, dropped: 0, applyCompanion: await companion }
        : this.#withoutNonFinite(stacked, size, r.grams, r.inferenceMs),
    );
    return { size, taken, samples, referenceIndices: drawn.indices, reference, started, result };
  }

  /** A batch whose Grams hold NaN or infinities: scored without the rows that cause them. */
  async #withoutNonFinite(stacked: Float32Array, size: number, first: LayerOutput[], firstMs: number): Promise<BatchResult> {
    const r = await rerunWithoutFailing(stacked, size, this.#deps.sampleSize, first, this.#deps.grams);
    const n = r.rows.length;
    const scored = r.grams.length > 0 && r.failing > 0;
    const applyCompanion = scored ? await this.#deps.companion?.(r.stacked.subarray(0, n * this.#deps.sampleSize), n) : undefined;
    return { grams: r.grams, n, dropped: r.failing, rows: r.rows, inferenceMs: firstMs + r.inferenceMs, applyCompanion };
  }

  /** Statistics of a started batch, then applied: windows, counters and offsets together. */
  #finishBatch(batch: StartedBatch, result: BatchResult): void {
    const { layers } = this.#deps;
    const { size, taken } = batch;
    const { grams, n, dropped, inferenceMs, applyCompanion } = result;
    const at = this.#deps.now();
    // Kernel row sums, filled by the statistics on the way, when witnesses want them.
    const kernels = layers.map(() => (this.#deps.onScored && n >= MIN_SAMPLES ? kernelRows(n, batch.reference.rows) : null));
    const sums = layers.map((layer, l) => {
      if (n < MIN_SAMPLES) return null;
      try {
        return batch.reference.score(l, grams[l]!, n, kernels[l] ?? undefined);
      } catch (error) {
        if (!(error instanceof StatisticsError)) throw error;
        this.#deps.onLayerError?.(layer, error);
        return null;
      }
    });
    // Apply: windows, counters and offsets move together. Earlier batches are applied
    // already, so this one's entries are at the head of the queue.
    sums.forEach((s, l) => s && this.#deps.addToWindows(l, s, at));
    const scored = layers.map((_, l) => (sums[l] ? kernels[l]! : null));
    if (n >= MIN_SAMPLES) this.#deps.onScored?.({ kernels: scored, n, samples: result.rows?.map((i) => batch.samples[i]!) ?? batch.samples, referenceIndices: batch.referenceIndices, at });
    applyCompanion?.(grams, at);
    const entries = this.#queue.splice(0, taken);
    this.#reserved -= taken;
    this.#reservedGood -= size;
    this.#good -= size;
    this.#counters.batches += 1;
    this.#lastBatchAt = this.#deps.now();
    const unscored: Unscored[] = [];
    if (dropped > 0) unscored.push({ reason: 'non_finite', count: dropped });
    if (n > 0 && n < MIN_SAMPLES) unscored.push({ reason: 'too_few', count: n });
    else if (sums.includes(null)) unscored.push({ reason: 'layer_error', count: n });
    this.#applyEntries(entries, unscored, sums.some((s) => s !== null) ? n : 0);
    this.#applyLeadingRejections();
    this.#deps.onBatch?.({ samples: size, inferenceMs, durationMs: this.#deps.now() - batch.started, sums });
  }

  /** Applies rejections at the head of the queue (everything before them is applied), unless a batch holds the head. */
  #applyLeadingRejections(): void {
    if (this.#reserved > 0) return;
    let k = 0;
    while (k < this.#queue.length && !('sample' in this.#queue[k]!)) k += 1;
    if (k > 0) this.#applyEntries(this.#queue.splice(0, k));
  }

  /** `scored`: samples of these entries that reached the statistics (a batch's n) */
  #applyEntries(entries: readonly Entry[], unscored: readonly Unscored[] = [], scored = 0): void {
    const samples: Record<string, number> = {};
    const scoredBy: Record<string, number> = {};
    const rejected: { topic: string; reason: string }[] = [];
    for (const entry of entries) {
      const last = !('more' in entry);
      const current = entry.epoch === (this.#epochs.get(`${entry.topic}/${entry.partition}`) ?? 0);
      if (last && current) advance(this.#applied, entry.topic, entry.partition, entry.offset);
      if (current) this.#partial.applied(entry.topic, entry.partition, entry.offset, !last);
      if ('sample' in entry || 'skipped' in entry) {
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
    const topic = entries.find((e) => 'sample' in e)?.topic;
    if (scored > 0 && topic !== undefined) {
      scoredBy[topic] = scored;
      this.#counters.scored[topic] = (this.#counters.scored[topic] ?? 0) + scored;
    }
    for (const { reason, count } of unscored) this.#counters.unscored[reason] = (this.#counters.unscored[reason] ?? 0) + count;
    this.#deps.onApplied?.({ samples, rejected, unscored, scored: scoredBy });
  }
}
