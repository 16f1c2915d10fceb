/**
 * The augmented model: the original graph plus, for each monitored tensor ("tap"),
 * a few nodes computing its centred Gram as an extra output `ckawatch_gram/<tap>`.
 * The input model is not modified; the result is new ModelProto bytes.
 */
import { ModelError } from '../../errors/index.js';
import { indexGraph, type GraphIndex } from './graph-index.js';
import { gramSubgraph, sharedInitializers, type GramContext, type GramVariant } from './gram-graph.js';
import { defaultOpset, encodeModel } from './onnx-file.js';
import { createPooler } from './pool-graph.js';
import {
  DataType,
  attrInt,
  floatValueInfo,
  valueInfoElemType,
  valueInfoShape,
  type ModelMessage,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto.js';
import { featuresHead, poolHead, type Sketch, type TapPool } from './reference-graph.js';
import { closeMatches } from './tap-names.js';
import { type Pooling, type PoolingOption } from '../../config/vocabulary.js';





export type { GramVariant } from './gram-graph.js';
export type GramVariantOption = GramVariant | 'auto';

/** How sequence taps [N, T, ...] become one vector per sample before the Gram (pool-graph.ts). */
export interface PoolingOptions {
  /** 'auto' (the default): masked mean for rank-3 taps of a model with the mask input, else flatten. */
  readonly default?: PoolingOption;
  /** Per tap, overriding the default. */
  readonly layers?: Readonly<Record<string, Pooling>> | undefined;
  /** The attention-mask graph input; default 'attention_mask'. */
  readonly mask?: string;
}

export interface AugmentOptions {
  /** 'auto': channel-split for [N, C, H, W] taps with a known C >= 2 and H·W >= 16, plain otherwise. */
  readonly variant: GramVariantOption;
  /** Drop the model's own outputs (they cost nothing extra to keep; paired mode and the batch check need them). */
  readonly dropOriginalOutputs?: boolean;
  /** Also output each tapped tensor itself (tests compare the Grams with float64 ones from it). */
  readonly exposeTaps?: boolean;
  readonly pooling?: PoolingOptions;
  /** Per tap, the variant to use whatever `variant` says (the precision check's choice). */
  readonly overrides?: Readonly<Record<string, GramVariant>>;
  /**
   * Per tap, its dims where the file records none (most exporters write no value_info):
   * the precision probe learns them from a run, so that `auto` sees [N, C, H, W].
   */
  readonly shapes?: Readonly<Record<string, readonly number[]>>;
  /** What each tap's output is: its Gram (the default), or a reference head (reference-graph.ts). */
  readonly head?: TapHead;
}

/**
 * The reference heads: `features` outputs each tap's (sketched) features [N, k], for
 * building a pool once; `pool` outputs the top rows [N, N + M] of the Gram of production
 * rows stacked over the tap's pool. Taps missing from the record get no sketch / no pool.
 */
export type TapHead =
  | { readonly kind: 'features'; readonly sketches: Readonly<Record<string, Sketch | null>> }
  | { readonly kind: 'pool'; readonly pools: Readonly<Record<string, TapPool>> };

/** What a precision probe model outputs for one tap (see probeModel). */
export interface ProbeTap {
  readonly tap: string;
  /** The float32 tensor the Gram is built from (after Cast and pooling). */
  readonly features: string;
  /** The Gram of each variant that applies to the tap's shape; the first is the one `variant` would pick. */
  readonly grams: readonly { readonly variant: GramVariant; readonly output: string }[];
}

export interface ProbeModel {
  readonly bytes: Uint8Array;
  readonly taps: readonly ProbeTap[];
}

export interface AugmentedModel {
  readonly bytes: Uint8Array;
  /** One per tap, in the order of `taps`. */
  readonly gramOutputs: string[];
  /** The variant used for each tap (explicit 'channel-split' keeps rank <= 2 taps plain). */
  readonly tapVariants: GramVariant[];
  /** The pooling used for each tap ('flatten': none). */
  readonly tapPooling: Pooling[];
  /** The model's own outputs still present in the augmented model. */
  readonly originalOutputs: string[];
}

/** The name of the Gram output for a tapped tensor. */
export function gramOutputName(tap: string): string {
  return `ckawatch_gram/${tap}`;
}

/** Oldest opset where every op used here (Sub with broadcasting, Reshape with a shape input) exists as used. */
const MIN_OPSET = 7;

export function augmentModel(model: ModelProto, taps: readonly string[], options: AugmentOptions): AugmentedModel {
  const head = options.head;
  const build = buildTaps(model, taps, options, ({ tap, source, variant, ctx }) => {
    const output = gramOutputName(tap);
    if (head === undefined) return { nodes: gramSubgraph(tap, output, variant, ctx, source), outputs: [output] };
    if (head.kind === 'features') {
      const f = featuresHead(tap, source, Object.hasOwn(head.sketches, tap) ? head.sketches[tap] ?? null : null, ctx);
      const nodes = [...f.nodes, { opType: 'Identity', input: [f.output], output: [output], name: ctx.fresh(`ckawatch/${tap}/features`) }];
      return { nodes, outputs: [output], initializers: f.initializers, shaped: false };
    }
    const pool = Object.hasOwn(head.pools, tap) ? head.pools[tap] : undefined;
    if (pool === undefined) throw new ModelError(`layer '${tap}' has no reference pool to score against`);
    const f = featuresHead(tap, source, pool.sketch, ctx);
    const p = poolHead(tap, f.output, pool, output, ctx);
    return { nodes: [...f.nodes, ...p.nodes], outputs: [output], initializers: [...f.initializers, ...p.initializers], shaped: false };
  });
  return build.finish(options);
}

/**
 * A model for the start-up precision check: for each tap, the tensor its Gram is built
 * from and the Gram of every variant that applies, so one run on a provider measures each
 * variant against a float64 Gram of the same features (TappedModel.checkPrecision).
 */
export function probeModel(model: ModelProto, taps: readonly string[], options: Pick<AugmentOptions, 'variant' | 'pooling' | 'shapes'>): ProbeModel {
  const probe: ProbeTap[] = [];
  const build = buildTaps(model, taps, options, ({ tap, source, variant: chosen, shape, pooled, ctx }) => {
    const features = ctx.fresh(`ckawatch_features/${tap}`);
    const nodes: NodeProto[] = [{ opType: 'Identity', input: [source], output: [features], name: ctx.fresh(`ckawatch/${tap}/features`) }];
    const variants: GramVariant[] = [chosen];
    if (!pooled && shape !== null && shape.length >= 3) variants.push(chosen === 'plain' ? 'channel-split' : 'plain');
    else if (chosen !== 'plain') variants.push('plain');
    const grams = variants.map((variant) => ({ variant, output: ctx.fresh(`ckawatch_probe/${variant}/${tap}`) }));
    for (const g of grams) nodes.push(...gramSubgraph(tap, g.output, g.variant, ctx, source));
    probe.push({ tap, features, grams });
    return { nodes, outputs: [features, ...grams.map((g) => g.output)] };
  });
  return { bytes: build.finish({ ...options, dropOriginalOutputs: true }).bytes, taps: probe };
}

/** One tap as buildTaps hands it over: `source` is the float32 tensor its Gram is built from. */
interface TapSource {
  readonly tap: string;
  readonly source: string;
  readonly variant: GramVariant;
  readonly shape: (number | string | null)[] | null;
  /** Pooled to [N, D]: only the plain Gram applies. */
  readonly pooled: boolean;
  readonly ctx: GramContext;
}

/** `shaped`: the outputs' ranks are not [N, N] (a head's), so their value info leaves the shape open. */
type TapNodes = (tap: TapSource) => { nodes: NodeProto[]; outputs: string[]; initializers?: TensorProto[]; shaped?: false };

interface TapBuild {
  finish(options: Pick<AugmentOptions, 'dropOriginalOutputs' | 'exposeTaps'>): AugmentedModel;
}

/**
 * The shared part of augmentModel and probeModel: checks every tap, casts non-float taps,
 * pools sequence taps, picks each tap's variant, and lets `perTap` add the Gram nodes.
 */
function buildTaps(
  model: ModelProto,
  taps: readonly string[],
  options: Pick<AugmentOptions, 'variant' | 'pooling' | 'overrides' | 'shapes'>,
  perTap: TapNodes,
): TapBuild {
  const opset = defaultOpset(model);
  if (opset < MIN_OPSET) {
    throw new ModelError(
      `the model uses ONNX opset ${opset}; ckawatch needs opset >= ${MIN_OPSET}: convert it with ` +
        `onnx.version_converter.convert_version(model, 13)`,
    );
  }
  if (taps.length === 0) throw new ModelError('no layers to monitor: list at least one under \'layers\' (see \'ckawatch layers MODEL\')');
  const index = indexGraph(model);
  const unique = [...new Set(taps)];
  for (const tap of unique) assertTappable(index, tap);

  const fresh = freshNames(index.names);
  const ctx: GramContext = { opset, fresh, axis0: fresh('ckawatch/axis0'), keepTwoDims: fresh('ckawatch/shape_n_c_rest') };
  const maskName = options.pooling?.mask ?? 'attention_mask';
  const mask = index.inputs.some((i) => i.name === maskName) ? maskName : undefined;
  const pooler = createPooler({ opset, fresh, mask });
  const graph = index.graph;
  const nodes = [...(graph.node ?? [])];
  const extraOutputs: ValueInfoProto[] = [];
  const tapVariants: GramVariant[] = [];
  const tapPooling: Pooling[] = [];
  const gramOutputs: string[] = [];
  const tapInitializers: TensorProto[] = [];

  for (const tap of unique) {
    if (index.names.has(gramOutputName(tap))) {
      throw new ModelError(`the model already has a tensor '${gramOutputName(tap)}': it was augmented before; give ckawatch the original model`);
    }
    const vi = index.valueInfo.get(tap);
    const learnt = options.shapes !== undefined && Object.hasOwn(options.shapes, tap) ? options.shapes[tap] : undefined;
    const shape = valueInfoShape(vi) ?? (learnt ? [...learnt] : null);
    const pooling = choosePooling(tap, shape, options.pooling, maskName, mask !== undefined);
    let source = tap;
    if (valueInfoElemType(vi) !== DataType.FLOAT) {
      source = fresh(`ckawatch/${tap}/float`);
      nodes.push({ opType: 'Cast', input: [tap], output: [source], name: fresh(`ckawatch/${tap}/Cast`), attribute: [attrInt('to', DataType.FLOAT)] });
    }
    if (pooling !== 'flatten') {
      const pooled = pooler.pool(source, pooling);
      nodes.push(...pooled.nodes);
      source = pooled.output;
    }
    const override = Object.hasOwn(options.overrides ?? {}, tap) ? options.overrides?.[tap] : undefined;
    const variant = pooling === 'flatten' ? chooseVariant(override ?? options.variant, shape) : 'plain';
    const added = perTap({ tap, source, variant, shape, pooled: pooling !== 'flatten', ctx });
    nodes.push(...added.nodes);
    tapInitializers.push(...(added.initializers ?? []));
    for (const output of added.outputs) extraOutputs.push(floatValueInfo(output, output === gramOutputName(tap) && added.shaped !== false ? [null, null] : null));
    tapVariants.push(variant);
    tapPooling.push(pooling);
    gramOutputs.push(gramOutputName(tap));
  }

  function finish(o: Pick<AugmentOptions, 'dropOriginalOutputs' | 'exposeTaps'>): AugmentedModel {
    // Only the shared constants some added node reads: ORT warns about unused initializers.
    const read = new Set(nodes.flatMap((n) => n.input ?? []));
    const shared = [...sharedInitializers(ctx), ...pooler.initializers].filter((t) => read.has(t.name ?? ''));
    const original = graph.output ?? [];
    const kept = o.dropOriginalOutputs === true ? [] : [...original];
    const keptNames = new Set(kept.map((k) => k.name));
    const exposed = o.exposeTaps === true ? unique.filter((t) => !keptNames.has(t)).map((t) => index.valueInfo.get(t) ?? { name: t }) : [];
    // Spread copies the decoded message's own fields (the ones present in the file), which is all encode reads.
    const augmented: ModelMessage = {
      ...model,
      graph: {
        ...graph,
        node: nodes,
        initializer: [...(graph.initializer ?? []), ...shared, ...tapInitializers],
        output: [...kept, ...exposed, ...extraOutputs],
      },
    };
    return {
      bytes: encodeModel(augmented),
      gramOutputs,
      tapVariants,
      tapPooling,
      originalOutputs: kept.map((k) => k.name ?? ''),
    };
  }
  return { finish };
}

function choosePooling(
  tap: string,
  shape: (number | string | null)[] | null,
  options: PoolingOptions | undefined,
  maskName: string,
  hasMask: boolean,
): Pooling {
  const chosen = (options?.layers && Object.hasOwn(options.layers, tap) ? options.layers[tap] : undefined) ?? options?.default ?? 'auto';
  if (chosen === 'auto') return shape?.length === 3 && hasMask ? 'mean' : 'flatten';
  if (chosen === 'flatten') return chosen;
  if (shape !== null && shape.length < 3) {
    throw new ModelError(
      `layer '${tap}' has shape [${shape.join(', ')}]: pooling '${chosen}' takes a [batch, sequence, ...] tensor; ` +
        `use pooling 'flatten' for it`,
    );
  }
  if (chosen === 'mean' && !hasMask) {
    throw new ModelError(
      `layer '${tap}': pooling 'mean' averages over the tokens the attention mask keeps, but the model has no input ` +
        `'${maskName}'; name the mask input (model.pooling.mask) or use pooling 'first' or 'flatten'`,
    );
  }
  return chosen;
}

function chooseVariant(option: GramVariantOption, shape: (number | string | null)[] | null): GramVariant {
  if (option === 'plain') return 'plain';
  if (option === 'channel-split') return shape !== null && shape.length <= 2 ? 'plain' : 'channel-split';
  // Splitting K over channels pays when each channel still holds a long row (H·W); for
  // [N, C, 1, 1] (global pooling) the per-channel products are tiny and plain is faster.
  const [, channels, height, width] = shape ?? [];
  const spatial = typeof height === 'number' && typeof width === 'number' ? height * width : 0;
  return shape?.length === 4 && typeof channels === 'number' && channels >= 2 && spatial >= 16 ? 'channel-split' : 'plain';
}

function assertTappable(index: GraphIndex, tap: string): void {
  const isInput = index.inputs.some((i) => i.name === tap);
  if (index.constants.has(tap)) {
    throw new ModelError(
      `layer '${tap}' is a constant (computed from the weights alone, the same for every sample): there is ` +
        `nothing to monitor; pick a layer computed from the input (see 'ckawatch layers MODEL')`,
    );
  }
  if (!index.producer.has(tap) && !isInput) {
    const candidates = [...index.producer.keys()].filter((n) => !index.constants.has(n));
    const near = closeMatches(tap, candidates);
    const hint = near.length > 0 ? ` (did you mean ${near.map((n) => `'${n}'`).join(', ')}?)` : '';
    throw new ModelError(`the model has no tensor named '${tap}'${hint}; run 'ckawatch layers MODEL' to list the layer names`);
  }
  const shape = valueInfoShape(index.valueInfo.get(tap));
  if (shape !== null && shape.length === 0) {
    throw new ModelError(`layer '${tap}' is a scalar; ckawatch monitors tensors of shape [batch, ...]: pick another layer`);
  }
}

/** Returns `base` if unused, else `base_1`, `base_2`, ...; remembers what it handed out. */
function freshNames(used: ReadonlySet<string>): (base: string) => string {
  const taken = new Set(used);
  return (base) => {
    let name = base;
    for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
}
