/** `ckawatch layers MODEL` as a user runs it (the built CLI), on the committed digits CNN. */
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { modelFixture, ROOT } from '../helpers/fixtures.js';
import { buildIfStale } from '../helpers/services.js';

interface LayerRow {
  readonly name: string;
  readonly opType: string;
  readonly shape: (number | string | null)[] | null;
  readonly constant: boolean;
  readonly default: boolean;
}

beforeAll(() => buildIfStale());

describe('ckawatch layers', () => {
  it('lists tensors with op and shape, * on the default monitored set', async () => {
    const { code, stdout, stderr } = await cli(['layers', modelFixture('digits-cnn.onnx')]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatchInlineSnapshot(`
      "  tensor                     op                shape
        /conv1/Conv_output_0       Conv              [N, 8, 26, 26]
        /relu1/Relu_output_0       Relu              [N, 8, 26, 26]
      * /pool1/MaxPool_output_0    MaxPool           [N, 8, 13, 13]
        /conv2/Conv_output_0       Conv              [N, 16, 11, 11]
        /relu2/Relu_output_0       Relu              [N, 16, 11, 11]
      * /pool2/MaxPool_output_0    MaxPool           [N, 16, 5, 5]
        /flatten/Flatten_output_0  Flatten           [N, 400]
        /fc1/Gemm_output_0         Gemm              [N, 64]
      * /relu3/Relu_output_0       Relu              [N, 64]
      * logits                     Gemm              [N, 10]

      * = monitored by default (4 tensors)
      "
    `);
  });

  it('--json: the same rows as data, with shapes, constant and default flags', async () => {
    const { code, stdout, stderr } = await cli(['layers', modelFixture('digits-cnn.onnx'), '--json']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const parsed = JSON.parse(stdout) as { layers: LayerRow[]; warnings: string[] };
    expect(parsed.warnings).toEqual([]);
    expect(parsed.layers.map((l) => l.name)).toEqual([
      '/conv1/Conv_output_0', '/relu1/Relu_output_0', '/pool1/MaxPool_output_0', '/conv2/Conv_output_0',
      '/relu2/Relu_output_0', '/pool2/MaxPool_output_0', '/flatten/Flatten_output_0', '/fc1/Gemm_output_0',
      '/relu3/Relu_output_0', 'logits',
    ]);
    expect(parsed.layers.filter((l) => l.default).map((l) => l.name)).toEqual([
      '/pool1/MaxPool_output_0', '/pool2/MaxPool_output_0', '/relu3/Relu_output_0', 'logits',
    ]);
    expect(parsed.layers[0]).toEqual({ name: '/conv1/Conv_output_0', opType: 'Conv', shape: ['N', 8, 26, 26], constant: false, default: false });
    expect(parsed.layers.every((l) => !l.constant)).toBe(true);
  });

  it('--all lists a superset (digits-cnn has no other tensors: all are batch-first, rank >= 2)', async () => {
    const plain = JSON.parse((await cli(['layers', modelFixture('digits-cnn.onnx'), '--json'])).stdout) as { layers: LayerRow[] };
    const all = JSON.parse((await cli(['layers', modelFixture('digits-cnn.onnx'), '--json', '--all'])).stdout) as { layers: LayerRow[] };
    expect(all.layers.length).toBeGreaterThanOrEqual(plain.layers.length);
    expect(all.layers.map((l) => l.name)).toEqual(expect.arrayContaining(plain.layers.map((l) => l.name)));
  });

  it('a missing model file: one line, exit status 2', async () => {
    const { code, stdout, stderr } = await cli(['layers', `${ROOT}/no-such-model.onnx`]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.replaceAll(ROOT, '<repo>')).toMatchInlineSnapshot(`
      "ckawatch: cannot read model file '<repo>/no-such-model.onnx': no such file; check the model path in the configuration
      "
    `);
  });
});
