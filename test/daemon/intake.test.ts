import { describe, expect, it } from 'vitest';
import { gramOf } from '../../src/cka/gram.js';
import { recordsHandler } from '../../src/daemon/intake.js';
import { Lanes } from '../../src/daemon/lanes.js';
import type { Decoded, PipelineDeps } from '../../src/daemon/pipeline.js';
import { createSampling } from '../../src/daemon/sampling.js';
import type { SourceRecord } from '../../src/source/source.js';
import { driftToVector, DRIFT_WIDTH } from '../../src/window/drift-vector.js';
import { fixedDraws, normals } from '../helpers/linalg.js';

const D = 3;
const TOPIC = 't';
const BATCH = 8;

function records(from: number, count: number): SourceRecord[] {
  const z = normals(from + 1, count * D);
  return Array.from({ length: count }, (_, i) => ({
    topic: TOPIC,
    partition: 0,
    offset: from + i,
    value: new Uint8Array(Float32Array.from(z.subarray(i * D, (i + 1) * D)).buffer),
  }));
}

/**
 * One lane over the identity "model", whose runs wait until the test lets them finish
 * (`release`), or fail (`fail`): the model edge the pipeline is given, nothing else replaced.
 */
function setup() {
  const reference = Float32Array.from(normals(999, 64 * D));
  const waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const lanes = new Lanes({
    topic: TOPIC,
    windows: [{ name: 'all', durationMs: 3_600_000, buckets: 4 }],
    layers: ['identity'],
    width: DRIFT_WIDTH,
    lazy: true,
    deps: (windows): PipelineDeps => ({
      layers: ['identity'],
      reference: fixedDraws(reference, D, 6, 0.5),
      batchSize: BATCH,
      sampleSize: D,
      decode: (bytes): Decoded => ({ ok: true, value: new Float32Array(new Uint8Array(bytes).buffer) }),
      maxAbs: 1e3,
      grams: async (stacked, rows) => {
        await new Promise<void>((resolve, reject) => waiting.push({ resolve, reject }));
        return { grams: [gramOf(stacked, rows, D)], inferenceMs: 1 };
      },
      addToWindows: (_l, s, at) => windows.add('identity', driftToVector(s), at),
      now: () => 1_000,
    }),
  });
  let tracked: Promise<void> = Promise.resolve();
  const handler = recordsHandler({
    lanes,
    letters: null,
    sampling: createSampling(1, () => 1_000),
    batchSize: BATCH,
    now: () => 1_000,
    stopping: () => false,
    track: (work) => void (tracked = work),
  });
  const applied = (): number => lanes.counters().samples[TOPIC] ?? 0;
  /** Settles the model runs as they are asked for (unless `settle` leaves them: undefined), until `done` holds. */
  const runUntil = async (done: () => boolean, settle: (w: (typeof waiting)[number]) => true | undefined = (w) => (w.resolve(), true)): Promise<void> => {
    for (let turns = 0; !done(); turns++) {
      if (turns > 10_000) throw new Error('condition never held');
      const next = waiting[0];
      if (next && settle(next) !== undefined) waiting.shift();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { handler, applied, waiting, runUntil, tracked: () => tracked };
}

describe('recordsHandler', () => {
  it('returns while a fetch is scored, so the next is fetched meanwhile; that one waits for the scoring before it is queued', async () => {
    const { handler, applied, waiting, runUntil, tracked } = setup();
    let first = false;
    const fetched = handler(records(0, 2 * BATCH)).then(() => void (first = true));
    // Returns with both batches still to score, no model run finished: the first is at the model.
    await runUntil(() => first && waiting.length > 0, () => undefined);
    await fetched;
    expect(applied()).toBe(0);

    let second = false;
    const next = handler(records(2 * BATCH, BATCH)).then(() => void (second = true));
    await runUntil(() => applied() === BATCH);
    expect(second).toBe(false); // one batch of the first fetch is still to score
    await runUntil(() => second);
    expect(applied()).toBe(2 * BATCH);
    await next;
    await runUntil(() => applied() === 3 * BATCH);
    await tracked();
    expect(applied()).toBe(3 * BATCH);
  });

  it('throws a scoring failure at the next fetch without queueing it; the fetch delivered again and the failed batch are each scored once', async () => {
    const { handler, applied, runUntil, tracked } = setup();
    let first = false;
    const fetched = handler(records(0, BATCH)).then(() => void (first = true));
    await runUntil(() => first, () => undefined);
    await fetched;
    let failed: unknown = null;
    const next = handler(records(BATCH, BATCH)).catch((err: unknown) => void (failed = err));
    await runUntil(() => failed !== null, (w) => (w.reject(new Error('model run failed')), true));
    await next;
    expect(String(failed)).toContain('model run failed');
    expect(applied()).toBe(0);

    // The source delivers the second fetch again; the first fetch's batch is still queued.
    let done = false;
    const again = handler(records(BATCH, BATCH)).then(() => void (done = true));
    await runUntil(() => done);
    await again;
    await runUntil(() => applied() === 2 * BATCH);
    await tracked();
    expect(applied()).toBe(2 * BATCH);
  });
});
