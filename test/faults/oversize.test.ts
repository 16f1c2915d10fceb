/**
 * Oversized messages and memory. A message far over input.maxMessageBytes (7 KiB for a raw
 * digit) on a topic that allows it is refused as `oversize`, but it still has to come
 * through the consumer. The issue measured RSS 286 -> 719 MB after one 90 MB message and
 * 1,086 MB after a second.
 *
 *   produce: 64 digits, then 3 x (48 MiB, 64 digits) ─▶ daemon (with a dead-letter topic)
 *   expect:  256 samples, 3 oversize, 3 dead letters; reading one raises the peak RSS by
 *            less than 3 messages' worth, and the third peak is less than one message
 *            above the first (nothing is kept)
 *
 * The floor is the Kafka protocol's, not ckawatch's: from fetch v3 on a broker returns a
 * record batch larger than the fetch's maxBytes whole, so that the consumer can make
 * progress (KIP-74), and kafkajs buffers a response's socket chunks and joins them, so
 * one message briefly costs about twice its size. Measured 2026-12-04: with two 90 MB
 * messages (5 runs) idle 214-254 MiB, peak 1.60-2.03x idle (+152 to +220 MiB); with these
 * 48 MiB ones, peaks 291-336 MiB over 219 MiB idle (1.33-1.53x). The test uses 48 MiB
 * because the test broker's 512 MB heap makes 90 MB appends slow enough to time out.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DaemonProcess } from '../helpers/daemon.js';
import { useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { heldOutDigits, rawMessage } from '../helpers/digits.js';
import { endOffsets, freshTopic, produce, waitFor, withAdmin } from '../helpers/kafka.js';
import { rejectedByReason, samplesOf } from '../helpers/metrics.js';
import { valueOf } from '../helpers/prom-text.js';

const suite = useDaemonSuite('ckawatch-faults-oversize-', { referenceDigits: 500 });

/** A line of /proc/<pid>/status in MiB: VmRSS now, VmHWM the peak since start or the last reset. */
function memoryMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(/(\d+) kB/.exec(line ?? '')![1]) / 1024;
}

describe('oversized messages', () => {
  it('three 48 MiB messages: refused as oversize, the digits around them counted, nothing kept', async () => {
    const deadLetterTopic = await freshTopic('faults-oversize-dlt', 1);
    const { topic, groupId, config } = await suite.run('faults-oversize', 1, { deadLetterTopic, batchSize: 64, threads: 1, calibrationBatches: 8 });
    await withAdmin((admin) => admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: topic, configEntries: [{ name: 'max.message.bytes', value: String(100 * 1024 * 1024) }] }] }));
    const d = await DaemonProcess.start(config);
    await d.waitForMetrics((x) => valueOf(x, 'ckawatch_ready') === 1, 'ready', { timeoutMs: 90_000 });
    const digits = heldOutDigits(256).map(rawMessage);
    await produce(topic, digits.slice(0, 64));
    await d.waitForMetrics((x) => samplesOf(x, topic) === 64, '64 digits counted', { timeoutMs: 60_000 });
    const idle = memoryMiB(d.pid, 'VmRSS');
    const MiB = 48;
    const huge = Buffer.alloc(MiB * 1024 * 1024, 7);
    // One at a time, each followed by 64 digits and waited for; the peak (VmHWM, reset by
    // writing "5" to clear_refs) is read after each.
    const peaks: number[] = [];
    for (let k = 1; k <= 3; k++) {
      writeFileSync(`/proc/${d.pid}/clear_refs`, '5');
      await produce(topic, [huge], 1);
      await produce(topic, digits.slice(64 * k, 64 * (k + 1)));
      await d.waitForMetrics((x) => samplesOf(x, topic) === 64 * (k + 1) && rejectedByReason(x, topic)['oversize'] === k, `message ${k} refused`, { timeoutMs: 120_000 });
      peaks.push(memoryMiB(d.pid, 'VmHWM'));
    }
    await waitForCommitsAtEnd(groupId, topic, d, 60_000);
    const s = await d.scrape();
    console.log(`oversize: idle RSS ${idle.toFixed(0)} MiB; peak while reading each of three ${MiB} MiB messages ${peaks.map((p) => p.toFixed(0)).join(', ')} MiB (${(peaks[0]! / idle).toFixed(2)}x idle)`);
    expect(samplesOf(s, topic)).toBe(256);
    expect(rejectedByReason(s, topic)).toEqual({ oversize: 3 });
    // A message costs about twice its size while it is read (kafkajs joins the response's
    // chunks), and nothing of it is kept: had each been kept, the third peak would be two
    // messages above the first.
    expect(peaks[0]! - idle).toBeLessThan(3 * MiB);
    expect(peaks[2]! - peaks[0]!).toBeLessThan(MiB);
    // Both are dead letters, as headers only (their size in ckawatch-value-bytes).
    await waitFor(async () => (await endOffsets(deadLetterTopic)).get(0) === 3, 30_000, 'three dead letters');
  }, 300_000);
});
