/**
 * The set-up every suite of spawned daemons shares (test/integration, test/faults):
 *
 *   const suite = useDaemonSuite('ckawatch-faults-crash-', { referenceDigits: 500, defaults: SMALL_RUN });
 *   it('...', async () => {
 *     const run = await suite.run('faults-crash', 2, { maxWait: '200ms' });  // topic, group, state dir, config
 *     const d = await DaemonProcess.start(run.config);
 *
 * Before the first test: the broker check and the reference digits; after each test: every
 * daemon still running is killed; after the last: the suite's temp dir is removed.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll } from 'vitest';
import { killAll, writeDaemonConfig, type DaemonConfigOptions, type DaemonProcess } from './daemon.js';
import { writeReference } from './digits.js';
import { useTempDir } from './files.js';
import { committedOffsets, endOffsets, freshTopic, produce, requireBroker, uniqueName, waitFor, type TestMessage } from './kafka.js';
import { rejectedByReason, rejectedOf, samplesOf } from './metrics.js';
import type { PromSample } from './prom-text.js';

/** Small batches and one ORT thread: quick start-up and steady progress on a small machine (the fault suites). */
export const SMALL_RUN: Partial<DaemonConfigOptions> = { threads: 1, batchSize: 32, referencePerBatch: 32, calibrationBatches: 8 };

/** One test's own topic, consumer group and state dir, and the config that joins them. */
export interface DaemonRun {
  readonly topic: string;
  readonly groupId: string;
  /** the test's dir (config.json, state/) inside the suite's */
  readonly dir: string;
  readonly stateDir: string;
  /** path of config.json */
  readonly config: string;
}

export interface DaemonSuite {
  /** the suite's temp dir, removed after its last test */
  readonly dir: string;
  /** reference.npy of `referenceDigits` MNIST digits, written before the first test */
  readonly referencePath: string;
  /** A fresh topic of `partitions`, a group and a state dir, and their config: the suite's defaults, then `extra`. */
  run(prefix: string, partitions: number, extra?: Partial<DaemonConfigOptions>): Promise<DaemonRun>;
}

/** Registers the suite's hooks (call it at the top level of the file) and returns the suite. */
export function useDaemonSuite(
  prefix: string,
  options: {
    /** digits in the suite's reference.npy; none written when absent */
    referenceDigits?: number;
    /** config options of every run, before each run's own */
    defaults?: Partial<DaemonConfigOptions>;
  } = {},
): DaemonSuite {
  const temp = useTempDir(prefix);
  let referencePath: string | undefined;
  beforeAll(async () => {
    await requireBroker();
    if (options.referenceDigits !== undefined) referencePath = writeReference(temp.dir, options.referenceDigits);
  });
  afterEach(async () => {
    await killAll();
  });
  const suite: DaemonSuite = {
    get dir() {
      return temp.dir;
    },
    get referencePath() {
      if (referencePath === undefined) throw new Error('this suite writes no reference: give useDaemonSuite referenceDigits');
      return referencePath;
    },
    async run(runPrefix, partitions, extra = {}) {
      const topic = await freshTopic(runPrefix, partitions);
      const groupId = uniqueName(`${runPrefix}-group`);
      const dir = mkdtempSync(join(temp.dir, `${runPrefix}-`));
      const config = writeDaemonConfig(dir, {
        topic,
        groupId,
        referencePath: extra.referencePath ?? suite.referencePath,
        ...options.defaults,
        ...extra,
      });
      return { topic, groupId, dir, stateDir: join(dir, 'state'), config };
    },
  };
  return suite;
}

/** Waits until the group's committed offsets reach the end of every partition of `topic`; returns the end offsets. */
export async function waitForCommitsAtEnd(groupId: string, topic: string, d: DaemonProcess, timeoutMs = 30_000): Promise<Map<number, number>> {
  const ends = await endOffsets(topic);
  let committed = new Map<number, number>();
  await waitFor(
    async () => {
      committed = await committedOffsets(groupId, topic);
      return [...ends].every(([p, end]) => committed.get(p) === end);
    },
    timeoutMs,
    `committed offsets of ${groupId} to reach the end offsets`,
    200,
  ).catch((error: Error) => {
    throw new Error(`${error.message}: ends ${JSON.stringify([...ends])}, committed ${JSON.stringify([...committed])}\n${d.logTail()}`);
  });
  return ends;
}

/**
 * Produces `messages` (`chunkSize` a request), then waits until the daemon has counted every
 * one, as a sample or a rejection; returns that scrape.
 */
export async function produceAndCount(
  daemon: DaemonProcess,
  topic: string,
  messages: readonly TestMessage[],
  expected: { samples: number; rejected: number },
  options: { chunkSize?: number; timeoutMs?: number } = {},
): Promise<PromSample[]> {
  await produce(topic, messages, options.chunkSize ?? 20);
  return daemon.waitForMetrics(
    (s) => samplesOf(s, topic) === expected.samples && rejectedOf(s, topic) === expected.rejected,
    `${expected.samples} samples and ${expected.rejected} rejections`,
    { timeoutMs: options.timeoutMs ?? 120_000, intervalMs: 250, show: (s) => ({ samples: samplesOf(s, topic), rejected: rejectedByReason(s, topic) }) },
  );
}
