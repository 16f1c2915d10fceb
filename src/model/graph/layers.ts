/**
 * What can be monitored in a model (`ckawatch layers MODEL`) and what is by default.
 * Reads only what the file records (value_info): no shape inference is run here, so
 * a model exported without value_info lists its layers with shape null.
 */
import { indexGraph, type GraphIndex } from './graph-index.js';
import type { ModelProto, NodeProto } from './proto.js';
import { DataType, valueInfoElemType, valueInfoShape } from './proto.js';

export type Dim = number | string | null;

export interface LayerInfo {
  /** The ONNX tensor name: what `layers:` in the configuration takes. */
  readonly name: string;
  /** The op that produces it. */
  readonly opType: string;
  /** From value_info; null where the file does not record it. */
  readonly shape: Dim[] | null;
  /** Computed from weights alone: the same for every sample, nothing to monitor. */
  readonly constant: boolean;
}

/** Every node output tensor, in topological order. */
export function listLayers(model: ModelProto): LayerInfo[] {
  const index = indexGraph(model);
  const layers: LayerInfo[] = [];
  for (const node of index.nodes) {
    for (const name of node.output ?? []) {
      if (name === '') continue;
      const shape = valueInfoShape(index.valueInfo.get(name));
      layers.push({ name, opType: node.opType ?? '', shape, constant: index.constants.has(name) });
    }
  }
  return layers;
}

/** Beyond this many taps the augmented model gets noticeably slower (each tap adds an N×N product). */
export const MAX_DEFAULT_LAYERS = 24;

const BLOCK_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul']);
const POOL_OPS = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'LpPool', 'GlobalLpPool']);
/** Pooling that keeps a spatial layout (a coarser grid): a block flowing straight into one is covered by its output. */
const LOCAL_POOL_OPS = new Set(['MaxPool', 'AveragePool', 'LpPool']);
const ACTIVATIONS = new Set([
  'Relu', 'LeakyRelu', 'PRelu', 'Gelu', 'FastGelu', 'BiasGelu', 'Sigmoid', 'HardSigmoid', 'Tanh', 'Elu',
  'Selu', 'Celu', 'Softplus', 'HardSwish', 'Mish', 'Clip', 'ThresholdedRelu', 'QuickGelu',
]);

export interface DefaultLayers {
  readonly layers: string[];
  /** Things the user should know about the choice; empty when there is nothing to say. */
  readonly warnings: string[];
}

/**
 * A default monitor set, one tensor per block: the output of each Conv/Gemm/MatMul block
 * (the activation right after it when there is one, through an optional
 * BatchNormalization or bias Add) unless it flows straight into a residual Add or into a
 * local pooling op (MaxPool, AveragePool, LpPool: the pooled output stands for the block,
 * with a quarter of the features or fewer, and what monitoring costs grows with the
 * features; bench/taps.ts), each residual Add (or the activation right after it), and
 * each pooling output. Tensors that
 * are constants or whose recorded shape is not [batch, ...] with rank >= 2 are left
 * out. Past MAX_DEFAULT_LAYERS candidates, only residual and pooling outputs and
 * the last block are kept, with a warning.
 */
export function defaultLayers(model: ModelProto): DefaultLayers {
  const index = indexGraph(model);
  const norms = sequenceModelNorms(index);
  if (norms !== null) return { layers: norms, warnings: [] };
  const blocks: string[] = [];
  const structural: string[] = [];
  for (const node of index.nodes) {
    const out = node.output?.[0];
    if (out === undefined || out === '' || index.constants.has(out)) continue;
    const op = node.opType ?? '';
    if (BLOCK_OPS.has(op)) {
      // A branch that flows straight into a residual Add is inside that residual block: the Add
      // covers it; one that flows straight into a local pooling op is covered by the pool's output.
      const output = blockOutput(index, out);
      if (!feedsResidualAdd(index, output) && !feedsLocalPool(index, output)) blocks.push(output);
    }
    else if (op === 'Add' && isResidualAdd(index, node)) structural.push(blockOutput(index, out));
    else if (POOL_OPS.has(op)) structural.push(out);
  }
  const batch = inputBatchDim(index);
  const usable = (name: string): boolean => isBatchFirst(index, name, batch);
  const all = unique([...blocks, ...structural]).filter(usable);
  const ordered = topoSort(index, all);
  if (ordered.length <= MAX_DEFAULT_LAYERS) return { layers: ordered, warnings: [] };

  // Residual and pooling outputs summarise a stage each; a plain chain has none, and then all blocks stay.
  const stages = structural.filter(usable);
  const lastBlock = blocks.filter(usable).at(-1);
  const thinned = topoSort(index, unique([...stages, ...(lastBlock ? [lastBlock] : [])]));
  if (stages.length > 0 && thinned.length <= MAX_DEFAULT_LAYERS) {
    return {
      layers: thinned,
      warnings: [
        `the model has ${ordered.length} candidate layers; monitoring only the ${thinned.length} residual/pooling ` +
          `outputs and the last block to keep inference fast; list the layers you want under 'layers' ` +
          `(see 'ckawatch layers MODEL') to choose others`,
      ],
    };
  }
  return {
    layers: ordered,
    warnings: [
      `monitoring ${ordered.length} layers by default (more than ${MAX_DEFAULT_LAYERS}); each adds an N×N Gram to ` +
        `every forward pass: list fewer under 'layers' (see 'ckawatch layers MODEL') if inference is too slow`,
    ],
  };
}

/**
 * A transformer over token ids (an int64 input) with LayerNormalization: one tap per norm
 * output (the embeddings' and each block's), the residual stream after each sub-layer.
 * Null for other models, or past MAX_DEFAULT_LAYERS norms (then the general rule thins).
 */
function sequenceModelNorms(index: GraphIndex): string[] | null {
  if (!index.inputs.some((vi) => valueInfoElemType(vi) === DataType.INT64)) return null;
  const norms = index.nodes
    .filter((n) => n.opType === 'LayerNormalization')
    .map((n) => n.output?.[0] ?? '')
    .filter((o) => o !== '' && !index.constants.has(o));
  return norms.length > 0 && norms.length <= MAX_DEFAULT_LAYERS ? norms : null;
}

/** Follows a single-consumer chain through BatchNormalization or a bias Add to a directly following activation. */
function blockOutput(index: GraphIndex, tensor: string): string {
  let current = tensor;
  for (let hops = 0; hops < 3; hops++) {
    const next = index.consumers.get(current);
    if (next?.length !== 1 || index.graph.output?.some((o) => o.name === current)) break;
    const node = next[0]!;
    const op = node.opType ?? '';
    const out = node.output?.[0];
    if (out === undefined || out === '') break;
    if (ACTIVATIONS.has(op)) return out;
    const isBias = op === 'Add' && (node.input ?? []).some((i) => index.constants.has(i));
    if (op !== 'BatchNormalization' && !isBias) break;
    current = out;
  }
  return current;
}

function feedsResidualAdd(index: GraphIndex, tensor: string): boolean {
  const next = index.consumers.get(tensor);
  return next?.length === 1 && next[0]!.opType === 'Add' && isResidualAdd(index, next[0]!);
}

function feedsLocalPool(index: GraphIndex, tensor: string): boolean {
  const next = index.consumers.get(tensor);
  return next?.length === 1 && LOCAL_POOL_OPS.has(next[0]!.opType ?? '') && !index.graph.output?.some((o) => o.name === tensor);
}

function isResidualAdd(index: GraphIndex, node: NodeProto): boolean {
  const inputs = (node.input ?? []).filter((i) => i !== '');
  return inputs.length === 2 && inputs.every((i) => !index.constants.has(i));
}

function inputBatchDim(index: GraphIndex): Dim | undefined {
  const first = index.inputs[0];
  return first === undefined ? undefined : valueInfoShape(first)?.[0];
}

/** Unknown shapes pass (nothing recorded to judge by); known ones need rank >= 2 and the input's batch dim first. */
function isBatchFirst(index: GraphIndex, name: string, batch: Dim | undefined): boolean {
  const shape = valueInfoShape(index.valueInfo.get(name));
  if (shape === null) return true;
  if (shape.length < 2) return false;
  const d0 = shape[0];
  if (d0 === null || batch === undefined || batch === null) return true;
  return d0 === batch;
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}

function topoSort(index: GraphIndex, names: string[]): string[] {
  const rank = new Map<string, number>();
  index.nodes.forEach((node, i) => node.output?.forEach((o) => rank.set(o, i)));
  return [...names].sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
}
