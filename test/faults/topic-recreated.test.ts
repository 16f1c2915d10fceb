/**
 * A topic deleted and recreated under a daemon's checkpoint: the state holds offsets the new
 * log has not reached. Measured 2026-12 before Pipeline.resetIfAhead: 1,000 of 3,000 new
 * messages were counted, the rest skipped as duplicates, with lag 0 and nothing said.
 *
 *   1,000 digits ─▶ daemon ─▶ SIGTERM (checkpoint at 500 + 500)
 *   delete + recreate the topic, 300 new digits ─▶ daemon again (same state)
 *   expect: 1,300 counted, each partition's reset counted and logged, commits at the new ends
 */
import { describe, expect, it } from 'vitest';
import { DaemonProcess } from '../helpers/daemon.js';
import { useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { heldOutDigits, rawMessage } from '../helpers/digits.js';
import { produce, waitFor, withAdmin } from '../helpers/kafka.js';
import { samplesOf, windowSamples } from '../helpers/metrics.js';
import { valueOf } from '../helpers/prom-text.js';

const suite = useDaemonSuite('ckawatch-faults-recreated-', { referenceDigits: 500 });

describe('a topic recreated under the state', () => {
  it('reads the new log as new data: every new message counted, each partition reset once, said and counted', async () => {
    const { topic, groupId, config } = await suite.run('faults-recreated', 2, { batchSize: 32, threads: 1, calibrationBatches: 8 });
    const digits = heldOutDigits(1300).map(rawMessage);
    await produce(topic, digits.slice(0, 1000));
    const first = await DaemonProcess.start(config);
    await first.waitForMetrics((s) => samplesOf(s, topic) === 1000, '1,000 samples', { timeoutMs: 60_000 });
    await waitForCommitsAtEnd(groupId, topic, first);
    expect((await first.stop(30_000)).code).toBe(0);

    await withAdmin((admin) => admin.deleteTopics({ topics: [topic], timeout: 30_000 }));
    // Deletion finishes in the background: create again until the broker takes it.
    await waitFor(
      () => withAdmin((admin) => admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true })).then(() => true, () => false),
      60_000,
      `${topic} created again`,
      500,
    );
    await produce(topic, digits.slice(1000));

    const second = await DaemonProcess.start(config);
    const s = await second.waitForMetrics((x) => samplesOf(x, topic) === 1300, '1,300 samples (300 on the new log)', {
      timeoutMs: 60_000,
      show: (x) => ({ samples: samplesOf(x, topic), skipped: valueOf(x, 'ckawatch_duplicates_skipped_total', { topic }), resets: valueOf(x, 'ckawatch_offset_resets_total', { topic }) }),
    });
    expect(valueOf(s, 'ckawatch_offset_resets_total', { topic })).toBe(2);
    expect(valueOf(s, 'ckawatch_duplicates_skipped_total', { topic }) ?? 0).toBe(0);
    const ends = await waitForCommitsAtEnd(groupId, topic, second);
    expect([...ends.values()].reduce((a, b) => a + b, 0)).toBe(300);
    for (const [layer, n] of windowSamples(await second.scrape())) expect(n, layer).toBe(1300);
    expect(second.logs().filter((l) => String(l['msg']).startsWith('partition log ends below the state'))).toHaveLength(2);
    expect((await second.stop(30_000)).code).toBe(0);
  });
});
