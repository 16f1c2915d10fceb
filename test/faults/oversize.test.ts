/**
 * Oversized messages and memory. A 90 MB message on a topic that allows it is refused as
 * `oversize` (over input.maxMessageBytes, 7 KiB for a raw digit), but it still has to come
 * through the consumer. Measured 2026-12 before the fetch caps: RSS 286 -> 719 MB after one
 * such message and 1,086 MB after a second.
 *
 *   produce: 64 digits, 90 MB, 64 digits, 90 MB, 64 digits ─▶ daemon
 *   expect:  192 samples, 2 oversize; the peak RSS while reading them rises by less than 2.5
 *            messages' worth (two cost what one does: nothing is kept)
 *
 * The floor is the Kafka protocol's, not ckawatch's: from fetch v3 on a broker returns a
 * record batch larger than the fetch's maxBytes whole, so that the consumer can make
 * progress (KIP-74), and kafkajs buffers a response's socket chunks and joins them, so
 * one message briefly costs about twice its size. Measured 2026-12-04 (3 runs): idle
 * 221-254 MiB, peak 406-435 MiB (1.60-1.94x idle), +152 to +208 MiB.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DaemonProcess } from '../helpers/daemon.js';
import { useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { heldOutDigits, rawMessage } from '../helpers/digits.js';
import { produce, withAdmin } from '../helpers/kafka.js';
import { rejectedByReason, samplesOf } from '../helpers/metrics.js';
import { valueOf } from '../helpers/prom-text.js';

const suite = useDaemonSuite('ckawatch-faults-oversize-', { referenceDigits: 500 });

/** A line of /proc/<pid>/status in MiB: VmRSS now, VmHWM the peak since start or the last reset. */
function memoryMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(/(\d+) kB/.exec(line ?? '')![1]) / 1024;
}

describe('oversized messages', () => {
  it('two 90 MB messages: refused as oversize, the digits around them counted, nothing kept', async () => {
    const { topic, groupId, config } = await suite.run('faults-oversize', 1, { batchSize: 64, threads: 1, calibrationBatches: 8 });
    await withAdmin((admin) => admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: topic, configEntries: [{ name: 'max.message.bytes', value: String(100 * 1024 * 1024) }] }] }));
    const d = await DaemonProcess.start(config);
    await d.waitForMetrics((x) => valueOf(x, 'ckawatch_ready') === 1, 'ready', { timeoutMs: 90_000 });
    const digits = heldOutDigits(192).map(rawMessage);
    await produce(topic, digits.slice(0, 64));
    await d.waitForMetrics((x) => samplesOf(x, topic) === 64, '64 digits counted', { timeoutMs: 60_000 });
    const idle = memoryMiB(d.pid, 'VmRSS');
    // Reset the peak (Linux: "5" to clear_refs), so VmHWM is the peak from here on.
    writeFileSync(`/proc/${d.pid}/clear_refs`, '5');
    const huge = Buffer.alloc(90 * 1024 * 1024, 7);
    await produce(topic, [huge], 1);
    await produce(topic, digits.slice(64, 128));
    await produce(topic, [huge], 1);
    await produce(topic, digits.slice(128));
    await waitForCommitsAtEnd(groupId, topic, d, 120_000);
    const s = await d.scrape();
    const peak = memoryMiB(d.pid, 'VmHWM');
    const after = memoryMiB(d.pid, 'VmRSS');
    console.log(`oversize: idle RSS ${idle.toFixed(0)} MiB, peak while reading two 90 MB messages ${peak.toFixed(0)} MiB (${(peak / idle).toFixed(2)}x), after ${after.toFixed(0)} MiB`);
    expect(samplesOf(s, topic)).toBe(192);
    expect(rejectedByReason(s, topic)).toEqual({ oversize: 2 });
    expect(peak - idle).toBeLessThan(2.5 * 90);
  });
});
