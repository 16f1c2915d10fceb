/**
 * 100,000 hostile messages through the real broker (test/faults/hostile.ts: bit flips,
 * truncations, lying .npy headers, huge declared lengths, deep JSON, "__proto__" keys):
 *
 *   seeded generator ─▶ 3 topics (raw-f32, npy, json; ~33k each) ─▶ 3 daemons ─▶ /metrics
 *          └──▶ in-process decoder (the oracle: never throws, never pollutes a prototype)
 *
 * Each daemon must stay up, and count exactly what the decoder says: samples = the
 * messages that decode, rejected{reason} = the rest by reason, and samples + rejected =
 * produced. Each daemon runs with a watchdog (--import) that prints a line if
 * Object.prototype ever gains a property; no such line may appear.
 */
import { describe, expect, it } from 'vitest';
import { type Encoding } from '../../src/config/vocabulary.js';
import { acceptInRange } from '../../src/decode/finite.js';
import { createDecoder, defaultMaxMessageBytes } from '../../src/decode/message.js';
import { DaemonProcess } from '../helpers/daemon.js';
import { SMALL_RUN, useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { chunkFor, heldOutDigits, jsonMessage, npyMessage, rawMessage } from '../helpers/digits.js';
import { produce } from '../helpers/kafka.js';
import { rejectedByReason, rejectedOf, samplesOf } from '../helpers/metrics.js';
import { rng } from '../helpers/random.js';
import { hostileMessages } from './hostile.js';

const verbose = process.env['CKAWATCH_TEST_VERBOSE'] === '1';
const TOTAL = 100_000;
const SEED = Number(process.env['CKAWATCH_FAULT_SEED'] ?? 31337);
/** input.maxAbs of the three daemons, so that the oracle below refuses what they refuse (out_of_range) */
const MAX_ABS = 1e4;

/** Runs in each daemon before its own code: reports any property added to Object.prototype. */
const WATCHDOG = `data:text/javascript,${encodeURIComponent(
  "const own=()=>Object.getOwnPropertyNames(Object.prototype).sort().join(',');const before=own();" +
    "setInterval(()=>{const now=own();if(now!==before||({}).polluted!==undefined)process.stdout.write('PROTOTYPE POLLUTED '+now+'\\n')},50).unref();",
)}`;

const suite = useDaemonSuite('ckawatch-faults-fuzz-', { referenceDigits: 500, defaults: SMALL_RUN });

describe('hostile messages', () => {
  it(`${TOTAL} random and mutated messages: no crash, no prototype pollution, samples + rejected = produced (seed ${SEED})`, async () => {
    const digits = heldOutDigits(64);
    const pickDigit = rng(SEED + 1);
    const valid = (encoding: Encoding) => {
      const d = digits[Math.floor(pickDigit() * digits.length)]!;
      return { bytes: encoding === 'raw-f32' ? rawMessage(d) : encoding === 'npy' ? npyMessage(d) : jsonMessage(d), values: Array.from(d) };
    };
    const encodings: Encoding[] = ['raw-f32', 'npy', 'json'];
    const plans = encodings.map((encoding, i) => {
      const count = Math.floor(TOTAL / 3) + (i === 0 ? TOTAL % 3 : 0);
      const messages = hostileMessages(encoding, count, rng(SEED + 10 * (i + 1)), valid);
      // The oracle: the daemon's decoder, in this process.
      const decode = createDecoder({ encoding, inputName: 'input', sampleShape: [1, 28, 28], maxMessageBytes: defaultMaxMessageBytes(encoding, 784) });
      const expected: Record<string, number> = {};
      let samples = 0;
      for (const m of messages) {
        const decoded = decode(m ?? new Uint8Array(0));
        const r = decoded.ok ? acceptInRange(decoded.value, MAX_ABS) : decoded;
        if (r.ok) samples++;
        else expected[r.reason] = (expected[r.reason] ?? 0) + 1;
      }
      return { encoding, messages, samples, expected, bytes: messages.reduce((a, m) => a + (m?.length ?? 0), 0) };
    });
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(plans.reduce((a, p) => a + p.messages.length, 0)).toBe(TOTAL);

    const runs = await Promise.all(
      plans.map((p) => suite.run(`faults-fuzz-${p.encoding}`, 2, { input: { encoding: p.encoding, maxAbs: MAX_ABS }, instanceId: p.encoding, batchSize: 64 })),
    );
    const producedAt = Date.now();
    await Promise.all(
      plans.map((p, i) => produce(runs[i]!.topic, p.messages.map((value) => ({ value })), chunkFor(p.messages.map((m) => m ?? Buffer.alloc(0)), 256 * 1024))),
    );
    const produceMs = Date.now() - producedAt;
    const daemons = await Promise.all(runs.map((r) => DaemonProcess.start(r.config, { nodeArgs: ['--import', WATCHDOG], timeoutMs: 60_000 })));
    const started = Date.now();
    const rows: unknown[] = [];
    await Promise.all(
      plans.map(async (p, i) => {
        const { topic, groupId } = runs[i]!;
        const d = daemons[i]!;
        const s = await d.waitForMetrics((x) => samplesOf(x, topic) + rejectedOf(x, topic) >= p.messages.length, `${p.encoding}: samples + rejected = ${p.messages.length}`, {
          timeoutMs: 150_000,
          intervalMs: 500,
          show: (x) => ({ samples: samplesOf(x, topic), rejected: rejectedByReason(x, topic) }),
        });
        rows.push({ encoding: p.encoding, messages: p.messages.length, MB: +(p.bytes / 1e6).toFixed(1), samples: p.samples, seconds: (Date.now() - started) / 1000, ...p.expected });
        expect(samplesOf(s, topic), p.encoding).toBe(p.samples);
        expect(rejectedByReason(s, topic), p.encoding).toEqual(p.expected);
        expect(samplesOf(s, topic) + rejectedOf(s, topic), p.encoding).toBe(p.messages.length);
        await waitForCommitsAtEnd(groupId, topic, d, 60_000);
        expect(d.exit, p.encoding).toBeNull();
        expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
      }),
    );
    if (verbose) {
      console.info({ produceMs });
      console.table(rows);
    }
    for (const d of daemons) {
      expect((await d.stop(30_000)).code).toBe(0);
      expect(d.lines.filter((l) => l.includes('PROTOTYPE POLLUTED'))).toEqual([]);
      expect(d.logs().filter((l) => (l.level ?? 0) >= 60)).toEqual([]); // no fatal
    }
  }, 300_000);
});
