import { productionBlock, type LayerOutput } from '../cka/pool.js';
import { pairedBatch, type PairedSums } from '../cka/paired.js';
import type { Config } from '../config/schema.js';
import { ModelError, StatisticsError } from '../errors/index.js';
import type { Logger } from '../util/logger.js';
import type { PairedScore } from '../metrics/index.js';
import { readModel } from '../model/graph/onnx-file.js';
import { indexGraph } from '../model/graph/graph-index.js';
import { TappedModel } from '../model/tapped.js';
import { createWindowSet, type WindowSet } from '../window/window-set.js';
import type { WindowSpec } from '../window/spec.js';
import type { ReferenceSampler } from '../reference/sampler.js';
import { checkGramPrecision, checkPin, sha256File } from './startup.js';

/*
 * Paired mode: the candidate model runs on the SAME production rows as the model, and
 * torch_cka's statistic (minibatch paired CKA) compares matching layers:
 *
 *   batch X ──model──▶ output per layer ──production block──▶ K = G[X,X]  ┐
 *   X ──────candidate──▶ L per layer ──────────────────────────────────────┴─▶ pairedBatch(K, L)
 *                                                                      ──▶ paired window sums
 *
 * The model's Gram was centred with the mean of the pool (or of the stacked batch), not of
 * X; U-centering removes any row/column shift, so K gives the same HSIC as X's own Gram.
 * A sketched layer (model/reference-pool.ts) would give the sketched Gram, whose HSIC(K, K)
 * carries the sketch's variance: with a candidate, the daemon sketches no layer.
 */

/** A pair of compared tensors: `layer` of the model, `candidate` of the candidate model. */
export interface LayerPair {
  readonly layer: string;
  readonly candidate: string;
}

/** Window vector layout of PairedSums. */
const PAIRED_FIELDS = ['xy', 'xx', 'yy', 'batches'] as const;

export interface PairedOptions {
  readonly candidate: NonNullable<Config['candidate']>;
  readonly model: TappedModel;
  readonly windows: readonly WindowSpec[];
  readonly providers: readonly string[];
  readonly tapGraph: Config['model']['tapGraph'];
  readonly gramTolerance: number;
  /** Reference samples for the candidate's precision check. */
  readonly sampler: ReferenceSampler;
  readonly threads?: number | undefined;
  readonly logger: Logger;
}

/** Identity of paired state in a checkpoint: windows are restored only for the same candidate bytes and pairs. */
export interface PairedIdentity {
  readonly candidateSha256: string;
  readonly pairs: readonly LayerPair[];
}

export class PairedMode {
  readonly pairs: readonly LayerPair[];
  readonly candidateSha256: string;
  readonly windows: WindowSet;
  readonly #model: TappedModel;
  readonly #candidate: TappedModel;
  readonly #log: Logger;

  private constructor(pairs: readonly LayerPair[], sha: string, model: TappedModel, candidate: TappedModel, windows: WindowSet, log: Logger) {
    this.pairs = pairs;
    this.candidateSha256 = sha;
    this.#model = model;
    this.#candidate = candidate;
    this.windows = windows;
    this.#log = log;
  }

  static async open(o: PairedOptions): Promise<PairedMode> {
    const { candidate: c, model } = o;
    const sha = await sha256File(c.path);
    checkPin(c.path, sha, c.sha256);
    const pairs = await choosePairs(c, model.layers);
    const candidateTaps = [...new Set(pairs.map((p) => p.candidate))];
    const candidate = await TappedModel.open({
      path: c.path,
      layers: candidateTaps,
      providers: o.providers,
      variant: o.tapGraph,
      threads: o.threads,
      inputName: model.input.name,
      logger: o.logger,
    });
    if (candidate.input.sampleSize !== model.input.sampleSize) {
      await candidate.close();
      throw new ModelError(
        `candidate ${c.path} takes inputs of shape [${candidate.input.sampleShape.join(',')}], the model [${model.input.sampleShape.join(',')}]: ` +
          'paired mode runs both on the same samples',
      );
    }
    try {
      await checkGramPrecision(candidate, o.sampler, o.gramTolerance, o.logger);
    } catch (error) {
      await candidate.close();
      throw error;
    }
    const windows = createWindowSet(o.windows, pairs.map((p) => p.layer), PAIRED_FIELDS.length);
    o.logger.info({ candidate: c.path, pairs }, 'paired mode: comparing the candidate model on the same production samples');
    return new PairedMode(pairs, sha, model, candidate, windows, o.logger);
  }

  get identity(): PairedIdentity {
    return { candidateSha256: this.candidateSha256, pairs: this.pairs };
  }

  /** The pipeline's companion: candidate Grams of the production rows, then paired sums applied with the batch. */
  async companion(production: Float32Array, n: number): Promise<(grams: readonly LayerOutput[], at: number) => void> {
    const candidateGrams = await this.#candidate.grams(production, n);
    const byTap = new Map(this.#candidate.layers.map((t, i) => [t, candidateGrams[i]!]));
    const modelIndex = new Map(this.#model.layers.map((l, i) => [l, i]));
    return (grams, at) => {
      for (const pair of this.pairs) {
        try {
          const k = productionBlock(grams[modelIndex.get(pair.layer)!]!, n);
          const sums = pairedBatch(k, byTap.get(pair.candidate)!);
          this.windows.add(pair.layer, PAIRED_FIELDS.map((f) => sums[f]), at);
        } catch (error) {
          if (!(error instanceof StatisticsError)) throw error;
          this.#log.warn({ layer: pair.layer, candidate: pair.candidate, err: error.message }, 'batch left out of one paired layer');
        }
      }
    };
  }

  /** Sums per pair and window at `now`, for ckawatch_paired_cka. */
  *scores(now: number): Iterable<PairedScore> {
    for (const w of this.windows.windows) {
      for (const pair of this.pairs) {
        const v = this.windows.sum(w.name, pair.layer, now);
        const sums: PairedSums = { xy: v[0]!, xx: v[1]!, yy: v[2]!, batches: v[3]! };
        yield { layer: pair.layer, window: w.name, sums };
      }
    }
  }

  close(): Promise<void> {
    return this.#candidate.close();
  }
}

/**
 * Which tensors to compare: config `match` (explicit pairs), config `layers` (these names
 * in both models), or by default every monitored layer whose tensor name the candidate
 * also has.
 */
export async function choosePairs(c: NonNullable<Config['candidate']>, monitored: readonly string[]): Promise<LayerPair[]> {
  const names = tensorNames(indexGraph(await readModel(c.path)));
  const inModel = (x: string): boolean => monitored.includes(x);
  const inCandidate = (x: string): boolean => names.has(x);
  const check = (list: readonly string[], has: (x: string) => boolean, key: string, where: string): void => {
    const missing = list.filter((x) => !has(x));
    if (missing.length > 0) throw new ModelError(`candidate.${key}: not ${where}: ${missing.join(', ')}`);
  };
  const modelWhere = 'monitored layers of the model (model.layers)';
  const candidateWhere = `tensors of ${c.path} (see 'ckawatch layers ${c.path}')`;
  if (c.match !== undefined) {
    const pairs = Object.entries(c.match).map(([layer, candidate]) => ({ layer, candidate }));
    check(pairs.map((p) => p.layer), inModel, 'match', modelWhere);
    check(pairs.map((p) => p.candidate), inCandidate, 'match', candidateWhere);
    return pairs;
  }
  if (c.layers !== undefined) {
    check(c.layers, inModel, 'layers', modelWhere);
    check(c.layers, inCandidate, 'layers', candidateWhere);
    return c.layers.map((layer) => ({ layer, candidate: layer }));
  }
  const pairs = monitored.filter((l) => names.has(l)).map((layer) => ({ layer, candidate: layer }));
  if (pairs.length === 0) {
    throw new ModelError(`candidate ${c.path} has none of the monitored tensor names (${monitored.join(', ')}): pair layers under candidate.match`);
  }
  return pairs;
}

function tensorNames(index: ReturnType<typeof indexGraph>): Set<string> {
  const names = new Set<string>(index.producer.keys());
  for (const vi of index.graph.output ?? []) if (vi.name) names.add(vi.name);
  return names;
}
