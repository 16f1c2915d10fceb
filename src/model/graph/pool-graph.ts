/**
 * Per-sample vectors from sequence taps, inside the graph, before the Gram:
 *
 *   mean:     H [N,T,D] * m [N,T,1] ─ReduceSum(axis 1)─▶ [N,D] ÷ max(Σ_t m, 1e-9) [N,1]   (m: attention mask)
 *   first:    H [N,T,D] ─Gather(index 0, axis 1)─▶ [N,D]                               ([CLS] token)
 *   flatten:  no pooling; the Gram flattens [N, T·D] (needs the same T in every batch)
 *
 * The mask is a graph input (the model's own attention_mask), cast and unsqueezed once for
 * all taps. The masked mean is what sentence-transformers' mean pooling computes, padding
 * excluded, so it does not change when batches are padded to different lengths.
 */
import { DataType, attrInt, attrInts, int64Tensor, type NodeProto, type TensorProto } from './proto.js';
import type { Pooling } from '../../config/vocabulary.js';



export interface PoolContext {
  readonly opset: number;
  readonly fresh: (base: string) => string;
  /** The attention-mask graph input, when the model has one. */
  readonly mask: string | undefined;
}

/** Builds pooling nodes for several taps, sharing the mask preparation and constants (`initializers`). */
export function createPooler(ctx: PoolContext) {
  let nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  let shared: { weights: string; count: string } | null = null;
  const constants = new Map<string, string>();

  const constant = (key: string, make: (name: string) => TensorProto): string => {
    let name = constants.get(key);
    if (name === undefined) {
      name = ctx.fresh(`ckawatch/pool/${key}`);
      constants.set(key, name);
      initializers.push(make(name));
    }
    return name;
  };
  const add = (opType: string, inputs: string[], outputs: string[], attribute: NodeProto['attribute'] = []): void => {
    nodes.push({ opType, input: inputs, output: outputs, name: ctx.fresh(`ckawatch/pool/${opType}`), attribute });
  };
  const reduceSum = (input: string, output: string, axis: number, keepdims: boolean): void => {
    if (ctx.opset >= 13) add('ReduceSum', [input, constant(`axis${axis}`, (n) => int64Tensor(n, [axis]))], [output], [attrInt('keepdims', keepdims ? 1 : 0)]);
    else add('ReduceSum', [input], [output], [attrInt('keepdims', keepdims ? 1 : 0), attrInts('axes', [axis])]);
  };

  /** Mask as float [N,T,1] and its token count max(Σ m, 1e-9) [N,1], built on first use. */
  const maskTensors = (mask: string): { weights: string; count: string } => {
    if (shared) return shared;
    const asFloat = ctx.fresh('ckawatch/pool/mask_float');
    add('Cast', [mask], [asFloat], [attrInt('to', DataType.FLOAT)]);
    const weights = ctx.fresh('ckawatch/pool/mask_weights');
    if (ctx.opset >= 13) add('Unsqueeze', [asFloat, constant('axis2', (n) => int64Tensor(n, [2]))], [weights]);
    else add('Unsqueeze', [asFloat], [weights], [attrInts('axes', [2])]);
    const summed = ctx.fresh('ckawatch/pool/mask_count');
    reduceSum(asFloat, summed, 1, true);
    const count = ctx.fresh('ckawatch/pool/mask_count_clamped');
    add('Max', [summed, constant('epsilon', (n) => ({ name: n, dataType: DataType.FLOAT, dims: [1], floatData: [1e-9] }))], [count]);
    shared = { weights, count };
    return shared;
  };

  /**
   * Nodes turning `tap` (float32) into a [N, ...] tensor for the Gram: the tensor's name and the
   * nodes to append (the shared mask nodes come with the first masked mean).
   */
  const pool = (tap: string, pooling: Exclude<Pooling, 'flatten'>): { output: string; nodes: NodeProto[] } => {
    nodes = [];
    const prefix = `ckawatch/${tap}`;
    const output = ctx.fresh(`${prefix}/pooled_${pooling}`);
    if (pooling === 'first') {
      add('Gather', [tap, constant('index0', (n) => ({ name: n, dataType: DataType.INT64, dims: [], int64Data: [0] }))], [output], [attrInt('axis', 1)]);
      return { output, nodes };
    }
    if (ctx.mask === undefined) throw new Error('masked mean pooling needs the attention mask input');
    const { weights, count } = maskTensors(ctx.mask);
    const masked = ctx.fresh(`${prefix}/masked`);
    add('Mul', [tap, weights], [masked]);
    const sum = ctx.fresh(`${prefix}/masked_sum`);
    reduceSum(masked, sum, 1, false);
    add('Div', [sum, count], [output]);
    return { output, nodes };
  };

  return { pool, initializers };
}
