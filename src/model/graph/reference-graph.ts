/**
 * The nodes that score production rows against a reference pool inside the ONNX graph
 * (see cka/pool.ts for the statistics): for each tap,
 *
 *   T [N, ...] ─Flatten─▶ [N, D] ─(sketch, when D > k)─▶ F [N, k]          features head
 *   F ─ − μ ─▶ Xc [N, k] ─MatMul(Xc, [Xcᵀ  Pᵀ])─▶ [N, N + M]                pool head
 *
 * where P [M, k] are the pool's features, centred by their mean μ, both computed once at
 * start-up with the features head and baked in as initializers. The output is the top N
 * rows of the Gram of [X; P]: production against itself and against every pool row. The
 * reference rows never go through the model again.
 *
 * The sketch is a CountSketch (Charikar, Chen and Farach-Colton 2002) with fixed buckets:
 * a fixed random sign on each of the D features, and bucket b the sum of the signed
 * features b, b + k, b + 2k, ... (a Mul, a Pad to a multiple of k, a Reshape and a
 * ReduceSum: O(N·D), no gather). Inner products of sketches are unbiased for those of the
 * features: every cross term carries the product of two independent random signs, whose
 * mean is 0. (A seeded permutation of the features before bucketing spreads collisions
 * too, but ONNX Runtime's Gather made it a third of the head's time; the signs alone
 * already make the sketch unbiased.) Production rows, the pool and the calibration
 * batches all pass through the same sketch, so thresholds are calibrated for exactly the
 * statistic the daemon computes.
 */
import { attrInt, attrInts, DataType, type NodeProto, type TensorProto } from './proto.js';
import { createPrng, deriveSeed } from '../../reference/prng.js';

export interface Sketch {
  /** D: the features of one row before the sketch */
  readonly dims: number;
  /** k: buckets; feature j goes to bucket j mod k */
  readonly width: number;
  /** ±1 per feature */
  readonly signs: Float32Array;
}

/** The CountSketch of D features into k buckets for one tap; the same (seed, tap, D, k) gives the same sketch. */
export function countSketch(dims: number, width: number, seed: number): Sketch {
  if (!Number.isSafeInteger(dims) || dims < 1 || !Number.isSafeInteger(width) || width < 1) {
    throw new RangeError(`a sketch needs positive whole sizes, got ${dims} features into ${width} buckets`);
  }
  const prng = createPrng(deriveSeed(seed, dims));
  const signs = new Float32Array(dims);
  for (let i = 0; i < dims; i++) signs[i] = (prng.nextUint32() & 1) === 0 ? 1 : -1;
  return { dims, width, signs };
}

/** A seed per tap name, so that two taps of the same width get different sketches. */
export function tapSeed(seed: number, tap: string): number {
  let h = seed >>> 0;
  for (let i = 0; i < tap.length; i++) h = deriveSeed(h, tap.charCodeAt(i));
  return h;
}

/** A float32 initializer, as raw little-endian bytes (pools are megabytes; repeated floatData would be slow to encode). */
export function floatTensor(name: string, dims: readonly number[], values: Float32Array): TensorProto {
  return { name, dataType: DataType.FLOAT, dims: [...dims], rawData: littleEndianBytes(values) };
}

function int64Tensor(name: string, dims: readonly number[], values: Int32Array | readonly number[]): TensorProto {
  return { name, dataType: DataType.INT64, dims: [...dims], rawData: littleEndianBytes(BigInt64Array.from(values, (v) => BigInt(v))) };
}

function littleEndianBytes(values: Float32Array | BigInt64Array): Uint8Array {
  // Every platform Node runs on here is little-endian, ONNX's raw_data byte order.
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}

export interface HeadContext {
  readonly opset: number;
  readonly fresh: (base: string) => string;
}

export interface HeadNodes {
  readonly nodes: NodeProto[];
  readonly initializers: TensorProto[];
  /** the tensor the head ends in */
  readonly output: string;
}

/** Flatten, then the sketch when there is one: the features head, ending in F [N, k] (or [N, D]). */
export function featuresHead(tap: string, input: string, sketch: Sketch | null, ctx: HeadContext): HeadNodes {
  const prefix = `ckawatch/${tap}`;
  const flat = ctx.fresh(`${prefix}/flat`);
  const nodes: NodeProto[] = [{ opType: 'Flatten', input: [input], output: [flat], name: ctx.fresh(`${prefix}/Flatten`), attribute: [attrInt('axis', 1)] }];
  if (sketch === null) return { nodes, initializers: [], output: flat };
  const signs = ctx.fresh(`${prefix}/sketch_signs`);
  const shape = ctx.fresh(`${prefix}/sketch_shape`);
  const pads = ctx.fresh(`${prefix}/sketch_pads`);
  const axes = ctx.fresh(`${prefix}/axis1`);
  const signed = ctx.fresh(`${prefix}/signed`);
  const padded = ctx.fresh(`${prefix}/padded`);
  const grouped = ctx.fresh(`${prefix}/grouped`);
  const sketched = ctx.fresh(`${prefix}/sketch`);
  const missing = sketch.width * Math.ceil(sketch.dims / sketch.width) - sketch.dims;
  const padsAsInput = ctx.opset >= 11;
  const axesAsInput = ctx.opset >= 13;
  nodes.push({ opType: 'Mul', input: [flat, signs], output: [signed], name: ctx.fresh(`${prefix}/Mul`) });
  if (missing > 0) {
    nodes.push({
      opType: 'Pad',
      input: padsAsInput ? [signed, pads] : [signed],
      output: [padded],
      name: ctx.fresh(`${prefix}/Pad`),
      attribute: padsAsInput ? [] : [attrInts('pads', [0, 0, 0, missing])],
    });
  }
  nodes.push(
    { opType: 'Reshape', input: [missing > 0 ? padded : signed, shape], output: [grouped], name: ctx.fresh(`${prefix}/Reshape`) },
    {
      opType: 'ReduceSum',
      input: axesAsInput ? [grouped, axes] : [grouped],
      output: [sketched],
      name: ctx.fresh(`${prefix}/ReduceSum`),
      attribute: [attrInt('keepdims', 0), ...(axesAsInput ? [] : [attrInts('axes', [1])])],
    },
  );
  const initializers = [
    floatTensor(signs, [sketch.dims], sketch.signs),
    int64Tensor(shape, [3], [0, -1, sketch.width]),
    ...(missing > 0 && padsAsInput ? [int64Tensor(pads, [4], [0, 0, 0, missing])] : []),
    ...(axesAsInput ? [int64Tensor(axes, [1], [1])] : []),
  ];
  return { nodes, initializers, output: sketched };
}

/** A pool baked into the scoring graph: its features P (M × k, row-major) centred by their mean μ, and the RBF gamma. */
export interface TapPool {
  readonly sketch: Sketch | null;
  readonly m: number;
  readonly mean: Float32Array;
  /** P − μ, row after row */
  readonly centred: Float32Array;
  /** ‖p_a − μ‖² per pool row */
  readonly norms: Float32Array;
  readonly gamma: number;
}

/**
 * The pool head: from the features head's output F, the batch reduced against the pool
 * (cka/pool.ts PoolBatch), flat: rows [N, N + 4] then columns [2, M]. With Xc = F − μ,
 * C = Xc·Pᵀ and E = exp(−γ·max(0, ‖x‖² + ‖p‖² − 2C)):
 *   rows    = [ Xc·Xcᵀ | ΣC | ΣC² | ΣE | max E ]   (sums and max over the pool, per row)
 *   columns = [ Σ_i C ; Σ_i E ]                       (sums over the batch, per pool row)
 * The N × M blocks C and E stay inside ONNX Runtime, which evaluates them with its
 * vectorised, multi-threaded kernels.
 */
export function poolHead(tap: string, features: string, pool: TapPool, output: string, ctx: HeadContext): HeadNodes {
  const prefix = `ckawatch/${tap}`;
  const width = pool.mean.length;
  if (pool.centred.length !== pool.m * width) throw new RangeError(`pool of ${pool.m} rows of ${width} features has ${pool.centred.length} values`);
  const t = (name: string): string => ctx.fresh(`${prefix}/${name}`);
  const nodes: NodeProto[] = [];
  const add = (opType: string, inputs: string[], attribute: NodeProto['attribute'] = []): string => {
    const out = t(opType.toLowerCase());
    nodes.push({ opType, input: inputs, output: [out], name: t(opType), attribute });
    return out;
  };
  const axis0 = t('axis0');
  const axis1 = t('axis1');
  const flatShape = t('flat_shape');
  const reduce = (opType: 'ReduceSum' | 'ReduceMax', input: string, axis: 0 | 1): string => {
    const asInput = ctx.opset >= (opType === 'ReduceSum' ? 13 : 18);
    const axes = axis === 0 ? axis0 : axis1;
    return add(opType, asInput ? [input, axes] : [input], [attrInt('keepdims', 1), ...(asInput ? [] : [attrInts('axes', [axis])])]);
  };
  const mean = t('pool_mean');
  const poolT = t('pool_t');
  const poolNorms = t('pool_norms');
  const negGamma = t('neg_gamma');
  const transposed = new Float32Array(pool.centred.length);
  for (let a = 0; a < pool.m; a++) for (let j = 0; j < width; j++) transposed[j * pool.m + a] = pool.centred[a * width + j]!;

  const xc = add('Sub', [features, mean]);
  const gram = add('MatMul', [xc, add('Transpose', [xc], [attrInts('perm', [1, 0])])]);
  const cross = add('MatMul', [xc, poolT]);
  const rowNorms = reduce('ReduceSum', add('Mul', [xc, xc]), 1);
  const distances = add('Relu', [add('Sub', [add('Add', [rowNorms, poolNorms]), add('Add', [cross, cross])])]);
  const kernel = add('Exp', [add('Mul', [distances, negGamma])]);
  const rows = add('Concat', [gram, reduce('ReduceSum', cross, 1), reduce('ReduceSum', add('Mul', [cross, cross]), 1), reduce('ReduceSum', kernel, 1), reduce('ReduceMax', kernel, 1)], [attrInt('axis', 1)]);
  const columns = add('Concat', [reduce('ReduceSum', cross, 0), reduce('ReduceSum', kernel, 0)], [attrInt('axis', 0)]);
  nodes.push({
    opType: 'Concat',
    input: [add('Reshape', [rows, flatShape]), add('Reshape', [columns, flatShape])],
    output: [output],
    name: t('Concat'),
    attribute: [attrInt('axis', 0)],
  });
  const read = new Set(nodes.flatMap((node) => node.input ?? []));
  return {
    nodes,
    // Only the constants some node reads (axes are attributes before opset 13/18): ORT warns about the rest.
    initializers: [
      floatTensor(mean, [width], pool.mean),
      floatTensor(poolT, [width, pool.m], transposed),
      floatTensor(poolNorms, [1, pool.m], pool.norms),
      floatTensor(negGamma, [], Float32Array.of(-pool.gamma)),
      int64Tensor(axis0, [1], [0]),
      int64Tensor(axis1, [1], [1]),
      int64Tensor(flatShape, [1], [-1]),
    ].filter((tensor) => read.has(tensor.name ?? '')),
    output,
  };
}
