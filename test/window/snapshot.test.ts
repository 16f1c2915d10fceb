import { describe, expect, it } from 'vitest';
import { createWindowSet } from '../../src/window/window-set.js';

const specs = [
  { name: '1m', durationMs: 60_000, buckets: 6 },
  { name: '5m', durationMs: 300_000, buckets: 5 },
];

function filled() {
  const set = createWindowSet(specs, ['conv1', 'conv2', '__proto__'], 2);
  set.add('conv1', [1, 2], 100_000);
  set.add('conv2', [3, 4], 110_000);
  set.add('__proto__', [5, 6], 110_000);
  return set;
}

describe('window set snapshot / restore', () => {
  it('is JSON-safe, layer names included', () => {
    const snap = filled().snapshot();
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it('keeps known keys, drops unknown ones and starts new ones at zero', () => {
    const target = createWindowSet(specs, ['conv2', 'fc'], 2);
    const result = target.restore(filled().snapshot());
    expect(result).toEqual({
      ok: true,
      report: { restoredKeys: ['conv2'], droppedKeys: ['conv1', '__proto__'], restoredWindows: ['1m', '5m'], droppedWindows: [] },
    });
    expect(Array.from(target.sum('1m', 'conv2', 110_000))).toEqual([3, 4]);
    expect(Array.from(target.total('conv2'))).toEqual([3, 4]);
    expect(Array.from(target.sum('5m', 'fc', 110_000))).toEqual([0, 0]);
  });

  it('drops windows that are gone or whose buckets the old ones do not fit into', () => {
    const target = createWindowSet(
      [
        { name: '1m', durationMs: 60_000, buckets: 4 }, // 15 s buckets: 10 s ones do not fit
        { name: '1h', durationMs: 3_600_000, buckets: 60 },
      ],
      ['conv1'],
      2,
    );
    const result = target.restore(filled().snapshot());
    expect(result.ok && result.report.droppedWindows).toEqual([
      { name: '1m', reason: "bucket of 15000 ms is not a multiple of the checkpoint's 10000 ms" },
      { name: '5m', reason: 'no longer configured' },
    ]);
    expect(Array.from(target.sum('1m', 'conv1', 110_000))).toEqual([0, 0]);
    expect(Array.from(target.total('conv1'))).toEqual([1, 2]);
  });

  it('replaces what the set held before', () => {
    const target = createWindowSet(specs, ['conv1'], 2);
    target.add('conv1', [100, 100], 100_000);
    target.restore(filled().snapshot());
    expect(Array.from(target.sum('1m', 'conv1', 110_000))).toEqual([1, 2]);
  });

  it('refuses snapshots of another width or shape, and leaves the set untouched', () => {
    const target = createWindowSet(specs, ['conv1'], 3);
    target.add('conv1', [7, 7, 7], 0);
    expect(target.restore(filled().snapshot())).toEqual({ ok: false, detail: 'window snapshot holds vectors of 2 components, this set holds 3' });
    const wrongShape = { ...filled().snapshot(), width: 3, version: 1 };
    expect(target.restore(wrongShape)).toMatchObject({ ok: false, detail: expect.stringContaining('do not match') });
    expect(target.restore({ version: 2 })).toMatchObject({ ok: false, detail: expect.stringContaining('wrong shape') });
    expect(target.restore(null)).toMatchObject({ ok: false });
    expect(Array.from(target.total('conv1'))).toEqual([7, 7, 7]);
  });
});
