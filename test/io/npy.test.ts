import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { dump as npyjsDump, parse as npyjsParse } from 'npyjs';
import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy } from '../../src/io/npy.js';

const fixture = (name: string): Uint8Array => readFileSync(fileURLToPath(new URL(`fixtures/${name}`, import.meta.url)));

/** A .npy with a hand-written header (padded like NumPy's) and the given data bytes. */
function handMade(dict: string, data: Uint8Array = new Uint8Array(0), version = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const padded = Math.ceil((prefix + dict.length + 1) / 64) * 64 - prefix;
  const header = Buffer.from(dict.padEnd(padded - 1, ' ') + '\n', 'latin1');
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  out.set(header, prefix);
  out.set(data, prefix + header.length);
  return out;
}

function problemOf(bytes: Uint8Array): string {
  const r = decodeNpy(bytes);
  if (r.ok) throw new Error('expected a failure');
  return `${r.reason}: ${r.detail}`;
}

describe('decodeNpy on files written by NumPy 2.4', () => {
  it.each(['f4-2x3.npy', 'f4-v2.npy', 'f4-v3.npy', 'f8-2x3.npy'])('%s reads as float32 [2, 3]', (name) => {
    const r = decodeNpy(fixture(name));
    expect(r.ok && r.value.kind === 'float32' && [...r.value.shape]).toEqual([2, 3]);
    expect(r.ok && [...r.value.data]).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
  });

  it('reads int64 and int32 labels as Int32Array', () => {
    const i8 = decodeNpy(fixture('i8-labels.npy'));
    expect(i8.ok && i8.value.kind === 'int32' && [...i8.value.data]).toEqual([3, 1, 4, 1, 5]);
    const i4 = decodeNpy(fixture('i4-labels.npy'));
    expect(i4.ok && i4.value.dtype === '<i4' && [...i4.value.data]).toEqual([2, 7]);
  });

  it('reads a scalar and an empty array', () => {
    const scalar = decodeNpy(fixture('f4-scalar.npy'));
    expect(scalar.ok && { shape: scalar.value.shape, data: [...scalar.value.data] }).toEqual({ shape: [], data: [1.25] });
    const empty = decodeNpy(fixture('f4-empty-0x3.npy'));
    expect(empty.ok && { shape: empty.value.shape, n: empty.value.data.length }).toEqual({ shape: [0, 3], n: 0 });
  });

  it('refuses Fortran order and big-endian data with a way out', () => {
    expect(problemOf(fixture('f4-fortran.npy'))).toMatchInlineSnapshot(
      `"fortran_order: data is in Fortran (column-major) order; save a C-order array (np.ascontiguousarray)"`,
    );
    expect(problemOf(fixture('f4-be.npy'))).toMatchInlineSnapshot(
      `"unsupported_dtype: big-endian dtype '>f4' is not supported; save with '<f4'"`,
    );
  });

  it('encodes byte for byte what NumPy writes', () => {
    const a = new Float32Array([0, 0.5, 1, 1.5, 2, 2.5]);
    expect(Buffer.from(encodeNpy(a, [2, 3]))).toEqual(Buffer.from(fixture('f4-2x3.npy')));
    expect(Buffer.from(encodeNpy(new Int32Array([2, 7]), [2]))).toEqual(Buffer.from(fixture('i4-labels.npy')));
    expect(Buffer.from(encodeNpy(new BigInt64Array([3n, 1n, 4n, 1n, 5n]), [5]))).toEqual(Buffer.from(fixture('i8-labels.npy')));
    expect(Buffer.from(encodeNpy(new Float32Array([1.25]), []))).toEqual(Buffer.from(fixture('f4-scalar.npy')));
  });
});

describe('decodeNpy on hostile input', () => {
  const f4 = (n: number): Uint8Array => new Uint8Array(n * 4);

  it('checks magic, version and header length', () => {
    expect(problemOf(new Uint8Array([1, 2, 3]))).toMatch(/^not_npy: not a \.npy file/);
    const v4 = encodeNpy(new Float32Array(2), [2]);
    v4[6] = 4;
    expect(problemOf(v4)).toBe('not_npy: unsupported .npy format version 4.0');
    const long = encodeNpy(new Float32Array(2), [2]);
    new DataView(long.buffer).setUint16(8, 60000, true);
    expect(problemOf(long)).toMatch(/^bad_header: header of 60000 bytes is cut off/);
    const huge = handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f4(1), 2);
    new DataView(huge.buffer).setUint32(8, 0xffffffff, true);
    expect(problemOf(huge)).toBe('bad_header: header length 4294967295 exceeds 65536 bytes');
  });

  it('refuses a forged shape without allocating it', () => {
    const forged = handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (999999999999999, 999999999999999), }", f4(4));
    expect(problemOf(forged)).toMatchInlineSnapshot(
      `"size_mismatch: shape (999999999999999, 999999999999999) of <f4 needs more than 2^53 data bytes, found 16"`,
    );
    const short = handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4(5));
    expect(problemOf(short)).toBe('size_mismatch: shape (2, 3) of <f4 needs 24 data bytes, found 20');
    const long = handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f4(7));
    expect(problemOf(long)).toBe('size_mismatch: shape (2, 3) of <f4 needs 24 data bytes, found 28');
  });

  it.each([
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }", /expected a string, True, False or a tuple/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': True, }", /unexpected key 'extra'/],
    ["{'descr': '<f4', 'shape': (2,), }", /'fortran_order' must be True or False/],
    ["{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", /key 'descr' appears twice/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", /must be written \(n,\)/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", /expected a non-negative integer/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }", /expected a non-negative integer/],
    ["{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", /structured dtypes/],
    ["{'descr': __import__('os').system('true'), 'fortran_order': False, 'shape': (2,), }", /expected a string, True, False/],
    ["{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,), }", /without escapes/],
    ["{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } trailing", /only spaces after/],
    ["{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }", /"," or "}"/],
    ["{'descr': 'é', 'fortran_order': False, 'shape': (2,), }", /outside printable ASCII/],
    ["{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,), }", /expected a string, True, False/],
    [`{'descr': '<f4', 'fortran_order': False, 'shape': (${Array(65).fill(1).join(',')}), }`, /at most 64 dimensions/],
  ])('refuses header %s', (dict, expected) => {
    expect(problemOf(handMade(dict, f4(2)))).toMatch(expected);
  });

  it('refuses unsupported dtypes and int64 labels that overflow int32', () => {
    expect(problemOf(handMade("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", new Uint8Array(2)))).toMatch(
      /^unsupported_dtype: dtype '\|u1' is not supported/,
    );
    expect(problemOf(encodeNpy(new BigInt64Array([1n, 2n ** 40n]), [2]))).toBe(
      "unsupported_dtype: '<i8' value 1099511627776 at index 1 does not fit in 32 bits",
    );
  });

  it('reads from a buffer at an odd byte offset', () => {
    const bytes = encodeNpy(new Float32Array([1, -2, 3.5]), [3]);
    const pool = new Uint8Array(bytes.length + 3);
    pool.set(bytes, 3);
    const r = decodeNpy(pool.subarray(3));
    expect(r.ok && [...r.value.data]).toEqual([1, -2, 3.5]);
  });

  it('never throws on random mutations of a valid file', () => {
    const valid = encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(valid.length),
        (edits, cut) => {
          const bytes = valid.slice(0, cut === 0 ? valid.length : cut);
          for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
          const r = decodeNpy(bytes);
          if (r.ok) expect(r.value.data.length).toBe(r.value.shape.reduce((a, b) => a * b, 1));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws on random bytes after the magic', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(1, 2, 3), (tail, version) => {
        const bytes = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0, ...tail]);
        expect(() => decodeNpy(bytes)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
  });
});

describe('encodeNpy', () => {
  it('round-trips float32 arrays of any C-order shape', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }), (shape) => {
        const count = shape.reduce((a, b) => a * b, 1);
        const data = Float32Array.from({ length: count }, (_, i) => i * 0.25 - 1);
        const bytes = encodeNpy(data, shape);
        expect(bytes.length % 64).toBe(count * 4 % 64);
        const r = decodeNpy(bytes);
        expect(r.ok && { shape: [...r.value.shape], data: [...r.value.data] }).toEqual({ shape, data: [...data] });
      }),
    );
  });

  it('writes files that npyjs reads, and reads what npyjs writes', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const bytes = encodeNpy(data, [3, 2]);
    const theirs = npyjsParse(bytes.slice().buffer);
    expect({ shape: theirs.shape, data: [...(theirs.data as Float32Array)] }).toEqual({ shape: [3, 2], data: [...data] });
    const ours = decodeNpy(new Uint8Array(npyjsDump(data, [2, 3])));
    expect(ours.ok && { shape: ours.value.shape, data: [...ours.value.data] }).toEqual({ shape: [2, 3], data: [...data] });
  });

  it('writes format 1.0 up to 64 dimensions and refuses shapes that do not fit the data', () => {
    const bytes = encodeNpy(new Float32Array(1), Array<number>(64).fill(1));
    expect(bytes[6]).toBe(1);
    expect(decodeNpy(bytes).ok).toBe(true);
    expect(() => encodeNpy(new Float32Array(3), [2, 2])).toThrow(/does not hold 3 values/);
  });
});
