import { asGram } from '../../../src/cka/pool.js';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gramOf } from '../../../src/cka/gram.js';
import { DataError, ModelError } from '../../../src/errors/index.js';
import { augmentModel } from '../../../src/model/graph/augment.js';
import { decodeModel } from '../../../src/model/graph/onnx-file.js';
import type { Feeds } from '../../../src/model/runtime/runner.js';
import { WorkerModelRunner } from '../../../src/model/runtime/worker-runner.js';
import { tinyModel } from '../../helpers/fixtures.js';
import { captureLogger } from '../../helpers/logger.js';
import { relativeError, runInProcess } from '../../helpers/model.js';
import { seededInput } from '../../helpers/random.js';
import { rejection } from '../../helpers/errors.js';

const TAPS = ['relu1', 'res', 'pool', 'flat'];
const modelPath = tinyModel('tiny-resnet-op13.onnx');
const modelBytes = await readFile(modelPath);

const feedsOf = (batch: number, seed: number): Feeds => ({
  input: { type: 'float32', data: seededInput(batch * 64, seed), dims: [batch, 1, 8, 8] },
});

/** Grams and logits computed in this thread from the raw tapped tensors. */
async function expected(batch: number, seed: number) {
  const { bytes } = augmentModel(decodeModel(modelBytes), TAPS, { variant: 'plain', exposeTaps: true });
  const out = await runInProcess(bytes, { input: { data: seededInput(batch * 64, seed), dims: [batch, 1, 8, 8] } });
  return { grams: TAPS.map((t) => gramOf(out[t]!, batch, out[t]!.length / batch)), logits: out['logits']! };
}

describe('WorkerModelRunner', () => {
  const log = captureLogger();
  let runner: WorkerModelRunner;
  beforeAll(async () => {
    runner = await WorkerModelRunner.create({
      modelPath, taps: TAPS, variant: 'auto', providers: ['bogus', 'cpu'], outputs: ['logits'], logger: log.logger, threads: 1,
    });
  });
  afterAll(() => runner.close());

  it('loads on the first provider that works and forwards the worker\'s warnings', () => {
    expect(runner.provider).toBe('cpu');
    expect(runner.taps).toEqual(TAPS);
    expect(runner.tapVariants).toEqual(['channel-split', 'channel-split', 'channel-split', 'plain']);
    expect(log.warnings.map((w) => w.message)).toEqual([
      "unknown execution provider 'bogus' (ckawatch knows cuda, tensorrt, webgpu, cpu); trying 'cpu'",
    ]);
  });

  it('answers concurrent runs each with its own Grams and outputs', async () => {
    const cases = [[6, 1], [9, 2], [4, 3], [12, 4], [6, 5]] as const;
    const results = await Promise.all(cases.map(([batch, seed]) => runner.run(feedsOf(batch, seed), batch)));
    for (const [k, [batch, seed]] of cases.entries()) {
      const want = await expected(batch, seed);
      const got = results[k]!;
      expect(got.grams.map((g) => asGram(g).n)).toEqual(TAPS.map(() => batch));
      got.grams.map(asGram).forEach((g, i) => expect(relativeError(g.data, want.grams[i]!.data), TAPS[i]).toBeLessThan(1e-5));
      expect(relativeError(got.outputs!['logits']!, want.logits)).toBeLessThan(1e-5);
      expect(got.inferenceMs).toBeGreaterThan(0);
    }
  });

  it('transfers the feed buffers to the worker instead of copying them', async () => {
    const feeds = feedsOf(4, 9);
    await runner.run(feeds, 4);
    expect(feeds['input']!.data.length).toBe(0); // detached: documented on ModelRunner.run
  });

  it('rejects feeds that do not match the batch size, without asking the worker', async () => {
    await expect(runner.run(feedsOf(4, 1), 5)).rejects.toThrowErrorMatchingInlineSnapshot(
      `[DataError: input 'input': first dimension 4 is not the batch size 5]`,
    );
    const short: Feeds = { input: { type: 'float32', data: new Float32Array(10), dims: [2, 1, 8, 8] } };
    await expect(runner.run(short, 2)).rejects.toBeInstanceOf(DataError);
  });

  it('turns an ONNX Runtime error into a rejected run and keeps working', async () => {
    const wrongShape: Feeds = { input: { type: 'float32', data: new Float32Array(2 * 49), dims: [2, 1, 7, 7] } };
    await expect(runner.run(wrongShape, 2)).rejects.toThrow(/^inference failed: /);
    const ok = await runner.run(feedsOf(4, 1), 4);
    expect(ok.grams).toHaveLength(TAPS.length);
  });

  it('hands each reply to the event loop: heavy work between runs does not starve timers and I/O', async () => {
    // The daemon's loop: a reply comes, the next run goes out, this thread computes the
    // last batch's statistics while the worker runs the next. Node drains up to 1000
    // queued messages of a port in one go, so if replies were settled where they arrive,
    // each next reply (ready by the time the statistics are done) would be handled before
    // any timer, socket or heartbeat: for minutes, under load (test/faults/scrape-load.test.ts).
    const busy = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    let runs = 0;
    let runsBeforeTimer: number | null = null;
    let next = runner.run(feedsOf(4, 0), 4);
    while (runsBeforeTimer === null && runs < 20) {
      await next;
      if (runs === 0) setTimeout(() => (runsBeforeTimer = runs), 0);
      next = runner.run(feedsOf(4, runs + 1), 4);
      busy(25); // longer than a 4-row run of the tiny model: its reply is queued when this ends
      runs += 1;
    }
    await next;
    expect(runsBeforeTimer).not.toBeNull();
    expect(runsBeforeTimer!).toBeLessThanOrEqual(2);
  });
});

describe('WorkerModelRunner lifecycle', () => {
  const create = (extra: { runTimeoutMs?: number; onFailure?: (e: ModelError) => void } = {}) =>
    WorkerModelRunner.create({ bytes: modelBytes, taps: ['pool'], variant: 'plain', providers: ['cpu'], logger: captureLogger().logger, threads: 1, ...extra });

  it('rejects pending runs on close, and every run after it', async () => {
    const runner = await create();
    const pending = [1, 2, 3].map((seed) => runner.run(feedsOf(8, seed), 8).catch((e: unknown) => e));
    await runner.close();
    for (const error of await Promise.all(pending)) {
      expect(error).toBeInstanceOf(ModelError);
      expect((error as Error).message).toBe('the model runner was closed while this inference was pending');
    }
    await expect(runner.run(feedsOf(4, 1), 4)).rejects.toThrow(/the model runner is closed/);
    await runner.close(); // twice is fine
  });

  it('rejects pending runs with a clear error when the worker dies, and reports it once', async () => {
    const failures: ModelError[] = [];
    const runner = await create({ onFailure: (e) => failures.push(e) });
    const pending = [1, 2].map((seed) => runner.run(feedsOf(8, seed), 8).catch((e: unknown) => e));
    await runner.simulateCrash();
    for (const error of await Promise.all(pending)) {
      expect(error).toMatchInlineSnapshot(
        `[ModelError: the inference worker exited unexpectedly (exit code 1); the model runner is closed: restart ckawatch]`,
      );
    }
    expect(failures).toHaveLength(1);
    await expect(runner.run(feedsOf(4, 1), 4)).rejects.toBeInstanceOf(ModelError);
    await runner.close();
  });

  it('rejects a run that outlives its timeout as retriable', async () => {
    const runner = await create({ runTimeoutMs: 0 });
    // A batch that takes many milliseconds: 64 rows of this tiny model could come back
    // before a 0 ms timer fires, and did once in a CI rehearsal.
    const error = await rejection(runner.run(feedsOf(8192, 1), 8192), ModelError);
    expect(error.retriable).toBe(true);
    await runner.close();
  });

  it('fails to start with the reason when no provider loads the model, or an output is unknown', async () => {
    const base = { bytes: modelBytes, taps: ['pool'], variant: 'plain' as const, logger: captureLogger().logger };
    await expect(WorkerModelRunner.create({ ...base, providers: ['bogus'] })).rejects.toThrow(/no execution provider could load the model/);
    await expect(WorkerModelRunner.create({ ...base, providers: ['cpu'], outputs: ['probs'] })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[ModelError: the model has no output 'probs'; its outputs are 'logits']`,
    );
    await expect(
      WorkerModelRunner.create({ ...base, bytes: await readFile(tinyModel('tiny-fixed-batch.onnx')), providers: ['cpu'] }),
    ).rejects.toThrow(/fixed batch dimension of 1/);
  });
});
