import type { DriftSums, KernelRows } from '../cka/drift.js';
import type { MessageHeaders } from '../decode/types.js';
import type { LayerOutput } from '../cka/pool.js';
import type { StatisticsError } from '../errors/index.js';
import type { Result } from '../io/result.js';
import type { OffsetMap } from '../source/offsets.js';
import type { SourceRecord } from '../source/source.js';
import type { PartialRecords } from './partial.js';

/** What the pipeline (pipeline.ts) is given and gives back: its edges and its state. */

/**
 * A decoded message: its sample, or its samples (a serving request's tensor [B, ...] is B),
 * or the reason (a label of ckawatch_rejected_total) it was refused.
 */
export type Decoded = Result<Float32Array | readonly Float32Array[], string>;

export interface Counters {
  samples: Record<string, number>;
  rejected: Record<string, Record<string, number>>;
  batches: number;
  /** samples counted but left out of the statistics, by reason (see UnscoredReason) */
  unscored: Record<string, number>;
  /** samples that reached the statistics, by topic (fewer than `samples` when sampling: sampling.ts) */
  scored: Record<string, number>;
}

/**
 * Why a counted sample is not in the statistics: `too_few`, 1-3 samples left when a stream
 * stopped, or left in a batch once its non-finite samples were taken out (the unbiased
 * estimators need 4); `non_finite`, its activations overflowed or turned NaN in some layer
 * (see non-finite.ts; its batch is scored from the others); `layer_error`, its batch's
 * statistics still failed in at least one layer, so that layer's windows lack it.
 */
export type UnscoredReason = 'too_few' | 'non_finite' | 'layer_error';
export interface Unscored {
  readonly reason: UnscoredReason;
  readonly count: number;
}

export interface PipelineState {
  readonly counters: Counters;
  readonly offsets: OffsetMap;
  /** records a batch split: samples of each partition's next record already applied (partial.ts) */
  readonly partial?: PartialRecords | undefined;
}

export interface BatchReport {
  readonly samples: number;
  readonly inferenceMs: number;
  readonly durationMs: number;
  readonly sums: readonly (DriftSums | null)[];
}

/** Where a sample came from: its record, and its place in it (a serving request holds several). */
export interface SampleOrigin {
  readonly record: SourceRecord;
  readonly index: number;
}

export interface ScoredBatch {
  /** per layer, the kernel row sums of the batch (null for a layer whose statistics failed) */
  readonly kernels: readonly (KernelRows | null)[];
  readonly n: number;
  /** where each production row came from */
  readonly samples: readonly SampleOrigin[];
  /** the reference index of each reference row (after the n production rows) */
  readonly referenceIndices: Int32Array;
  readonly at: number;
}

/**
 * What a batch is compared with (batch-reference.ts): rows stacked under its production
 * rows before the model (fresh reference draws), or none (a pool inside the model).
 */
export interface BatchReference {
  /** reference rows each batch is compared with (m) */
  readonly rows: number;
  /** the rows to stack (count × sampleSize values; empty with a pool) and the reference index of each of the m rows */
  draw(): { readonly rows: Float32Array; readonly count: number; readonly indices: Int32Array };
  /** one layer's statistics from the model's output for [X (n rows); the drawn rows] */
  score(layer: number, output: LayerOutput, n: number, kernels?: KernelRows): DriftSums;
}

/** Whether a sample of (topic, partition, offset, index in its record) is scored (sampling.ts). */
export type Choose = (topic: string, partition: number, offset: number, index: number) => boolean;

export interface PipelineDeps {
  readonly layers: readonly string[];
  /** read once per batch: a changed reference file swaps it between batches */
  readonly reference: BatchReference;
  readonly batchSize: number;
  readonly sampleSize: number;
  /** `headers`: the record's Kafka headers, for decoders that read them (encoding auto) */
  readonly decode: (bytes: Uint8Array, headers?: MessageHeaders) => Decoded;
  /** largest |value| a decoded sample may hold; beyond it the sample is rejected as out_of_range */
  readonly maxAbs: number;
  /** the model's output per layer for `rows` stacked samples: their Grams, or the batch reduced against a pool */
  readonly grams: (stacked: Float32Array, rows: number) => Promise<{ grams: LayerOutput[]; inferenceMs: number }>;
  /** adds one layer's batch sums to the windows at time `at` */
  readonly addToWindows: (layer: number, sums: DriftSums, at: number) => void;
  /**
   * Paired mode: a second model on the production rows alone, started alongside the
   * primary's run. It resolves to what to apply with the batch (given the primary's output,
   * which holds the production rows' Gram), so that its window sums move together with
   * everything else.
   */
  readonly companion?: (production: Float32Array, n: number) => Promise<(grams: readonly LayerOutput[], at: number) => void>;
  readonly now: () => number;
  readonly onReject?: (record: SourceRecord, reason: string, detail: string) => void;
  /** a record skipped because the state holds its offset already (redelivery, or a log that went backwards) */
  readonly onDuplicate?: (record: SourceRecord) => void;
  /** whether a sample is scored (sampling.ts); absent: every one */
  readonly choose?: Choose;
  /**
   * With `choose`: whether a message holds exactly one well-sized sample, told from its
   * bytes without decoding (raw-f32: its length). Such a message that sampling leaves out is
   * counted and committed undecoded; absent: every message is decoded.
   */
  readonly oneSample?: (bytes: Uint8Array) => boolean;
  readonly onApplied?: (delta: { samples: Record<string, number>; rejected: { topic: string; reason: string }[]; unscored: readonly Unscored[]; scored: Record<string, number> }) => void;
  readonly onBatch?: (report: BatchReport) => void;
  readonly onLayerError?: (layer: string, error: StatisticsError) => void;
  /** a batch's kernel row sums and where its rows came from, once its sums are in the windows */
  readonly onScored?: (batch: ScoredBatch) => void;
}

