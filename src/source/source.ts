import type { MessageHeaders } from '../decode/types.js';
import type { OffsetMap } from './offsets.js';

/** One message as the sources deliver it: its coordinates and its bytes (null: a tombstone). */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: Uint8Array | null;
  /** Kafka's message key and timestamp (ms), where the source has them: shown with witnesses */
  readonly key?: Uint8Array | null;
  readonly timestamp?: number;
  /** Kafka headers as UTF-8 text (CloudEvents attributes, content-type), where there are any */
  readonly headers?: MessageHeaders;
}

/** One message for the dead-letter topic (made by dead-letter.ts), as the Kafka edge sends it. */
export interface Letter {
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * How a source tells the state which partitions are this member's. A partition's window
 * sums, counters and offsets are its own (daemon/lanes.ts), so they move with it:
 *
 *   group join ─▶ revoked(lost): their sums leave the export at once, their state is dropped
 *              └▶ assigned(new): each paused ─▶ state restored ─▶ seek to its offset ─▶ resumed
 *
 * `assigned` resolves with the offset each partition resumes from (absent: the group's
 * committed offset, which the source reads from anyway). It never throws for a partition
 * it cannot restore: it says so and starts it fresh.
 */
export interface PartitionHooks {
  assigned(partitions: readonly number[]): Promise<ReadonlyMap<number, number>>;
  revoked(partitions: readonly number[]): void;
}

/** Where production samples come from: Kafka, or an in-process stream (file replay, demo). */
export interface Source {
  /** the `topic` label of the samples it yields */
  readonly topic: string;
  /** true while it can deliver (Kafka: in the consumer group) */
  readonly ready: boolean;
  /**
   * Delivers records until stopped. `onRecords` is awaited before more are fetched
   * (backpressure: the daemon's returns once the fetch before is scored, intake.ts);
   * `partitions` hears which partitions are this member's (see PartitionHooks);
   * `onLogEnd`, where the source knows it (Kafka), gets each fetched partition's log end first.
   */
  start(onRecords: (records: SourceRecord[]) => Promise<void>, partitions: PartitionHooks, onLogEnd?: (partition: number, logEnd: number) => void): Promise<void>;
  /**
   * The group's committed offsets (next to read; null: none) of these partitions, as the
   * broker has them now; absent for sources without a group (file, demo).
   */
  readonly committed?: (partitions: readonly number[]) => Promise<ReadonlyMap<number, number | null>>;
  /** Records that a checkpoint now holds (Kafka: commits them for the group). */
  commit(offsets: OffsetMap): Promise<void>;
  /** Records not yet applied, per partition. */
  lag(applied: OffsetMap): { partition: number; lag: number }[];
  /**
   * Sends letters to the dead-letter topic as one request (rejects when the broker refuses
   * them); absent without one. The daemon queues and chunks them (dead-letter.ts).
   */
  readonly deadLetter?: (letters: readonly Letter[]) => Promise<void>;
  /** Problems that stop nothing but need an operator (a missing dead-letter topic), for /readyz. */
  readonly warnings?: readonly string[];
  pause(): void;
  resume(): void;
  /** Stops delivering, after the batch in progress; commits still work. */
  stop(): Promise<void>;
  /** Releases connections; nothing works after it. */
  close(): Promise<void>;
}
