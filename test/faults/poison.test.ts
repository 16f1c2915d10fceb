/**
 * Poison: finite samples that break the arithmetic. One message of 1e30s, or 3,136 bytes of
 * text read as raw float32, is finite, so it passes the decoder's checks; before input.maxAbs
 * its square overflowed the batch's float32 Gram and the batch's 63 good samples left the
 * statistics with it (measured 2026-12: at 1 such message in 64, 6,400 samples consumed and
 * 0 in the windows, no score exported, ready all along).
 *
 *   produce: 64-message groups of 63 held-out digits + 1 poison ─▶ daemon (batch 64, default bound)
 *   expect:  every digit in every layer's window; every poison counted as out_of_range
 *
 * And when nothing gets through (a producer that changed its encoding), the daemon says it
 * is blind (ckawatch_blind, /readyz) instead of counting rejections with stale scores.
 */
import { describe, expect, it } from 'vitest';
import { DaemonProcess, editConfig } from '../helpers/daemon.js';
import { useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { chunkFor, heldOutDigits, rawMessage } from '../helpers/digits.js';
import { produce } from '../helpers/kafka.js';
import { rejectedByReason, samplesOf, windowSamples } from '../helpers/metrics.js';
import { valueOf } from '../helpers/prom-text.js';

const suite = useDaemonSuite('ckawatch-faults-poison-', { referenceDigits: 500 });

/** Finite float32s far beyond any digit: all 1e30, or English text read as little-endian float32. */
function poison(k: number): Buffer {
  if (k % 2 === 0) return Buffer.from(new Float32Array(784).fill(1e30).buffer);
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(70).slice(0, 784 * 4);
  return Buffer.from(text, 'latin1');
}

describe('poison samples', () => {
  it('1 finite poison message in 64 (1.6%): refused alone as out_of_range, every good digit in the windows', async () => {
    const groups = 50;
    const digits = heldOutDigits(63 * groups);
    const messages: Buffer[] = [];
    for (let g = 0; g < groups; g++) {
      messages.push(...digits.slice(63 * g, 63 * g + 31).map(rawMessage), poison(g), ...digits.slice(63 * g + 31, 63 * (g + 1)).map(rawMessage));
    }
    // The text really is finite float32, and far out of range: the case the bound is for.
    const asFloats = new Float32Array(new Uint8Array(poison(1)).buffer);
    expect(asFloats.every(Number.isFinite)).toBe(true);
    expect(Math.max(...asFloats.map(Math.abs))).toBeGreaterThan(1e10);

    const { topic, groupId, config } = await suite.run('faults-poison', 2, { batchSize: 64, threads: 1, calibrationBatches: 8 });
    await produce(topic, messages, chunkFor(messages));
    const d = await DaemonProcess.start(config);
    const good = digits.length;
    const s = await d.waitForMetrics((x) => samplesOf(x, topic) + (rejectedByReason(x, topic)['out_of_range'] ?? 0) >= messages.length, `${messages.length} messages counted`, { timeoutMs: 90_000 });
    expect(samplesOf(s, topic)).toBe(good);
    expect(rejectedByReason(s, topic)).toEqual({ out_of_range: groups });
    await waitForCommitsAtEnd(groupId, topic, d);
    // Every good digit is in every layer's window, and every layer has a finite score.
    const final = await d.scrape();
    const inWindows = windowSamples(final);
    expect(inWindows.size).toBe(4); // digits-cnn's default layers
    for (const [layer, n] of inWindows) {
      expect(n, layer).toBe(good);
      const cka = valueOf(final, 'ckawatch_cka', { layer, window: 'all' });
      expect(cka !== undefined && Number.isFinite(cka) && Math.abs(cka - 1) < 0.1, `${layer}: cka ${cka}`).toBe(true);
    }
  });

  it('with the bound raised past the poison, its batch is scored without it: the culprit is found by rerunning halves', async () => {
    const groups = 10;
    const digits = heldOutDigits(63 * groups, { from: 3200 });
    const messages: Buffer[] = [];
    for (let g = 0; g < groups; g++) messages.push(...digits.slice(63 * g, 63 * g + 20).map(rawMessage), poison(0), ...digits.slice(63 * g + 20, 63 * (g + 1)).map(rawMessage));
    const { topic, groupId, config } = await suite.run('faults-poison-unbounded', 1, { batchSize: 64, threads: 1, calibrationBatches: 8 });
    editConfig(config, (c) => {
      (c['input'] as Record<string, unknown>)['maxAbs'] = 3e38;
    });
    await produce(topic, messages, chunkFor(messages));
    const d = await DaemonProcess.start(config);
    await waitForCommitsAtEnd(groupId, topic, d);
    const s = await d.scrape();
    expect(samplesOf(s, topic)).toBe(messages.length);
    expect(valueOf(s, 'ckawatch_unscored_samples_total', { reason: 'non_finite' })).toBe(groups);
    const inWindows = windowSamples(s);
    expect(inWindows.size).toBe(4); // digits-cnn's default layers
    for (const [layer, n] of inWindows) expect(n, layer).toBe(digits.length);
  });

  it('every message rejected for batch.blindAfter: ckawatch_blind 1 and /readyz says why; good digits end it', async () => {
    const { topic, config } = await suite.run('faults-blind', 1, { batchSize: 32, threads: 1, calibrationBatches: 8 });
    editConfig(config, (c) => {
      (c['batch'] as Record<string, unknown>)['blindAfter'] = '2s';
    });
    const d = await DaemonProcess.start(config);
    await d.waitForMetrics((x) => valueOf(x, 'ckawatch_ready') === 1 && valueOf(x, 'ckawatch_blind') === 0, 'ready, not blind (nothing arrived yet)', { timeoutMs: 60_000 });
    // float64 .npy where raw float32 is expected: every message is wrong_size.
    const wrong = heldOutDigits(40).map((x) => Buffer.from(Float64Array.from(x).buffer));
    await produce(topic, wrong);
    await d.waitForMetrics((x) => valueOf(x, 'ckawatch_blind') === 1 && rejectedByReason(x, topic)['wrong_size'] === 40, 'ckawatch_blind 1, 40 rejected', { timeoutMs: 60_000 });
    const readyz = (await (await fetch(`${d.url}/readyz`)).json()) as { ready: boolean; reasons: string[] };
    expect(readyz.ready).toBe(false);
    expect(readyz.reasons.join('; ')).toMatch(/^blind: 40 messages in \d+ s and none reached the statistics/);
    await produce(topic, heldOutDigits(32).map(rawMessage));
    const s = await d.waitForMetrics((x) => valueOf(x, 'ckawatch_blind') === 0, 'ckawatch_blind 0 after a good batch', { timeoutMs: 60_000 });
    expect(valueOf(s, 'ckawatch_ready')).toBe(1);
    expect(samplesOf(s, topic)).toBe(32);
    expect(rejectedByReason(s, topic)).toEqual({ wrong_size: 40 });
  });
});
