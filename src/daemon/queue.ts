import type { SourceRecord } from '../source/source.js';
import type { Choose, SampleOrigin } from './pipeline-deps.js';

/*
 * The pipeline's FIFO (pipeline.ts): one entry per sample or rejection, in offset order.
 *
 *   record (B samples) ─▶ B entries, all but the last `more`; each one a sample to score, or
 *                         `skipped` when sampling left it out (sampling.ts): counted, not scored
 *   rejected record    ─▶ one entry with its reason
 *
 * Only samples to score go into batches; skipped samples and rejections are applied (counted,
 * their offsets moved) once everything before them is, like any other entry.
 */

/**
 * `epoch`: the partition's log incarnation the record came from (see Pipeline.resetIfAhead).
 * `more`: a record of several samples is several entries in a row, all but the last `more`;
 * only the last moves the offset, so a batch that takes some leaves the record uncommitted.
 * `origin`: where the sample came from, for witnesses. A skipped entry keeps no sample and no
 * record: what sampling leaves out is not held in memory.
 */
export type Entry =
  | {
      readonly topic: string;
      readonly partition: number;
      readonly offset: number;
      readonly epoch: number;
      readonly sample: Float32Array;
      readonly origin: SampleOrigin;
      readonly more?: true;
    }
  | { readonly topic: string; readonly partition: number; readonly offset: number; readonly epoch: number; readonly skipped: true; readonly more?: true }
  | { readonly topic: string; readonly partition: number; readonly offset: number; readonly epoch: number; readonly reason: string };

/**
 * A good record's entries, from its sample `held` on (earlier ones a restored state holds
 * already, partial.ts), onto `queue`. Returns how many of them are to be scored.
 */
export function pushSamples(queue: Entry[], record: SourceRecord, epoch: number, samples: readonly Float32Array[], held: number, choose: Choose | undefined): number {
  const { topic, partition, offset } = record;
  const last = samples.length - 1;
  let chosen = 0;
  for (let index = held; index <= last; index++) {
    const more = index < last ? { more: true as const } : {};
    if (choose === undefined || choose(topic, partition, offset, index)) {
      queue.push({ topic, partition, offset, epoch, sample: samples[index]!, origin: { record, index }, ...more });
      chosen += 1;
    } else {
      queue.push({ topic, partition, offset, epoch, skipped: true, ...more });
    }
  }
  return chosen;
}
