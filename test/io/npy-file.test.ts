import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors/index.js';
import { readNpyFile, writeNpyFile } from '../../src/io/npy-file.js';
import { thrownMessage } from '../helpers/errors.js';
import { useTempDir } from '../helpers/files.js';

const tmp = useTempDir('ckawatch-npy-');
const messageOf = (f: () => unknown): string => thrownMessage(f, DataError);

describe('readNpyFile', () => {
  it('reads what writeNpyFile wrote, for floats and labels', () => {
    const path = tmp.path('ref.npy');
    writeNpyFile(path, new Float64Array([0.5, 1e300, -2]), [3]);
    const floats = readNpyFile(path);
    expect(floats.kind === 'float32' && [...floats.data]).toEqual([0.5, Infinity, -2]);
    writeNpyFile(path, new Int32Array([7, 8]), [2, 1]);
    const labels = readNpyFile(path);
    expect({ kind: labels.kind, shape: labels.shape, data: [...labels.data] }).toEqual({ kind: 'int32', shape: [2, 1], data: [7, 8] });
  });

  it('says in one line which file could not be read and why', () => {
    expect(messageOf(() => readNpyFile(tmp.path('missing.npy')))).toBe(`cannot read missing.npy: no such file (${tmp.path('missing.npy')})`);
    expect(messageOf(() => readNpyFile(tmp.dir))).toMatch(/^cannot read ckawatch-npy-\w+: is a directory/);
    const bad = tmp.path('bad.npy');
    writeFileSync(bad, 'x,y\n1,2\n');
    expect(messageOf(() => readNpyFile(bad))).toBe('cannot read bad.npy: not a .npy file (the first bytes are not \\x93NUMPY)');
    const truncated = tmp.path('truncated.npy');
    writeNpyFile(truncated, new Float32Array(100), [10, 10]);
    writeFileSync(truncated, readNpyFileBytes(truncated).subarray(0, 300));
    expect(messageOf(() => readNpyFile(truncated))).toBe('cannot read truncated.npy: shape (10, 10) of <f4 needs 400 data bytes, found 172');
  });
});

function readNpyFileBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}
