/**
 * What a model takes: its first non-initializer input, the one samples are fed to.
 * The batch dimension is dims[0]; every other dimension must be a fixed number, since
 * each message carries one sample of exactly that shape.
 */
import { ModelError } from '../../errors/index.js';
import { indexGraph } from './graph-index.js';
import { valueInfoElemType, valueInfoShape, DataType, type ModelProto } from './proto.js';

export interface ModelInput {
  readonly name: string;
  /** the shape of one sample: the input's dims without the batch dimension */
  readonly sampleShape: readonly number[];
  readonly sampleSize: number;
  readonly type: 'float32' | 'int64';
}

export function modelInputs(model: ModelProto): ModelInput[] {
  return indexGraph(model).inputs.map((vi) => {
    const name = vi.name ?? '';
    const shape = valueInfoShape(vi);
    if (shape === null || shape.length === 0) {
      throw new ModelError(`model input '${name}' has no recorded shape; re-export the model with input shapes`);
    }
    const rest = shape.slice(1);
    if (!rest.every((d): d is number => typeof d === 'number' && d > 0)) {
      throw new ModelError(
        `model input '${name}' has shape [${shape.join(', ')}]: every dimension after the batch must be a fixed number`,
      );
    }
    const elem = valueInfoElemType(vi);
    const type = elem === DataType.INT64 ? 'int64' : elem === DataType.FLOAT || elem === null ? 'float32' : null;
    if (type === null) throw new ModelError(`model input '${name}' has element type ${elem}; ckawatch feeds float32 or int64`);
    return { name, sampleShape: rest, sampleSize: rest.reduce((a, b) => a * b, 1), type };
  });
}

/** The input samples go to: `name` when given, else the first. */
export function sampleInput(model: ModelProto, name?: string): ModelInput {
  const inputs = modelInputs(model);
  const chosen = name === undefined ? inputs[0] : inputs.find((i) => i.name === name);
  if (chosen === undefined) {
    throw new ModelError(
      name === undefined
        ? 'the model has no inputs'
        : `the model has no input '${name}'; its inputs are ${inputs.map((i) => `'${i.name}'`).join(', ')}`,
    );
  }
  return chosen;
}
