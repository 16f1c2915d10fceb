/**
 * Issue 17's must-show: replicas of one consumer group, their partitions moving on every
 * start, SIGTERM and SIGKILL, and the state in the Kafka state topic (checkpoint.store:
 * kafka). At the end the live replicas' ckawatch_samples_total add up to what was produced,
 * exactly, and the group's commits are at the end of every partition.
 *
 * Before the fix (per-replica checkpoint files, seeks to a replica's own old offsets) the
 * same scenarios counted +18% to +33% (rolling restarts) and -12.5% (a replica killed for
 * good). With checkpoint.store file the replica killed for good takes its counts with it
 * (the second test then fails: 3,008 of 6,000 counted in one run).
 *
 * The main scenario also compares window sums: every batch is scored against the fixed
 * reference pool and is a run of one partition's consecutive offsets, so with full batches
 * only (each partition's count a multiple of the batch size, batch.maxWait far beyond the
 * run) the replicas' combined sums equal those of one daemon that read the topic alone.
 * Its kill thresholds move by a seeded offset (CKAWATCH_TEST_KILL_SEED; random when unset,
 * and named in any failure); CKAWATCH_TEST_VERBOSE=1 prints the figures.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonProcess, editConfig, writeDaemonConfig, type LogLine } from '../helpers/daemon.js';
import { SMALL_RUN, useDaemonSuite, waitForCommitsAtEnd, type DaemonRun } from '../helpers/daemon-suite.js';
import { heldOutDigits, rawMessage } from '../helpers/digits.js';
import { endOffsets, testKafka, uniqueName, waitFor, withAdmin } from '../helpers/kafka.js';
import { samplesOf, windowSums, type WindowSums } from '../helpers/metrics.js';
import { rng } from '../helpers/random.js';
import { produceSteadily } from '../helpers/streams.js';

const PARTITIONS = 6;
const BATCH = SMALL_RUN.batchSize!;
/** 60,096: each partition gets 313 full batches, so that no batch is ever closed by batch.maxWait. */
const N = PARTITIONS * BATCH * 313;
const verbose = process.env['CKAWATCH_TEST_VERBOSE'] === '1';
const suite = useDaemonSuite('ckawatch-faults-rebalance-', { referenceDigits: 500, defaults: { ...SMALL_RUN, schedule: '* * * * * *' } });

/** The run's config with its state in `<topic>-state`, one transaction per partition and checkpoint. */
async function kafkaStateRun(prefix: string, extra: Parameters<typeof suite.run>[2] = {}): Promise<DaemonRun> {
  const run = await suite.run(prefix, PARTITIONS, extra);
  editConfig(run.config, (c) => {
    c['checkpoint'] = { ...c['checkpoint'], store: 'kafka', stateTopic: `${run.topic}-state` };
  });
  return run;
}

/**
 * The state topic as a restoring replica reads it (read_committed, from the start): the
 * latest record per key. Resolves once `done` holds for what was read so far.
 */
async function latestStates(stateTopic: string, done: (latest: ReadonlyMap<string, { offset?: number }>) => boolean): Promise<ReadonlyMap<string, { offset?: number }>> {
  const latest = new Map<string, { offset?: number }>();
  const consumer = testKafka(uniqueName('state-reader')).consumer({ groupId: uniqueName('state-reader-group'), readUncommitted: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: stateTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.key && message.value) latest.set(message.key.toString(), JSON.parse(message.value.toString('utf8')) as { offset?: number });
      },
    });
    await waitFor(() => done(latest), 60_000, `the state topic ${stateTopic} to hold every partition's latest state`);
    return latest;
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Produces `messages`, lets one daemon count all n and stop, then starts one of another
 * group on the same run (same topic, state topic and checkpoint folder): it must count the
 * n from the start, no more. Returns that second daemon.
 */
async function countedAgainByNewGroup(run: DaemonRun, messages: { value: Buffer; partition: number }[], n: number): Promise<DaemonProcess> {
  await produceSteadily(run.topic, messages, 200, 0).done;
  const first = await start(run);
  await settle(run, [first], n);
  expect((await first.stop()).code).toBe(0);
  editConfig(run.config, (c) => {
    c['source'] = { ...c['source'], groupId: `${run.groupId}-b` };
  });
  const second = await start(run);
  await waitFor(async () => samplesOf(await second.scrape(), run.topic) === n, 60_000, `the new group to count ${n}`, 250);
  return second;
}

/** `count` digits (the 6,000 held-out ones, again from the first when more are asked) spread evenly over the partitions. */
function messages(count: number): { value: Buffer; partition: number }[] {
  const digits = heldOutDigits(Math.min(count, 6_000)).map(rawMessage);
  return Array.from({ length: count }, (_, i) => ({ value: digits[i % digits.length]!, partition: i % PARTITIONS }));
}

/** Σ ckawatch_samples_total over the replicas still running (each exports the partitions it owns). */
async function counted(replicas: readonly DaemonProcess[], topic: string): Promise<number> {
  const live = replicas.filter((d) => d.exit === null);
  const scrapes = await Promise.all(live.map((d) => d.scrape().catch(() => [])));
  return scrapes.reduce((sum, s) => sum + samplesOf(s, topic), 0);
}

async function waitCounted(replicas: readonly DaemonProcess[], topic: string, atLeast: number, what: string, timeoutMs = 90_000): Promise<void> {
  await waitFor(async () => (await counted(replicas, topic)) >= atLeast, timeoutMs, what, 200);
}

/** Waits until every replica has partitions and counts from them (the group has spread the topic over them). */
async function waitEachCounts(replicas: readonly DaemonProcess[], topic: string): Promise<void> {
  await waitFor(async () => (await Promise.all(replicas.map(async (d) => samplesOf(await d.scrape(), topic)))).every((n) => n > 0), 90_000, 'every replica to count', 200).catch((error: Error) => {
    const exited = replicas.filter((d) => d.exit !== null);
    throw new Error(`${error.message}${exited.map((d) => `\nexited ${JSON.stringify(d.exit)}\n${d.logTail(25)}`).join('')}`);
  });
}

/** Waits until the live replicas count exactly `n` and the group's commits are at the end; returns the count. */
async function settle(run: DaemonRun, replicas: readonly DaemonProcess[], n: number): Promise<number> {
  const live = replicas.filter((d) => d.exit === null);
  let last = -1;
  await waitFor(async () => (last = await counted(live, run.topic)) === n, 90_000, `the live replicas to count ${n}`, 250).catch((error: Error) => {
    throw new Error(`${error.message} (last: ${last})\n${live.map((d) => d.logTail(15)).join('\n')}`);
  });
  await waitForCommitsAtEnd(run.groupId, run.topic, live[0]!, 60_000);
  return last;
}

const start = (run: DaemonRun): Promise<DaemonProcess> => DaemonProcess.start(run.config, { timeoutMs: 90_000 });

/** Window "all"'s sums per layer, added up over `scrapes` (one per replica, each exporting the partitions it owns). */
function combinedSums(scrapes: readonly Awaited<ReturnType<DaemonProcess['scrape']>>[]): Map<string, WindowSums> {
  const out = new Map<string, WindowSums>();
  for (const scrape of scrapes) {
    for (const [layer, sums] of windowSums(scrape)) {
      const into = out.get(layer) ?? ({} as WindowSums);
      for (const [field, value] of Object.entries(sums)) into[field as keyof WindowSums] = (into[field as keyof WindowSums] ?? 0) + value;
      out.set(layer, into);
    }
  }
  return out;
}

/**
 * The largest relative difference between two sets of window sums, over every layer and
 * field (|a - b| / max(|a|, |b|, 1e-12): the floor keeps fields near 0 from dividing by 0),
 * with where it is; a layer or field present on one side only is an error.
 */
function maxRelativeDifference(a: Map<string, WindowSums>, b: Map<string, WindowSums>): { max: number; at: string } {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let max = 0;
  let at = '';
  for (const [layer, x] of a) {
    const y = b.get(layer)!;
    expect(Object.keys(x).sort(), layer).toEqual(Object.keys(y).sort());
    for (const field of Object.keys(x) as (keyof WindowSums)[]) {
      const difference = Math.abs(x[field] - y[field]) / Math.max(Math.abs(x[field]), Math.abs(y[field]), 1e-12);
      if (difference > max || at === '') [max, at] = [difference, `${layer}/${field}: ${x[field]} vs ${y[field]}`];
    }
  }
  return { max, at };
}

/** One daemon of a fresh group (file checkpoints in a dir of its own) reads `run`'s topic to the end alone; returns its window sums. */
async function aloneSums(run: DaemonRun, n: number): Promise<Map<string, WindowSums>> {
  const dir = mkdtempSync(join(suite.dir, 'alone-'));
  const config = writeDaemonConfig(dir, { ...SMALL_RUN, topic: run.topic, groupId: `${run.groupId}-alone`, referencePath: suite.referencePath, maxWait: '1h' });
  const alone = await DaemonProcess.start(config, { timeoutMs: 90_000 });
  const scrape = await alone.waitForMetrics((s) => samplesOf(s, run.topic) === n, `the lone daemon to count ${n}`, {
    timeoutMs: 150_000,
    intervalMs: 250,
    show: (s) => samplesOf(s, run.topic),
  });
  expect((await alone.stop()).code).toBe(0);
  return windowSums(scrape);
}

describe('replicas of one group with the state in Kafka', () => {
  it('counts every sample once while replicas start, stop, crash and vanish, and sums as one reader alone (issue 17)', { timeout: 300_000 }, async () => {
    const seed = Number(process.env['CKAWATCH_TEST_KILL_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    const jitter = rng(seed);
    // Each kill at its eighth of N, moved by up to ±1/32 of N (the seed names the run).
    const at = (eighths: number): number => Math.round(((eighths + (jitter() - 0.5) / 2) * N) / 8);
    const thresholds = [at(1), at(2), at(3), at(5)];
    // batch.maxWait far beyond the run: every batch is full, wherever the kills land.
    const run = await kafkaStateRun('faults-rebalance', { maxWait: '1h' });
    const producer = produceSteadily(run.topic, messages(N), 300, 60);
    const replicas = await Promise.all([start(run), start(run), start(run)]);
    const [r1, r2, r3] = replicas;
    await waitEachCounts(replicas, run.topic);
    await waitCounted(replicas, run.topic, thresholds[0]!, `${thresholds[0]} counted`);
    replicas.push(await start(run)); // 1. a fourth replica joins
    await waitCounted(replicas, run.topic, thresholds[1]!, `${thresholds[1]} counted`);
    expect((await r1!.stop()).code).toBe(0); // 2. SIGTERM
    await waitCounted(replicas, run.topic, thresholds[2]!, `${thresholds[2]} counted`);
    await r2!.kill('SIGKILL'); // 3. SIGKILL, and back
    replicas.push(await start(run));
    await waitCounted(replicas, run.topic, thresholds[3]!, `${thresholds[3]} counted`);
    await r3!.kill('SIGKILL'); // 4. SIGKILL for good
    await producer.done;
    const total = await settle(run, replicas, N);
    console.log(`rebalance: produced ${N}, counted ${total} by the live replicas`);
    expect(total).toBe(N);
    // Each partition's latest state record is there, with the offset its commit holds.
    const ends = await endOffsets(run.topic);
    expect([...ends.values()].reduce((a, b) => a + b, 0)).toBe(N);
    const keyOf = (p: number): string => `${run.groupId}/${run.topic}/${p}`;
    const states = await latestStates(`${run.topic}-state`, (latest) => [...ends].every(([p, end]) => latest.get(keyOf(p))?.offset === end));
    expect([...states.keys()].sort()).toEqual([...ends.keys()].map(keyOf).sort());
    const restored = replicas.flatMap((d) => d.logs()).filter((l: LogLine) => l.msg === 'partition state restored');
    expect(restored.length).toBeGreaterThan(0);

    // The live replicas' window sums, added up, against one daemon's that read the topic alone.
    const combined = combinedSums(await Promise.all(replicas.filter((d) => d.exit === null).map((d) => d.scrape())));
    expect([...combined.values()].map((s) => s.samples)).toEqual([...combined.keys()].map(() => N));
    const alone = await aloneSums(run, N);
    const { max, at: where } = maxRelativeDifference(combined, alone);
    if (verbose) console.log(`rebalance: kill seed ${seed} (thresholds ${thresholds.join(', ')}); window sums over ${combined.size} layers: max relative difference ${max.toExponential(2)} (${where})`);
    expect(max, `kill seed ${seed}: ${where}`).toBeLessThanOrEqual(1e-9);
  });

  it('a replica killed for good leaves its partitions to the others, sums included', { timeout: 180_000 }, async () => {
    const n = 6_000;
    const run = await kafkaStateRun('faults-vanish');
    const producer = produceSteadily(run.topic, messages(n), 120, 60);
    const replicas = await Promise.all([start(run), start(run), start(run)]);
    await waitEachCounts(replicas, run.topic);
    await waitCounted(replicas, run.topic, n / 2, 'half counted');
    // The victim is one that counts: its sums must reach the others through the state topic.
    const own = await Promise.all(replicas.map(async (d) => samplesOf(await d.scrape(), run.topic)));
    const victim = replicas[own.indexOf(Math.max(...own))]!;
    await victim.kill('SIGKILL');
    console.log(`vanish: replicas counted ${own.join(', ')} before one of them was killed for good`);
    await producer.done;
    expect(await settle(run, replicas, n)).toBe(n);
  });

  it('a replica stopped and started again takes back partitions without re-counting what others counted meanwhile', { timeout: 180_000 }, async () => {
    const n = 6_000;
    const run = await kafkaStateRun('faults-comeback');
    const producer = produceSteadily(run.topic, messages(n), 120, 60);
    const [r1, r2] = await Promise.all([start(run), start(run)]);
    await waitEachCounts([r1!, r2!], run.topic);
    expect((await r1!.stop()).code).toBe(0);
    // r2 counts on alone, past where r1 stopped, before r1 comes back for its partitions. On a
    // busy machine the producer may be done by now, with less than n/6 left to count: r2,
    // owning every partition and its restored counts, then reaches n.
    const before = samplesOf(await r2!.scrape(), run.topic);
    const target = Math.min(before + n / 6, n);
    await waitFor(async () => samplesOf(await r2!.scrape(), run.topic) >= target, 90_000, `r2 to count ${target} alone`, 200);
    const again = await start(run);
    await producer.done;
    expect(await settle(run, [r2!, again], n)).toBe(n);
  });

  it('a new group on the same state topic restores nothing of the old group, and says so once', { timeout: 120_000 }, async () => {
    const n = 600;
    const run = await kafkaStateRun('faults-scope');
    // Same topic and state topic, another group: it reads the topic from the start and counts n, not 2n.
    const second = await countedAgainByNewGroup(run, messages(n), n);
    const said = second.logs().filter((l) => l.msg?.startsWith('no state of this group and topic'));
    expect(said.length).toBeGreaterThanOrEqual(1);
    expect(second.logs().some((l) => l.msg === 'partition state restored')).toBe(false);
    await withAdmin(async (admin) => {
      const topics = await admin.listTopics();
      expect(topics).toContain(`${run.topic}-state`);
    });
  });
});

describe('checkpoint files', () => {
  it('a daemon of another group never restores the checkpoint file of the old one, and says so once', { timeout: 120_000 }, async () => {
    const n = 600;
    const run = await suite.run('faults-file-scope', 2);
    const second = await countedAgainByNewGroup(run, messages(n).map((m) => ({ ...m, partition: m.partition % 2 })), n);
    const said = second.logs().filter((l) => String(l.msg).startsWith('ignoring checkpoint'));
    expect(said.map((l) => l.msg)).toEqual(["ignoring checkpoint: it holds another consumer group's or topic's state; starting fresh"]);
  });
});
