import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors/index.js';
import { loadReference } from '../../src/reference/load.js';
import { thrownMessage } from '../helpers/errors.js';
import { useTempDir } from '../helpers/files.js';

const tmp = useTempDir('ckawatch-ref-');
const messageOf = (f: () => unknown): string => thrownMessage(f, DataError);

describe('loadReference', () => {
  it('loads N samples of the model input shape', () => {
    const ref = loadReference(tmp.npy('ref.npy', Float32Array.from({ length: 5 * 12 }, (_, i) => i), [5, 1, 3, 4]), [1, 3, 4]);
    expect({ name: ref.name, count: ref.count, sampleSize: ref.sampleSize, sampleShape: ref.sampleShape }).toEqual({
      name: 'ref.npy',
      count: 5,
      sampleSize: 12,
      sampleShape: [1, 3, 4],
    });
    expect(ref.data[59]).toBe(59);
  });

  it('accepts float64 and samples that differ only by dimensions of size 1', () => {
    const ref = loadReference(tmp.npy('ref64.npy', new Float64Array(4 * 12).fill(0.5), [4, 3, 4]), [1, 3, 4, 1]);
    expect(ref.count).toBe(4);
    expect(ref.data).toBeInstanceOf(Float32Array);
  });

  it('says in one line why a file does not fit', () => {
    expect(messageOf(() => loadReference(tmp.npy('cifar.npy', new Float32Array(2 * 3 * 32 * 32), [2, 3, 32, 32]), [1, 28, 28], 'input'))).toBe(
      "reference cifar.npy has samples of shape [3,32,32] but model input 'input' takes [1,28,28]",
    );
    expect(messageOf(() => loadReference(tmp.npy('labels.npy', new Int32Array(4), [4]), [1]))).toBe(
      "reference labels.npy holds '<i4' integers; ckawatch needs float32 ('<f4') or float64 samples",
    );
    expect(messageOf(() => loadReference(tmp.npy('empty.npy', new Float32Array(0), [0, 3]), [3]))).toBe(
      'reference empty.npy holds no samples (shape [0,3])',
    );
    expect(messageOf(() => loadReference(tmp.npy('scalar.npy', new Float32Array(1), []), [1]))).toMatch(/^reference scalar.npy is a scalar/);
    const nan = new Float32Array(3 * 4);
    nan[7] = NaN;
    expect(messageOf(() => loadReference(tmp.npy('nan.npy', nan, [3, 4]), [4]))).toBe(
      'reference nan.npy: sample 1 holds NaN at position 3; every value must be finite (and within float32 range)',
    );
    expect(messageOf(() => loadReference(tmp.path('absent.npy'), [4]))).toMatch(/^cannot read absent.npy: no such file/);
  });
});
