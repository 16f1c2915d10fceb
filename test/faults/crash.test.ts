/**
 * SIGKILL at random points, ten rounds in a row, against the real broker:
 *
 *   round r: produce N/10 more ─▶ start daemon ─▶ seeded random delay ─▶ SIGKILL
 *            (70%: 0-1.5 s after /readyz is true; 30%: 0-4 s after start)
 *            (the delay lands anywhere: model load, calibration, group join, mid-batch,
 *             mid-checkpoint, between a checkpoint and its commit)
 *   then:    a clean run to the end ─▶ ckawatch_samples_total = N, window samples = N
 *
 * The same group and state dir throughout: each restart resumes from the checkpoint (or
 * from Kafka's commits when no checkpoint exists yet) and rejoins once the killed member's
 * 6 s session has expired. After every round, the checkpoint on disk must be
 * self-consistent: every message is a good sample, so the samples it counts equal the
 * offsets it holds.
 */
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { DaemonProcess } from '../helpers/daemon.js';
import { SMALL_RUN, useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { heldOutDigits, rawMessage } from '../helpers/digits.js';
import { committedOffsets, produce } from '../helpers/kafka.js';
import { rejectedOf, samplesOf, windowSamples } from '../helpers/metrics.js';
import { valueOf } from '../helpers/prom-text.js';
import { rng } from '../helpers/random.js';
import { readCheckpointFile } from '../helpers/streams.js';

const verbose = process.env['CKAWATCH_TEST_VERBOSE'] === '1';
const ROUNDS = 10;
const N = 3200;
const SEED = Number(process.env['CKAWATCH_FAULT_SEED'] ?? 424242);

const suite = useDaemonSuite('ckawatch-faults-crash-', { referenceDigits: 500, defaults: SMALL_RUN });

const sum = (xs: Iterable<number>): number => [...xs].reduce((a, b) => a + b, 0);

describe('SIGKILL at random points', () => {
  it(`loses no sample and counts none twice over ${ROUNDS} kills (seed ${SEED})`, async () => {
    const run = await suite.run('faults-crash', 2, { schedule: '* * * * * *', maxWait: '200ms' });
    const messages = heldOutDigits(N).map(rawMessage);
    const random = rng(SEED);
    const perRound = N / ROUNDS;
    const rows: unknown[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await produce(run.topic, messages.slice(round * perRound, (round + 1) * perRound));
      // Most kills are timed from consumption (group joined, partitions restored and read
      // again: more counted than the checkpoint held), the rest from the start (model load,
      // calibration, the join itself).
      const anchor = random() < 0.7 ? 'ready' : 'start';
      const delayMs = Math.round(random() * (anchor === 'ready' ? 1_500 : 4_000));
      const restored = readCheckpointFile(run.stateDir)?.body.counters.samples[run.topic] ?? 0;
      const d = await DaemonProcess.start(run.config, { timeoutMs: 60_000 });
      if (anchor === 'ready') {
        const consuming = (x: Parameters<typeof samplesOf>[0]): boolean => valueOf(x, 'ckawatch_ready') === 1 && samplesOf(x, run.topic) > restored;
        await d.waitForMetrics(consuming, 'consumption', { timeoutMs: 60_000, intervalMs: 50 });
      }
      await sleep(delayMs);
      let seen: number | null = null;
      try {
        seen = samplesOf(await d.scrape(), run.topic);
      } catch {
        // a scrape that races the kill says nothing; the checkpoint check below is the point
      }
      const exit = await d.kill('SIGKILL');
      expect(exit.signal, d.logTail()).toBe('SIGKILL'); // it was still running: no crash of its own
      const checkpoint = readCheckpointFile(run.stateDir);
      const held = checkpoint?.body.counters.samples[run.topic] ?? 0;
      const heldOffsets = sum(Object.values(checkpoint?.body.offsets[run.topic] ?? {}));
      expect(held, `round ${round}: checkpoint counts ${held} samples but holds offsets summing to ${heldOffsets}`).toBe(heldOffsets);
      const committed = sum([...(await committedOffsets(run.groupId, run.topic)).values()].map((o) => Math.max(0, o)));
      // Kafka never runs ahead of the checkpoint.
      expect(committed, `round ${round}: committed ${committed} > checkpoint ${held}`).toBeLessThanOrEqual(held);
      rows.push({ round, anchor, delayMs, scraped: seen, checkpointSamples: held, committed, produced: (round + 1) * perRound });
    }

    // The kills did land while data was flowing: some checkpoint progress across rounds.
    expect((rows.at(-1) as { checkpointSamples: number }).checkpointSamples).toBeGreaterThan(0);
    const final = await DaemonProcess.start(run.config, { timeoutMs: 60_000 });
    await final.waitForMetrics((s) => samplesOf(s, run.topic) >= N, `${N} samples after ${ROUNDS} kills`, {
      timeoutMs: 60_000,
      show: (s) => samplesOf(s, run.topic),
    });
    await waitForCommitsAtEnd(run.groupId, run.topic, final);
    const s = await final.scrape();
    if (verbose) console.table(rows);
    expect(samplesOf(s, run.topic)).toBe(N);
    expect(rejectedOf(s, run.topic)).toBe(0);
    const layers = windowSamples(s);
    expect(layers.size).toBeGreaterThan(0);
    for (const [layer, n] of layers) expect(n, layer).toBe(N);
    // Often still in start-up here (the counts came from the checkpoint, and the group join
    // waits for the last killed member's session to expire): SIGTERM must still end in a
    // graceful stop and exit 0 (it used to kill the process before start-up was over).
    expect((await final.stop(30_000)).code, final.logTail()).toBe(0);
    expect(readCheckpointFile(run.stateDir)!.body.counters.samples[run.topic]).toBe(N);
  }, 240_000);

  it('SIGTERM during start-up: a graceful stop once start-up is over, exit 0', async () => {
    const run = await suite.run('faults-term-early', 1);
    await produce(run.topic, heldOutDigits(64).map(rawMessage));
    const d = await DaemonProcess.start(run.config, { timeoutMs: 60_000 });
    // "serving /metrics" comes before the model, the calibration and the group join.
    const exit = await d.stop(60_000);
    expect(exit, d.logTail()).toEqual({ code: 0, signal: null });
    expect(d.logs().some((l) => l.msg === 'stopping once start-up is over'), d.logTail()).toBe(true);
    expect(d.logs().some((l) => l.msg === 'stopped')).toBe(true);
  });
});
