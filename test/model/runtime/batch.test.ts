import { describe, expect, it } from 'vitest';
import { DataError, ModelError } from '../../../src/errors/index.js';
import { checkBatchDimension, checkBatchIndependence } from '../../../src/model/runtime/batch.js';
import { readModel } from '../../../src/model/graph/onnx-file.js';
import type { Feeds } from '../../../src/model/runtime/runner.js';
import { WorkerModelRunner } from '../../../src/model/runtime/worker-runner.js';
import { modelFixture, tinyModel } from '../../helpers/fixtures.js';
import { captureLogger } from '../../helpers/logger.js';
import { seededInput } from '../../helpers/random.js';
import { rejection } from '../../helpers/errors.js';

describe('checkBatchDimension', () => {
  it('explains a fixed batch dimension', async () => {
    const model = await readModel(tinyModel('tiny-fixed-batch.onnx'));
    expect(() => checkBatchDimension(model)).toThrowErrorMatchingInlineSnapshot(
      `[ModelError: model input 'input' has a fixed batch dimension of 1; ckawatch stacks production and reference samples into one batch, so re-export with a dynamic batch axis (torch.onnx.export dynamic_axes / dynamic_shapes)]`,
    );
  });

  it('rejects the exported fixed-batch digits CNN', async () => {
    const model = await readModel(modelFixture('digits-cnn-fixed-batch.onnx'));
    expect(() => checkBatchDimension(model)).toThrow(/model input 'input' has a fixed batch dimension of \d+/);
  });

  it('accepts a symbolic batch dimension', async () => {
    const paths = [tinyModel('tiny-resnet-op13.onnx'), modelFixture('digits-cnn.onnx')];
    for (const path of paths) {
      const model = await readModel(path);
      expect(() => checkBatchDimension(model)).not.toThrow();
    }
  });
});

const feeds = (batch: number, side: number, identical = false): Feeds => {
  const one = seededInput(side * side, 5);
  const data = identical ? new Float32Array(batch * one.length).map((_, i) => one[i % one.length]!) : seededInput(batch * side * side, 5);
  return { input: { type: 'float32', data, dims: [batch, 1, side, side] } };
};

describe('checkBatchIndependence', () => {
  /** Starts a worker runner on a tiny model, runs the check, closes the runner. */
  const run = (file: string, taps: string[], outputs: string[], f: Feeds, batch: number) =>
    WorkerModelRunner.create({
      modelPath: tinyModel(file), taps, variant: 'auto', providers: ['cpu'], outputs, logger: captureLogger().logger, threads: 1,
    }).then(async (runner) => {
      try {
        await checkBatchIndependence(runner, f, batch);
      } finally {
        await runner.close();
      }
    });

  it('passes a model that treats samples independently, and leaves the feeds usable', async () => {
    const f = feeds(4, 8);
    await run('tiny-resnet-op13.onnx', ['pool'], ['logits'], f, 4);
    expect(f['input']!.data.length).toBe(4 * 64);
  });

  it('catches a model that mixes samples (BatchNorm left in training mode)', async () => {
    const error = await rejection(run('tiny-train-bn.onnx', ['conv'], ['out'], feeds(4, 4), 4), ModelError);
    expect(error.message.replace(/difference [\d.e+-]+/, 'difference X')).toMatchInlineSnapshot(
      `"model output 'out' for the same sample differs between a batch of 4 and a batch of 1 (relative difference X > 0.0001): the model mixes samples within a batch, which would make every ckawatch statistic wrong; export the model after model.eval() (BatchNorm and Dropout in training mode mix samples), flatten with x.flatten(1) or x.view(x.size(0), -1) rather than a fixed shape, and export with a dynamic batch axis"`,
    );
  });

  it('catches a batch size baked into a Reshape', async () => {
    // Exported at batch 4: runs at 4, fails at 1.
    const error = await rejection(run('tiny-baked-reshape.onnx', ['conv'], ['logits'], feeds(4, 4), 4), ModelError);
    expect(error.message).toMatch(/^the model fails on a batch of 1 sample \(inference failed: .*\); a model that runs only at one batch size has it baked into the graph; export the model after model.eval\(\)/);
  });

  it('needs distinct samples and the model outputs', async () => {
    await expect(run('tiny-resnet-op13.onnx', ['pool'], ['logits'], feeds(4, 8, true), 4)).rejects.toBeInstanceOf(DataError);
    await expect(run('tiny-resnet-op13.onnx', ['pool'], [], feeds(4, 8), 4)).rejects.toThrow(/needs the model outputs/);
  });
});
