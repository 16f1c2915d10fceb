/**
 * The nodes that turn one tapped tensor T [N, ...] into its centred Gram [N, N]
 * inside the ONNX graph, so that only N×N matrices leave the device.
 *
 *   plain:          T -> Flatten(axis=1) [N,D] -> - ReduceMean(axis 0) -> MatMul(Xc, Xcᵀ) -> [N,N]
 *   channel-split:  T -> Reshape [N,C,R] -> - ReduceMean(axis 0) -> Transpose A [C,N,R]
 *                     -> MatMul(A, Aᵀ per channel) [C,N,N] -> ReduceSum(axis 0) -> [N,N]
 *
 * Both give the same matrix: the second splits the long inner dimension D = C·R
 * into C batched products, which ORT's CPU and WebGPU kernels run in parallel far
 * better than one long-K product with a tiny output (DESIGN.md, "The augmented model").
 * Reshape [0, 0, -1] keeps N and the second dim, so channel-split is correct for any
 * rank >= 2 (a rank-2 tensor becomes [N, D, 1]); it is only fast when C >= 2 and R is large.
 */
import { attrInt, attrInts, int64Tensor, type NodeProto, type TensorProto } from './proto.js';

export type GramVariant = 'plain' | 'channel-split';

export interface GramContext {
  /** Default-domain opset: ReduceMean takes axes as an input from 18, ReduceSum from 13. */
  readonly opset: number;
  /** A name not yet used in the graph, derived from `base`. */
  readonly fresh: (base: string) => string;
  /** Shared int64 initializers ([0] and [0, 0, -1]), created once by the caller. */
  readonly axis0: string;
  readonly keepTwoDims: string;
}

/** Initializers every Gram subgraph reads; add them to the graph once. */
export function sharedInitializers(ctx: GramContext): TensorProto[] {
  return [int64Tensor(ctx.axis0, [0]), int64Tensor(ctx.keepTwoDims, [0, 0, -1])];
}

/**
 * Nodes computing the Gram of `tap` into the tensor `output`, reading the float32 tensor
 * `input`: the tap itself, or what augment.ts made of it (a Cast, a pooled tap).
 */
export function gramSubgraph(tap: string, output: string, variant: GramVariant, ctx: GramContext, input: string = tap): NodeProto[] {
  const prefix = `ckawatch/${tap}`;
  const t = (suffix: string): string => ctx.fresh(`${prefix}/${suffix}`);
  const nodes: NodeProto[] = [];
  const add = (opType: string, inputs: string[], outputs: string[], attribute: NodeProto['attribute'] = []): void => {
    nodes.push({ opType, input: inputs, output: outputs, name: ctx.fresh(`${prefix}/${opType}`), attribute });
  };

  const rows = t(variant === 'plain' ? 'flat' : 'split');
  if (variant === 'plain') add('Flatten', [input], [rows], [attrInt('axis', 1)]);
  else add('Reshape', [input, ctx.keepTwoDims], [rows]);

  const mean = t('mean');
  nodes.push(reduce('ReduceMean', rows, mean, true, ctx, ctx.fresh(`${prefix}/ReduceMean`)));
  const centred = t('centred');
  add('Sub', [rows, mean], [centred]);

  if (variant === 'plain') {
    const transposed = t('transposed');
    add('Transpose', [centred], [transposed], [attrInts('perm', [1, 0])]);
    add('MatMul', [centred, transposed], [output]);
  } else {
    const left = t('cnr');
    const right = t('crn');
    const perChannel = t('per_channel');
    add('Transpose', [centred], [left], [attrInts('perm', [1, 0, 2])]);
    // Transposing the last two dims of `left` (not `centred` again) is what ORT folds into
    // MatMul as transB, so only one transposed copy of the features is materialised.
    add('Transpose', [left], [right], [attrInts('perm', [0, 2, 1])]);
    add('MatMul', [left, right], [perChannel]);
    nodes.push(reduce('ReduceSum', perChannel, output, false, ctx, ctx.fresh(`${prefix}/ReduceSum`)));
  }
  return nodes;
}

/** A reduction over axis 0, with the axes as an attribute or an input as the opset requires. */
function reduce(
  opType: 'ReduceMean' | 'ReduceSum',
  input: string,
  output: string,
  keepdims: boolean,
  ctx: GramContext,
  name: string,
): NodeProto {
  const axesAsInput = ctx.opset >= (opType === 'ReduceMean' ? 18 : 13);
  return {
    opType,
    name,
    input: axesAsInput ? [input, ctx.axis0] : [input],
    output: [output],
    attribute: [attrInt('keepdims', keepdims ? 1 : 0), ...(axesAsInput ? [] : [attrInts('axes', [0])])],
  };
}
