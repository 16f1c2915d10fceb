import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/state/canonical-json.js';

describe('canonicalJson', () => {
  it('sorts keys at every level and drops undefined properties, as JSON does', () => {
    expect(canonicalJson({ b: { d: 1, c: [{ z: 1, y: 2 }] }, a: undefined, 10: 'x', 9: 'y' })).toBe('{"10":"x","9":"y","b":{"c":[{"y":2,"z":1}],"d":1}}');
    expect(canonicalJson({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
  });

  it('is a fixed point of parse-then-encode, and agrees with JSON.parse', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('refuses values JSON would change', () => {
    expect(() => canonicalJson([1, Number.POSITIVE_INFINITY])).toThrowErrorMatchingInlineSnapshot(`[DataError: checkpoint state at $[1] is Infinity, which JSON cannot hold]`);
    expect(() => canonicalJson({ a: [undefined] })).toThrowErrorMatchingInlineSnapshot(`[DataError: checkpoint state at $.a[0] is undefined, which a JSON array cannot hold]`);
    expect(() => canonicalJson({ v: new Float32Array(1) })).toThrowErrorMatchingInlineSnapshot(`[DataError: checkpoint state at $.v is a Float32Array: convert it with Array.from() first]`);
    expect(() => canonicalJson({ n: 1n })).toThrowErrorMatchingInlineSnapshot(`[DataError: checkpoint state at $.n is a bigint, which JSON cannot hold]`);
  });
});
