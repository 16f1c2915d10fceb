/**
 * A model opened for statistics: read, layers chosen (given or default), augmented with
 * Gram outputs and loaded in a worker. What `compare` and the daemon hold.
 */
import { basename } from 'node:path';
import type { Gram } from '../cka/gram.js';
import { ModelError } from '../errors/index.js';
import type { GramVariantOption, PoolingOptions } from './augment.js';
import type { ModelInput } from './input.js';
import { defaultLayers } from './layers.js';
import { layoutFeeds, sampleLayout, type SampleLayout } from './layout.js';
import { readModel } from './onnx-file.js';
import type { ModelLogger } from './session.js';
import { WorkerModelRunner } from './worker-runner.js';

export interface TappedModelOptions {
  readonly path: string;
  /** ONNX tensor names; the default set when absent or empty */
  readonly layers?: readonly string[] | undefined;
  readonly providers: readonly string[];
  readonly variant: GramVariantOption;
  readonly logger: ModelLogger;
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
  readonly #runner: WorkerModelRunner;
  /** The attention-mask input when every layer is pooled: batches are then cut to their longest unmasked length. */
  readonly #trim: string | undefined;

  private constructor(name: string, layout: SampleLayout, runner: WorkerModelRunner, trim: string | undefined) {
    this.name = name;
    this.layout = layout;
    const first = layout.entries[0]!;
    this.input = { name: first.name, sampleShape: first.sampleShape, sampleSize: first.size, type: first.type };
    this.layers = runner.taps;
    this.#runner = runner;
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
    const runner = await WorkerModelRunner.create({
      modelPath: options.path,
      taps: layers,
      variant: variantFor(options.variant, options.providers),
      providers: options.providers,
      logger: options.logger,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
      ...(options.outputs === undefined ? {} : { outputs: options.outputs }),
      ...(options.pooling === undefined ? {} : { pooling: options.pooling }),
    });
    const mask = options.pooling?.mask ?? 'attention_mask';
    const sequences = layout.entries.some((e) => e.sequence) && layout.entries.some((e) => e.name === mask && e.sequence);
    // Padding changes nothing for pooled layers; a flattened [N, T, ...] layer needs the same T in every batch.
    const trimmable = sequences && options.trimPadding !== false && options.outputs === undefined;
    const trim = trimmable && runner.tapPooling.every((p) => p !== 'flatten') ? mask : undefined;
    return new TappedModel(basename(options.path, '.onnx'), layout, runner, trim);
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

  /** Grams of every layer for `n` samples laid out row after row (the array is copied). */
  async grams(samples: Float32Array, n: number): Promise<Gram[]> {
    return (await this.run(samples, n)).grams;
  }

  async run(samples: Float32Array, n: number): Promise<{ grams: Gram[]; inferenceMs: number }> {
    if (samples.length !== n * this.sampleSize) {
      throw new ModelError(`expected ${n} samples of ${this.sampleSize} values, got ${samples.length} values`);
    }
    const result = await this.#runner.run(layoutFeeds(this.layout, samples, n, this.#trim), n);
    return { grams: result.grams, inferenceMs: result.inferenceMs };
  }

  close(): Promise<void> {
    return this.#runner.close();
  }
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
