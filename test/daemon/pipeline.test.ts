import { describe, expect, it } from 'vitest';
import { addDrift, EMPTY_DRIFT, type DriftSums } from '../../src/cka/drift.js';
import { gramOf } from '../../src/cka/gram.js';
import { Pipeline, type Decoded, type PipelineDeps } from '../../src/daemon/pipeline.js';
import { createSampling, sampleKey } from '../../src/daemon/sampling.js';
import type { SourceRecord } from '../../src/source/source.js';
import { fixedDraws, normals } from '../helpers/linalg.js';

const D = 3;

/** Messages are 3 little-endian float32s; anything else is rejected as wrong_size. */
function decode(bytes: Uint8Array): Decoded {
  if (bytes.length !== 4 * D) return { ok: false, reason: 'wrong_size', detail: `${bytes.length} bytes` };
  const copy = new Uint8Array(bytes);
  return { ok: true, value: new Float32Array(copy.buffer) };
}

function records(topic: string, partition: number, from: number, count: number, seed: number): SourceRecord[] {
  const z = normals(seed, count * D);
  return Array.from({ length: count }, (_, i) => ({
    topic,
    partition,
    offset: from + i,
    value: new Uint8Array(Float32Array.from(z.subarray(i * D, (i + 1) * D)).buffer),
  }));
}

function setup(overrides: Partial<PipelineDeps> = {}) {
  const windows: DriftSums[] = [EMPTY_DRIFT];
  const reference = Float32Array.from(normals(999, 64 * D));
  let clock = 0;
  const deps: PipelineDeps = {
    layers: ['identity'],
    reference: fixedDraws(reference, D, 6, 0.5),
    batchSize: 8,
    sampleSize: D,
    decode,
    maxAbs: 1e3,
    // The "model" is the identity map, so the Gram is the input's own: real numbers, no mock.
    grams: async (stacked, rows) => ({ grams: [gramOf(stacked, rows, D)], inferenceMs: 1 }),
    addToWindows: (_l, s) => {
      windows[0] = addDrift(windows[0]!, s);
    },
    now: () => ++clock,
    ...overrides,
  };
  return { deps, windows };
}

describe('Pipeline', () => {
  it('batches good samples, applies offsets only with their batch, and counts exactly', async () => {
    const { deps, windows } = setup();
    const p = new Pipeline(deps);
    p.accept(records('t', 0, 0, 20, 1));
    expect(p.offsets).toEqual({});
    expect(await p.process()).toBe(2);
    expect(p.offsets).toEqual({ t: { '0': 16 } });
    expect(windows[0]!.samples).toBe(16);
    expect(p.pendingSamples).toBe(4);
    expect(await p.process({ flush: true })).toBe(1);
    expect(p.offsets).toEqual({ t: { '0': 20 } });
    expect(windows[0]!.batches).toBe(3);
    const state = await p.snapshot();
    expect(state.counters.samples).toEqual({ t: 20 });
  });

  it('keeps rejections in order: counted when everything before them is applied', async () => {
    const { deps } = setup();
    const p = new Pipeline(deps);
    const good = records('t', 0, 0, 10, 2);
    const bad: SourceRecord = { topic: 't', partition: 0, offset: 3, value: new Uint8Array(5) };
    const mixed = [...good.slice(0, 3), bad, ...good.slice(3).map((r) => ({ ...r, offset: r.offset + 1 }))];
    p.accept(mixed);
    let state = await p.snapshot();
    expect(state.counters.rejected).toEqual({}); // behind three unapplied samples
    await p.process();
    state = await p.snapshot();
    expect(state.counters.rejected).toEqual({ t: { wrong_size: 1 } });
    expect(state.counters.samples).toEqual({ t: 8 });
    expect(p.offsets).toEqual({ t: { '0': 9 } });
    // a rejection at the head of the queue is applied at once
    const q = new Pipeline(setup().deps);
    q.accept([{ ...bad, offset: 0 }]);
    expect(q.offsets).toEqual({ t: { '0': 1 } });
  });


  it('a record of several samples (a request tensor [B, ...]): each counted, its offset moves only when all are applied', async () => {
    // Messages of k x 3 float32s are k samples, as a serving request's tensor [k, 3] is.
    const rows = (bytes: Uint8Array): Decoded => {
      const all = new Float32Array(new Uint8Array(bytes).buffer);
      return { ok: true, value: Array.from({ length: all.length / D }, (_, r) => all.subarray(r * D, (r + 1) * D)) };
    };
    const { deps, windows } = setup({ decode: rows });
    const z = normals(7, 12 * D);
    const message = (offset: number, from: number, k: number): SourceRecord => ({
      topic: 't',
      partition: 0,
      offset,
      value: new Uint8Array(Float32Array.from(z.subarray(from * D, (from + k) * D)).buffer),
    });
    const p = new Pipeline(deps);
    p.accept([message(0, 0, 3), message(1, 3, 3), message(2, 6, 3)]);
    expect(p.pendingSamples).toBe(9);
    expect(await p.process()).toBe(1);
    // The batch of 8 took records 0 and 1 and two of record 2's three samples: record 2 is not
    // in the state yet, so a restart resumes at it and its third sample is not lost.
    expect(windows[0]!.samples).toBe(8);
    expect(p.offsets).toEqual({ t: { '0': 2 } });
    const split = await p.snapshot();
    expect(split.counters.samples).toEqual({ t: 8 });
    expect(split.partial).toEqual({ t: { '0': { offset: 2, applied: 2 } } });

    // A restart from that state reads record 2 again: its two applied samples are dropped, its
    // third is queued, and the counts come out as if there had been no restart.
    const restarted = setup({ decode: rows });
    const r = new Pipeline(restarted.deps, split);
    r.accept([message(2, 6, 3), message(3, 9, 3)]);
    expect(r.pendingSamples).toBe(4);
    expect(await r.process({ flush: true })).toBe(1);
    expect(r.offsets).toEqual({ t: { '0': 4 } });
    const after = await r.snapshot();
    expect(after.counters.samples).toEqual({ t: 12 });
    expect(after.partial).toBeUndefined();
    expect(restarted.windows[0]!.samples).toBe(4);

    p.accept([message(3, 9, 3)]);
    expect(await p.process({ flush: true })).toBe(1);
    expect(p.offsets).toEqual({ t: { '0': 4 } });
    expect((await p.snapshot()).counters.samples).toEqual({ t: 12 });
    expect(windows[0]!.samples).toBe(12);

    // One sample out of range refuses its whole message (rejections count messages).
    const q = new Pipeline(setup({ decode: rows }).deps);
    const poisoned = Float32Array.from(z.subarray(0, 6 * D));
    poisoned[4] = 1e30;
    q.accept([{ topic: 't', partition: 0, offset: 0, value: new Uint8Array(poisoned.buffer) }]);
    expect(q.pendingSamples).toBe(0);
    expect((await q.snapshot()).counters.rejected).toEqual({ t: { out_of_range: 1 } });
    expect(q.offsets).toEqual({ t: { '0': 1 } });
  });

  it('refuses a finite sample beyond maxAbs alone: its batch is scored from the others, as if it had never come', async () => {
    // One poisoned message per 8 (1e30s: finite, but its square overflows any float32 Gram).
    const clean = records('t', 0, 0, 32, 4);
    const poison = (offset: number): SourceRecord => ({ topic: 't', partition: 0, offset, value: new Uint8Array(new Float32Array(D).fill(1e30).buffer) });
    const mixed: SourceRecord[] = [];
    clean.forEach((r, i) => {
      if (i % 7 === 3) mixed.push(poison(mixed.length));
      mixed.push({ ...r, offset: mixed.length });
    });
    const poisoned = setup();
    const p = new Pipeline(poisoned.deps);
    p.accept(mixed);
    expect(await p.process()).toBe(4);
    const state = await p.snapshot();
    expect(state.counters.samples).toEqual({ t: 32 });
    expect(state.counters.rejected).toEqual({ t: { out_of_range: mixed.length - 32 } });
    expect(p.offsets).toEqual({ t: { '0': mixed.length } });
    // Every good sample is in the windows, with the sums of the clean stream alone.
    const alone = setup();
    const q = new Pipeline(alone.deps);
    q.accept(clean);
    expect(await q.process()).toBe(4);
    expect(poisoned.windows[0]!.samples).toBe(32);
    for (const key of ['axr', 'axx', 'arr', 'mmdLinear', 'mmdRbf'] as const) {
      expect(poisoned.windows[0]![key], key).toBeCloseTo(alone.windows[0]![key], 12);
    }
    // The bound is inclusive; -maxAbs and +maxAbs themselves are samples.
    const edge = new Pipeline(setup().deps);
    edge.accept([{ topic: 't', partition: 0, offset: 0, value: new Uint8Array(Float32Array.from([1e3, -1e3, 0]).buffer) }]);
    expect((await edge.snapshot()).counters.rejected).toEqual({});
    expect(edge.pendingSamples).toBe(1);
  });
  it('with no input bound, a sample that overflows the float32 Gram is found and left out: its batch is scored from the rest', async () => {
    // Grams in float32, as ONNX Runtime builds them: one row of 1e30s makes every entry of its
    // batch's centred Gram infinite or NaN, so the culprit is found by running halves again.
    let runs = 0;
    const grams: PipelineDeps['grams'] = async (stacked, rows) => {
      runs += 1;
      return { grams: [{ n: rows, data: Float32Array.from(gramOf(stacked, rows, D).data) }], inferenceMs: 1 };
    };
    const poisonAt = new Set([3, 17, 18, 30]);
    const clean = records('t', 0, 0, 32, 5);
    const mixed = clean.map((r, i) => (poisonAt.has(i) ? { ...r, value: new Uint8Array(new Float32Array(D).fill(1e30).buffer) } : r));
    const { deps, windows } = setup({ grams, maxAbs: Number.POSITIVE_INFINITY });
    const p = new Pipeline(deps);
    p.accept(mixed);
    expect(await p.process()).toBe(4);
    const state = await p.snapshot();
    expect(state.counters.samples).toEqual({ t: 32 });
    expect(state.counters.unscored).toEqual({ non_finite: 4 });
    expect(p.offsets).toEqual({ t: { '0': 32 } });
    expect(windows[0]!.samples).toBe(28);
    expect(windows[0]!.batches).toBe(4);
    for (const key of ['axr', 'axx', 'arr', 'mmdLinear', 'mmdRbf'] as const) expect(Number.isFinite(windows[0]![key]), key).toBe(true);
    // 4 batches; 3 with poison, each searched in halves (2 runs per level for a poisoned half) and run once more.
    expect(runs).toBeLessThanOrEqual(4 + 3 * (2 * 2 * Math.log2(8) + 1));

    // Too few left to score: the rest are counted as too_few, nothing reaches the windows.
    const few = setup({ grams, maxAbs: Number.POSITIVE_INFINITY });
    const q = new Pipeline(few.deps);
    q.accept(clean.slice(0, 8).map((r, i) => (i < 6 ? { ...r, value: new Uint8Array(new Float32Array(D).fill(1e30).buffer) } : r)));
    expect(await q.process()).toBe(1);
    expect((await q.snapshot()).counters.unscored).toEqual({ non_finite: 6, too_few: 2 });
    expect(few.windows[0]!.batches).toBe(0);
    expect(q.offsets).toEqual({ t: { '0': 8 } });
  });

  it('does not flush fewer than 4 samples, and skips redelivered offsets', async () => {
    const skipped: number[] = [];
    const { deps } = setup({ onDuplicate: (r) => skipped.push(r.offset) });
    const p = new Pipeline(deps);
    p.accept(records('t', 1, 100, 3, 3));
    expect(await p.process({ flush: true })).toBe(0);
    p.accept(records('t', 1, 100, 5, 3)); // 100..102 again, then 103, 104
    expect(p.duplicates).toBe(3);
    expect(skipped).toEqual([100, 101, 102]);
    expect(await p.process({ flush: true })).toBe(1);
    expect(p.offsets).toEqual({ t: { '1': 105 } });
  });

  it('drains 1-3 samples of a stream that stopped short: counted and committed, left out of the windows', async () => {
    const { deps, windows } = setup();
    const p = new Pipeline(deps);
    p.accept(records('t', 0, 0, 10, 6));
    await p.process({ flush: true }); // one batch of 8; 2 left, too few for a batch
    expect(p.pendingSamples).toBe(2);
    expect(await p.drainShort()).toBe(2);
    expect(p.pendingSamples).toBe(0);
    expect(p.offsets).toEqual({ t: { '0': 10 } });
    expect((await p.snapshot()).counters.samples).toEqual({ t: 10 });
    expect((await p.snapshot()).counters.unscored).toEqual({ too_few: 2 });
    expect(windows[0]!.samples).toBe(8);
    p.accept(records('t', 0, 10, 5, 7));
    expect(await p.drainShort()).toBe(0); // 5 is a batch's worth: flush handles it
  });

  it('flushIdle: a partial batch after maxWait without a batch, 1-3 leftovers after ten', async () => {
    let t = 0;
    const { deps, windows } = setup({ now: () => t });
    const p = new Pipeline(deps);
    p.accept(records('t', 0, 0, 6, 8));
    t = 999;
    expect(await p.flushIdle(1_000)).toBe(0);
    expect(windows[0]!.samples).toBe(0); // not waited long enough
    t = 1_000;
    expect(await p.flushIdle(1_000)).toBe(0);
    expect(windows[0]!.samples).toBe(6); // a partial batch of 6
    p.accept(records('t', 0, 6, 3, 9));
    t = 10_999;
    expect(await p.flushIdle(1_000)).toBe(0); // 3 is too few for a batch; not yet ten waits
    t = 11_000;
    expect(await p.flushIdle(1_000)).toBe(3);
    expect(p.offsets).toEqual({ t: { '0': 9 } });
    expect((await p.snapshot()).counters.unscored).toEqual({ too_few: 3 });
  });

  it('resetIfAhead: a log that ends below the state (topic recreated) has its records read as new, not skipped', async () => {
    const { deps, windows } = setup();
    const p = new Pipeline(deps);
    p.accept(records('t', 0, 0, 10, 10)); // a batch of 8, 2 queued
    expect(await p.process()).toBe(1);
    expect(p.resetIfAhead('t', 0, 10)).toBeNull(); // the log is not behind
    expect(p.resetIfAhead('t', 1, 0)).toBeNull(); // a partition the state has never seen
    expect(p.resetIfAhead('t', 0, 6)).toBe(10); // recreated: its new log ends at 6
    p.accept(records('t', 0, 0, 6, 11)); // offsets 0..5 again, but new data
    expect(p.duplicates).toBe(0);
    expect(await p.process()).toBe(1); // the 2 old queued samples and 6 new ones
    expect(windows[0]!.samples).toBe(16);
    expect((await p.snapshot()).counters.samples).toEqual({ t: 16 });
    // The old log's queued entries moved no offset of the new one.
    expect(p.offsets).toEqual({ t: { '0': 6 } });
  });

  it('restores from a state: nothing before its offsets is counted again', async () => {
    const first = setup();
    const p = new Pipeline(first.deps);
    const all = records('t', 0, 0, 24, 4);
    p.accept(all.slice(0, 16));
    await p.process();
    const saved = await p.snapshot();
    // crash: the next 8 were never applied; restart from the saved state and replay everything
    const second = setup();
    const q = new Pipeline(second.deps, saved);
    q.accept(all);
    await q.process();
    const end = await q.snapshot();
    expect(end.counters.samples).toEqual({ t: 24 });
    expect(second.windows[0]!.samples).toBe(8);
    expect(q.duplicates).toBe(16);
  });

  it('serialises concurrent process calls', async () => {
    let inFlight = 0;
    let most = 0;
    const { deps } = setup({
      grams: async (stacked, rows) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight -= 1;
        return { grams: [gramOf(stacked, rows, D)], inferenceMs: 5 };
      },
    });
    const p = new Pipeline(deps);
    p.accept(records('t', 0, 0, 32, 5));
    const done = await Promise.all([p.process(), p.process(), p.process({ flush: true })]);
    expect(done.reduce((a, b) => a + b, 0)).toBe(4);
    expect(most).toBe(1);
  });
});

describe('Pipeline with sampling', () => {
  it('at 0.25 scores about a quarter, counts and commits every sample, and scores the chosen ones only', async () => {
    const sampling = createSampling(0.25, () => 0);
    const scoredRows: Float32Array[] = [];
    const { deps, windows } = setup({
      choose: sampling.choose,
      grams: async (stacked, rows) => {
        for (let r = 0; r < rows - 6; r++) scoredRows.push(stacked.slice(r * D, (r + 1) * D));
        return { grams: [gramOf(stacked, rows, D)], inferenceMs: 1 };
      },
    });
    const p = new Pipeline(deps);
    const all = records('t', 0, 0, 4_000, 11);
    p.accept(all);
    await p.process({ flush: true });
    await p.drainShort();
    const state = await p.snapshot();
    const chosen = all.filter((r) => sampleKey('t', 0, r.offset, 0) < 0.25);
    // Binomial(4,000, 0.25): sd 27.4; 5 sd.
    expect(Math.abs(chosen.length - 1_000)).toBeLessThan(5 * 27.4);
    expect(state.counters.samples).toEqual({ t: 4_000 });
    expect(p.offsets).toEqual({ t: { '0': 4_000 } });
    const inBatches = Math.floor(chosen.length / 8) * 8 + (chosen.length % 8 >= 4 ? chosen.length % 8 : 0);
    expect(state.counters.scored).toEqual({ t: inBatches });
    expect(windows[0]!.samples).toBe(inBatches);
    // exactly the chosen samples went to the model, in offset order
    expect(scoredRows.map((r) => Array.from(r))).toEqual(chosen.slice(0, inBatches).map((r) => Array.from(new Float32Array(new Uint8Array(r.value!).buffer))));
  });

  it('counts a one-sample message that sampling leaves out without decoding it; what is scored and counted is the same', async () => {
    const all = records('t', 0, 0, 2_000, 17);
    // A left-out message beyond maxAbs: undecoded, it is counted as a sample, not rejected.
    const leftOut = all.findIndex((r) => sampleKey('t', 0, r.offset, 0) >= 0.25);
    new Float32Array(all[leftOut]!.value!.buffer)[0] = 1e6;
    const run = async (oneSample: boolean) => {
      let decoded = 0;
      const { deps, windows } = setup({
        choose: createSampling(0.25, () => 0).choose,
        decode: (bytes) => {
          decoded += 1;
          return decode(bytes);
        },
        ...(oneSample ? { oneSample: (bytes: Uint8Array) => bytes.length === D * 4 } : {}),
      });
      const p = new Pipeline(deps);
      p.accept(all);
      await p.process({ flush: true });
      await p.drainShort();
      return { decoded, state: await p.snapshot(), offsets: p.offsets, window: windows[0]! };
    };
    const skipping = await run(true);
    const decoding = await run(false);
    const chosen = all.filter((r) => sampleKey('t', 0, r.offset, 0) < 0.25).length;
    expect(skipping.decoded).toBe(chosen);
    expect(decoding.decoded).toBe(all.length);
    expect(skipping.state.counters.samples).toEqual({ t: 2_000 });
    expect(decoding.state.counters.samples).toEqual({ t: 1_999 });
    expect(decoding.state.counters.rejected).toEqual({ t: { out_of_range: 1 } });
    expect(skipping.state.counters.scored).toEqual(decoding.state.counters.scored);
    expect(skipping.offsets).toEqual({ t: { '0': 2_000 } });
    expect(skipping.window).toEqual(decoding.window);
  });

  it('a record of several samples, some skipped, split by a batch and restarted: each sample counted once, the same ones scored', async () => {
    const rows = (bytes: Uint8Array): Decoded => {
      const all = new Float32Array(new Uint8Array(bytes).buffer);
      return { ok: true, value: Array.from({ length: all.length / D }, (_, r) => all.subarray(r * D, (r + 1) * D)) };
    };
    const z = normals(13, 40 * 5 * D);
    const message = (offset: number): SourceRecord => ({ topic: 't', partition: 0, offset, value: new Uint8Array(Float32Array.from(z.subarray(offset * 5 * D, (offset + 1) * 5 * D)).buffer) });
    const messages = Array.from({ length: 40 }, (_, i) => message(i));
    const choose = createSampling(0.5, () => 0).choose;
    // The whole stream at once.
    const once = setup({ decode: rows, choose });
    const a = new Pipeline(once.deps);
    a.accept(messages);
    await a.process();
    const whole = await a.snapshot();
    // The same stream with a restart after 13 records, from the state then (a record split by a batch).
    const first = setup({ decode: rows, choose });
    const b = new Pipeline(first.deps);
    b.accept(messages.slice(0, 13));
    await b.process();
    const mid = await b.snapshot();
    expect(mid.partial).toBeDefined(); // the restart re-reads a record whose first samples are applied
    const second = setup({ decode: rows, choose });
    const c = new Pipeline(second.deps, mid);
    c.accept(messages.slice(mid.offsets['t']!['0']!));
    await c.process();
    const end = await c.snapshot();
    expect(end.counters.samples).toEqual(whole.counters.samples);
    expect(end.counters.scored).toEqual(whole.counters.scored);
    expect(end.offsets).toEqual(whole.offsets);
    expect(end.partial).toEqual(whole.partial);
    expect(first.windows[0]!.samples + second.windows[0]!.samples).toBe(once.windows[0]!.samples);
    expect(first.windows[0]!.batches + second.windows[0]!.batches).toBe(once.windows[0]!.batches);
    for (const key of ['axr', 'axx', 'arr', 'mmdLinear'] as const) {
      expect(first.windows[0]![key] + second.windows[0]![key], key).toBeCloseTo(once.windows[0]![key], 10);
    }
  });
});
