import { readFile } from 'node:fs/promises';
import { DataError } from '../errors/index.js';
import { readNpyFile, writeNpyFile } from '../io/npy-file.js';
import { modelOutputs } from '../model/outputs.js';
import { cliLogger } from './logger.js';

/**
 * `ckawatch outputs --model M --data D --tensor T --out O`: the model's output T on every
 * sample of D, as O.npy [N, ...]: the reference of a model.responses config, once.
 */
export async function outputsCommand(o: { model: string; data: string; tensor: string; out: string; batchSize: number; provider: string[] }): Promise<void> {
  if (!(o.batchSize >= 1)) throw new DataError(`--batch-size: at least 1 sample per run, found ${o.batchSize}`);
  const data = readNpyFile(o.data);
  if (data.kind !== 'float32') throw new DataError(`${o.data}: ${data.dtype} samples; ckawatch outputs feeds float32 (or float64) .npy data`);
  const count = data.shape[0] ?? 0;
  if (data.shape.length < 2 || count === 0) throw new DataError(`${o.data}: shape [${data.shape.join(',')}]; expected [N, ...model input] with N >= 1`);
  const result = await modelOutputs({ bytes: await readFile(o.model), samples: data.data, count, tensor: o.tensor, providers: o.provider, batchSize: o.batchSize, logger: cliLogger() });
  writeNpyFile(o.out, result.data, result.shape);
  process.stdout.write(`${o.out}: '${o.tensor}' of ${count} samples, [${result.shape.join(', ')}] float32\n`);
}
