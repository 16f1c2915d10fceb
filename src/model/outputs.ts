/**
 * A model's output tensor on a data set, for `ckawatch outputs`: the reference that
 * model.responses compares served responses against is the served model's outputs on the
 * reference inputs, made once here so that production traffic is never run twice.
 */
import ort from 'onnxruntime-node';
import { ModelError } from '../errors/index.js';
import { decodeModel } from './graph/onnx-file.js';
import { sampleInput } from './graph/input.js';
import { createSession } from './runtime/session.js';
import type { Logger } from '../util/logger.js';

export interface OutputsResult {
  readonly data: Float32Array;
  /** [N, ...the output's shape per sample] */
  readonly shape: readonly number[];
}

/**
 * Runs `samples` ([count, ...the model input's sample shape], float32) through the model in
 * chunks of `batchSize` and returns the graph output `tensor` of every sample, in order.
 */
export async function modelOutputs(o: {
  readonly bytes: Uint8Array;
  readonly samples: Float32Array;
  readonly count: number;
  readonly tensor: string;
  readonly providers: readonly string[];
  readonly batchSize: number;
  readonly logger: Logger;
}): Promise<OutputsResult> {
  const input = sampleInput(decodeModel(o.bytes));
  if (input.type !== 'float32') throw new ModelError(`model input '${input.name}' takes ${input.type}; ckawatch outputs feeds float32 samples`);
  if (o.samples.length !== o.count * input.sampleSize) {
    throw new ModelError(`${o.count} samples of ${o.samples.length / Math.max(1, o.count)} values; model input '${input.name}' takes [${input.sampleShape.join(',')}] (${input.sampleSize} values)`);
  }
  const { session } = await createSession(o.bytes, o.providers, { logger: o.logger });
  try {
    // Served responses carry the graph's outputs, so only those are offered (not inner tensors).
    if (!session.outputNames.includes(o.tensor)) {
      throw new ModelError(`the model has no output '${o.tensor}'; its outputs are ${session.outputNames.map((n) => `'${n}'`).join(', ')}`);
    }
    const parts: Float32Array[] = [];
    let sampleShape: readonly number[] = [];
    for (let at = 0; at < o.count; at += o.batchSize) {
      const n = Math.min(o.batchSize, o.count - at);
      const feed = new ort.Tensor('float32', o.samples.subarray(at * input.sampleSize, (at + n) * input.sampleSize), [n, ...input.sampleShape]);
      const result = await session.run({ [input.name]: feed }, [o.tensor]);
      const out = result[o.tensor]!;
      if (out.type !== 'float32') throw new ModelError(`output '${o.tensor}' is ${out.type}; model.responses reads float32 responses`);
      sampleShape = out.dims.slice(1);
      parts.push(Float32Array.from(out.data as Float32Array));
    }
    const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
    return { data, shape: [o.count, ...sampleShape] };
  } finally {
    await session.release();
  }
}
