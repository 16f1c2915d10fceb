import type { OffsetMap } from './offsets.js';
import type { PartitionHooks, Source, SourceRecord } from './source.js';

/**
 * An in-process source: record i of one partition is `next(i)` (null ends the stream),
 * delivered in chunks at `ratePerSecond` (or as fast as the pipeline takes them). Backs
 * the file source and the demo; offsets are sample indices, so checkpoints resume it.
 */
export interface GeneratorOptions {
  readonly topic: string;
  readonly next: (index: number) => Uint8Array | null;
  readonly ratePerSecond?: number | undefined;
  readonly chunk?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** Called once when `next` first returns null, with the number of records delivered. */
  readonly onEnd?: (records: number) => void;
}

export class GeneratorSource implements Source {
  readonly topic: string;
  readonly #options: GeneratorOptions;
  #running = false;
  #paused = false;
  #ended = false;
  #position = 0;
  #loop: Promise<void> = Promise.resolve();

  constructor(options: GeneratorOptions) {
    this.topic = options.topic;
    this.#options = options;
  }

  get ready(): boolean {
    return this.#running;
  }

  /** True once `next` returned null. */
  get ended(): boolean {
    return this.#ended;
  }

  async start(onRecords: (records: SourceRecord[]) => Promise<void>, partitions: PartitionHooks): Promise<void> {
    this.#position = (await partitions.assigned([0])).get(0) ?? 0;
    this.#running = true;
    this.#loop = this.#run(onRecords);
  }

  async #run(onRecords: (records: SourceRecord[]) => Promise<void>): Promise<void> {
    const sleep = this.#options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const now = this.#options.now ?? Date.now;
    const chunk = this.#options.chunk ?? 64;
    const rate = this.#options.ratePerSecond;
    const started = now();
    const startIndex = this.#position;
    while (this.#running && !this.#ended) {
      if (this.#paused) {
        await sleep(50);
        continue;
      }
      const records: SourceRecord[] = [];
      while (records.length < chunk) {
        const value = this.#options.next(this.#position);
        if (value === null) {
          this.#ended = true;
          this.#options.onEnd?.(this.#position);
          break;
        }
        records.push({ topic: this.topic, partition: 0, offset: this.#position, value });
        this.#position += 1;
      }
      if (records.length > 0) await onRecords(records);
      if (rate !== undefined) {
        const due = started + ((this.#position - startIndex) / rate) * 1000;
        const wait = due - now();
        if (wait > 0) await sleep(wait);
      } else {
        await sleep(0); // let timers (max-wait, checkpoints, scrapes) run
      }
    }
  }

  async commit(): Promise<void> {}

  lag(applied: OffsetMap): { partition: number; lag: number }[] {
    return [{ partition: 0, lag: Math.max(0, this.#position - (applied[this.topic]?.['0'] ?? 0)) }];
  }


  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  async close(): Promise<void> {
    await this.stop();
  }
}
