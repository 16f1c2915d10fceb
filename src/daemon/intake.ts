import type { Decoded } from './pipeline.js';
import type { Metrics } from '../metrics/index.js';
import type { DeadLetterQueue } from '../source/dead-letter.js';
import type { Source, SourceRecord } from '../source/source.js';
import type { Lanes } from './lanes.js';
import type { Sampling } from './sampling.js';

/*
 * What the source hands the daemon, and the measurements sampling needs:
 *
 *   fetched records ─▶ [async decode] ─▶ lanes.accept (each sample chosen or skipped: sampling.ts)
 *                  ─▶ lanes.process() ─▶ scored in busy ms
 *                     (awaited by the next fetch's records: one fetch ahead, backpressure)
 *   every second: consumer lag per partition ─▶ ckawatch_consumer_lag ─▶ sampling.tick ─▶ fraction
 */

export interface IntakeOptions {
  readonly lanes: Lanes;
  /** the whole fetch's decode, for async decoders (images); absent: lanes decode each record */
  readonly decodeAll?: (records: SourceRecord[]) => Promise<Decoded[]>;
  readonly letters: DeadLetterQueue | null;
  readonly sampling: Sampling;
  readonly batchSize: number;
  readonly now: () => number;
  readonly stopping: () => boolean;
  /** the work started for a fetch, for a stop to wait on */
  readonly track: (work: Promise<void>) => void;
}

/**
 * Source.start's onRecords. A fetch's records are queued once the fetch before them is
 * scored, and the handler returns while they are scored: the source fetches the next
 * records meanwhile (one fetch ahead, so the FIFO holds at most two fetches). Awaiting the
 * whole scoring instead left the model idle during every fetch and the fetch waiting for
 * every batch. A scoring failure is thrown at the next fetch, before its records are
 * queued: the source delivers those again, and the failed batch's entries stay queued.
 */
export function recordsHandler(o: IntakeOptions): (records: SourceRecord[]) => Promise<void> {
  let previous: Promise<void> = Promise.resolve();
  return async (records) => {
    if (o.stopping()) return;
    const decoded = o.decodeAll ? await o.decodeAll(records) : undefined;
    const before = previous;
    previous = Promise.resolve();
    await before;
    if (o.stopping()) return;
    o.lanes.accept(records, decoded);
    const work = (async () => {
      const started = o.now();
      const [batches] = await Promise.all([o.lanes.process(), o.letters?.room()]);
      if (batches > 0) o.sampling.scored(batches * o.batchSize, o.now() - started);
    })();
    previous = work;
    o.track(work.catch(() => undefined));
  };
}

/** Once a second: the lag gauges, and the sampling fraction that follows from it (auto). */
export function lagAndSampling(source: Source, lanes: Lanes, metrics: Metrics, sampling: Sampling): () => Promise<void> {
  return async () => {
    let total = 0;
    for (const { partition, lag } of source.lag(lanes.offsets)) {
      metrics.consumerLag.set({ topic: source.topic, partition: String(partition) }, lag);
      total += lag;
    }
    metrics.samplingFraction.set(sampling.tick(total));
  };
}
