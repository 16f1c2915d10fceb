import type { MessageHeaders } from '../decode/types.js';
import type { OffsetMap } from './offsets.js';

/** One message as the sources deliver it: its coordinates and its bytes (null: a tombstone). */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly value: Uint8Array | null;
  /** Kafka headers as UTF-8 text (CloudEvents attributes, content-type), where there are any */
  readonly headers?: MessageHeaders;
  /** Kafka's message key and timestamp (ms), where the source has them: shown with witnesses */
  readonly key?: Uint8Array | null;
  readonly timestamp?: number;
}

/** One message for the dead-letter topic (made by dead-letter.ts), as the Kafka edge sends it. */
export interface Letter {
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

/** Where production samples come from: Kafka, or an in-process stream (file replay, demo). */
export interface Source {
  /** the `topic` label of the samples it yields */
  readonly topic: string;
  /** true while it can deliver (Kafka: in the consumer group) */
  readonly ready: boolean;
  /**
   * Delivers records until stopped. `onRecords` is awaited before more are fetched
   * (backpressure); `resumeFrom` gives the offsets the state holds, to seek to; `onLogEnd`,
   * where the source knows it (Kafka), gets each fetched partition's log end first.
   */
  start(onRecords: (records: SourceRecord[]) => Promise<void>, resumeFrom: () => OffsetMap, onLogEnd?: (partition: number, logEnd: number) => void): Promise<void>;
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
