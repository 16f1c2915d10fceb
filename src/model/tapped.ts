/**
 * A model opened for statistics: read, layers chosen (given or default), augmented with
 * Gram outputs and loaded in a worker. What `compare` and the daemon hold.
 */
import { basename } from 'node:path';
import type { Gram } from '../cka/gram.js';
import { ModelError } from '../errors/index.js';
import type { GramVariantOption } from './augment.js';
import { sampleInput, type ModelInput } from './input.js';
import { defaultLayers } from './layers.js';
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
}

export class TappedModel {
  readonly name: string;
  readonly layers: readonly string[];
  readonly input: ModelInput;
  readonly #runner: WorkerModelRunner;

  private constructor(name: string, input: ModelInput, runner: WorkerModelRunner) {
    this.name = name;
    this.input = input;
    this.layers = runner.taps;
    this.#runner = runner;
  }

  static async open(options: TappedModelOptions): Promise<TappedModel> {
    const model = await readModel(options.path);
    const input = sampleInput(model, options.inputName);
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
      variant: options.variant,
      providers: options.providers,
      logger: options.logger,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
      ...(options.outputs === undefined ? {} : { outputs: options.outputs }),
    });
    return new TappedModel(basename(options.path, '.onnx'), input, runner);
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
    if (samples.length !== n * this.input.sampleSize) {
      throw new ModelError(`expected ${n} samples of ${this.input.sampleSize} values, got ${samples.length} values`);
    }
    const result = await this.#runner.run(
      { [this.input.name]: { type: 'float32', data: samples.slice(), dims: [n, ...this.input.sampleShape] } },
      n,
    );
    return { grams: result.grams, inferenceMs: result.inferenceMs };
  }

  close(): Promise<void> {
    return this.#runner.close();
  }
}
