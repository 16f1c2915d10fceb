/**
 * The augmented model: the original graph plus, for each monitored tensor ("tap"),
 * a few nodes computing its centred Gram as an extra output `ckawatch_gram/<tap>`.
 * The input model is not modified; the result is new ModelProto bytes.
 */
import { ModelError } from '../errors/index.js';
import { indexGraph, type GraphIndex } from './graph-index.js';
import { gramSubgraph, sharedInitializers, type GramContext, type GramVariant } from './gram-graph.js';
import { defaultOpset, encodeModel } from './onnx-file.js';
import { DataType, floatValueInfo, valueInfoElemType, valueInfoShape, type ModelMessage, type ModelProto, type ValueInfoProto } from './proto.js';
import { closeMatches } from './tap-names.js';

export type { GramVariant } from './gram-graph.js';
export type GramVariantOption = GramVariant | 'auto';

export interface AugmentOptions {
  /** 'auto': channel-split for [N, C, H, W] taps with a known C >= 2, plain otherwise. */
  readonly variant: GramVariantOption;
  /** Drop the model's own outputs (they cost nothing extra to keep; paired mode and the batch check need them). */
  readonly dropOriginalOutputs?: boolean;
  /** Also output each tapped tensor itself (tests, and a CPU-side fallback for Grams). */
  readonly exposeTaps?: boolean;
}

export interface AugmentedModel {
  readonly bytes: Uint8Array;
  /** One per tap, in the order of `taps`. */
  readonly gramOutputs: string[];
  /** The variant used for each tap (explicit 'channel-split' keeps rank <= 2 taps plain). */
  readonly tapVariants: GramVariant[];
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
  const graph = index.graph;
  const original = graph.output ?? [];
  const nodes = [...(graph.node ?? [])];
  const extraOutputs: ValueInfoProto[] = [];
  const tapVariants: GramVariant[] = [];
  const gramOutputs: string[] = [];

  for (const tap of unique) {
    const output = gramOutputName(tap);
    if (index.names.has(output)) {
      throw new ModelError(`the model already has a tensor '${output}': it was augmented before; give ckawatch the original model`);
    }
    const vi = index.valueInfo.get(tap);
    const variant = chooseVariant(options.variant, valueInfoShape(vi));
    nodes.push(...gramSubgraph(tap, output, variant, valueInfoElemType(vi) !== DataType.FLOAT, ctx));
    extraOutputs.push(floatValueInfo(output, [null, null]));
    tapVariants.push(variant);
    gramOutputs.push(output);
  }

  // Only the shared constants some added node reads: ORT warns about unused initializers.
  const read = new Set(nodes.flatMap((n) => n.input ?? []));
  const shared = sharedInitializers(ctx).filter((t) => read.has(t.name ?? ''));
  const kept = options.dropOriginalOutputs === true ? [] : [...original];
  const keptNames = new Set(kept.map((o) => o.name));
  const exposed = options.exposeTaps === true ? unique.filter((t) => !keptNames.has(t)).map((t) => index.valueInfo.get(t) ?? { name: t }) : [];
  // Spread copies the decoded message's own fields (the ones present in the file), which is all encode reads.
  const augmented: ModelMessage = {
    ...model,
    graph: {
      ...graph,
      node: nodes,
      initializer: [...(graph.initializer ?? []), ...shared],
      output: [...kept, ...exposed, ...extraOutputs],
    },
  };
  return {
    bytes: encodeModel(augmented),
    gramOutputs,
    tapVariants,
    originalOutputs: kept.map((o) => o.name ?? ''),
  };
}

function chooseVariant(option: GramVariantOption, shape: (number | string | null)[] | null): GramVariant {
  if (option === 'plain') return 'plain';
  if (option === 'channel-split') return shape !== null && shape.length <= 2 ? 'plain' : 'channel-split';
  const channels = shape?.[1];
  return shape?.length === 4 && typeof channels === 'number' && channels >= 2 ? 'channel-split' : 'plain';
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
