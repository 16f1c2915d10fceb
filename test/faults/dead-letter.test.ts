/**
 * The dead-letter topic under load and misconfiguration (src/source/dead-letter.ts):
 *
 *   burst of rejects (one 8 MiB fetch holds ~2,600) ─▶ chunks under 1 MiB ─▶ every letter on the topic
 *   dead-letter topic missing ─▶ named in /readyz warnings at start; consumption never waits on it
 *
 * Measured 2026-12 before the queue: after 50,000 bad messages 1,008 of 50,009 letters
 * arrived (one produce request per fetch, refused as MESSAGE_TOO_LARGE), and a missing topic
 * stalled every fetch holding a reject for 8.5-10.6 s.
 */
import { describe, expect, it } from 'vitest';
import { DaemonProcess } from '../helpers/daemon.js';
import { useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { chunkFor, heldOutDigits, rawMessage } from '../helpers/digits.js';
import { endOffsets, freshTopic, produce, uniqueName, waitFor } from '../helpers/kafka.js';
import { produceSteadily } from '../helpers/streams.js';
import { rejectedByReason, samplesOf } from '../helpers/metrics.js';
import { valueOf } from '../helpers/prom-text.js';

const suite = useDaemonSuite('ckawatch-faults-dead-letter-', { referenceDigits: 500 });
/** Rejects in the burst; CKAWATCH_DLT_BURST=50009 repeats the measurement of the issue. */
const BURST = Number(process.env['CKAWATCH_DLT_BURST'] ?? 5_000);

/** A digit as float64 where raw float32 is expected: 6,272 bytes, rejected as wrong_size. */
const wrongSize = (x: Float32Array): Buffer => Buffer.from(Float64Array.from(x).buffer);

describe('dead-letter topic', () => {
  it(`a burst of ${BURST} rejects reaches the dead-letter topic whole, and each letter is counted sent`, async () => {
    const N = BURST;
    const deadLetterTopic = await freshTopic('faults-dlt-burst', 1);
    const { topic, groupId, config } = await suite.run('faults-dlt-burst', 1, { deadLetterTopic, batchSize: 32, threads: 1, calibrationBatches: 8 });
    const digits = heldOutDigits(500);
    const bad = Array.from({ length: N }, (_, i) => wrongSize(digits[i % digits.length]!));
    const good = digits.slice(0, 64).map(rawMessage);
    const messages = [...bad, ...good];
    await produce(topic, messages, chunkFor(messages));
    const d = await DaemonProcess.start(config);
    const s = await d.waitForMetrics((x) => samplesOf(x, topic) === 64 && (valueOf(x, 'ckawatch_dead_letters_total', { result: 'sent' }) ?? 0) === N, `64 samples and ${N} letters sent`, {
      timeoutMs: 120_000 + N * 10,
      show: (x) => ({ samples: samplesOf(x, topic), sent: valueOf(x, 'ckawatch_dead_letters_total', { result: 'sent' }), failed: valueOf(x, 'ckawatch_dead_letters_total', { result: 'failed' }) }),
    });
    expect(rejectedByReason(s, topic)).toEqual({ wrong_size: N });
    expect(valueOf(s, 'ckawatch_dead_letters_total', { result: 'failed' }) ?? 0).toBe(0);
    expect([...(await endOffsets(deadLetterTopic)).values()]).toEqual([N]);
    await waitForCommitsAtEnd(groupId, topic, d);
  }, 60_000 + BURST * 20);

  it('a missing dead-letter topic is named in /readyz at start, and rejects never hold up consumption', async () => {
    const missing = uniqueName('faults-dlt-missing');
    const { topic, groupId, config } = await suite.run('faults-dlt-missing', 2, { deadLetterTopic: missing, batchSize: 32, threads: 1, calibrationBatches: 8 });
    const digits = heldOutDigits(640);
    // 1 in 10 bad, spread over the stream: before, every fetch holding one waited ~10 s.
    const messages = digits.flatMap((x, i) => (i % 9 === 0 ? [wrongSize(x), rawMessage(x)] : [rawMessage(x)]));
    const bad = messages.length - digits.length;
    const d = await DaemonProcess.start(config);
    await d.waitForMetrics((x) => valueOf(x, 'ckawatch_ready') === 1, 'ready: a missing dead-letter topic stops nothing', { timeoutMs: 60_000 });
    const readyz = (await (await fetch(`${d.url}/readyz`)).json()) as { ready: boolean; warnings?: string[] };
    expect(readyz.ready).toBe(true);
    expect(readyz.warnings?.join('\n')).toContain(`dead-letter topic ${missing} does not exist`);
    // About 140 messages a second, as traffic arrives: each fetch holds a few rejects. Before,
    // each such fetch waited ~10 s on the producer, and the lag grew by the minute.
    const steady = produceSteadily(topic, messages, 14, 100);
    await steady.done;
    const produced = Date.now();
    const s = await d.waitForMetrics((x) => samplesOf(x, topic) === digits.length, `${digits.length} samples`, { timeoutMs: 60_000 });
    const behindMs = Date.now() - produced;
    expect(rejectedByReason(s, topic)).toEqual({ wrong_size: bad });
    await waitFor(async () => (valueOf(await d.scrape(), 'ckawatch_dead_letters_total', { result: 'failed' }) ?? 0) === bad, 30_000, `${bad} letters counted failed`);
    await waitForCommitsAtEnd(groupId, topic, d);
    // The point of the test, so a time: caught up soon after the last message, where the
    // stalls (~50 fetches with a reject, 8.5-10.6 s each) would leave minutes of lag.
    expect(behindMs, 'ms from the last message produced to the last sample counted').toBeLessThan(30_000);
  });
});
