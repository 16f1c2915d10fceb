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
 *                  ─▶ lanes.process() (awaited: backpressure on the fetch) ─▶ scored in busy ms
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

/** Source.start's onRecords. */
export function recordsHandler(o: IntakeOptions): (records: SourceRecord[]) => Promise<void> {
  return async (records) => {
    if (o.stopping()) return;
    const work = (async () => {
      o.lanes.accept(records, o.decodeAll ? await o.decodeAll(records) : undefined);
      const started = o.now();
      const [batches] = await Promise.all([o.lanes.process(), o.letters?.room()]);
      if (batches > 0) o.sampling.scored(batches * o.batchSize, o.now() - started);
    })();
    o.track(work.catch(() => undefined));
    await work;
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
