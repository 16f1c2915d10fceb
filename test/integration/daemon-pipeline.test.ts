/**
 * The daemon's batch pipeline overlaps the model run of batch k+1 with the statistics of
 * batch k (src/daemon/pipeline.ts). These tests pin what that overlap must not change:
 * one model run at a time, batches applied in queue order, a rejection never applied
 * ahead of a batch in flight, and a failed run leaving its records queued for a retry.
 *
 * A unit test (no broker, no process); it sits next to the daemon's process-level tests
 * only because of who owns which test folder, and belongs with test/daemon/pipeline.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { gramOf } from '../../src/cka/gram.js';
import type { LayerOutput } from '../../src/cka/pool.js';
import { Pipeline, type PipelineDeps } from '../../src/daemon/pipeline.js';
import type { SourceRecord } from '../../src/source/source.js';
import { fixedDraws, normals } from '../helpers/linalg.js';

const D = 3;

function records(from: number, count: number, seed: number): SourceRecord[] {
  const z = normals(seed, count * D);
  return Array.from({ length: count }, (_, i) => ({
    topic: 't',
    partition: 0,
    offset: from + i,
    value: new Uint8Array(Float32Array.from(z.subarray(i * D, (i + 1) * D)).buffer),
  }));
}

function bad(offset: number): SourceRecord {
  return { topic: 't', partition: 0, offset, value: new Uint8Array(5) };
}

function deps(events: string[], overrides: Partial<PipelineDeps> = {}): PipelineDeps {
  const reference = Float32Array.from(normals(999, 64 * D));
  let runs = 0;
  let clock = 0;
  return {
    layers: ['identity'],
    reference: fixedDraws(reference, D, 6, 0.5),
    batchSize: 8,
    sampleSize: D,
    decode: (bytes) =>
      bytes.length === 4 * D ? { ok: true, value: new Float32Array(new Uint8Array(bytes).buffer) } : { ok: false, reason: 'wrong_size', detail: `${bytes.length} bytes` },
    maxAbs: 1e3,
    grams: async (stacked, rows): Promise<{ grams: LayerOutput[]; inferenceMs: number }> => {
      const k = runs++;
      events.push(`run ${k}`);
      await new Promise((r) => setTimeout(r, 2));
      events.push(`ran ${k}`);
      return { grams: [gramOf(stacked, rows, D)], inferenceMs: 2 };
    },
    addToWindows: (_l, sums) => events.push(`apply ${sums.samples}`),
    now: () => ++clock,
    ...overrides,
  };
}

describe('Pipeline overlap', () => {
  it('starts batch k+1 on the model before applying batch k, with one model run at a time', async () => {
    const events: string[] = [];
    const p = new Pipeline(deps(events));
    p.accept(records(0, 24, 1));
    expect(await p.process()).toBe(3);
    expect(events).toEqual(['run 0', 'ran 0', 'run 1', 'apply 8', 'ran 1', 'run 2', 'apply 8', 'ran 2', 'apply 8']);
    expect(p.offsets).toEqual({ t: { '0': 24 } });
    expect((await p.snapshot()).counters.samples).toEqual({ t: 24 });
  });

  it('applies a rejection only with everything before it, never ahead of a batch in flight', async () => {
    const events: string[] = [];
    const seen: number[] = [];
    let p: Pipeline | undefined;
    const d = deps(events, { onApplied: () => seen.push(p!.offsets['t']!['0']!) });
    p = new Pipeline(d);
    // 8 good (0..7), bad (8), 8 good (9..16), bad (17), 3 good (18..20: no batch yet)
    p.accept([...records(0, 8, 2), bad(8), ...records(9, 8, 3), bad(17), ...records(18, 3, 4)]);
    expect(await p.process()).toBe(2);
    // batch 0 covers offsets 0..7; batch 1 covers 8..16 (its leading rejection included);
    // the rejection at 17 comes after, once nothing is in flight.
    expect(seen).toEqual([8, 17, 18]);
    const state = await p.snapshot();
    expect(state.counters.rejected).toEqual({ t: { wrong_size: 2 } });
    expect(state.counters.samples).toEqual({ t: 16 });
    expect(p.pendingSamples).toBe(3);
  });

  it('keeps the records of a failed model run queued; a later call counts every sample once', async () => {
    const events: string[] = [];
    const healthy = deps(events).grams;
    let fail = true;
    let calls = 0;
    const p = new Pipeline(
      deps(events, {
        grams: (stacked, rows) => {
          calls += 1;
          if (fail && calls === 2) return Promise.reject(new Error('worker died'));
          return healthy(stacked, rows);
        },
      }),
    );
    p.accept(records(0, 20, 5));
    await expect(p.process()).rejects.toThrow('worker died');
    // Batch 0 was applied before batch 1's failure surfaced; batch 1 is still queued.
    expect(p.offsets).toEqual({ t: { '0': 8 } });
    expect(p.pendingSamples).toBe(12);
    fail = false;
    expect(await p.process({ flush: true })).toBe(2);
    expect(p.offsets).toEqual({ t: { '0': 20 } });
    expect((await p.snapshot()).counters.samples).toEqual({ t: 20 });
  });
});
