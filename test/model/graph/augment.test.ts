import { beforeAll, describe, expect, it } from 'vitest';
import { gramOf } from '../../../src/cka/gram.js';
import { ModelError } from '../../../src/errors/index.js';
import { augmentModel, gramOutputName, type GramVariantOption } from '../../../src/model/graph/augment.js';
import { listLayers } from '../../../src/model/graph/layers.js';
import { decodeModel, encodeModel, readModel } from '../../../src/model/graph/onnx-file.js';
import { toNumber, valueInfoShape, type ModelProto } from '../../../src/model/graph/proto.js';
import { modelFixture, tinyModel } from '../../helpers/fixtures.js';
import { relativeError, runInProcess } from '../../helpers/model.js';
import { seededInput } from '../../helpers/random.js';

const BATCH = 10;
const MODELS = [
  { name: 'tiny-resnet-op11', path: tinyModel('tiny-resnet-op11.onnx') },
  { name: 'tiny-resnet-op13', path: tinyModel('tiny-resnet-op13.onnx') },
  { name: 'tiny-resnet-op18', path: tinyModel('tiny-resnet-op18.onnx') },
  ...['digits-cnn', 'digits-cnn-b', 'resnet-mini'].map((name) => ({ name, path: modelFixture(`${name}.onnx`) })),
];

interface Loaded {
  model: ModelProto;
  taps: string[];
  feeds: Record<string, { data: Float32Array; dims: number[] }>;
}

async function load(path: string): Promise<Loaded> {
  const model = await readModel(path);
  const input = model.graph!.input![0]!;
  const dims = [BATCH, ...valueInfoShape(input)!.slice(1).map((d) => d as number)];
  const data = seededInput(dims.reduce((a, b) => a * b, 1), 42);
  // Every computed tensor and the input itself.
  const taps = [input.name!, ...listLayers(model).filter((l) => !l.constant).map((l) => l.name)];
  return { model, taps, feeds: { [input.name!]: { data, dims } } };
}

/** Runs the model augmented with `variant`, taps exposed too; returns Grams and raw taps. */
async function gramsAndTaps({ model, taps, feeds }: Loaded, variant: GramVariantOption) {
  const augmented = augmentModel(model, taps, { variant, exposeTaps: true });
  const out = await runInProcess(augmented.bytes, feeds);
  const raw = (tap: string): Float32Array => out[tap] ?? feeds[tap]!.data;
  return { augmented, out, grams: augmented.gramOutputs.map((g) => out[g]!), raw };
}

describe.each(MODELS)('augmentModel on $name', ({ path }) => {
  let loaded: Loaded;
  beforeAll(async () => {
    loaded = await load(path);
  });

  it.each(['plain', 'channel-split', 'auto'] as const)(
    '%s: each Gram equals the float64 Gram of the centred tapped tensor to 1e-5',
    async (variant) => {
      const { grams, raw } = await gramsAndTaps(loaded, variant);
      loaded.taps.forEach((tap, i) => {
        const features = raw(tap);
        const reference = gramOf(features, BATCH, features.length / BATCH);
        expect(grams[i]!.length, tap).toBe(BATCH * BATCH);
        expect(relativeError(grams[i]!, reference.data), tap).toBeLessThan(1e-5);
      });
    },
  );

  it('plain and channel-split Grams agree to 1e-5', async () => {
    const plain = await gramsAndTaps(loaded, 'plain');
    const split = await gramsAndTaps(loaded, 'channel-split');
    expect(split.augmented.tapVariants).toContain('channel-split');
    plain.grams.forEach((g, i) => expect(relativeError(split.grams[i]!, g), loaded.taps[i]).toBeLessThan(1e-5));
  });

  it('leaves the model outputs as they were', async () => {
    const bare = await runInProcess(encodeModel(loaded.model), loaded.feeds);
    const { out, augmented } = await gramsAndTaps(loaded, 'auto');
    expect(augmented.originalOutputs).toEqual(Object.keys(bare));
    // Not bit-equal: a tapped Conv output can no longer be fused with its Relu, which rounds differently.
    for (const [name, values] of Object.entries(bare)) expect(relativeError(out[name]!, values), name).toBeLessThan(1e-5);
  });
});

describe('augmentModel graph surgery', () => {
  const reduceNodes = async (file: string) => {
    const model = await readModel(tinyModel(file));
    const { bytes } = augmentModel(model, ['relu1'], { variant: 'channel-split' });
    const nodes = decodeModel(bytes).graph!.node!.filter((n) => n.name?.startsWith('ckawatch/'));
    const describe = (op: string) => {
      const node = nodes.find((n) => n.opType === op)!;
      const axes = node.attribute?.find((a) => a.name === 'axes');
      return `${op} inputs=${node.input!.length} axesAttr=${axes ? JSON.stringify(axes.ints!.map(toNumber)) : 'none'}`;
    };
    return [describe('ReduceMean'), describe('ReduceSum')];
  };

  it('passes Reduce* axes as the opset requires', async () => {
    expect(await reduceNodes('tiny-resnet-op11.onnx')).toEqual(['ReduceMean inputs=1 axesAttr=[0]', 'ReduceSum inputs=1 axesAttr=[0]']);
    expect(await reduceNodes('tiny-resnet-op13.onnx')).toEqual(['ReduceMean inputs=1 axesAttr=[0]', 'ReduceSum inputs=2 axesAttr=none']);
    expect(await reduceNodes('tiny-resnet-op18.onnx')).toEqual(['ReduceMean inputs=2 axesAttr=none', 'ReduceSum inputs=2 axesAttr=none']);
  });

  it('adds uniquely named nodes under ckawatch/ and one Gram output per tap', async () => {
    const model = await readModel(tinyModel('tiny-resnet-op13.onnx'));
    const { bytes, gramOutputs, tapVariants } = augmentModel(model, ['relu1', 'res', 'flat', 'relu1'], { variant: 'auto' });
    expect(gramOutputs).toEqual(['ckawatch_gram/relu1', 'ckawatch_gram/res', 'ckawatch_gram/flat']);
    expect(tapVariants).toEqual(['channel-split', 'channel-split', 'plain']);
    const graph = decodeModel(bytes).graph!;
    const names = graph.node!.map((n) => n.name);
    expect(new Set(names).size).toBe(names.length);
    const added = graph.node!.slice(model.graph!.node!.length);
    expect(added.every((n) => n.name!.startsWith('ckawatch/'))).toBe(true);
    expect(graph.output!.map((o) => o.name)).toEqual(['logits', ...gramOutputs]);
  });

  it('drops the original outputs only when asked', async () => {
    const model = await readModel(tinyModel('tiny-resnet-op13.onnx'));
    const { bytes, originalOutputs } = augmentModel(model, ['pool'], { variant: 'plain', dropOriginalOutputs: true });
    expect(originalOutputs).toEqual([]);
    expect(decodeModel(bytes).graph!.output!.map((o) => o.name)).toEqual([gramOutputName('pool')]);
  });

  it('does not modify the model it is given', async () => {
    const model = await readModel(tinyModel('tiny-resnet-op13.onnx'));
    const before = encodeModel(model);
    augmentModel(model, ['relu1', 'pool'], { variant: 'auto', exposeTaps: true });
    expect(encodeModel(model)).toEqual(before);
  });

  it('names close matches for an unknown layer', async () => {
    const model = await readModel(tinyModel('tiny-resnet-op13.onnx'));
    expect(() => augmentModel(model, ['relu'], { variant: 'auto' })).toThrowErrorMatchingInlineSnapshot(
      `[ModelError: the model has no tensor named 'relu' (did you mean 'relu1', 'relu2'?); run 'ckawatch layers MODEL' to list the layer names]`,
    );
    expect(() => augmentModel(model, ['conv_2'], { variant: 'auto' })).toThrow(/did you mean 'conv2'/);
    expect(() => augmentModel(model, ['zzzzzzzz'], { variant: 'auto' })).toThrowErrorMatchingInlineSnapshot(
      `[ModelError: the model has no tensor named 'zzzzzzzz'; run 'ckawatch layers MODEL' to list the layer names]`,
    );
  });

  it('refuses constants, an empty tap list and an already augmented model', async () => {
    const model = await readModel(tinyModel('tiny-resnet-op13.onnx'));
    expect(() => augmentModel(model, ['conv1.w'], { variant: 'auto' })).toThrow(/is a constant/);
    expect(() => augmentModel(model, [], { variant: 'auto' })).toThrow(ModelError);
    const once = decodeModel(augmentModel(model, ['pool'], { variant: 'auto' }).bytes);
    expect(() => augmentModel(once, ['pool'], { variant: 'auto' })).toThrow(/augmented before/);
  });
});
