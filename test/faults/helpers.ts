/**
 * Shared by the fault suites (test/faults): metric readers, a seeded random source, and
 * the `setup` that gives one test its topic, group, state dir and daemon config.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { writeDaemonConfig, type DaemonConfigOptions, type DaemonProcess } from '../helpers/daemon.js';
import { committedOffsets, endOffsets, freshTopic, uniqueName, waitFor } from '../helpers/kafka.js';
import { select, sumOf, valueOf, type PromSample } from '../helpers/prom-text.js';

export const samplesOf = (s: PromSample[], topic: string): number => valueOf(s, 'ckawatch_samples_total', { topic }) ?? 0;
export const rejectedOf = (s: PromSample[], topic: string): number => sumOf(s, 'ckawatch_rejected_total', { topic });

export function rejectedByReason(s: PromSample[], topic: string): Record<string, number> {
  return Object.fromEntries(
    select(s, 'ckawatch_rejected_total', { topic })
      .filter((x) => x.value > 0)
      .map((x) => [x.labels['reason']!, x.value]),
  );
}

/** The `samples` field of ckawatch_window_sum for window "all", per layer. */
export function windowSamples(s: PromSample[]): Map<string, number> {
  return new Map(select(s, 'ckawatch_window_sum', { window: 'all', field: 'samples' }).map((x) => [x.labels['layer']!, x.value]));
}

/** A small seeded PRNG (mulberry32): the same seed gives the same fault schedule. */
export { rng as seeded } from '../cka/linalg.js';

/** A topic, a group and a state dir of one test, and its config (small batches, 1 ORT thread). */
export async function setupRun(baseDir: string, prefix: string, partitions: number, extra: Partial<DaemonConfigOptions> & { referencePath: string }) {
  const topic = await freshTopic(prefix, partitions);
  const groupId = uniqueName(`${prefix}-group`);
  const dir = mkdtempSync(join(baseDir, `${prefix}-`));
  const config = writeDaemonConfig(dir, { topic, groupId, threads: 1, batchSize: 32, referencePerBatch: 32, calibrationBatches: 8, ...extra });
  return { topic, groupId, dir, stateDir: join(dir, 'state'), config };
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
