/**
 * The reference pool: reference samples run through the tapped model once, at start-up,
 * so that every production batch is compared with all of them without running them again.
 *
 *   pool samples ─features head (flatten; CountSketch where D > k)─▶ P per layer [M, k]
 *   P ─centre (μ), RBF bandwidth (median heuristic)─▶ pool head baked into the model
 *   pool samples ─pool head, in chunks─▶ the pool against itself, reduced ─▶ PoolSummary per layer
 *
 * L = (P−μ)(P−μ)ᵀ is never formed outside the model: the head reduces each chunk's rows of
 * it to sums (cka/pool.ts), the same sums production batches give. What stays is P − μ
 * inside the model (M·k float32, and M norms) and the summary (two float64 vectors of
 * length M): the bytes ckawatch_reference_cache_bytes reports.
 */
import { medianGamma } from '../cka/drift.js';
import { gramOf, relativeGramError } from '../cka/gram.js';
import { isPoolBatch, poolSummaryBuilder, poolSummaryBytes, rbfKernel, type PoolBatch, type PoolSummary } from '../cka/pool.js';
import { ModelError } from '../errors/index.js';
import type { Reference } from '../reference/reference.js';
import { countSketch, tapSeed, type Sketch, type TapPool } from './graph/reference-graph.js';
import { nextTurn } from '../util/steps.js';
import type { TappedModel } from './tapped.js';

export interface PoolOptions {
  readonly reference: Reference;
  /** the reference rows that make the pool */
  readonly indices: Int32Array;
  /** k: layers with more features per sample are sketched to k */
  readonly sketchWidth: number;
  readonly seed: number;
  /** the most bytes the pools of all layers may keep */
  readonly maxBytes: number;
  /** RBF gammas to keep (a checkpoint's, so that its sums stay on the same scale); else the median heuristic */
  readonly gammas?: readonly number[] | undefined;
  /** rows per model run while building (default 256) */
  readonly chunk?: number;
  readonly onProgress?: (stage: 'features' | 'summary', done: number, of: number) => void;
}

export interface LayerPool {
  readonly layer: string;
  readonly summary: PoolSummary;
  readonly sketch: Sketch | null;
  /** features per sample before the sketch */
  readonly dims: number;
  /** bytes this layer's pool keeps (features in the model, summary in memory) */
  readonly bytes: number;
  /** ‖sketched Gram − exact Gram‖_F / ‖exact‖_F on up to 64 pool rows; null without a sketch */
  readonly sketchError: number | null;
  /** the pool head's float32 sums against float64 on the first pool rows */
  readonly gramError: number | null;
}

export interface ReferencePool {
  readonly indices: Int32Array;
  readonly layers: readonly LayerPool[];
}

const SKETCH_CHECK_ROWS = 64;
const GAMMA_ROWS = 256;

/** Builds the pools and switches `model` to scoring against them (model.usePool). */
export async function buildReferencePool(model: TappedModel, o: PoolOptions): Promise<ReferencePool> {
  const m = o.indices.length;
  const chunk = o.chunk ?? 256;
  const rows = gatherRows(o.reference, o.indices);
  // The features per sample of each layer, from a run on two rows; unsketched.
  const plain = { kind: 'features', sketches: {} } as const;
  const probeRows = Math.min(m, SKETCH_CHECK_ROWS);
  const exact = await model.features(rows.subarray(0, probeRows * model.sampleSize), probeRows, plain, chunk);
  const dims = exact.map((f) => f.length / probeRows);
  const sketches = model.layers.map((layer, l) => (dims[l]! > o.sketchWidth ? countSketch(dims[l]!, o.sketchWidth, tapSeed(o.seed, layer)) : null));
  const widths = dims.map((d, l) => sketches[l]?.width ?? d);
  const bytes = widths.map((k) => m * (k + 1) * 4 + 2 * m * 8);
  const total = bytes.reduce((s, b) => s + b, 0);
  if (total > o.maxBytes) {
    const worst = model.layers.map((layer, l) => `${layer}: ${mib(bytes[l]!)}`).join(', ');
    throw new ModelError(
      `the reference pool would keep ${mib(total)} (${worst}), more than reference.maxCacheMiB = ${mib(o.maxBytes)}: ` +
        'lower reference.pool or reference.sketchWidth, monitor fewer layers, or raise reference.maxCacheMiB',
    );
  }
  const head = { kind: 'features', sketches: Object.fromEntries(model.layers.map((layer, l) => [layer, sketches[l] ?? null])) } as const;
  const features = await model.features(rows, m, head, chunk, (done) => o.onProgress?.('features', done, m));
  // The exact Grams of wide layers take a second each (ResNet-18's first: 200,704 features):
  // the event loop gets a turn between layers.
  const sketchErrors: (number | null)[] = [];
  for (const [l, sketch] of sketches.entries()) {
    const k = widths[l]!;
    sketchErrors.push(sketch === null ? null : relativeGramError(gramOf(exact[l]!, probeRows, dims[l]!), gramOf(features[l]!.subarray(0, probeRows * k), probeRows, k)));
    await nextTurn();
  }

  const centred = features.map((f, l) => centre(f, m, widths[l]!));
  const gammas = model.layers.map((layer, l) => {
    if (o.gammas?.[l] !== undefined) return o.gammas[l];
    const count = Math.min(m, GAMMA_ROWS);
    try {
      return medianGamma(gramOf(centred[l]!.values.subarray(0, count * widths[l]!), count, widths[l]!));
    } catch (error) {
      throw new ModelError(`layer ${layer}: ${(error as Error).message}`, { cause: error });
    }
  });
  const poolNorms = centred.map((c, l) => norms(c.values, m, widths[l]!));
  const pools: Record<string, TapPool> = {};
  model.layers.forEach((layer, l) => {
    pools[layer] = {
      sketch: sketches[l] ?? null,
      m,
      mean: Float32Array.from(centred[l]!.mean),
      centred: Float32Array.from(centred[l]!.values),
      norms: Float32Array.from(poolNorms[l]!),
      gamma: gammas[l]!,
    };
  });
  await model.usePool({ kind: 'pool', pools });

  // The pool against itself, chunk by chunk, through the same head production batches go through.
  const builders = model.layers.map((_, l) => poolSummaryBuilder(poolNorms[l]!, gammas[l]!));
  const gramErrors: (number | null)[] = model.layers.map(() => null);
  for (let first = 0; first < m; first += chunk) {
    const count = Math.min(chunk, m - first);
    const { grams } = await model.run(rows.slice(first * model.sampleSize, (first + count) * model.sampleSize), count);
    grams.forEach((g, l) => {
      if (!isPoolBatch(g)) throw new ModelError(`layer ${model.layers[l]}: the model did not take the reference pool`);
      if (first === 0) gramErrors[l] = poolHeadError(g, centred[l]!.values, poolNorms[l]!, gammas[l]!, widths[l]!);
      try {
        builders[l]!.addReduced(first, g);
      } catch (error) {
        throw new ModelError(`layer ${model.layers[l]}: ${(error as Error).message}`, { cause: error });
      }
    });
    o.onProgress?.('summary', first + count, m);
  }
  return {
    indices: o.indices,
    layers: model.layers.map((layer, l) => {
      const summary = builders[l]!.finish();
      return {
        layer,
        summary,
        sketch: sketches[l] ?? null,
        dims: dims[l]!,
        bytes: m * (widths[l]! + 1) * 4 + poolSummaryBytes(summary),
        sketchError: sketchErrors[l] ?? null,
        gramError: gramErrors[l] ?? null,
      };
    }),
  };
}

function gatherRows(reference: Reference, indices: Int32Array): Float32Array {
  const size = reference.sampleSize;
  const out = new Float32Array(indices.length * size);
  indices.forEach((index, i) => out.set(reference.data.subarray(index * size, (index + 1) * size), i * size));
  return out;
}

/** Column means in float64, and the rows minus them. */
function centre(features: Float32Array, m: number, k: number): { mean: Float64Array; values: Float64Array } {
  const mean = new Float64Array(k);
  for (let a = 0; a < m; a++) for (let j = 0; j < k; j++) mean[j]! += features[a * k + j]!;
  for (let j = 0; j < k; j++) mean[j]! /= m;
  const values = new Float64Array(m * k);
  for (let a = 0; a < m; a++) for (let j = 0; j < k; j++) values[a * k + j] = features[a * k + j]! - mean[j]!;
  return { mean, values };
}

function norms(values: Float64Array, m: number, k: number): Float64Array {
  const out = new Float64Array(m);
  for (let a = 0; a < m; a++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += values[a * k + j]! ** 2;
    out[a] = s;
  }
  return out;
}

/**
 * The pool head on the device against float64, on the first rows of the first chunk (pool
 * rows themselves): the larger relative error of the per-row sums of C² and of the RBF kernel.
 */
function poolHeadError(batch: PoolBatch, values: Float64Array, poolNorms: Float64Array, gamma: number, k: number): number | null {
  const { n, m } = batch;
  const rows = Math.min(n, 16);
  const squares = { norm: 0, diff: 0 };
  const kernels = { norm: 0, diff: 0 };
  for (let i = 0; i < rows; i++) {
    let s2 = 0;
    let ke = 0;
    for (let b = 0; b < m; b++) {
      let c = 0;
      for (let j = 0; j < k; j++) c += values[i * k + j]! * values[b * k + j]!;
      s2 += c * c;
      ke += rbfKernel(poolNorms[i]!, poolNorms[b]!, c, gamma);
    }
    const at = i * (n + 4) + n;
    squares.norm += s2 * s2;
    squares.diff += (batch.rows[at + 1]! - s2) ** 2;
    kernels.norm += ke * ke;
    kernels.diff += (batch.rows[at + 2]! - ke) ** 2;
  }
  if (squares.norm === 0) return null;
  const error = Math.max(Math.sqrt(squares.diff / squares.norm), Math.sqrt(kernels.diff / kernels.norm));
  return Number.isFinite(error) ? error : Number.POSITIVE_INFINITY;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
