/**
 * model.responses' identity model: opened like any model, its one layer is the served
 * tensor, and the Gram the taps give is the responses' own X·Xᵀ.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { gramOf } from '../../../src/cka/gram.js';
import { identityModel, servedInputName } from '../../../src/model/graph/identity.js';
import { TappedModel } from '../../../src/model/tapped.js';
import { useTempDir } from '../../helpers/files.js';
import { recordingLogger } from '../../helpers/logger.js';
import { relativeError } from '../../helpers/model.js';
import { createPrng } from '../../../src/reference/prng.js';

const tmp = useTempDir('ckawatch-identity-');
const opened: TappedModel[] = [];
afterAll(async () => {
  for (const m of opened) await m.close();
});

describe('identityModel (model.responses)', () => {
  it('the same tensor and shape give the same bytes (the checkpoint is keyed by their digest); another shape, other bytes', () => {
    expect(Buffer.from(identityModel('logits', [10])).equals(Buffer.from(identityModel('logits', [10])))).toBe(true);
    expect(Buffer.from(identityModel('logits', [10])).equals(Buffer.from(identityModel('logits', [11])))).toBe(false);
  });

  it('opens as a tapped model whose one layer is the tensor, with Grams equal to X·Xᵀ of the responses', async () => {
    const path = tmp.path('responses.onnx');
    writeFileSync(path, identityModel('logits', [2, 5]));
    const model = await TappedModel.open({ path, layers: ['logits'], providers: ['cpu'], variant: 'auto', logger: recordingLogger() });
    opened.push(model);
    expect(model.layers).toEqual(['logits']);
    expect(model.input.name).toBe(servedInputName('logits'));
    expect(model.input.sampleShape).toEqual([2, 5]);
    const random = createPrng(3);
    const n = 12;
    const x = Float32Array.from({ length: n * 10 }, () => random.nextUint32() / 2 ** 31 - 1);
    const [gram] = await model.grams(x, n);
    expect(gram!.n).toBe(n);
    expect(relativeError(gram!.data, gramOf(x, n, 10).data)).toBeLessThan(1e-5);
  });
});
