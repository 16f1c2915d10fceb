import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors/index.js';
import { readNpyFile, writeNpyFile } from '../../src/io/npy-file.js';

const dir = mkdtempSync(join(tmpdir(), 'ckawatch-npy-'));

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(DataError);
    return (error as Error).message;
  }
  throw new Error('expected a DataError');
}

describe('readNpyFile', () => {
  it('reads what writeNpyFile wrote, for floats and labels', () => {
    const path = join(dir, 'ref.npy');
    writeNpyFile(path, new Float64Array([0.5, 1e300, -2]), [3]);
    const floats = readNpyFile(path);
    expect(floats.kind === 'float32' && [...floats.data]).toEqual([0.5, Infinity, -2]);
    writeNpyFile(path, new Int32Array([7, 8]), [2, 1]);
    const labels = readNpyFile(path);
    expect({ kind: labels.kind, shape: labels.shape, data: [...labels.data] }).toEqual({ kind: 'int32', shape: [2, 1], data: [7, 8] });
  });

  it('says in one line which file could not be read and why', () => {
    expect(messageOf(() => readNpyFile(join(dir, 'missing.npy')))).toBe(`cannot read missing.npy: no such file (${join(dir, 'missing.npy')})`);
    expect(messageOf(() => readNpyFile(dir))).toMatch(/^cannot read ckawatch-npy-\w+: is a directory/);
    const bad = join(dir, 'bad.npy');
    writeFileSync(bad, 'x,y\n1,2\n');
    expect(messageOf(() => readNpyFile(bad))).toBe('cannot read bad.npy: not a .npy file (the first bytes are not \\x93NUMPY)');
    const truncated = join(dir, 'truncated.npy');
    writeNpyFile(truncated, new Float32Array(100), [10, 10]);
    writeFileSync(truncated, readNpyFileBytes(truncated).subarray(0, 300));
    expect(messageOf(() => readNpyFile(truncated))).toBe('cannot read truncated.npy: shape (10, 10) of <f4 needs 400 data bytes, found 172');
  });
});

function readNpyFileBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}
