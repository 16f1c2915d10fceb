/**
 * A model opened for statistics: read, layers chosen (given or default), augmented with
 * Gram outputs and loaded in a worker. What `compare` and the daemon hold.
 */
import { basename } from 'node:path';
import type { Gram } from '../cka/gram.js';
import { asGram, type LayerOutput } from '../cka/pool.js';
import { ModelError } from '../errors/index.js';
import { probeModel, type GramVariant, type GramVariantOption, type PoolingOptions, type TapHead } from './graph/augment.js';
import type { ModelInput } from './graph/input.js';
import { defaultLayers } from './graph/layers.js';
import { layoutFeeds, sampleLayout, type SampleLayout } from './runtime/layout.js';
import { readModel } from './graph/onnx-file.js';
import { chooseTapGraphs, type PrecisionVerdict, type TapPrecision } from './runtime/precision.js';
import type { Feeds } from './runtime/runner.js';
import { WorkerModelRunner, type WorkerRunnerOptions } from './runtime/worker-runner.js';
import type { Logger } from '../util/logger.js';

export interface TappedModelOptions {
  readonly path: string;
  /** ONNX tensor names; the default set when absent or empty */
  readonly layers?: readonly string[] | undefined;
  readonly providers: readonly string[];
  readonly variant: GramVariantOption;
  readonly logger: Logger;
  readonly threads?: number | undefined;
  readonly inputName?: string | undefined;
  readonly outputs?: readonly string[];
  /** The padded token count of [batch, sequence] inputs (text models). */
  readonly sequenceLength?: number | undefined;
  readonly pooling?: PoolingOptions | undefined;
  /** Cut padded token inputs to each batch's longest text when every layer is pooled (default true). */
  readonly trimPadding?: boolean;
}

export class TappedModel {
  readonly name: string;
  readonly layers: readonly string[];
  /** The first (for most models the only) input samples feed. */
  readonly input: ModelInput;
  /** Every input samples feed, packed in each sample row (layout.ts). */
  readonly layout: SampleLayout;
  /** Replaced only by checkPrecision, at start-up, before any caller runs a batch. */
  #runner: WorkerModelRunner;
  readonly #runnerOptions: WorkerRunnerOptions & { readonly modelPath: string };
  /** The attention-mask input when every layer is pooled: batches are then cut to their longest unmasked length. */
  readonly #trim: string | undefined;
  #precision: PrecisionReport | null = null;
  #pooled = false;
  /** The precision check's per-tap Gram graphs, kept when the runner is reloaded. */
  #overrides: Readonly<Record<string, GramVariant>> = {};

  private constructor(
    name: string,
    layout: SampleLayout,
    runner: WorkerModelRunner,
    runnerOptions: WorkerRunnerOptions & { readonly modelPath: string },
    trim: string | undefined,
  ) {
    this.name = name;
    this.layout = layout;
    const first = layout.entries[0]!;
    this.input = { name: first.name, sampleShape: first.sampleShape, sampleSize: first.size, type: first.type };
    this.layers = runner.taps;
    this.#runner = runner;
    this.#runnerOptions = runnerOptions;
    this.#trim = trim;
  }

  static async open(options: TappedModelOptions): Promise<TappedModel> {
    const model = await readModel(options.path);
    const layout = sampleLayout(model, { inputName: options.inputName, sequenceLength: options.sequenceLength });
    let layers = options.layers ?? [];
    if (layers.length === 0) {
      const chosen = defaultLayers(model);
      for (const warning of chosen.warnings) options.logger.warn({ model: options.path }, warning);
      layers = chosen.layers;
    }
    if (layers.length === 0) {
      throw new ModelError(`${options.path}: found no layers to monitor; name them (see 'ckawatch layers ${options.path}')`);
    }
    const runnerOptions = {
      modelPath: options.path,
      taps: layers,
      variant: variantFor(options.variant, options.providers),
      providers: options.providers,
      logger: options.logger,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
      ...(options.outputs === undefined ? {} : { outputs: options.outputs }),
      ...(options.pooling === undefined ? {} : { pooling: options.pooling }),
    } satisfies WorkerRunnerOptions;
    const runner = await WorkerModelRunner.create(runnerOptions);
    const mask = options.pooling?.mask ?? 'attention_mask';
    const sequences = layout.entries.some((e) => e.sequence) && layout.entries.some((e) => e.name === mask && e.sequence);
    // Padding changes nothing for pooled layers; a flattened [N, T, ...] layer needs the same T in every batch.
    const trimmable = sequences && options.trimPadding !== false && options.outputs === undefined;
    const trim = trimmable && runner.tapPooling.every((p) => p !== 'flatten') ? mask : undefined;
    return new TappedModel(basename(options.path, '.onnx'), layout, runner, runnerOptions, trim);
  }

  /** Values per sample row (the sum over the inputs fed). */
  get sampleSize(): number {
    return this.layout.sampleSize;
  }

  get provider(): string {
    return this.#runner.provider;
  }

  get runner(): WorkerModelRunner {
    return this.#runner;
  }

  /** Grams of every layer for `n` samples laid out row after row (the array is copied); not with a pool in use. */
  async grams(samples: Float32Array, n: number): Promise<Gram[]> {
    return (await this.run(samples, n)).grams.map(asGram);
  }

  /**
   * Per layer, the Gram of the `n` samples, or once usePool() was called, the samples
   * reduced against the layer's reference pool (cka/pool.ts PoolBatch).
   */
  async run(samples: Float32Array, n: number): Promise<{ grams: LayerOutput[]; inferenceMs: number }> {
    this.#assertRows(samples, n);
    const result = await this.#runner.run(layoutFeeds(this.layout, samples, n, this.#trim), n);
    return { grams: result.grams, inferenceMs: result.inferenceMs };
  }

  /** Whether run() scores against a reference pool (usePool). */
  get pooled(): boolean {
    return this.#pooled;
  }

  /**
   * Each layer's features for `count` samples, through `head` (a features head: flattened,
   * sketched where it says), in runs of `chunk` rows on a second session of the model, on
   * the provider in use. `onChunk` hears of each run (start-up progress).
   */
  async features(samples: Float32Array, count: number, head: Extract<TapHead, { kind: 'features' }>, chunk: number, onChunk?: (done: number) => void): Promise<Float32Array[]> {
    this.#assertRows(samples, count);
    const runner = await WorkerModelRunner.create({ ...this.#runnerOptions, providers: [this.provider], head });
    try {
      const parts: Float32Array[][] = this.layers.map(() => []);
      for (let first = 0; first < count; first += chunk) {
        const rows = Math.min(chunk, count - first);
        const part = samples.slice(first * this.sampleSize, (first + rows) * this.sampleSize);
        (await runner.features(layoutFeeds(this.layout, part, rows, this.#trim), rows)).forEach((f, l) => parts[l]!.push(f));
        onChunk?.(first + rows);
      }
      return parts.map((p) => {
        const out = new Float32Array(p.reduce((s, a) => s + a.length, 0));
        let at = 0;
        for (const a of p) {
          out.set(a, at);
          at += a.length;
        }
        return out;
      });
    } finally {
      await runner.close();
    }
  }

  /** From now on run() scores against these pools (a pool head): the model is reloaded with them baked in. */
  async usePool(head: Extract<TapHead, { kind: 'pool' }>): Promise<void> {
    await this.#replaceRunner({ ...this.#runnerOptions, providers: [this.provider], overrides: this.#overrides, head });
    this.#pooled = true;
  }

  #assertRows(samples: Float32Array, n: number): void {
    if (samples.length !== n * this.sampleSize) {
      throw new ModelError(`expected ${n} samples of ${this.sampleSize} values, got ${samples.length} values`);
    }
  }

  /** The last precision check's outcome; null before checkPrecision. */
  get precision(): PrecisionReport | null {
    return this.#precision;
  }

  /**
   * The start-up precision check. Runs `n` samples (n >= 2) through a probe model on the
   * provider in use and measures every tap's Gram, in each construction that applies,
   * against a float64 Gram of the same features. A tap whose preferred construction is off
   * by more than `tolerance` switches to one within it (the model is reloaded); a provider
   * with a tap that no construction gets within it is refused like one that failed to load,
   * and the next listed provider is loaded and checked. Call before running batches.
   */
  async checkPrecision(samples: Float32Array, n: number, tolerance: number): Promise<PrecisionReport> {
    if (samples.length !== n * this.sampleSize || n < 2) {
      throw new ModelError(`the precision check needs at least 2 samples of ${this.sampleSize} values, got ${samples.length} values for ${n}`);
    }
    const options = this.#runnerOptions;
    const { logger } = options;
    const model = await readModel(options.modelPath);
    const base = { variant: options.variant, ...(options.pooling ? { pooling: options.pooling } : {}) };
    let probe = probeModel(model, this.layers, base);
    let shapesLearnt = false;
    const feeds = (): Feeds => layoutFeeds(this.layout, samples, n, this.#trim);
    let providers = [...options.providers];
    const refused: string[] = [];
    for (;;) {
      const provider = this.#runner.provider;
      let verdict: PrecisionVerdict;
      try {
        let result = await this.#runner.probe(probe, feeds(), n);
        if (!shapesLearnt) {
          // Most exporters record no intermediate shapes, and `auto` cannot see [N, C, H, W]
          // in a shape it does not know: take the shapes the run produced, and probe again
          // if they change any tap's preferred graph.
          shapesLearnt = true;
          const shapes = Object.fromEntries(this.layers.flatMap((l, i) => (this.#runner.tapPooling[i] === 'flatten' ? [[l, result.dims[i] ?? []]] : [])));
          const informed = probeModel(model, this.layers, { ...base, shapes });
          if (informed.taps.some((t, i) => t.grams.map((g) => g.variant).join() !== probe.taps[i]?.grams.map((g) => g.variant).join())) {
            probe = informed;
            result = await this.#runner.probe(probe, feeds(), n);
          }
        }
        verdict = chooseTapGraphs(this.layers, result.taps, tolerance);
      } catch (error) {
        if (!(error instanceof ModelError)) throw error;
        verdict = { ok: false, reason: `the precision probe failed: ${error.message.split('\n')[0]}` };
      }
      if (verdict.ok) {
        for (const t of verdict.taps.filter((t) => t.switched)) {
          logger.warn({ provider, layer: t.layer, variant: t.variant, error: t.error }, `the preferred Gram graph of layer '${t.layer}' is not precise enough on '${provider}'; using ${t.variant}`);
        }
        if (verdict.taps.some((t, i) => t.variant !== this.#runner.tapVariants[i])) {
          const overrides = Object.fromEntries(verdict.taps.map((t) => [t.layer, t.variant]));
          this.#overrides = overrides;
          await this.#replaceRunner({ ...options, providers: [provider], overrides });
        }
        this.#precision = { provider, tolerance, taps: verdict.taps, refused };
        return this.#precision;
      }
      refused.push(`${provider}: ${verdict.reason}`);
      providers = providers.slice(providers.indexOf(provider) + 1);
      const next = providers[0];
      if (next === undefined) {
        throw new ModelError(
          `no execution provider computes the Grams of ${this.name} within the tolerance ${tolerance} (${refused.join('; ')}): ` +
            'raise the tolerance (model.gramTolerance, --gram-tolerance) if the statistics can take it, or monitor other layers',
        );
      }
      logger.warn({ provider, reason: verdict.reason }, `refusing execution provider '${provider}': ${verdict.reason}; trying '${next}'`);
      await this.#replaceRunner({ ...options, providers });
    }
  }

  async #replaceRunner(options: WorkerRunnerOptions): Promise<void> {
    const old = this.#runner;
    this.#runner = await WorkerModelRunner.create(options);
    await old.close();
  }

  close(): Promise<void> {
    return this.#runner.close();
  }
}

/** What the precision check found, for the start-up log, compare's JSON and ckawatch_gram_relative_error. */
export interface PrecisionReport {
  readonly provider: string;
  readonly tolerance: number;
  readonly taps: readonly TapPrecision[];
  /** Providers refused for imprecise Grams before `provider`, with why. */
  readonly refused: readonly string[];
}

/**
 * 'auto' on the CPU provider means plain Grams: on this project's 2-core machine plain was
 * 1.5-2× faster than channel-split for the digits CNN (bench/taps.ts, bench/daemon.ts).
 * Channel-split pays on GPUs (DESIGN.md's WebGPU table), so 'auto' keeps its per-tap rule
 * when a GPU provider comes first. Explicit choices are kept as given.
 */
export function variantFor(option: GramVariantOption, providers: readonly string[]): GramVariantOption {
  return option === 'auto' && providers[0] === 'cpu' ? 'plain' : option;
}
