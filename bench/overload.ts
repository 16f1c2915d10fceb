/**
 * Overload (issue 20): traffic at 3x what the model scores, `sampling: auto`. Does the lag
 * stay bounded, is every sample seen, does the model stay busy, does memory stay flat?
 *
 *   npx tsx bench/overload.ts [--minutes 5] [--factor 3] [--backlog 150000] [--batch 64]
 *                             [--threads N] [--rss-every 5] [--yield-load]
 *                             [--main OTHER/dist/cli/main.js]   (another build, for A/B runs)
 *   npx tsx bench/overload.ts --ceiling 0.3 [--versus OTHER/dist/cli/main.js]
 *                             (steps 1, 2 and 5 only, at that fraction; with --versus, this
 *                              build and the other alternate, two rounds each, same backlog;
 *                              --cpu-prof DIR: V8 profiles of those daemons, bench/profile-top.ts)
 *
 *   1. backlog: --backlog held-out MNIST digits (raw float32, 3,136 bytes) on a fresh topic
 *   2. bare: a kafkajs consumer (eachBatch, no decoding) reads the backlog: msgs/s
 *   3. capacity: the daemon with sampling 1 (score everything) reads the backlog with a
 *      fresh group: scored samples/s between 10% and 90% of it, no producer alongside
 *   4. overload: a fresh topic (size-bounded retention: 3 GiB a partition), the daemon with
 *      sampling auto, and a producer in this process at --factor x the capacity for
 *      --minutes; every second: samples seen and scored, the fraction, the lag (the
 *      daemon's ckawatch_consumer_lag, and produced - seen), and every --rss-every s its RSS.
 *      Then the producer stops and the daemon drains what is left.
 *   5. seen ceiling: the daemon with sampling fixed at the fraction auto ended with reads the
 *      backlog (fresh group): samples seen/s, against bare kafkajs of step 2
 *
 * --yield-load: the broker (every thread) and, while the overload runs, this process's
 * producer run at nice 10. In production neither shares the daemon's machine; on a 2-core
 * bench box they take a core's worth of CPU from it at 3x traffic. Off by default.
 *
 * Prints the figures against the floors: lag bounded (after the warm-up, the
 * least-squares trend of produced - seen under 1% of the traffic), seen = produced, seen/s >= 0.5x bare kafkajs, scored/s >=
 * 0.9x capacity, RSS within +-10% (median of the first fifth after a warm-up against the
 * last fifth). The machine may be shared: the load average is printed with them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, setPriority } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DaemonProcess, editConfig, writeDaemonConfig } from '../test/helpers/daemon.js';
import { tempDir } from '../test/helpers/files.js';
import { heldOutDigits, rawMessage, writeReference } from '../test/helpers/digits.js';
import { freshTopic, uniqueName, withAdmin } from '../test/helpers/kafka.js';
import { bareConsume, brokerPid, produceAtRate, produceBacklog } from './kafka-load.js';
import { sumOf, valueOf } from '../test/helpers/prom-text.js';
import { buildIfStale, ensureBroker } from '../test/helpers/services.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    factor: { type: 'string', default: '3' },
    backlog: { type: 'string', default: '150000' },
    batch: { type: 'string', default: '64' },
    threads: { type: 'string' },
    'rss-every': { type: 'string', default: '5' },
    main: { type: 'string' },
    ceiling: { type: 'string' },
    'cpu-prof': { type: 'string' },
    versus: { type: 'string' },
    'yield-load': { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
const factor = Number(values.factor);
const backlog = Number(values.backlog);
const rssEvery = Number(values['rss-every']);
const threads = values.threads === undefined ? undefined : Number(values.threads);
const build = values.main ? { main: values.main } : {};
const FLOOR_SEEN = 0.5;
const FLOOR_SCORED = 0.9;
const FLOOR_RSS = 0.1;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const log = (text: string) => process.stdout.write(`${text}\n`);
const verdict = (pass: boolean) => (pass ? 'PASS' : 'FAIL');

/** Every thread of `pid` at `nice` (Linux: a nice value is per thread). */
function renice(pid: number, nice: number): void {
  for (const tid of readdirSync(`/proc/${pid}/task`)) setPriority(Number(tid), nice);
}

function rssKb(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

function daemonConfig(dir: string, topic: string, name: string, sampling: number | 'auto'): string {
  const path = writeDaemonConfig(join(dir), {
    topic,
    groupId: uniqueName(`overload-${name}-group`),
    referencePath: join(dir, 'reference.npy'),
    batchSize: Number(values.batch),
    maxWait: '1s',
    schedule: '*/10 * * * * *',
    calibrationBatches: null,
    instanceId: `overload-${name}`,
    windows: [{ name: '1m', duration: '1m', buckets: 6 }, { name: '5m', duration: '5m', buckets: 10 }],
    ...(threads ? { threads } : {}),
  });
  editConfig(path, (c) => {
    (c as Record<string, unknown>)['sampling'] = sampling;
  });
  return path;
}

/** The daemon at `sampling` over the backlog alone (fresh group): `metric`/s between 10% and 90% of the backlog seen. */
async function overBacklog(dir: string, topic: string, name: string, sampling: number | 'auto', main = build): Promise<{ seen: number; scored: number }> {
  const nodeArgs = values['cpu-prof'] && values.ceiling !== undefined ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] : [];
  const d = await DaemonProcess.start(daemonConfig(dir, topic, name, sampling), { timeoutMs: 90_000, nodeArgs, ...main });
  try {
    let at10: { t: number; seen: number; scored: number } | null = null;
    for (;;) {
      const s = await d.scrape();
      const t = performance.now();
      const seen = valueOf(s, 'ckawatch_samples_total', { topic }) ?? 0;
      const scored = valueOf(s, 'ckawatch_samples_scored_total', { topic }) ?? 0;
      if (at10 === null && seen >= 0.1 * backlog) at10 = { t, seen, scored };
      if (at10 !== null && seen >= 0.9 * backlog) {
        const secs = (t - at10.t) / 1000;
        return { seen: (seen - at10.seen) / secs, scored: (scored - at10.scored) / secs };
      }
      await sleep(200);
    }
  } finally {
    await d.stop(60_000);
  }
}

interface Reading {
  readonly t: number; // s since the producer started
  readonly produced: number;
  readonly seen: number;
  readonly scored: number;
  readonly fraction: number;
  readonly lag: number; // ckawatch_consumer_lag summed
}

async function main(): Promise<void> {
  await buildIfStale();
  const release = await ensureBroker();
  const { dir, cleanup } = tempDir('ckawatch-overload-');
  const topics: string[] = [];
  let daemon: DaemonProcess | null = null;
  try {
    log(`ckawatch overload benchmark, ${new Date().toISOString()}: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    if (values['yield-load']) {
      const pid = brokerPid();
      if (pid === null) throw new Error('--yield-load: no broker started by scripts/kafka.sh on this machine to lower');
      renice(pid, 10);
      log(`--yield-load: the broker (pid ${pid}) at nice 10; the producer too while the overload runs`);
    }
    const pool = heldOutDigits(5_000).map(rawMessage);
    writeReference(dir, 2_000);
    const backlogTopic = await freshTopic('overload-backlog', 1);
    topics.push(backlogTopic);
    await produceBacklog(backlogTopic, pool, backlog);
    const bare = (await bareConsume(backlogTopic, backlog)).rate;
    log(`bare kafkajs over ${fmt(backlog)} digits: ${fmt(bare)} msgs/s`);
    if (values.ceiling !== undefined) {
      const fraction = Number(values.ceiling);
      const builds = values.versus ? [['this build', build], [values.versus, { main: values.versus }]] as const : [['this build', build]] as const;
      for (let round = 1; round <= 2; round++) {
        for (const [label, main] of builds) {
          const r = await overBacklog(dir, backlogTopic, `ceiling-${round}-${main === build ? 'a' : 'b'}`, fraction, main);
          log(`${label}, round ${round}, sampling ${fraction}: ${fmt(r.seen)} seen/s (${fmt(r.seen / bare, 2)}x bare kafkajs), ${fmt(r.scored)} scored/s`);
        }
      }
      return;
    }
    const capacity = (await overBacklog(dir, backlogTopic, 'capacity', 1)).scored;
    log(`capacity (sampling 1, backlog, no producer alongside): ${fmt(capacity)} scored samples/s`);

    const topic = uniqueName('overload-live');
    await withAdmin((admin) =>
      admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'retention.bytes', value: String(3 * 2 ** 30) }, { name: 'segment.bytes', value: String(256 * 2 ** 20) }] }],
        waitForLeaders: true,
      }),
    );
    topics.push(topic);
    const d = (daemon = await DaemonProcess.start(daemonConfig(dir, topic, 'auto', 'auto'), { timeoutMs: 90_000, ...build }));
    await d.waitForMetrics((s) => valueOf(s, 'ckawatch_ready') === 1, 'the auto daemon ready', { timeoutMs: 90_000 });
    const rate = Math.round(factor * capacity);
    log(`overload: ${fmt(rate)} msgs/s (${factor}x capacity) for ${minutes} min, sampling auto`);
    // The daemon is running: lowering this thread now does not pass to it (a child inherits its parent's nice).
    if (values['yield-load']) setPriority(10);
    const producer = produceAtRate(topic, pool, rate);
    const started = performance.now();
    const readings: Reading[] = [];
    const rss: { t: number; kb: number }[] = [];
    let nextRss = 0;
    const read = async (): Promise<Reading> => {
      const s = await d.scrape();
      const t = (performance.now() - started) / 1000;
      const r = {
        t,
        produced: producer.sent(),
        seen: valueOf(s, 'ckawatch_samples_total', { topic }) ?? 0,
        scored: valueOf(s, 'ckawatch_samples_scored_total', { topic }) ?? 0,
        fraction: valueOf(s, 'ckawatch_sampling_fraction') ?? NaN,
        lag: sumOf(s, 'ckawatch_consumer_lag', { topic }),
      };
      readings.push(r);
      if (t >= nextRss) {
        rss.push({ t, kb: rssKb(d.pid) });
        nextRss += rssEvery;
      }
      return r;
    };
    while (performance.now() - started < minutes * 60_000) {
      const r = await read();
      if (Math.round(r.t) % 15 === 0) log(`  t=${fmt(r.t)} s: produced ${fmt(r.produced)}, seen ${fmt(r.seen)}, scored ${fmt(r.scored)}, fraction ${fmt(r.fraction, 3)}, lag ${fmt(r.lag)} (produced - seen ${fmt(r.produced - r.seen)})`);
      await sleep(1_000);
    }
    const produced = await producer.stop();
    // Back to 0 before the next daemon is spawned (raising priority again needs CAP_SYS_NICE).
    if (values['yield-load']) setPriority(0);
    const end = readings.at(-1)!;
    const drainFrom = performance.now();
    let last = await read();
    while (last.seen < produced && performance.now() - drainFrom < 120_000) {
      await sleep(500);
      last = await read();
    }
    const drainS = (performance.now() - drainFrom) / 1000;
    const finalFraction = end.fraction;
    daemon = null;
    await d.stop(60_000);

    // ---- steady state: after the first minute (or fifth) of the run -------------------
    const warm = Math.min(60, (minutes * 60) / 5);
    const steady = readings.filter((r) => r.t >= warm && r.t <= end.t);
    const a = steady[0]!;
    const b = steady.at(-1)!;
    const span = b.t - a.t;
    const seenRate = (b.seen - a.seen) / span;
    const scoredRate = (b.scored - a.scored) / span;
    const producedRate = (b.produced - a.produced) / span;
    const live = readings.filter((r) => r.t <= end.t);
    const maxLag = Math.max(...live.map((r) => r.lag));
    const maxBehind = Math.max(...live.map((r) => r.produced - r.seen));
    const firstMinute = Math.max(...live.filter((r) => r.t <= 60).map((r) => r.produced - r.seen));
    const lastMinute = Math.max(...live.filter((r) => r.t >= end.t - 60).map((r) => r.produced - r.seen));
    const fractions = steady.map((r) => r.fraction);
    // The lag's trend after the warm-up: least-squares slope of produced - seen, in records/s.
    const mt = steady.reduce((x, r) => x + r.t, 0) / steady.length;
    const mb = steady.reduce((x, r) => x + (r.produced - r.seen), 0) / steady.length;
    const slope = steady.reduce((x, r) => x + (r.t - mt) * (r.produced - r.seen - mb), 0) / steady.reduce((x, r) => x + (r.t - mt) ** 2, 0);
    const bounded = slope <= 0.01 * producedRate;

    const ceiling = await overBacklog(dir, backlogTopic, 'ceiling', finalFraction);
    log(`seen ceiling (sampling fixed at ${fmt(finalFraction, 3)}, backlog): ${fmt(ceiling.seen)} seen/s, ${fmt(ceiling.scored)} scored/s`);

    const after = rss.filter((r) => r.t >= warm).map((r) => r.kb);
    const fifth = Math.max(1, Math.floor(after.length / 5));
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;
    const rssBase = median(after.slice(0, fifth));
    const rssFinal = median(after.slice(-fifth));
    const rssDrift = (rssFinal - rssBase) / rssBase;

    log('');
    log(`overload run: ${fmt(end.t, 1)} s at ${fmt(rate)} msgs/s asked, ${fmt(produced)} produced (${fmt(producedRate)} msgs/s after ${fmt(warm)} s); drained in ${fmt(drainS, 1)} s after the producer stopped`);
    log(`fraction after ${fmt(warm)} s: min ${fmt(Math.min(...fractions), 3)}, max ${fmt(Math.max(...fractions), 3)}, last ${fmt(finalFraction, 3)}`);
    log(`max lag: ckawatch_consumer_lag ${fmt(maxLag)} records; produced - seen ${fmt(maxBehind)} (max over the first minute ${fmt(firstMinute)}, over the last ${fmt(lastMinute)}); ` +
      `trend after ${fmt(warm)} s ${slope >= 0 ? '+' : ''}${fmt(slope)} records/s (${fmt((slope / producedRate) * 100, 2)}% of the traffic): ${bounded ? 'bounded' : 'GROWING'}`);
    log(`samples seen = produced: ${fmt(last.seen)} of ${fmt(produced)}: ${verdict(last.seen === produced)}`);
    log(`seen/s during the overload ${fmt(seenRate)} (= ${fmt(seenRate / producedRate, 3)}x produced/s), ${fmt(seenRate / bare, 2)}x bare kafkajs`);
    log(`seen/s ceiling at the fraction auto chose ${fmt(ceiling.seen)} = ${fmt(ceiling.seen / bare, 2)}x bare kafkajs (${fmt(bare)} msgs/s)    floor ${FLOOR_SEEN}: ${verdict(ceiling.seen / bare >= FLOOR_SEEN)}`);
    log(`scored/s during the overload ${fmt(scoredRate)} = ${fmt(scoredRate / capacity, 3)}x capacity (${fmt(capacity)})    floor ${FLOOR_SCORED}: ${verdict(scoredRate / capacity >= FLOOR_SCORED)}`);
    log(`RSS (every ${rssEvery} s): first ${fmt(rss[0]!.kb / 1024)} MiB, last ${fmt(rss.at(-1)!.kb / 1024)} MiB, max ${fmt(Math.max(...rss.map((r) => r.kb)) / 1024)} MiB; ` +
      `after ${fmt(warm)} s median of the first fifth ${fmt(rssBase / 1024)} MiB -> last fifth ${fmt(rssFinal / 1024)} MiB (${rssDrift >= 0 ? '+' : ''}${fmt(rssDrift * 100, 1)}%)    floor +-${FLOOR_RSS * 100}%: ${verdict(Math.abs(rssDrift) <= FLOOR_RSS)}`);
    log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${cpus().length} cores, shared)`);
  } finally {
    if (daemon) await daemon.kill('SIGKILL');
    await withAdmin((admin) => admin.deleteTopics({ topics })).catch((err: unknown) => log(`could not delete ${topics.join(', ')}: ${String(err)}`));
    cleanup();
    await release();
  }
}

await main();
