/**
 * `ckawatch outputs` as a user runs it: the reference of a model.responses config is the
 * served model's output on the reference inputs, equal to onnxruntime's own run.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpyFile } from '../../src/io/npy-file.js';
import { cli, loadDigits } from '../helpers/cli.js';
import { DIGITS_DATA, DIGITS_MODEL } from '../helpers/fixtures.js';
import { useTempDir } from '../helpers/files.js';
import { relativeError, runInProcess } from '../helpers/model.js';
import { buildIfStale } from '../helpers/services.js';

const tmp = useTempDir('ckawatch-outputs-');
beforeAll(() => buildIfStale());

describe('ckawatch outputs', () => {
  it('writes the output tensor of every sample as .npy [N, ...], in chunks, equal to one run of the whole set', async () => {
    const out = tmp.path('reference-logits.npy');
    const { code, stdout, stderr } = await cli(['outputs', '--model', DIGITS_MODEL, '--data', DIGITS_DATA, '--tensor', 'logits', '--out', out, '--batch-size', '100']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toContain("'logits' of 256 samples, [256, 10] float32");
    const written = readNpyFile(out);
    expect(written.shape).toEqual([256, 10]);
    if (written.kind !== 'float32') throw new Error('float32 expected');
    const digits = loadDigits();
    const expected = (await runInProcess(readFileSync(DIGITS_MODEL), { input: { data: digits.data, dims: [digits.count, 1, 28, 28] } }))['logits']!;
    expect(relativeError(written.data, expected)).toBeLessThan(1e-5);
  });

  it('names the outputs there are when the tensor is not one', async () => {
    const { code, stderr } = await cli(['outputs', '--model', DIGITS_MODEL, '--data', DIGITS_DATA, '--tensor', '/relu3/Relu_output_0', '--out', tmp.path('x.npy')]);
    expect(code).not.toBe(0);
    expect(stderr).toContain("the model has no output '/relu3/Relu_output_0'; its outputs are 'logits'");
  });
});
