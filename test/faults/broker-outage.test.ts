/**
 * Kafka down for 30 s mid-stream, on a broker of this test's own (the shared one is not
 * touched), its data kept across the stop and start (scripts/kafka.sh, KAFKA_KEEP_DATA=1):
 *
 *   produce 3N/4 ─▶ daemon consuming ─▶ broker stopped ─▶ 30 s: /healthz 200, /readyz 503, no exit
 *     ─▶ broker started ─▶ produce N/4 more ─▶ /readyz 200 ─▶ all consumed, committed ─▶ counts = N exactly
 *
 * and SIGTERM during an outage: every Kafka step of the shutdown has a deadline, the local
 * checkpoint is written, the exit code is 0 (measured before: exit 1 with no checkpoint,
 * "Consumer group was not initialized" from pause(); with commits hanging, 96 s).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DaemonProcess } from '../helpers/daemon.js';
import { SMALL_RUN, useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { heldOutDigits, rawMessage } from '../helpers/digits.js';
import { produce, waitFor } from '../helpers/kafka.js';
import { rejectedOf, samplesOf, windowSamples } from '../helpers/metrics.js';
import { useOwnBroker } from '../helpers/own-broker.js';
import { valueOf } from '../helpers/prom-text.js';
import { readCheckpointFile } from '../helpers/streams.js';

const verbose = process.env['CKAWATCH_TEST_VERBOSE'] === '1';
const OUTAGE_MS = Number(process.env['CKAWATCH_OUTAGE_MS'] ?? 30_000);

// This file's helpers (produce, freshTopic, the daemon config) all go to this broker.
const broker = useOwnBroker();
const suite = useDaemonSuite('ckawatch-faults-outage-', { referenceDigits: 500, defaults: SMALL_RUN });

async function status(url: string): Promise<number | string> {
  return fetch(url, { signal: AbortSignal.timeout(3_000) }).then(
    (r) => r.status,
    (e: Error) => e.message,
  );
}

describe('a broker outage', () => {
  it(`survives Kafka stopped for ${OUTAGE_MS / 1000} s mid-stream: /readyz false then true, nothing lost or doubled`, async () => {
    const N = 4000;
    const run = await suite.run('faults-outage', 2, { batchSize: 32 });
    const digits = heldOutDigits(N).map(rawMessage);
    // Three quarters before the outage (the daemon may have fetched them all when the
    // broker goes), the last quarter after it: consumption must resume from the broker.
    await produce(run.topic, digits.slice(0, 3000));
    const d = await DaemonProcess.start(run.config, { timeoutMs: 60_000 });
    const before = await d.waitForMetrics((s) => samplesOf(s, run.topic) >= 300, '300 samples', { timeoutMs: 60_000, intervalMs: 50 });
    const atStop = samplesOf(before, run.topic);

    const stopped = Date.now();
    await broker.stop({ keepData: true });
    const probes: { t: number; healthz: number | string; readyz: number | string }[] = [];
    let notReadyAt: number | null = null;
    while (Date.now() - stopped < OUTAGE_MS) {
      const [healthz, readyz] = await Promise.all([status(`${d.url}/healthz`), status(`${d.url}/readyz`)]);
      probes.push({ t: Date.now() - stopped, healthz, readyz });
      if (readyz !== 200 && notReadyAt === null) notReadyAt = Date.now() - stopped;
      expect(d.exit, d.logTail()).toBeNull();
      await sleep(1_000);
    }
    const duringOutage = samplesOf(await d.scrape(), run.topic);
    expect(probes.every((p) => p.healthz === 200), JSON.stringify(probes)).toBe(true);
    expect(notReadyAt, `/readyz never went false: ${JSON.stringify(probes)}\n${d.logTail()}`).not.toBeNull();
    expect(probes.at(-1)!.readyz, JSON.stringify(probes)).toBe(503);

    const restarted = Date.now();
    await broker.start();
    const brokerBackMs = Date.now() - restarted;
    await produce(run.topic, digits.slice(3000));
    await d.waitForMetrics((s) => valueOf(s, 'ckawatch_ready') === 1, 'readiness after the broker came back', { timeoutMs: 90_000 });
    expect(await status(`${d.url}/readyz`)).toBe(200);
    const readyAgainMs = Date.now() - restarted;
    const s = await d.waitForMetrics((x) => samplesOf(x, run.topic) >= N, `${N} samples after the outage`, { timeoutMs: 90_000, show: (x) => samplesOf(x, run.topic) });
    await waitForCommitsAtEnd(run.groupId, run.topic, d, 60_000);
    const final = await d.scrape();
    if (verbose) console.info({ atStop, duringOutage, notReadyAt, brokerBackMs, readyAgainMs, probes: probes.length });
    expect(samplesOf(s, run.topic)).toBe(N);
    expect(samplesOf(final, run.topic)).toBe(N);
    expect(rejectedOf(final, run.topic)).toBe(0);
    for (const [layer, n] of windowSamples(final)) expect(n, layer).toBe(N);
    expect(d.exit).toBeNull();
    expect((await d.stop(30_000)).code).toBe(0);
  }, 300_000);

  it('SIGTERM while Kafka is down: exits 0 within 30 s, with a last checkpoint that holds every sample counted', async () => {
    const run = await suite.run('faults-outage-sigterm', 2, { batchSize: 32 });
    await produce(run.topic, heldOutDigits(1000).map(rawMessage));
    const d = await DaemonProcess.start(run.config, { timeoutMs: 60_000 });
    await d.waitForMetrics((s) => samplesOf(s, run.topic) >= 1000, '1,000 samples', { timeoutMs: 60_000 });
    await broker.stop({ keepData: true });
    try {
      // The consumer has noticed (not in its group): the state where pause() used to throw.
      await waitFor(async () => (await status(`${d.url}/readyz`)) === 503, 60_000, '/readyz 503 after the broker went');
      const counted = samplesOf(await d.scrape(), run.topic);
      const stopping = Date.now();
      const exit = await d.stop(30_000);
      const tookMs = Date.now() - stopping;
      expect(exit.code, d.logTail()).toBe(0);
      expect(tookMs).toBeLessThan(30_000);
      // The last checkpoint, written with the broker gone, holds what was counted.
      expect(readCheckpointFile(run.stateDir)?.body.counters.samples[run.topic]).toBe(counted);
      if (verbose) console.info({ counted, tookMs });
    } finally {
      await broker.start();
    }
  }, 300_000);
});
