/**
 * End to end: how fast the daemon turns Kafka messages into drift statistics, against how
 * fast bare kafkajs reads the same topic, and whether its memory stays flat.
 *
 *   npx tsx bench/daemon.ts [--quick] [--seconds 300] [--samples 150000] [--rate N]
 *                           [--batch 64] [--reference 64] [--tap-graph auto|plain|channel-split]
 *                           [--threads N] [--partitions 1] [--rss-every 5] [--keep-topic]
 *                           [--main OTHER/dist/cli/main.js]   (another build, for A/B runs)
 *                           [--baseline-scheme draws|none] [--sketch-width K] [--pool M]
 *                           [--cpu-prof DIR]   (V8 profiles of the measured daemon; bench/profile-top.ts reads them)
 *                           [--model digits-cnn|resnet18]
 *
 *   1. backlog: --samples held-out MNIST digits (raw little-endian float32, 3,136 bytes each)
 *      produced to a fresh topic on the test broker (started if none answers, as in tests)
 *   2. bare: a kafkajs consumer (fresh group, eachBatch, no decoding, no inference) reads
 *      the backlog: messages/s from its first batch to its last
 *   3. daemon: `node dist/cli/main.js run` on digits-cnn with its default layers reads the
 *      same backlog from the start: samples/s between 10% and 90% of it (saturated, from
 *      ckawatch_samples_total scraped every second); CPU seconds from /proc. First with
 *      --baseline-scheme (default draws: 64 fresh reference rows run with every batch, the
 *      scheme before the pool), then with the default (the whole pool, no reference rows
 *      in the model), each on the same backlog with a fresh group: the ratio between them
 *   4. soak: once 90% of the backlog is read, a producer in this process keeps sending
 *      at --rate (default 1.2x the daemon's rate, so that it stays busy) until
 *      --seconds after the daemon started; the daemon's RSS (/proc VmRSS) is read every
 *      --rss-every seconds over the whole run
 *
 *   5. bare ORT: digits-cnn without taps, in this process, with the daemon's ORT thread count,
 *      on batches of --batch rows taken in order from the same digits the backlog holds:
 *      samples/s of inference alone (no Kafka, no decoding, no statistics). The daemon's
 *      rate over it is what monitoring leaves of serving (issue 20's floor: >= 0.6x).
 *
 * Prints bare msgs/s, daemon samples/s, their ratio, CPU per sample, RSS first/last/max and
 * the RSS drift after warm-up, each against the floors (>= 5,000 samples/s, >= 0.5x bare,
 * RSS within +-10%). The machine may be shared: the load average is printed with them.
 * --quick: 30 s, a 40,000-sample backlog, RSS every 2 s.
 *
 * --model resnet18: the same path with a model the size of one people serve (ResNet-18 at
 * 224 px, random weights, `npx tsx tools/resnet18.ts` writes it): the digits upscaled to
 * 3 × 224 × 224 (602 KB messages, one to a produce request), a 256-sample reference (pool
 * 128), calibration on 8 batches; steps 1-3 and 5 only (no baseline scheme, no soak), with a
 * backlog of 640 unless --samples says otherwise.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { DaemonProcess, writeDaemonConfig } from '../test/helpers/daemon.js';
import { tempDir } from '../test/helpers/files.js';
import { ROOT } from '../test/helpers/fixtures.js';
import { heldOutDigits, rawMessage, writeReference } from '../test/helpers/digits.js';
import { freshTopic, uniqueName, withAdmin } from '../test/helpers/kafka.js';
import { bareConsume, brokerPid, produceAtRate, produceBacklog } from './kafka-load.js';
import { valueOf } from '../test/helpers/prom-text.js';
import { writeNpyFile } from '../src/io/npy-file.js';
import { buildIfStale, ensureBroker } from '../test/helpers/services.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    samples: { type: 'string' },
    rate: { type: 'string' },
    batch: { type: 'string', default: '64' },
    reference: { type: 'string', default: '64' },
    'tap-graph': { type: 'string' },
    threads: { type: 'string' },
    partitions: { type: 'string', default: '1' },
    'rss-every': { type: 'string' },
    'keep-topic': { type: 'boolean', default: false },
    main: { type: 'string' },
    'baseline-scheme': { type: 'string', default: 'draws' },
    'sketch-width': { type: 'string' },
    pool: { type: 'string' },
    'cpu-prof': { type: 'string' },
    model: { type: 'string', default: 'digits-cnn' },
  },
});
if (values.model !== 'digits-cnn' && values.model !== 'resnet18') throw new Error(`--model: digits-cnn or resnet18, not ${values.model}`);
const resnet = values.model === 'resnet18';
const quick = values.quick;
const seconds = Number(values.seconds ?? (quick ? 30 : 300));
const backlog = Number(values.samples ?? (resnet ? 640 : quick ? 40_000 : 150_000));
const rssEvery = Number(values['rss-every'] ?? (quick ? 2 : 5));
const fixedRate = values.rate === undefined ? undefined : Number(values.rate);
const tapGraph = values['tap-graph'] as 'auto' | 'plain' | 'channel-split' | undefined;
const threads = values.threads === undefined ? undefined : Number(values.threads);
const partitions = Number(values.partitions);
const FLOOR_RATE = 5_000;
const FLOOR_RATIO = 0.5;
const FLOOR_INFERENCE = 0.6;
const FLOOR_RSS = 0.1;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mib = (kb: number) => `${fmt(kb / 1024, 1)} MiB`;
const log = (text: string) => process.stdout.write(`${text}\n`);

/** utime + stime of every thread of `pid`, in ms; RSS in kB. */
function procStats(pid: number): { cpuMs: number; rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuMs: ticks * 10, rssKb: Number(rss?.[1] ?? 0) };
}


/** The daemon with `scheme` over the backlog alone (fresh group): samples/s and CPU per 1,000 samples between 10% and 90%. */
async function backlogOnly(dir: string, topic: string, scheme: 'pool' | 'draws'): Promise<{ rate: number; cpuMs: number }> {
  const config = writeDaemonConfig(dir, {
    topic,
    groupId: uniqueName(`bench-${scheme}-group`),
    referencePath: join(dir, 'reference.npy'),
    batchSize: Number(values.batch),
    referencePerBatch: Number(values.reference),
    scheme,
    maxWait: '1s',
    schedule: '*/10 * * * * *',
    modelPath: work.modelPath,
    calibrationBatches: work.calibrationBatches,
    instanceId: `bench-${scheme}`,
    ...(tapGraph ? { tapGraph } : {}),
    ...(threads ? { threads } : {}),
  });
  const d = await DaemonProcess.start(config, { timeoutMs: work.startTimeoutMs, ...(values.main ? { main: values.main } : {}) });
  try {
    let at10: { t: number; samples: number; cpu: number } | null = null;
    for (;;) {
      const samples = valueOf(await d.scrape(), 'ckawatch_samples_total', { topic }) ?? 0;
      const t = performance.now();
      if (at10 === null && samples >= 0.1 * backlog) at10 = { t, samples, cpu: procStats(d.pid).cpuMs };
      if (at10 !== null && samples >= 0.9 * backlog) {
        const result = { rate: ((samples - at10.samples) / (t - at10.t)) * 1000, cpuMs: (procStats(d.pid).cpuMs - at10.cpu) / ((samples - at10.samples) / 1000) };
        log(`daemon, reference.scheme ${scheme} (10%..90% of the backlog): ${fmt(result.rate)} samples/s, ${fmt(result.cpuMs, 1)} ms CPU per 1,000 samples`);
        return result;
      }
      await sleep(1_000);
    }
  } finally {
    await d.stop(60_000);
  }
}

/** The bare model (no taps) on `batch`-row batches of `pool`'s samples in order, one session in this process: samples/s. */
async function bareInference(pool: readonly Buffer[], batch: number, ortThreads: number | undefined, seconds = resnet ? 20 : 5): Promise<number> {
  const session = await ort.InferenceSession.create(work.modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(ortThreads === undefined ? {} : { intraOpNumThreads: ortThreads }),
  });
  const size = work.shape.reduce((a, b) => a * b, 1);
  const batches = Math.floor(pool.length / batch);
  const inputs = Array.from({ length: batches }, (_, b) => {
    const data = new Float32Array(batch * size);
    for (let i = 0; i < batch; i++) {
      const m = pool[b * batch + i]!;
      data.set(new Float32Array(m.buffer.slice(m.byteOffset, m.byteOffset + m.byteLength)), i * size);
    }
    return new ort.Tensor('float32', data, [batch, ...work.shape]);
  });
  const name = session.inputNames[0]!;
  const warm = performance.now();
  for (let i = 0; i < 20 && performance.now() - warm < 3_000; i++) await session.run({ [name]: inputs[i % batches]! });
  let done = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await session.run({ [name]: inputs[done % batches]! });
    done++;
  }
  const rate = ((done * batch) / (performance.now() - t0)) * 1000;
  await session.release();
  return rate;
}

/** What the daemon reads and runs: the digits CNN on digits, or ResNet-18 on digits made 224 px RGB. */
interface Workload {
  readonly modelPath: string;
  /** one sample's shape, as the model's input without the batch axis */
  readonly shape: readonly number[];
  readonly messages: Buffer[];
  /** messages per produce request: one record batch, under the broker's 1 MiB */
  readonly perRequest: number;
  writeReference(dir: string): string;
  /** calibration.batches (null: the daemon's default) */
  readonly calibrationBatches: number | null;
  readonly startTimeoutMs: number;
  /** steps 4 (soak, RSS) and the baseline scheme run */
  readonly full: boolean;
}

const SIDE = 224;

/** A 28 × 28 digit as a 3 × 224 × 224 image: each pixel an 8 × 8 block, the same in every channel. */
function upscaled(digit: Float32Array): Float32Array {
  const out = new Float32Array(3 * SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) out[y * SIDE + x] = digit[(y >> 3) * 28 + (x >> 3)]!;
  }
  out.copyWithin(SIDE * SIDE, 0, SIDE * SIDE);
  out.copyWithin(2 * SIDE * SIDE, 0, SIDE * SIDE);
  return out;
}

function workload(): Workload {
  if (!resnet) {
    return {
      modelPath: join(ROOT, 'test/fixtures/models/digits-cnn.onnx'),
      shape: [1, 28, 28],
      messages: heldOutDigits(5_000).map(rawMessage),
      perRequest: 160,
      writeReference: (dir) => writeReference(dir, 2_000),
      calibrationBatches: null,
      startTimeoutMs: 60_000,
      full: true,
    };
  }
  const modelPath = join(ROOT, '.cache/models/resnet18-224.onnx');
  if (!existsSync(modelPath)) throw new Error(`${modelPath} not found: npx tsx tools/resnet18.ts writes it`);
  const count = 256;
  return {
    modelPath,
    shape: [3, SIDE, SIDE],
    messages: heldOutDigits(128).map((d) => rawMessage(upscaled(d))),
    perRequest: 1,
    writeReference: (dir) => {
      const path = join(dir, 'reference.npy');
      const data = new Float32Array(count * 3 * SIDE * SIDE);
      heldOutDigits(count, { from: 1_000 }).forEach((d, i) => data.set(upscaled(d), i * 3 * SIDE * SIDE));
      writeNpyFile(path, data, [count, 3, SIDE, SIDE]);
      return path;
    },
    calibrationBatches: 8,
    startTimeoutMs: 600_000,
    full: false,
  };
}
const work = workload();

interface Point {
  readonly t: number; // ms since the daemon started
  readonly samples: number;
}

async function main(): Promise<void> {
  await buildIfStale();
  const release = await ensureBroker();
  const { dir, cleanup } = tempDir('ckawatch-bench-');
  let daemon: DaemonProcess | null = null;
  let topic: string | null = null;
  try {
    const load0 = loadavg();
    log(`ckawatch daemon benchmark: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
    const pool = work.messages;
    const referencePath = work.writeReference(dir);
    topic = await freshTopic('bench-daemon', partitions);
    let t = performance.now();
    await produceBacklog(topic, pool, backlog, work.perRequest);
    log(`backlog: ${fmt(backlog)} ${resnet ? 'digits as 3 × 224 × 224 images' : 'digits'} (raw-f32, ${fmt(pool[0]!.length)} bytes) on ${topic} (${partitions} partition${partitions > 1 ? 's' : ''}), produced in ${fmt((performance.now() - t) / 1000, 1)} s`);

    const bare = await bareConsume(topic, backlog);
    log(`bare kafkajs (eachBatch, no decoding): ${fmt(bare.rate)} msgs/s (${fmt(bare.ms / 1000, 2)} s, ${fmt(bare.cpuMs / (backlog / 1000), 2)} ms CPU per 1,000 messages)`);

    const baselineScheme = values['baseline-scheme'] === 'none' || !work.full ? null : (values['baseline-scheme'] as 'pool' | 'draws');
    const baseline = baselineScheme ? await backlogOnly(dir, topic, baselineScheme) : null;
    const config = writeDaemonConfig(dir, {
      topic,
      groupId: uniqueName('bench-daemon-group'),
      referencePath,
      batchSize: Number(values.batch),
      referencePerBatch: Number(values.reference),
      maxWait: '1s',
      schedule: '*/10 * * * * *',
      modelPath: work.modelPath,
      calibrationBatches: work.calibrationBatches, // calibration ends before the clock starts
      windows: [
        { name: '1m', duration: '1m', buckets: 6 },
        { name: '5m', duration: '5m', buckets: 10 },
      ],
      ...(tapGraph ? { tapGraph } : {}),
      ...(threads ? { threads } : {}),
      ...(values['sketch-width'] ? { sketchWidth: Number(values['sketch-width']) } : {}),
      ...(values.pool ? { pool: Number(values.pool) } : {}),
    });
    // A broker this machine did not start with scripts/kafka.sh (null): its CPU is not shown.
    const kafkaPid = brokerPid();
    t = performance.now();
    const profile = values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] : [];
    daemon = await DaemonProcess.start(config, { timeoutMs: work.startTimeoutMs, nodeArgs: profile, ...(values.main ? { main: values.main } : {}) });
    const d = daemon;
    // A large model's start-up (pool, calibration) holds the event loop for seconds at a
    // time, longer than a scrape waits: the clock starts once thresholds are calibrated.
    while (!d.lines.some((l) => l.includes('"thresholds calibrated"'))) {
      if (d.exit) throw new Error(`the daemon exited during start-up\n${d.logTail(40)}`);
      if (performance.now() - t > work.startTimeoutMs) throw new Error(`not calibrated after ${work.startTimeoutMs} ms\n${d.logTail(40)}`);
      await sleep(500);
    }
    const started = performance.now();
    const cpuStart = procStats(d.pid);
    const kafkaStart = kafkaPid === null ? null : procStats(kafkaPid);
    log(
      `daemon${values.main ? ` (${values.main})` : ''}: pid ${d.pid}, ${values.model} default layers, batch ${values.batch} + reference ${values.reference}, ` +
        `tapGraph ${tapGraph ?? 'auto (default)'}, ORT threads ${threads ?? 'default'}; serving in ${fmt(performance.now() - t)} ms`,
    );

    const points: Point[] = [];
    const rss: { t: number; kb: number }[] = [];
    let soak: ReturnType<typeof produceAtRate> | null = null;
    let soakRate = 0;
    let soakFrom: Point | null = null;
    let throughput: { rate: number; cpuMs: number; kafkaCpuMs: number | null } | null = null;
    let at10: { p: Point; cpu: number; kafka: number | null } | null = null;
    let nextRss = 0;
    while (performance.now() - started < seconds * 1000) {
      const now = performance.now() - started;
      const samples = valueOf(await d.scrape(), 'ckawatch_samples_total', { topic }) ?? 0;
      const point = { t: now, samples };
      points.push(point);
      if (now >= nextRss) {
        rss.push({ t: now, kb: procStats(d.pid).rssKb });
        nextRss += rssEvery * 1000;
      }
      if (at10 === null && samples >= 0.1 * backlog) {
        at10 = { p: point, cpu: procStats(d.pid).cpuMs, kafka: kafkaPid === null ? null : procStats(kafkaPid).cpuMs };
      }
      if (throughput === null && at10 !== null && samples >= 0.9 * backlog) {
        const cpu = procStats(d.pid).cpuMs - at10.cpu;
        const kafkaCpu = kafkaPid === null || at10.kafka === null ? null : procStats(kafkaPid).cpuMs - at10.kafka;
        throughput = { rate: ((samples - at10.p.samples) / (now - at10.p.t)) * 1000, cpuMs: cpu / ((samples - at10.p.samples) / 1000), kafkaCpuMs: kafkaCpu };
        log(
          `daemon over the backlog (10%..90%): ${fmt(throughput.rate)} samples/s, ${fmt(throughput.cpuMs, 1)} ms daemon CPU per 1,000 samples` +
            (kafkaCpu === null ? '' : `, broker CPU ${fmt((kafkaCpu / (now - at10.p.t)) * 100)}% of a core`),
        );
      }
      if (throughput !== null && !work.full) break;
      if (soak === null && throughput !== null) {
        soakRate = fixedRate ?? Math.max(1_000, Math.round(1.2 * throughput.rate));
        soak = produceAtRate(topic, pool, soakRate);
        soakFrom = point;
        log(`soak: a producer alongside at ${fmt(soakRate)} msgs/s until t=${seconds} s`);
      }
      if (soak === null && samples >= backlog) throw new Error('the backlog ran out before the soak producer started: use a larger --samples');
      await sleep(1_000);
    }
    const end = points.at(-1)!;
    const sent = (await soak?.stop()) ?? 0;
    const cpuEnd = procStats(d.pid);
    const kafkaEnd = kafkaPid === null ? null : procStats(kafkaPid);
    const stopAt = performance.now();
    const exit = await d.stop(60_000);
    daemon = null;
    log(`stopped with ${exit.signal ?? `exit code ${exit.code}`} in ${fmt(performance.now() - stopAt)} ms`);

    // ---- report ---------------------------------------------------------------------
    const total = end.t / 1000;
    const soakSeconds = soakFrom ? (end.t - soakFrom.t) / 1000 : 0;
    const soakProcessed = soakFrom ? end.samples - soakFrom.samples : 0;
    const lagAtEnd = backlog + sent - end.samples;
    log('');
    log(`run: ${fmt(total, 1)} s, ${fmt(end.samples)} samples counted (${fmt(sent)} sent by the soak producer, ${fmt(lagAtEnd)} left unread at the end)`);
    log(`daemon CPU over the run: ${fmt((cpuEnd.cpuMs - cpuStart.cpuMs) / 1000, 1)} s (${fmt(((cpuEnd.cpuMs - cpuStart.cpuMs) / (end.t)) * 100)}% of a core)` +
      (kafkaEnd && kafkaStart ? `; broker ${fmt(((kafkaEnd.cpuMs - kafkaStart.cpuMs) / end.t) * 100)}% of a core` : ''));
    if (soakFrom) log(`daemon during the soak (producer alongside): ${fmt((soakProcessed / Math.max(1e-9, soakSeconds)))} samples/s over ${fmt(soakSeconds, 1)} s`);

    // Drift: the median of the last fifth of the readings after warm-up against the median
    // of the first fifth (single readings swing with the garbage collector's saw-tooth).
    const warmUp = Math.min(60, 0.2 * total) * 1000;
    const after = rss.filter((r) => r.t >= warmUp).map((r) => r.kb);
    const fifth = Math.max(1, Math.floor(after.length / 5));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const base = median(after.slice(0, fifth));
    const final = median(after.slice(-fifth));
    const drift = (final - base) / base;
    const range = (Math.max(...after) - Math.min(...after)) / base;
    const first = rss[0]!.kb;
    const last = rss.at(-1)!.kb;
    const max = Math.max(...rss.map((r) => r.kb));
    log(`RSS (every ${rssEvery} s, ${rss.length} readings): first ${mib(first)}, last ${mib(last)}, max ${mib(max)}; ` +
      `after a ${fmt(warmUp / 1000)} s warm-up, median of the first fifth ${mib(base)} -> of the last fifth ${mib(final)} ` +
      `(${drift >= 0 ? '+' : ''}${fmt(drift * 100, 1)}%), min..max range ${fmt(range * 100, 1)}% of it`);
    log(`RSS readings (s: MiB): ${rss.map((r) => `${fmt(r.t / 1000)}:${fmt(r.kb / 1024)}`).join(' ')}`);

    const inference = await bareInference(pool, Number(values.batch), threads);
    log(`bare ORT inference (${values.model} without taps, batches of ${values.batch}, ORT threads ${threads ?? 'default'}, in this process): ${fmt(inference)} samples/s`);
    const rate = throughput?.rate ?? NaN;
    const ratio = rate / bare.rate;
    const load1 = loadavg();
    log('');
    log(`bare kafkajs        ${fmt(bare.rate).padStart(9)} msgs/s`);
    // The rate and kafkajs floors are the digits' (issue 3); inference is every model's.
    log(`daemon              ${fmt(rate).padStart(9)} samples/s` + (work.full ? `    floor ${fmt(FLOOR_RATE)}: ${rate >= FLOOR_RATE ? 'PASS' : 'FAIL'}` : ''));
    if (baseline && throughput) {
      log(`scheme ${baselineScheme}        ${fmt(baseline.rate).padStart(9)} samples/s, ${fmt(baseline.cpuMs, 1)} ms CPU per 1,000 samples`);
      log(`scheme pool         ${fmt(rate).padStart(9)} samples/s, ${fmt(throughput.cpuMs, 1)} ms CPU per 1,000 samples: ${fmt(rate / baseline.rate, 2)}x the samples/s, ${fmt(throughput.cpuMs / baseline.cpuMs, 2)}x the CPU per sample`);
    }
    log(`ratio               ${fmt(ratio, 2).padStart(9)} x bare` + (work.full ? `       floor ${FLOOR_RATIO}: ${ratio >= FLOOR_RATIO ? 'PASS' : 'FAIL'}` : ''));
    log(`bare ORT inference  ${fmt(inference).padStart(9)} samples/s`);
    log(`daemon / inference  ${fmt(rate / inference, 2).padStart(9)} x          floor ${FLOOR_INFERENCE}: ${rate / inference >= FLOOR_INFERENCE ? 'PASS' : 'FAIL'}`);
    log(`RSS drift           ${`${drift >= 0 ? '+' : ''}${fmt(drift * 100, 1)}%`.padStart(9)}              floor +-${FLOOR_RSS * 100}%: ${Math.abs(drift) <= FLOOR_RSS ? 'PASS' : 'FAIL'}` +
      (total < 300 ? ` (over ${fmt(total)} s; the floor is for 5 minutes)` : ''));
    log(`load average at the end: ${load1.map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores; other work on the machine lowers every rate above)`);
  } finally {
    if (daemon) await daemon.kill('SIGKILL');
    if (topic && !values['keep-topic']) {
      const doomed = topic;
      await withAdmin((admin) => admin.deleteTopics({ topics: [doomed] })).catch((err: unknown) => log(`could not delete ${doomed}: ${String(err)}`));
    }
    cleanup();
    await release();
  }
}

await main();
