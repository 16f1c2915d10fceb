/**
 * The daemon with calibration and paired mode, in process, on real digits (file source,
 * no Kafka): /readyz waits for calibration; thresholds and drift states are exported for
 * every layer and statistic; the calibration survives a restart in the checkpoint; a
 * changed reference file is recalibrated and swapped in; ckawatch_paired_cka is 1 for the
 * same model twice, and drops after the layer whose weights were perturbed in a copy of
 * the model (and only there).
 */
import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfigData } from '../../src/config/load.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { gather, loadDigits } from '../../src/demo/digits.js';
import { writeNpyFile } from '../../src/io/npy-file.js';
import { encodeModel, readModel } from '../../src/model/graph/onnx-file.js';
import { createPrng } from '../../src/reference/prng.js';
import { useTempDir } from '../helpers/files.js';
import { DIGITS_MODEL } from '../helpers/fixtures.js';
import { parsePromText, type PromSample } from '../helpers/prom-text.js';
import { splitDigitsRandomly } from './harness.js';

// digits-cnn's default layers, before and after conv2 (the ReLUs that flow straight into a MaxPool are covered by it).
const BEFORE = ['/pool1/MaxPool_output_0'];
const AFTER = ['/pool2/MaxPool_output_0', '/relu3/Relu_output_0', 'logits'];
const PRODUCTION = 640;

const tmp = useTempDir('ckawatch-paired-');

/** A copy of the model with Gaussian noise (sd = `scale` × the weights' sd) added to conv2's weights. */
async function perturbedCopy(path: string, scale: number): Promise<void> {
  const model = await readModel(DIGITS_MODEL);
  const w = model.graph!.initializer!.find((t) => t.name === 'conv2.weight')!;
  const values = new Float32Array(new Uint8Array(w.rawData!).buffer);
  const sd = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
  const prng = createPrng(5);
  const u = (): number => (prng.nextUint32() + 1) / 4294967297;
  for (let i = 0; i < values.length; i++) values[i]! += scale * sd * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  w.rawData = new Uint8Array(values.buffer);
  writeFileSync(path, encodeModel(model));
}

beforeAll(async () => {
  const digits = loadDigits();
  const split = splitDigitsRandomly(digits, 0.5, 1);
  writeNpyFile(tmp.path('reference.npy'), gather(digits, split.reference.slice(0, 1500)), [1500, 1, 28, 28]);
  writeNpyFile(tmp.path('production.npy'), gather(digits, split.production.slice(0, PRODUCTION)), [PRODUCTION, 1, 28, 28]);
  await perturbedCopy(tmp.path('perturbed.onnx'), 2);
});

interface Run {
  readonly metrics: PromSample[];
  readonly readyz: { status: number; reasons: string[] }[];
  /** log messages, in order */
  readonly messages: string[];
}

interface RunOptions {
  readonly reference?: string;
  /** reference.pool */
  readonly pool?: number;
  readonly calibrationSchedule?: string;
  /** the config's alarm section */
  readonly alarm?: Record<string, unknown>;
  /** runs once every production sample is in, before the scrape */
  readonly then?: (messages: string[]) => Promise<void>;
}

/** Starts a daemon on the production file with `candidate`, watches /readyz during start-up, scrapes once everything is in. */
async function runDaemon(candidate: string, name: string, o: RunOptions = {}): Promise<Run> {
  const config = parseConfigData({
    model: { path: DIGITS_MODEL, providers: ['cpu'] },
    candidate: { path: candidate },
    reference: { path: o.reference ?? tmp.path('reference.npy'), samplesPerBatch: 64, seed: 1, ...(o.pool ? { pool: o.pool } : {}) },
    source: { kind: 'file', path: tmp.path('production.npy') },
    batch: { size: 64, maxWait: '200ms' },
    windows: [{ name: 'all', duration: '1h', buckets: 10 }],
    metrics: { host: '127.0.0.1', port: 0 },
    checkpoint: { dir: tmp.path(`state-${name}`), schedule: '0 0 0 1 1 *' },
    calibration: { batches: 32, falseAlarmRate: 0.05, ...(o.calibrationSchedule ? { schedule: o.calibrationSchedule } : {}) },
    ...(o.alarm ? { alarm: o.alarm } : {}),
    log: { level: 'info' },
  });
  const readyz: Run['readyz'] = [];
  const messages: string[] = [];
  let polling: Promise<void> | null = null;
  let started = false;
  // The server's address comes in the first log line; poll /readyz from then until start() resolves.
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = JSON.parse(chunk.toString()) as { url?: string; msg?: string };
      messages.push(line.msg ?? '');
      const url = line.url;
      if (url && !polling) {
        polling = (async () => {
          while (!started) {
            const res = await fetch(`${url}/readyz`).catch(() => null);
            if (res) readyz.push({ status: res.status, ...((await res.json()) as { reasons: string[] }) });
            await sleep(20);
          }
        })();
      }
      done();
    },
  });
  const daemon = await Daemon.start({ config, logger: pino({ level: 'info' }, stream), onFatal: (err) => expect.fail(err.message) });
  started = true;
  await polling;
  try {
    for (let i = 0; i < 600 && (daemon.pipeline?.offsets[daemon.source!.topic]?.['0'] ?? 0) < PRODUCTION; i++) await sleep(50);
    await o.then?.(messages);
    const res = await fetch(`${daemon.url}/readyz`);
    readyz.push({ status: res.status, ...((await res.json()) as { reasons: string[] }) });
    const metrics = parsePromText(await (await fetch(`${daemon.url}/metrics`)).text());
    return { metrics, readyz, messages };
  } finally {
    await daemon.stop();
  }
}

const paired = (run: Run, layer: string): number | undefined =>
  run.metrics.find((s) => s.name === 'ckawatch_paired_cka' && s.labels['layer'] === layer && s.labels['window'] === 'all')?.value;

describe('daemon: calibration and paired mode', () => {
  let same: Run;
  let perturbed: Run;
  let restarted: Run;
  let repooled: Run;

  beforeAll(async () => {
    same = await runDaemon(DIGITS_MODEL, 'same');
    perturbed = await runDaemon(tmp.path('perturbed.onnx'), 'perturbed');
    restarted = await runDaemon(DIGITS_MODEL, 'same');
    // the same checkpoint again, with another reference.pool (paired mode sketches nothing, so not sketchWidth)
    repooled = await runDaemon(DIGITS_MODEL, 'same', { pool: 64 });
  }, 300_000);

  it('is not ready until the reference is calibrated, then ready', () => {
    const before = same.readyz.filter((r) => r.status === 503);
    expect(before.length).toBeGreaterThan(0);
    expect(before.some((r) => r.reasons.includes('reference not calibrated'))).toBe(true);
    // The provider shows once the model is loaded and its Grams checked, not before.
    expect(before.filter((r) => r.reasons.includes('model not loaded')).every((r) => !('provider' in r))).toBe(true);
    expect(same.readyz.at(-1)).toEqual({ status: 200, ready: true, reasons: [], provider: 'cpu' });
  });

  it('exports a threshold and a drift state for every layer and statistic, from the window’s batch count', () => {
    const samples = same.metrics.find((s) => s.name === 'ckawatch_samples_total')?.value;
    expect(samples).toBe(PRODUCTION);
    for (const layer of [...BEFORE, ...AFTER]) {
      for (const statistic of ['cka', 'mmd2_linear', 'mmd2_rbf']) {
        const labels = (s: PromSample): boolean => s.labels['layer'] === layer && s.labels['window'] === 'all' && s.labels['statistic'] === statistic;
        const threshold = same.metrics.find((s) => s.name === 'ckawatch_threshold' && labels(s));
        const drift = same.metrics.find((s) => s.name === 'ckawatch_drift' && labels(s));
        expect(threshold?.value, `${layer} ${statistic}`).toSatisfy(Number.isFinite);
        expect([0, 1]).toContain(drift?.value);
      }
    }
  });

  it('keeps its calibration in the checkpoint and reuses it after a restart', () => {
    expect(same.messages).toContain('thresholds calibrated');
    expect(restarted.messages).toContain('thresholds restored from the checkpoint (same reference, same settings)');
    expect(restarted.messages).not.toContain('thresholds calibrated');
    // The restart resumes at the end of the file: its windows are the restored ones (10 batches), so the same thresholds.
    const thresholds = (run: Run): Record<string, number> =>
      Object.fromEntries(run.metrics.filter((s) => s.name === 'ckawatch_threshold').map((s) => [JSON.stringify(s.labels), s.value]));
    expect(Object.keys(thresholds(same))).toHaveLength(4 * 3);
    expect(thresholds(restarted)).toEqual(thresholds(same));
  });

  it('drops the windows and bandwidths of a checkpoint made with other reference settings, and recalibrates', () => {
    expect(restarted.messages.some((m) => m.includes('changed since the checkpoint'))).toBe(false);
    expect(repooled.messages.some((m) => m.includes('how batches meet it (reference.scheme, pool, sketchWidth, seed), changed since the checkpoint'))).toBe(true);
    expect(repooled.messages).toContain('thresholds calibrated');
    expect(repooled.messages).not.toContain('thresholds restored from the checkpoint (same reference, same settings)');
  });

  it('gives paired CKA 1 for the same model twice', () => {
    for (const layer of [...BEFORE, ...AFTER]) expect(Math.abs(paired(same, layer)! - 1), layer).toBeLessThan(1e-6);
  });

  it('gives lower paired CKA after a perturbed layer of a copy, and 1 before it', () => {
    for (const layer of BEFORE) expect(Math.abs(paired(perturbed, layer)! - 1), layer).toBeLessThan(1e-6);
    for (const layer of AFTER) expect(paired(perturbed, layer)!, layer).toBeLessThan(0.99);
  });
});

describe('daemon: a false-page budget', () => {
  it('simulates the alarm at calibration and judges every window at the budget\'s level instead of the per-window rate\'s', async () => {
    /** The window's alarm level, from score = log10(level) − log10(max(smallest p, MIN_VALUE)). */
    const level = (run: Run): number => {
      const score = run.metrics.find((s) => s.name === 'ckawatch_alarm_score' && s.labels['window'] === 'all')!.value;
      const p = Math.min(...run.metrics.filter((s) => s.name === 'ckawatch_pvalue' && s.labels['window'] === 'all').map((s) => s.value));
      return 10 ** (score + Math.log10(Math.max(p, Number.MIN_VALUE)));
    };
    const plain = await runDaemon(DIGITS_MODEL, 'alarm-rate', { alarm: { falseAlarmRate: 0.05 } });
    const budget = await runDaemon(DIGITS_MODEL, 'alarm-budget', { alarm: { meanBatchesBetweenFalseAlarms: 1000 } });
    expect(plain.messages.some((m) => m.startsWith('false-page budget'))).toBe(false);
    expect(budget.messages.some((m) => m.startsWith('false-page budget: alarm spells simulated'))).toBe(true);
    for (const run of [plain, budget]) {
      expect([0, 1]).toContain(run.metrics.find((s) => s.name === 'ckawatch_alarm' && s.labels['window'] === 'all')?.value);
      expect(level(run)).toBeGreaterThan(0);
      expect(level(run)).toBeLessThan(0.5);
    }
    // The same reference, seed and windows: only the level differs.
    expect(Math.abs(Math.log10(level(budget) / level(plain)))).toBeGreaterThan(0.01);
  }, 240_000);
});

describe('daemon: a reference file that changes', () => {
  it('recalibrates on calibration.schedule, then restarts the windows and keeps the counters', async () => {
    const digits = loadDigits();
    const split = splitDigitsRandomly(digits, 0.5, 1);
    const path = tmp.path('reference-changing.npy');
    writeNpyFile(path, gather(digits, split.reference.slice(0, 1500)), [1500, 1, 28, 28]);
    const run = await runDaemon(DIGITS_MODEL, 'changing', {
      reference: path,
      calibrationSchedule: '* * * * * *',
      then: async (messages) => {
        expect(messages).not.toContain('reference file changed: recalibrating against the new one');
        writeNpyFile(path, gather(digits, split.reference.slice(1500, 3000)), [1500, 1, 28, 28]);
        for (let i = 0; i < 400 && !messages.includes('new reference in use: windows restarted, thresholds recalibrated'); i++) await sleep(50);
      },
    });
    expect(run.messages).toContain('reference file changed: recalibrating against the new one');
    expect(run.messages).toContain('new reference in use: windows restarted, thresholds recalibrated');
    const batches = run.metrics.filter((s) => s.name === 'ckawatch_window_sum' && s.labels['field'] === 'batches');
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.every((s) => s.value === 0)).toBe(true);
    // an empty window has no score, so no threshold; the counters go on
    expect(run.metrics.filter((s) => s.name === 'ckawatch_threshold')).toEqual([]);
    expect(run.metrics.find((s) => s.name === 'ckawatch_samples_total')?.value).toBe(PRODUCTION);
  }, 120_000);
});
