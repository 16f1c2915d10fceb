import { describe, expect, it } from 'vitest';
import { decodeModel, readModel } from '../../../src/model/graph/onnx-file.js';
import { defaultLayers, listLayers, MAX_DEFAULT_LAYERS } from '../../../src/model/graph/layers.js';
import { modelFixture, tinyModel } from '../../helpers/fixtures.js';
import { chainModel } from './synthetic.js';

describe('listLayers', () => {
  it('lists every node output with its op and recorded shape, in topological order', async () => {
    const layers = listLayers(await readModel(tinyModel('tiny-resnet-op13.onnx')));
    expect(layers.map((l) => `${l.name} ${l.opType} ${JSON.stringify(l.shape)}`)).toEqual([
      'conv1 Conv ["N",4,8,8]',
      'relu1 Relu ["N",4,8,8]',
      'conv2 Conv ["N",4,8,8]',
      'res Add ["N",4,8,8]',
      'relu2 Relu ["N",4,8,8]',
      'pool MaxPool ["N",4,4,4]',
      'gap GlobalAveragePool ["N",4,1,1]',
      'flat Flatten ["N",4]',
      'logits Gemm ["N",3]',
    ]);
    expect(layers.every((l) => !l.constant)).toBe(true);
  });

  it('marks tensors computed from weights alone as constants', () => {
    const layers = listLayers(decodeModel(chainModel(2, false)));
    expect(layers.filter((l) => l.constant).map((l) => l.name)).toEqual(['folded']);
  });

  it('lists the digits CNN with its batch-first shapes', async () => {
    const layers = listLayers(await readModel(modelFixture('digits-cnn.onnx')));
    expect(layers.length).toBeGreaterThanOrEqual(5);
    const last = layers.at(-1)!;
    expect(last.shape?.[0]).toBe('N');
    expect(layers.some((l) => l.opType === 'Conv' && l.shape?.length === 4)).toBe(true);
  });
});

describe('defaultLayers', () => {
  it('picks block activations, residual adds and pooling outputs', async () => {
    const choice = defaultLayers(await readModel(tinyModel('tiny-resnet-op13.onnx')));
    // conv2 flows straight into the residual Add, which covers it; the Add is followed by relu2.
    expect(choice).toEqual({ layers: ['relu1', 'relu2', 'pool', 'gap', 'logits'], warnings: [] });
  });

  it('leaves out constants and tensors that are not batch-first', () => {
    const { layers } = defaultLayers(decodeModel(chainModel(3, false)));
    expect(layers).toEqual(['relu0', 'relu1', 'relu2']);
  });

  it(`thins to residual outputs and warns past ${MAX_DEFAULT_LAYERS} candidates`, () => {
    const { layers, warnings } = defaultLayers(decodeModel(chainModel(15, true)));
    // Per unit: relu_i (a block) and add_i (residual; relub_i flows into it and is left out).
    expect(layers).toEqual([...Array.from({ length: 14 }, (_, i) => `add${i}`), 'relu14', 'add14']);
    expect(warnings).toMatchInlineSnapshot(`
      [
        "the model has 30 candidate layers; monitoring only the 16 residual/pooling outputs and the last block to keep inference fast; list the layers you want under 'layers' (see 'ckawatch layers MODEL') to choose others",
      ]
    `);
  });

  it('keeps them all, with a warning, when thinning does not help', () => {
    const { layers, warnings } = defaultLayers(decodeModel(chainModel(30, false)));
    expect(layers).toHaveLength(30);
    expect(warnings[0]).toMatch(/^monitoring 30 layers by default \(more than 24\)/);
  });

  it('takes one tap per residual block stage in resnet-mini', async () => {
    const { layers, warnings } = defaultLayers(await readModel(modelFixture('resnet-mini.onnx')));
    expect(warnings).toEqual([]);
    expect(layers.filter((l) => l.includes('conv2') || l.includes('downsample'))).toEqual([]);
    expect(layers.filter((l) => l.endsWith('relu_1/Relu_output_0'))).toHaveLength(4);
    expect(layers.at(-1)).toBe('logits');
  });

  it('gives the digits CNN one tap per block: the pooled output, not the ReLU that flows into the MaxPool', async () => {
    const { layers, warnings } = defaultLayers(await readModel(modelFixture('digits-cnn.onnx')));
    expect(warnings).toEqual([]);
    expect(layers).toEqual(['/pool1/MaxPool_output_0', '/pool2/MaxPool_output_0', '/relu3/Relu_output_0', 'logits']);
  });

  it('keeps the ReLU before a global pool, which leaves no grid', async () => {
    const photo = defaultLayers(await readModel(modelFixture('photo-cnn.onnx'))).layers;
    // photo-cnn: two Conv-ReLU-MaxPool blocks, then a Conv-ReLU into GlobalAveragePool (a global pool keeps no grid: the ReLU stays).
    expect(photo.filter((l) => l.includes('MaxPool'))).toHaveLength(2);
    expect(photo.filter((l) => l.includes('Relu'))).toHaveLength(1);
    expect(photo.some((l) => l.includes('GlobalAveragePool'))).toBe(true);
  });
});
