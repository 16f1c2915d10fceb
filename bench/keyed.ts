/**
 * What per-partition batches do on a topic keyed by content (issue 17): the same clean
 * held-out digits on 10 partitions, once with partition = the digit's class (a topic keyed
 * by something tied to content) and once spread at random, each read by one daemon. Batches
 * are runs of one partition's records, so on the class-keyed topic every batch is one class:
 * a sub-population that differs from the reference without any drift.
 *
 *   npx tsx bench/keyed.ts [--per-class 300]
 *
 * Prints, per layer of window "all", the CKA and the RBF MMD² of both topics, and how many
 * layer-statistic pairs ckawatch_drift flags on each (clean data: ideally none).
 */
import { parseArgs } from 'node:util';
import { DaemonProcess, writeDaemonConfig } from '../test/helpers/daemon.js';
import { tempDir } from '../test/helpers/files.js';
import { heldOutOfClasses, rawMessage, writeReference } from '../test/helpers/digits.js';
import { freshTopic, produce, uniqueName, waitFor, withAdmin } from '../test/helpers/kafka.js';
import { samplesOf, scores, windowSums } from '../test/helpers/metrics.js';
import { select } from '../test/helpers/prom-text.js';
import { createPrng } from '../src/reference/prng.js';
import { buildIfStale, ensureBroker } from '../test/helpers/services.js';

const { values } = parseArgs({ options: { 'per-class': { type: 'string', default: '300' } } });
const perClass = Number(values['per-class']);
const log = (text: string) => process.stdout.write(`${text}\n`);

async function measure(dir: string, referencePath: string, messages: { value: Buffer; partition: number }[], name: string) {
  const topic = await freshTopic(`bench-keyed-${name}`, 10);
  await produce(topic, messages, 200);
  const config = writeDaemonConfig(dir, { topic, groupId: uniqueName(`bench-keyed-${name}`), referencePath, batchSize: 32, referencePerBatch: 32, threads: 1, calibrationBatches: 64, maxWait: '300ms', instanceId: uniqueName(name) });
  const d = await DaemonProcess.start(config, { timeoutMs: 120_000 });
  try {
    await waitFor(async () => samplesOf(await d.scrape(), topic) === messages.length, 300_000, `${name}: every digit counted`, 500);
    await new Promise((r) => setTimeout(r, 1_500)); // a scrape after the last batch's sums
    const scrape = await d.scrape();
    const flagged = select(scrape, 'ckawatch_drift', { window: 'all' }).filter((x) => x.value === 1).length;
    const pairs = select(scrape, 'ckawatch_drift', { window: 'all' }).length;
    return { topic, layers: new Map([...windowSums(scrape)].map(([layer, sums]) => [layer, scores(sums)])), flagged, pairs };
  } finally {
    await d.stop(60_000);
  }
}

async function main(): Promise<void> {
  await buildIfStale();
  const release = await ensureBroker();
  const { dir, cleanup } = tempDir('ckawatch-bench-keyed-');
  const topics: string[] = [];
  try {
    const referencePath = writeReference(dir, 2_000);
    const byClass = Array.from({ length: 10 }, (_, c) => heldOutOfClasses(perClass, [c]).map(rawMessage));
    const keyed = byClass.flatMap((digits, c) => digits.map((value) => ({ value, partition: c })));
    const random = createPrng(7);
    const shuffled = keyed.map((m) => ({ ...m, r: random.nextUint32() })).sort((a, b) => a.r - b.r);
    const spread = shuffled.map((m) => ({ value: m.value, partition: random.below(10) }));
    const a = await measure(dir, referencePath, keyed, 'by-class');
    const b = await measure(dir, referencePath, spread, 'at-random');
    topics.push(a.topic, b.topic);
    log(`${keyed.length} clean held-out digits on 10 partitions, batch 32 + 32 reference rows, window "all"`);
    log('layer                      keyed by class: cka   mmd2 rbf   | at random: cka   mmd2 rbf');
    for (const [layer, s] of a.layers) {
      const r = b.layers.get(layer)!;
      log(`${layer.padEnd(26)} ${s.cka.toFixed(3).padStart(20)} ${s.mmd2Rbf.toFixed(4).padStart(10)}   | ${r.cka.toFixed(3).padStart(14)} ${r.mmd2Rbf.toFixed(4).padStart(10)}`);
    }
    log(`ckawatch_drift flags: keyed by class ${a.flagged} of ${a.pairs} layer-statistic pairs; at random ${b.flagged} of ${b.pairs}`);
  } finally {
    await withAdmin((admin) => admin.deleteTopics({ topics })).catch(() => undefined);
    cleanup();
    await release();
  }
}

await main();
