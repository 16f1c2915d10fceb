/**
 * The daemon as it runs in production: `node dist/cli/main.js run --config FILE` as a
 * child process, the real broker (scripts/kafka.sh, started by test/global-setup.ts when
 * none answers), the MNIST CNN of test/fixtures on real digits, /metrics scraped over HTTP.
 *
 *   test ──produce──▶ topic (2 partitions) ──▶ daemon ──▶ /metrics ◀── scrape
 *                                                │ checkpoint (state dir) ──▶ commit ──▶ admin.fetchOffsets
 *                                                └─ rejected ──▶ dead-letter topic ◀── read
 *
 * Every test has its own topic, group and state dir. Waits are bounded and a timeout
 * message carries the daemon's log tail.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { drifts } from '../../src/demo/drifts.js';
import { encodeNpy } from '../../src/io/npy.js';
import { DaemonProcess, NEVER } from '../helpers/daemon.js';
import { useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { chunkFor, heldOutDigits, jsonMessage, npyMessage, rawMessage } from '../helpers/digits.js';
import { committedOffsets, endOffsets, freshTopic, produce } from '../helpers/kafka.js';
import { minus, rejectedByReason, rejectedOf, samplesOf, scores, windowSums } from '../helpers/metrics.js';
import { valueOf, type PromSample } from '../helpers/prom-text.js';
import { produceSteadily, readCheckpointFile, readTopic } from '../helpers/streams.js';

const verbose = process.env['CKAWATCH_TEST_VERBOSE'] === '1';

const suite = useDaemonSuite('ckawatch-daemon-suite-', { referenceDigits: 2_000 });

const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);

describe('ckawatch run against a real broker', () => {
  it('counts every digit exactly once, commits to the end, and scores rotated digits as drift', async () => {
    const { topic, groupId, config } = await suite.run('daemon-drift', 2);
    const clean = heldOutDigits(2048).map(rawMessage);
    const rotated = heldOutDigits(2048, { from: 2048, drift: drifts.rotate(40) }).map(rawMessage);

    await produce(topic, clean, chunkFor(clean));
    const d = await DaemonProcess.start(config);
    const show = (s: PromSample[]) => ({ samples: samplesOf(s, topic), rejected: rejectedOf(s, topic) });
    const s1 = await d.waitForMetrics((s) => samplesOf(s, topic) >= 2048, '2,048 clean samples', { show });
    expect(samplesOf(s1, topic)).toBe(2048);
    await waitForCommitsAtEnd(groupId, topic, d);
    // The provider in use, and the start-up check of every layer's Gram against float64.
    expect(await (await fetch(`${d.url}/readyz`)).json()).toEqual({ ready: true, reasons: [], provider: 'cpu' });
    const gramErrors = s1.filter((x) => x.name === 'ckawatch_gram_relative_error' && x.labels['graph'] !== 'pool');
    expect(gramErrors).toHaveLength(4);
    for (const e of gramErrors) expect(e.value, e.labels['layer']).toBeLessThan(1e-5);
    // The reference pool in the model: its float32 sums against float64, and what it keeps per layer.
    const poolErrors = s1.filter((x) => x.name === 'ckawatch_gram_relative_error' && x.labels['graph'] === 'pool');
    expect(poolErrors).toHaveLength(4);
    for (const e of poolErrors) expect(e.value, e.labels['layer']).toBeLessThan(1e-4);
    const cache = s1.filter((x) => x.name === 'ckawatch_reference_cache_bytes');
    expect(cache.map((c) => c.labels['layer']).sort()).toEqual(gramErrors.map((e) => e.labels['layer']).sort());
    for (const c of cache) expect(c.value, c.labels['layer']).toBeGreaterThan(0);

    await produce(topic, rotated, chunkFor(rotated));
    await d.waitForMetrics((s) => samplesOf(s, topic) >= 4096, '4,096 samples', { show });
    const ends = await waitForCommitsAtEnd(groupId, topic, d);
    expect(sum(ends.values())).toBe(4096);
    // Scraped after the commit (a checkpoint later): nothing counted twice, nothing left out.
    const s2 = await d.scrape();
    expect(samplesOf(s2, topic)).toBe(4096);
    expect(rejectedOf(s2, topic)).toBe(0);

    const before = windowSums(s1);
    const after = windowSums(s2);
    expect([...after.keys()]).toHaveLength(4); // digits-cnn's default layer set
    const rows: unknown[] = [];
    let largestCkaFall = 0;
    for (const [layer, total] of after) {
      expect(total.samples, layer).toBe(4096);
      expect(before.get(layer)!.samples, layer).toBe(2048);
      const clean = scores(before.get(layer)!);
      // The drifted half alone, from the additive sums the daemon exports.
      const rotatedOnly = scores(minus(total, before.get(layer)!));
      const ckaGauge1 = valueOf(s1, 'ckawatch_cka', { layer, window: 'all' })!;
      const ckaGauge2 = valueOf(s2, 'ckawatch_cka', { layer, window: 'all' })!;
      const rbf1 = valueOf(s1, 'ckawatch_mmd2', { layer, window: 'all', kernel: 'rbf' })!;
      const rbf2 = valueOf(s2, 'ckawatch_mmd2', { layer, window: 'all', kernel: 'rbf' })!;
      const lin1 = valueOf(s1, 'ckawatch_mmd2', { layer, window: 'all', kernel: 'linear' })!;
      const lin2 = valueOf(s2, 'ckawatch_mmd2', { layer, window: 'all', kernel: 'linear' })!;
      rows.push({ layer, ckaClean: ckaGauge1, ckaRotated: rotatedOnly.cka, rbfClean: rbf1, rbfRotated: rotatedOnly.mmd2Rbf, linClean: lin1, linRotated: rotatedOnly.mmd2Linear });

      // The gauges are the ratios of the sums.
      expect(ckaGauge1).toBeCloseTo(clean.cka, 9);
      expect(rbf1).toBeCloseTo(clean.mmd2Rbf, 9);
      // Held-out clean digits look like the reference: covariance alignment ~1, MMD² ~0.
      expect(Math.abs(ckaGauge1 - 1), `${layer}: clean cka ${ckaGauge1}`).toBeLessThan(0.05);
      // Rotated digits: alignment falls, MMD² rises, in every layer. The fall is a random
      // quantity (which reference rows each batch drew, which samples each batch holds):
      // measured over 3 runs, logits fell by 0.046-0.063 and the conv layers by 0.10-0.31, so
      // every layer must fall by 0.02 and the most-moved one by 0.2.
      expect(rotatedOnly.cka, `${layer}: rotated cka`).toBeLessThan(ckaGauge1 - 0.02);
      largestCkaFall = Math.max(largestCkaFall, ckaGauge1 - rotatedOnly.cka);
      expect(ckaGauge2, `${layer}: cka gauge after the rotated half`).toBeLessThan(ckaGauge1);
      expect(rotatedOnly.mmd2Rbf, `${layer}: rotated rbf MMD²`).toBeGreaterThan(5 * Math.abs(rbf1) + 0.005);
      expect(rbf2, `${layer}: rbf MMD² gauge after the rotated half`).toBeGreaterThan(rbf1);
      expect(rotatedOnly.mmd2Linear, `${layer}: rotated linear MMD²`).toBeGreaterThan(3 * Math.abs(lin1));
      expect(lin2, `${layer}: linear MMD² gauge after the rotated half`).toBeGreaterThan(lin1);
    }
    if (verbose) console.table(rows);
    expect(largestCkaFall, 'the largest fall of cka over the layers').toBeGreaterThan(0.2);
    // (a graceful stop is the last test's subject; afterEach kills this one)
  });

  it('resumes after SIGKILL mid-stream from its checkpoint: every sample counted exactly once', async () => {
    const N = 4096;
    const { topic, groupId, config, stateDir } = await suite.run('daemon-kill', 2);
    const messages = heldOutDigits(N).map(rawMessage);
    const first = await DaemonProcess.start(config);
    await first.waitForMetrics((s) => valueOf(s, 'ckawatch_ready') === 1, 'readiness (calibrated, group joined)', { timeoutMs: 60_000 });
    // About 640 messages/s; the last quarter waits until the kill, so that the kill lands
    // while the stream is still going, on a fast machine or a slow one.
    const producer = produceSteadily(topic, messages, 64, 100, { holdAt: 3072 });
    const show = (s: PromSample[]) => ({ samples: samplesOf(s, topic), checkpoint: valueOf(s, 'ckawatch_checkpoint_last_success_timestamp_seconds') });
    const s1 = await first.waitForMetrics(
      (s) => samplesOf(s, topic) >= 1024 && (readCheckpointFile(stateDir)?.body.counters.samples[topic] ?? 0) > 0,
      '1,024 samples and a checkpoint that holds some',
      { show },
    );
    const sentAtKill = producer.sent();
    const exit = await first.kill('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    const countedAtKill = samplesOf(s1, topic);
    expect(sentAtKill, 'the producer was still sending at the kill').toBeLessThan(N);

    // The checkpoint the restart resumes from is self-consistent: every message is a good
    // sample, so the samples it counts are exactly the offsets it holds.
    const checkpoint = readCheckpointFile(stateDir)!;
    const held = checkpoint.body.counters.samples[topic]!;
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(producer.sent());
    expect(sum(Object.values(checkpoint.body.offsets[topic] ?? {}))).toBe(held);

    producer.release();
    await producer.done;
    const second = await DaemonProcess.start(config);
    await second.waitForMetrics((s) => samplesOf(s, topic) >= N, `${N} samples after the restart`, {
      timeoutMs: 45_000, // the killed member holds its partitions until its 6 s session expires
      show: (s) => samplesOf(s, topic),
    });
    await waitForCommitsAtEnd(groupId, topic, second);
    const s2 = await second.scrape();
    expect(samplesOf(s2, topic)).toBe(N);
    expect(rejectedOf(s2, topic)).toBe(0);
    for (const [layer, sums] of windowSums(s2)) expect(sums.samples, layer).toBe(N);
    expect(second.logs().some((l) => l.msg === 'restored checkpoint')).toBe(true);
    if (verbose) console.info({ sentAtKill, countedAtKill, heldByCheckpoint: held });
    expect((await second.stop()).code).toBe(0);
  });

  it('counts every bad raw-f32 message under its reason, sends it to the dead-letter topic, and keeps every good one', async () => {
    const good = heldOutDigits(500).map(rawMessage); // 500 = 7 x 64 + 52: the last batch goes after max-wait
    const digit = heldOutDigits(1, { from: 600 })[0]!;
    const withValue = (v: number): Buffer => rawMessage(digit.map((x, i) => (i === 300 ? v : x)));
    const bad: { reason: string; value: Buffer | null }[] = [
      ...Array.from({ length: 4 }, () => ({ reason: 'wrong_size', value: rawMessage(digit).subarray(0, 1000) })), // truncated
      ...Array.from({ length: 3 }, () => ({ reason: 'wrong_size', value: Buffer.concat([rawMessage(digit), Buffer.alloc(4)]) })), // one value too many
      ...Array.from({ length: 3 }, () => ({ reason: 'not_finite', value: withValue(NaN) })),
      ...Array.from({ length: 2 }, () => ({ reason: 'not_finite', value: withValue(Infinity) })),
      ...Array.from({ length: 2 }, () => ({ reason: 'not_finite', value: withValue(-Infinity) })),
      ...Array.from({ length: 3 }, () => ({ reason: 'oversize', value: Buffer.alloc(8_000, 1) })),
      { reason: 'oversize', value: Buffer.alloc(600_000, 2) },
      ...Array.from({ length: 3 }, () => ({ reason: 'empty', value: Buffer.alloc(0) })),
      ...Array.from({ length: 3 }, () => ({ reason: 'empty', value: null })), // tombstones
    ];
    const deadLetterTopic = await freshTopic('daemon-dead-letter', 1);
    const { topic, groupId, config } = await suite.run('daemon-bad-raw', 2, { deadLetterTopic });
    // Bad messages spread through the stream, at fixed positions.
    const stream: { value: Buffer | null }[] = good.map((value) => ({ value }));
    bad.forEach((b, i) => stream.splice(Math.floor(((i + 1) * stream.length) / (bad.length + 1)), 0, { value: b.value }));
    await produce(topic, stream, 100);

    const d = await DaemonProcess.start(config);
    const produced = stream.length;
    const final = await d.waitForMetrics((s) => samplesOf(s, topic) + rejectedOf(s, topic) >= produced, `samples + rejected = ${produced}`, {
      show: (s) => ({ samples: samplesOf(s, topic), rejected: rejectedByReason(s, topic) }),
    });
    expect(samplesOf(final, topic)).toBe(500);
    const expected: Record<string, number> = {};
    for (const b of bad) expected[b.reason] = (expected[b.reason] ?? 0) + 1;
    expect(rejectedByReason(final, topic)).toEqual(expected);
    expect(samplesOf(final, topic) + rejectedOf(final, topic)).toBe(produced);
    await waitForCommitsAtEnd(groupId, topic, d);

    // Still alive and serving.
    expect(d.exit).toBeNull();
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${d.url}/readyz`)).status).toBe(200);

    // Each rejected message, as it was, with its reason in a header.
    const letters = await readTopic(deadLetterTopic, bad.length);
    expect(letters).toHaveLength(bad.length);
    const byReason: Record<string, number> = {};
    for (const l of letters) {
      const reason = l.headers['ckawatch-reason']!;
      byReason[reason] = (byReason[reason] ?? 0) + 1;
      expect(l.headers['ckawatch-source']).toMatch(new RegExp(`^${topic}/[01]/\\d+$`));
      expect(l.headers['ckawatch-detail']?.length ?? 0).toBeGreaterThan(0);
    }
    expect(byReason).toEqual(expected);
    const lengths = (xs: readonly { value: Buffer | null }[]) => xs.map((x) => x.value?.length ?? 0).sort((a, b) => a - b);
    expect(lengths(letters)).toEqual(lengths(bad));
    expect((await d.stop()).code).toBe(0);
  });

  it('rejects bad JSON and .npy messages by reason without stopping', async () => {
    const digits = heldOutDigits(200);
    const probe = digits[0]!;
    const jsonBad: { reason: string; value: Buffer }[] = [
      { reason: 'bad_json', value: Buffer.from('not json at all') },
      { reason: 'bad_json', value: jsonMessage(probe).subarray(0, 500) }, // truncated
      { reason: 'bad_json', value: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }, // not UTF-8
      { reason: 'bad_envelope', value: Buffer.from(JSON.stringify({ pixels: Array.from(probe) })) },
      { reason: 'bad_envelope', value: Buffer.from('[1, 2, 3]') },
      { reason: 'wrong_shape', value: Buffer.from(JSON.stringify({ input: Array.from(probe.subarray(0, 100)) })) },
      { reason: 'not_finite', value: Buffer.from(JSON.stringify({ input: Array.from(probe, (v, i) => (i === 7 ? 1e39 : v)) })) }, // beyond float32
      { reason: 'oversize', value: Buffer.alloc(40_000, 0x20) },
      { reason: 'empty', value: Buffer.alloc(0) },
    ];
    const npyBad: { reason: string; value: Buffer }[] = [
      { reason: 'wrong_dtype', value: npyMessage(new Int32Array(784)) },
      { reason: 'wrong_shape', value: Buffer.from(encodeNpy(new Float32Array(28 * 27), [1, 28, 27])) },
      { reason: 'bad_npy', value: Buffer.alloc(4_000, 7) },
      { reason: 'bad_npy', value: npyMessage(probe).subarray(0, 3_000) }, // truncated
      { reason: 'not_finite', value: npyMessage(probe.map((v, i) => (i === 9 ? NaN : v))) },
      { reason: 'oversize', value: Buffer.alloc(20_000, 1) },
      { reason: 'empty', value: Buffer.alloc(0) },
    ];
    const mix = (goodOnes: Buffer[], bad: { value: Buffer }[]): Buffer[] => {
      const out = [...goodOnes];
      bad.forEach((b, i) => out.splice(Math.floor(((i + 1) * out.length) / (bad.length + 1)), 0, b.value));
      return out;
    };
    // 200 good = 3 x 64 + 8; float64 .npy for every other digit (narrowed to float32 on decode).
    const json = mix(digits.map(jsonMessage), jsonBad);
    const npy = mix(digits.map((x, i) => npyMessage(i % 2 === 0 ? x : Float64Array.from(x))), npyBad);
    const a = await suite.run('daemon-bad-json', 1, { encoding: 'json', instanceId: 'json' });
    const b = await suite.run('daemon-bad-npy', 1, { encoding: 'npy', instanceId: 'npy' });
    await Promise.all([produce(a.topic, json, chunkFor(json)), produce(b.topic, npy, chunkFor(npy))]);

    const [dj, dn] = await Promise.all([DaemonProcess.start(a.config), DaemonProcess.start(b.config)]);
    for (const [d, topic, produced, bad] of [
      [dj, a.topic, json.length, jsonBad],
      [dn, b.topic, npy.length, npyBad],
    ] as const) {
      const s = await d.waitForMetrics((x) => samplesOf(x, topic) + rejectedOf(x, topic) >= produced, `${topic}: samples + rejected = ${produced}`, {
        show: (x) => ({ samples: samplesOf(x, topic), rejected: rejectedByReason(x, topic) }),
      });
      const expected: Record<string, number> = {};
      for (const x of bad) expected[x.reason] = (expected[x.reason] ?? 0) + 1;
      expect(samplesOf(s, topic), topic).toBe(200);
      expect(rejectedByReason(s, topic), topic).toEqual(expected);
      expect(d.exit).toBeNull();
    }
    await Promise.all([waitForCommitsAtEnd(a.groupId, a.topic, dj), waitForCommitsAtEnd(b.groupId, b.topic, dn)]);
  });

  it('on SIGTERM finishes, writes a last checkpoint, commits and exits 0; a restart then resumes exactly there', async () => {
    const N = 3000; // = 46 x 64 + 56
    // No scheduled checkpoint: whatever is on disk and committed comes from the stop.
    const { topic, groupId, config, stateDir } = await suite.run('daemon-sigterm', 2, { schedule: NEVER });
    const first = await DaemonProcess.start(config);
    await first.waitForMetrics((s) => valueOf(s, 'ckawatch_ready') === 1, 'readiness (calibrated, group joined)', { timeoutMs: 60_000 });
    const producer = produceSteadily(topic, heldOutDigits(N).map(rawMessage), 64, 100, { holdAt: 2048 });
    const s1 = await first.waitForMetrics((s) => samplesOf(s, topic) >= 640, '640 samples', { show: (s) => samplesOf(s, topic) });
    expect(existsSync(join(stateDir, 'ckawatch-test.json'))).toBe(false);
    expect([...(await committedOffsets(groupId, topic)).values()]).toEqual([-1, -1]);

    const stopAsked = Date.now();
    const exit = await first.stop(30_000);
    const stopMs = Date.now() - stopAsked;
    expect(exit, first.logTail()).toEqual({ code: 0, signal: null });
    expect(first.logs().some((l) => l.msg === 'stopped')).toBe(true);
    expect(producer.sent(), 'SIGTERM came mid-stream').toBeLessThan(N);

    // The last checkpoint and the commit agree with each other and with what was counted.
    const checkpoint = readCheckpointFile(stateDir);
    expect(checkpoint, 'a checkpoint written on SIGTERM').not.toBeNull();
    const held = checkpoint!.body.counters.samples[topic]!;
    expect(held).toBeGreaterThanOrEqual(samplesOf(s1, topic));
    const heldOffsets = checkpoint!.body.offsets[topic]!;
    expect(sum(Object.values(heldOffsets))).toBe(held);
    const committed = await committedOffsets(groupId, topic);
    expect(Object.fromEntries([...committed].map(([p, o]) => [String(p), o]))).toEqual(heldOffsets);

    producer.release();
    await producer.done;
    const second = await DaemonProcess.start(config);
    // A graceful stop left the group: the restart gets the partitions at once.
    const s2 = await second.waitForMetrics((s) => samplesOf(s, topic) >= N, `${N} samples after the restart`, {
      show: (s) => samplesOf(s, topic),
    });
    expect(samplesOf(s2, topic)).toBe(N);
    expect(second.logs().some((l) => l.msg === 'restored checkpoint')).toBe(true);
    expect((await second.stop(30_000)).code).toBe(0);
    const last = readCheckpointFile(stateDir)!;
    expect(last.body.counters.samples[topic]).toBe(N);
    const ends = await endOffsets(topic);
    expect(Object.fromEntries([...ends].map(([p, o]) => [String(p), o]))).toEqual(last.body.offsets[topic]);
    expect(await committedOffsets(groupId, topic)).toEqual(ends);
    for (const [layer, sums] of windowSums(s2)) expect(sums.samples, layer).toBe(N);
    if (verbose) console.info({ stopMs, heldAtStop: held });
  });
});
