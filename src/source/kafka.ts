import type { Admin, Consumer, IHeaders, Kafka, KafkaConfig, Producer, SASLOptions } from 'kafkajs';
import type { Logger } from '../util/logger.js';
import { IoError } from '../errors/index.js';
import { toOffset, type OffsetMap } from './offsets.js';
import type { Letter, PartitionHooks, Source, SourceRecord } from './source.js';
import { kafkaClient, unreachable } from './kafka-client.js';

/*
 * The Kafka edge (kafkajs). Offsets are committed by the daemon after a checkpoint holds
 * them, never by kafkajs: autoCommit is off. kafkajs fetches from its *resolved* offset,
 * so every delivered batch is resolved as soon as its records are in the pipeline's FIFO;
 * what kafkajs redelivers after a rebalance (it rewinds to the last commit) the pipeline
 * skips by offset.
 *
 *   broker ─fetch─▶ eachBatch ─▶ onRecords (decode, queue; returns once the fetch before is scored)
 *                      │  heartbeat() every second while onRecords runs
 *                      └─▶ resolveOffset(last)          commit(offsets) ◀─ after checkpoint
 *
 * kafkajs has no partitions-revoked callback: each GROUP_JOIN's assignment is compared with
 * the last one. Lost partitions are revoked at once; gained ones stay paused until their
 * state is restored (PartitionHooks), then seek to the offset it holds and resume. Nothing
 * seeks to an offset this member held before: after a partition came back, another
 * member may have counted past it (issue 17: +18-33% double counting).
 */

export interface KafkaSourceOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly groupId: string;
  readonly topic: string;
  readonly fromBeginning: boolean;
  readonly ssl?: KafkaConfig['ssl'];
  readonly sasl?: SASLOptions;
  readonly sessionTimeoutMs?: number;
  readonly deadLetterTopic?: string;
  readonly logger: Logger;
}

export interface RecordsHandler {
  (records: SourceRecord[]): Promise<void>;
}

export class KafkaSource implements Source {
  readonly #options: KafkaSourceOptions;
  readonly #kafka: Kafka;
  readonly #consumer: Consumer;
  readonly #producer: Producer | null;
  #joined = false;
  /** this member's partitions, as of the last group join */
  #assigned: number[] = [];
  #stopping = false;
  /** partition restores in progress: not ready until its partitions are read again */
  #restoring = 0;
  #admin: Admin | null = null;
  readonly #highWatermarks = new Map<number, number>();
  #warnings: string[] = [];
  #checkedAt = 0;

  private constructor(options: KafkaSourceOptions) {
    this.#options = options;
    this.#kafka = kafkaClient(options);
    this.#consumer = this.#kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3_000,
      // How long a fetch waits for data, and how long a paused consumer sleeps between
      // fetch rounds; consumer.stop() waits for either. kafkajs's 5 s default made every
      // SIGTERM (which pauses first) take 5 s more; 1 s costs an idle broker one
      // request a second.
      maxWaitTimeInMs: 1_000,
      // kafkajs fetches a partition again only once the previous fetch's batch is handled
      // (onRecords returns once the fetch before it is scored: one fetch ahead). Its 1 MiB
      // default is ~330 digits of 3 KiB, five 64-sample batches (and one message of a
      // 224x224x3 float32 input):
      // bench/daemon.ts measured 2,480 -> 3,857 samples/s with 8 MiB.
      maxBytesPerPartition: 8 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
      // Retry forever with back-off: a broker outage must not kill the daemon.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    this.#producer = options.deadLetterTopic ? this.#kafka.producer({ allowAutoTopicCreation: false }) : null;
    const events = this.#consumer.events;
    this.#consumer.on(events.GROUP_JOIN, (e) => {
      this.#joined = true;
      this.#assigned = e.payload.memberAssignment[options.topic] ?? [];
      options.logger.info({ partitions: this.#assigned }, 'joined consumer group');
    });
    this.#consumer.on(events.CRASH, (e) => {
      this.#joined = false;
      options.logger.warn({ err: e.payload.error, restart: e.payload.restart }, 'Kafka consumer crashed; kafkajs restarts it');
    });
    this.#consumer.on(events.DISCONNECT, () => {
      this.#joined = false;
    });
    this.#consumer.on(events.REQUEST_TIMEOUT, () => {
      options.logger.debug({}, 'Kafka request timed out');
    });
  }

  static async create(options: KafkaSourceOptions): Promise<KafkaSource> {
    const source = new KafkaSource(options);
    try {
      await source.#consumer.connect();
      await source.#producer?.connect();
      // Connected once: each partition assignment reads the group's commits through it.
      source.#admin = source.#kafka.admin();
      await source.#admin.connect();
      await source.#consumer.subscribe({ topics: [options.topic], fromBeginning: options.fromBeginning });
      if (options.deadLetterTopic !== undefined) await source.#checkDeadLetterTopic(options.deadLetterTopic);
    } catch (error) {
      throw unreachable(options.brokers, error);
    }
    return source;
  }

  get topic(): string {
    return this.#options.topic;
  }

  /**
   * A missing dead-letter topic is named at start (the producer does not create topics):
   * rejects are still counted and skipped, their letters counted failed.
   */
  async #checkDeadLetterTopic(topic: string): Promise<boolean> {
    this.#checkedAt = Date.now();
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      const exists = (await admin.listTopics()).includes(topic);
      if (!exists && this.#warnings.length === 0) {
        const warning = `dead-letter topic ${topic} does not exist: rejected messages are counted and skipped, not kept (create it, or remove source.deadLetterTopic)`;
        this.#options.logger.warn({ topic }, warning);
        this.#warnings = [warning];
      }
      if (exists && this.#warnings.length > 0) {
        this.#options.logger.info({ topic }, 'dead-letter topic exists now: rejected messages are kept again');
        this.#warnings = [];
      }
      return exists;
    } finally {
      await admin.disconnect();
    }
  }

  /** True while the consumer is in its group and has not crashed since. */
  get ready(): boolean {
    return this.#joined && this.#restoring === 0;
  }

  /**
   * Starts consuming. On every group join, lost partitions are revoked and gained ones are
   * paused, restored through `partitions.assigned`, sought to the offset it gives, and resumed.
   */
  async start(onRecords: RecordsHandler, partitions: PartitionHooks, onLogEnd?: (partition: number, logEnd: number) => void): Promise<void> {
    const topic = this.#options.topic;
    let owned: number[] = [];
    let member = '';
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, (e) => {
      const now = e.payload.memberAssignment[topic] ?? [];
      // A new member id: this member left the group meanwhile (session expired, kafkajs
      // restarted the consumer), so another may have owned any partition since: all are
      // given up and claimed again, none kept.
      const rejoined = e.payload.memberId !== member;
      member = e.payload.memberId;
      const lost = rejoined ? owned : owned.filter((p) => !now.includes(p));
      const gained = rejoined ? now : now.filter((p) => !owned.includes(p));
      owned = now;
      if (lost.length > 0) partitions.revoked(lost);
      if (gained.length === 0) return;
      // Synchronous in the event: the fetch that follows the join already skips them.
      this.#consumer.pause([{ topic, partitions: gained }]);
      void this.#restore(gained, partitions, () => owned);
    });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (!isRunning() || isStale()) return;
        const logEnd = toOffset(batch.highWatermark);
        this.#highWatermarks.set(batch.partition, logEnd);
        onLogEnd?.(batch.partition, logEnd);
        const records: SourceRecord[] = batch.messages.map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: toOffset(m.offset),
          value: m.value,
          key: m.key,
          timestamp: Number(m.timestamp),
          ...(m.headers && Object.keys(m.headers).length > 0 ? { headers: textHeaders(m.headers) } : {}),
        }));
        const beat = setInterval(() => void heartbeat().catch(() => undefined), 1_000);
        try {
          await onRecords(records);
        } finally {
          clearInterval(beat);
        }
        if (batch.messages.length > 0) resolveOffset(batch.lastOffset());
        await heartbeat().catch(() => undefined);
      },
    });
  }

  async #restore(gained: readonly number[], partitions: PartitionHooks, owned: () => readonly number[]): Promise<void> {
    const topic = this.#options.topic;
    this.#restoring += 1;
    const offsets = await partitions
      .assigned(gained)
      .catch((err: unknown) => {
        this.#options.logger.error({ err, partitions: gained }, 'partition state not restored; they resume from the group\'s committed offsets');
        return new Map<number, number>();
      })
      .finally(() => {
        this.#restoring -= 1;
      });
    // A partition lost again meanwhile is the next owner's; a stopping member reads nothing more.
    const still = gained.filter((p) => owned().includes(p));
    if (this.#stopping || still.length === 0) return;
    for (const partition of still) {
      const offset = offsets.get(partition);
      if (offset !== undefined) this.#consumer.seek({ topic, partition, offset: String(offset) });
    }
    this.#consumer.resume([{ topic, partitions: still }]);
  }

  /** The group's committed offsets of `partitions` (next to read; null: none), read from the broker now. */
  readonly committed = async (partitions: readonly number[]): Promise<ReadonlyMap<number, number | null>> => {
    const { groupId, topic } = this.#options;
    const fetched = (await this.#admin!.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
    return new Map(partitions.map((p) => {
      const raw = fetched.find((f) => f.partition === p)?.offset;
      return [p, raw === undefined || Number(raw) < 0 ? null : toOffset(raw)];
    }));
  };

  /** Commits offsets (next offset to read) that a checkpoint now holds. */
  async commit(offsets: OffsetMap): Promise<void> {
    const topic = this.#options.topic;
    const entries = Object.entries(offsets[topic] ?? {})
      .filter(([partition]) => this.#assigned.includes(Number(partition)))
      .map(([partition, offset]) => ({ topic, partition: Number(partition), offset: String(offset) }));
    if (entries.length > 0) await this.#consumer.commitOffsets(entries);
  }

  /** Records behind the end of each assigned partition, given the offsets applied so far. */
  lag(applied: OffsetMap): { partition: number; lag: number }[] {
    const done = applied[this.#options.topic] ?? {};
    return this.#assigned.map((partition) => {
      const end = this.#highWatermarks.get(partition) ?? 0;
      return { partition, lag: Math.max(0, end - (done[String(partition)] ?? 0)) };
    });
  }

  /**
   * Sends letters to the dead-letter topic as one produce request; see dead-letter.ts for the
   * queue. While the topic is missing it fails at once (the producer would retry metadata
   * for seconds per request), and looks again at most every 30 s.
   */
  readonly deadLetter = async (letters: readonly Letter[]): Promise<void> => {
    const producer = this.#producer;
    const topic = this.#options.deadLetterTopic;
    if (!producer || topic === undefined || letters.length === 0) return;
    if (this.#warnings.length > 0) {
      if (Date.now() - this.#checkedAt < 30_000 || !(await this.#checkDeadLetterTopic(topic))) throw new IoError(this.#warnings[0]!);
    }
    await producer.send({ topic, messages: letters.map((l) => ({ value: l.value, headers: { ...l.headers } })) });
  };

  get warnings(): readonly string[] {
    return this.#warnings;
  }

  pause(): void {
    this.#stopping = true;
    this.#consumer.pause([{ topic: this.#options.topic }]);
  }

  resume(): void {
    this.#consumer.resume([{ topic: this.#options.topic }]);
  }

  async stop(): Promise<void> {
    await this.#consumer.stop();
  }

  async close(): Promise<void> {
    await this.#admin?.disconnect();
    await this.#consumer.disconnect();
    await this.#producer?.disconnect();
  }
}

/** Kafka headers as text: a header sent twice keeps its last value (CloudEvents attributes are single). */
function textHeaders(headers: IHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[key] = last.toString();
  }
  return out;
}
