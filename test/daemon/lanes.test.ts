import { describe, expect, it } from 'vitest';
import { gramOf } from '../../src/cka/gram.js';
import { Lanes, type LaneState } from '../../src/daemon/lanes.js';
import type { Decoded, PipelineDeps } from '../../src/daemon/pipeline.js';
import type { SourceRecord } from '../../src/source/source.js';
import { driftToVector, DRIFT_WIDTH, vectorToDrift } from '../../src/window/drift-vector.js';
import { fixedDraws, normals } from '../helpers/linalg.js';

const D = 3;
const TOPIC = 't';

function decode(bytes: Uint8Array): Decoded {
  return { ok: true, value: new Float32Array(new Uint8Array(bytes).buffer) };
}

function records(partition: number, from: number, count: number, seed: number): SourceRecord[] {
  const z = normals(seed, count * D);
  return Array.from({ length: count }, (_, i) => ({
    topic: TOPIC,
    partition,
    offset: from + i,
    value: new Uint8Array(Float32Array.from(z.subarray(i * D, (i + 1) * D)).buffer),
  }));
}

/** Lanes over the identity "model" (the Gram is the input's own), each batch's sums in its lane's windows. */
function setup() {
  const reference = Float32Array.from(normals(999, 64 * D));
  const batches: { partitions: number[]; live: boolean }[] = [];
  let changes = 0;
  let clock = 1_000;
  const lanes = new Lanes({
    topic: TOPIC,
    windows: [{ name: 'all', durationMs: 3_600_000, buckets: 4 }],
    layers: ['identity'],
    width: DRIFT_WIDTH,
    lazy: false,
    onChange: () => void (changes += 1),
    deps: (windows, live): PipelineDeps => ({
      layers: ['identity'],
      reference: fixedDraws(reference, D, 6, 0.5),
      batchSize: 8,
      sampleSize: D,
      decode,
      maxAbs: 1e3,
      grams: async (stacked, rows) => ({ grams: [gramOf(stacked, rows, D)], inferenceMs: 1 }),
      addToWindows: (_l, s, at) => windows.add('identity', driftToVector(s), at),
      onScored: (b) => void batches.push({ partitions: [...new Set(b.samples.map((s) => s.record.partition))], live: live() }),
      now: () => clock++,
    }),
  });
  const samples = (): number => vectorToDrift(lanes.view.sum('all', 'identity', clock)).samples;
  return { lanes, batches, samples, changes: () => changes };
}

describe('Lanes', () => {
  it('forms every batch from one partition\'s consecutive records, however the partitions interleave', async () => {
    const { lanes, batches, samples } = setup();
    lanes.add(0, null);
    lanes.add(1, null);
    // 6 + 6 records: one mixed FIFO would make a batch of 8 of them; per partition there is none yet.
    lanes.accept([...records(0, 0, 6, 1), ...records(1, 0, 6, 2)]);
    expect(await lanes.process()).toBe(0);
    lanes.accept(records(0, 6, 2, 3));
    expect(await lanes.process()).toBe(1);
    expect(batches.map((b) => b.partitions)).toEqual([[0]]);
    expect(lanes.offsets).toEqual({ [TOPIC]: { '0': 8 } });
    expect(samples()).toBe(8);
    expect(lanes.counters().samples).toEqual({ [TOPIC]: 8 });
  });

  it('drops a revoked partition from the export at once, and keeps records of partitions it does not own out', async () => {
    const { lanes, samples, changes } = setup();
    lanes.add(0, null);
    lanes.add(1, null);
    lanes.accept([...records(0, 0, 8, 1), ...records(1, 0, 16, 2), ...records(2, 0, 8, 3)]);
    await lanes.process();
    expect(samples()).toBe(24);
    const before = changes();
    lanes.drop([1]);
    expect(changes()).toBe(before + 1);
    expect(lanes.partitions).toEqual([0]);
    expect(samples()).toBe(8);
    expect(lanes.counters().samples).toEqual({ [TOPIC]: 8 });
    expect(lanes.offsets).toEqual({ [TOPIC]: { '0': 8 } });
    expect((await lanes.states()).map((s) => s.partition)).toEqual([0]);
  });

  it('restores a partition from its state: sums, counters and offset, skipping what the state holds', async () => {
    const first = setup();
    first.lanes.add(3, null);
    first.lanes.accept(records(3, 0, 16, 4));
    await first.lanes.process();
    const [{ state }] = (await first.lanes.states()) as [{ partition: number; state: LaneState }];
    expect(state.offset).toBe(16);
    // A new owner: the state moves, and a redelivered record below its offset is not counted again.
    const second = setup();
    second.lanes.add(3, JSON.parse(JSON.stringify(state)) as LaneState);
    expect(second.samples()).toBe(16);
    second.lanes.accept(records(3, 8, 16, 4));
    await second.lanes.process();
    expect(second.lanes.duplicates).toBe(8);
    expect(second.lanes.offsets).toEqual({ [TOPIC]: { '3': 24 } });
    expect(second.lanes.counters().samples).toEqual({ [TOPIC]: 24 });
    expect(second.samples()).toBe(24);
  });

  it('tells a lane it was dropped, so that a batch it still finishes is not exported', async () => {
    const { lanes, batches } = setup();
    lanes.add(0, null);
    lanes.accept(records(0, 0, 8, 1));
    const running = lanes.process();
    lanes.drop([0]);
    await running;
    expect(batches).toEqual([{ partitions: [0], live: false }]);
  });
});
