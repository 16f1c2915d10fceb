/**
 * What the Kafka state topic costs (issue 17): the daemon over one backlog with its state in
 * a checkpoint file (checkpoint.store file) against its state in the state topic, one
 * transaction per partition and checkpoint (store kafka), at the default checkpoint schedule
 * (every 10 s), in the same run, rounds alternating which goes first.
 *
 *   npx tsx bench/state.ts [--samples 120000] [--partitions 6] [--rounds 2] [--schedule '*\/10 * * * * *']
 *
 * Each run: a fresh consumer group reads the whole backlog from the start; samples/s between
 * 10% and 90% of it (ckawatch_samples_total scraped every 250 ms). Prints each run, the median rate of each store, and kafka/file against
 * the floor (the state topic may cost at most 10%: ratio >= 0.9).
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Message } from 'kafkajs';
import { DaemonProcess, editConfig, writeDaemonConfig } from '../test/helpers/daemon.js';
import { tempDir } from '../test/helpers/files.js';
import { heldOutDigits, rawMessage, writeReference } from '../test/helpers/digits.js';
import { freshTopic, testKafka, uniqueName, withAdmin } from '../test/helpers/kafka.js';
import { valueOf } from '../test/helpers/prom-text.js';
import { buildIfStale, ensureBroker } from '../test/helpers/services.js';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '120000' },
    partitions: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '2' },
    schedule: { type: 'string', default: '*/10 * * * * *' },
  },
});
const backlog = Number(values.samples);
const partitions = Number(values.partitions);
const FLOOR = 0.9;
type Store = 'file' | 'kafka';

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const log = (text: string) => process.stdout.write(`${text}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function produceBacklog(topic: string, pool: readonly Buffer[]): Promise<void> {
  const producer = testKafka(uniqueName('bench-state-producer')).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < backlog; i += 160) {
    const messages: Message[] = Array.from({ length: Math.min(160, backlog - i) }, (_, k) => ({ value: pool[(i + k) % pool.length]!, partition: (i + k) % partitions }));
    inFlight.push(producer.send({ topic, messages, acks: 1 }));
    if (inFlight.length >= 6) await inFlight.shift();
  }
  await Promise.all(inFlight);
  await producer.disconnect();
}

/** One daemon over the whole backlog with `store`: samples/s from 10% to 90% of it. */
async function runOnce(dir: string, topic: string, referencePath: string, store: Store): Promise<number> {
  const config = writeDaemonConfig(dir, {
    topic,
    groupId: uniqueName(`bench-state-${store}`),
    referencePath,
    maxWait: '1s',
    schedule: values.schedule,
    calibrationBatches: 16,
    instanceId: uniqueName('bench'),
    windows: [{ name: '5m', duration: '5m', buckets: 10 }, { name: '1h', duration: '1h', buckets: 12 }],
  });
  editConfig(config, (c) => {
    c['checkpoint'] = { ...c['checkpoint'], store, stateTopic: `${topic}-state` };
  });
  const d = await DaemonProcess.start(config, { timeoutMs: 120_000 });
  try {
    let from: { t: number; n: number } | null = null;
    const deadline = performance.now() + 600_000;
    for (;;) {
      const scrape = await d.scrape();
      const n = valueOf(scrape, 'ckawatch_samples_total', { topic }) ?? 0;
      const t = performance.now();
      if (from === null && n >= 0.1 * backlog) from = { t, n };
      if (from !== null && n >= 0.9 * backlog) return ((n - from.n) / (t - from.t)) * 1000;
      if (t > deadline) throw new Error(`${store}: ${n} of ${backlog} in 10 minutes\n${d.logTail()}`);
      await sleep(250);
    }
  } finally {
    await d.stop(60_000);
  }
}

async function main(): Promise<void> {
  await buildIfStale();
  const release = await ensureBroker();
  const { dir, cleanup } = tempDir('ckawatch-bench-state-');
  let topic: string | null = null;
  try {
    log(`ckawatch state-store benchmark: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const referencePath = writeReference(dir, 2_000);
    topic = await freshTopic('bench-state', partitions);
    await produceBacklog(topic, heldOutDigits(5_000).map(rawMessage));
    log(`backlog: ${fmt(backlog)} digits on ${partitions} partitions; checkpoint schedule '${values.schedule}'`);
    const rates: Record<Store, number[]> = { file: [], kafka: [] };
    for (let round = 0; round < Number(values.rounds); round++) {
      const order: Store[] = round % 2 === 0 ? ['file', 'kafka'] : ['kafka', 'file'];
      for (const store of order) {
        const rate = await runOnce(dir, topic, referencePath, store);
        rates[store].push(rate);
        log(`round ${round + 1}, ${store.padEnd(5)}: ${fmt(rate)} samples/s`);
      }
    }
    const file = median(rates.file);
    const kafka = median(rates.kafka);
    const ratio = kafka / file;
    log('');
    log(`file checkpoints     ${fmt(file).padStart(7)} samples/s (median of ${rates.file.length})`);
    log(`Kafka state topic    ${fmt(kafka).padStart(7)} samples/s (median of ${rates.kafka.length})`);
    log(`ratio kafka/file     ${fmt(ratio, 3).padStart(7)}            floor ${FLOOR}: ${ratio >= FLOOR ? 'PASS' : 'FAIL'}`);
    log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    if (topic) {
      const doomed = [topic, `${topic}-state`];
      await withAdmin((admin) => admin.deleteTopics({ topics: doomed })).catch(() => undefined);
    }
    cleanup();
    await release();
  }
}

await main();
