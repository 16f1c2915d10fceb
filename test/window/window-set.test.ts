import { describe, expect, it } from 'vitest';
import { createWindowSet } from '../../src/window/window-set.js';

const minute = { name: '1m', durationMs: 60_000, buckets: 6 };

describe('createWindowSet', () => {
  it('covers the last `buckets` buckets including the current one', () => {
    const set = createWindowSet([minute], ['a'], 1);
    set.add('a', [1], 0); // bucket 0: [0, 10 s)
    set.add('a', [10], 15_000); // bucket 1
    expect(set.sum('1m', 'a', 59_999)[0]).toBe(11); // buckets 0..5
    expect(set.sum('1m', 'a', 60_000)[0]).toBe(10); // buckets 1..6: bucket 0 has left
    expect(set.sum('1m', 'a', 70_000)[0]).toBe(0);
    expect(set.total('a')[0]).toBe(11);
  });

  it('adds out-of-order timestamps to their own bucket and drops (and counts) the ones too old', () => {
    const set = createWindowSet([minute, { name: '10s', durationMs: 10_000, buckets: 1 }], ['a', 'b'], 2);
    set.add('a', [1, 1], 100_000);
    set.add('b', [2, 2], 95_000); // late for 10s (bucket 9 < 10), in time for 1m
    set.add('a', [4, 4], 30_000); // too old for both
    expect(Array.from(set.sum('1m', 'b', 100_000))).toEqual([2, 2]);
    expect(Array.from(set.sum('10s', 'b', 100_000))).toEqual([0, 0]);
    expect(Array.from(set.sum('1m', 'a', 100_000))).toEqual([1, 1]);
    expect(set.droppedLate()).toEqual([
      { window: '1m', count: 1 },
      { window: '10s', count: 2 },
    ]);
    expect(Array.from(set.total('a'))).toEqual([5, 5]);
  });

  it('keeps a bounded number of buckets however much traffic it sees', () => {
    const set = createWindowSet([minute], ['a'], 1);
    for (let t = 0; t < 1_000_000; t += 997) set.add('a', [1], t);
    const slots = set.snapshot().windows[0]!.slots;
    expect(slots.length).toBeLessThanOrEqual(6);
  });

  it('reads nothing from buckets newer than the query time', () => {
    const set = createWindowSet([minute], ['a'], 1);
    set.add('a', [1], 5_000);
    set.add('a', [2], 25_000);
    expect(set.sum('1m', 'a', 12_000)[0]).toBe(1);
  });

  it('rejects bad input with messages that say what is wrong', () => {
    const set = createWindowSet([minute], ['a'], 2);
    expect(() => set.add('zz', [1, 2], 0)).toThrowErrorMatchingInlineSnapshot(`[StatisticsError: unknown window key "zz": known keys are a]`);
    expect(() => set.add('a', [1], 0)).toThrowErrorMatchingInlineSnapshot(`[StatisticsError: vector for "a" has 1 components, this window set holds 2]`);
    expect(() => set.add('a', [1, Number.NaN], 0)).toThrowErrorMatchingInlineSnapshot(`[StatisticsError: vector for "a" has a non-finite component 1: NaN]`);
    expect(() => set.add('a', [1, 2], Number.NaN)).toThrowErrorMatchingInlineSnapshot(`[StatisticsError: window timestamp must be a finite number of ms, got NaN]`);
    expect(() => set.sum('1h', 'a', 0)).toThrowErrorMatchingInlineSnapshot(`[StatisticsError: unknown window "1h": known windows are 1m]`);
    expect(Array.from(set.total('a'))).toEqual([0, 0]);
  });

  it('validates specs, keys and width', () => {
    expect(() => createWindowSet([{ name: '1m', durationMs: 60_000, buckets: 7 }], ['a'], 1)).toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: window "1m": durationMs 60000 is not a multiple of buckets 7; pick a bucket count that divides the duration (e.g. 6)]`,
    );
    expect(() => createWindowSet([minute, minute], ['a'], 1)).toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: window name "1m" is used twice: window names must be unique]`,
    );
    expect(() => createWindowSet([{ ...minute, buckets: 0 }], ['a'], 1)).toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: window "1m": buckets must be a positive integer, got 0]`,
    );
    expect(() => createWindowSet([minute], ['a', 'a'], 1)).toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: key "a" is listed twice: window keys (layer names) must be unique]`,
    );
    expect(() => createWindowSet([minute], ['a'], 0)).toThrowErrorMatchingInlineSnapshot(`[ConfigError: vector width must be a positive integer, got 0]`);
  });

  it('returns copies, not views of its storage', () => {
    const set = createWindowSet([minute], ['a'], 1);
    set.add('a', [1], 0);
    set.sum('1m', 'a', 0)[0] = 99;
    set.total('a')[0] = 99;
    expect(set.sum('1m', 'a', 0)[0]).toBe(1);
    expect(set.total('a')[0]).toBe(1);
  });
});
