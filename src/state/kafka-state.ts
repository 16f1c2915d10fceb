import { randomBytes } from 'node:crypto';
import kafkajs, { type Admin, type Consumer, type Kafka, type Producer } from 'kafkajs';
import { ConfigError, IoError } from '../errors/index.js';
import { kafkaClient, unreachable, type KafkaClientOptions } from '../source/kafka-client.js';

/*
 * Per-partition state in a compacted Kafka topic, written in the same transaction as the
 * partition's offset commit (Kafka Streams' changelog, for one daemon's window sums):
 *
 *   claim(p):  producer `ckawatch-<group>-<topic>-<p>` begins and drops a transaction: its
 *              InitProducerId fences the previous owner and aborts what it left open
 *              ─▶ reader (read_committed) caught up to the state partition's end ─▶ latest value
 *   write(p):  begin ─▶ send(state record, key <group>/<topic>/<p>) ─▶ sendOffsets(group, p: next)
 *              ─▶ commit: the state and the offset it holds become visible together, or neither
 *
 * kafkajs has no KIP-447 fencing by consumer generation, hence one transactional id per
 * input partition: whoever claims a partition last owns its writes. A fenced producer's
 * write says 'fenced' and the caller gives the partition up.
 *
 * The reader is one consumer of the whole state topic in a group of its own (kafkajs
 * cannot read without one), from the beginning, keeping the latest value of this group's
 * and topic's keys only; it is paused between claims. Input partition p is state partition p mod the state topic's
 * partitions (one each when the daemon creates it).
 */

export interface StateTopicOptions extends KafkaClientOptions {
  readonly stateTopic: string;
  readonly groupId: string;
  readonly topic: string;
  /** the state topic's replication factor when the daemon creates it; absent: the broker's default */
  readonly replicationFactor?: number | undefined;
  /** how long a claim waits for the reader to reach the end of the state partition */
  readonly claimTimeoutMs?: number;
}

export type WriteResult = 'written' | 'fenced';

const FENCED = new Set(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);

export class StateTopic {
  readonly #o: StateTopicOptions;
  readonly #kafka: Kafka;
  readonly #admin: Admin;
  readonly #reader: Consumer;
  readonly #producers = new Map<number, Producer>();
  /** latest value per key of this group and topic (null: a tombstone) */
  readonly #latest = new Map<string, Buffer | null>();
  /** next offset the reader will read, per state partition */
  readonly #position = new Map<number, number>();
  #partitions = 1;
  /** claims reading now: the reader fetches only while there is one (idle, it would read every checkpoint of every replica) */
  #reading = 0;

  private constructor(options: StateTopicOptions) {
    this.#o = options;
    this.#kafka = kafkaClient(options, { retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 5_000 } });
    this.#admin = this.#kafka.admin();
    this.#reader = this.#kafka.consumer({ groupId: `${options.groupId}.state-reader.${randomBytes(6).toString('hex')}`, maxWaitTimeInMs: 250, readUncommitted: false });
  }

  /** Creates the state topic (or checks it is compacted), and starts reading it. */
  static async open(options: StateTopicOptions): Promise<StateTopic> {
    const state = new StateTopic(options);
    try {
      await state.#admin.connect();
    } catch (error) {
      throw unreachable(options.brokers, error);
    }
    const [input] = (await state.#admin.fetchTopicMetadata({ topics: [options.topic] })).topics;
    state.#partitions = await state.#ensureTopic(input?.partitions.length ?? 1);
    await state.#startReader();
    return state;
  }

  /** The record key of input partition `partition`: scoped by group and topic, so no other group or topic ever reads it. */
  key(partition: number): string {
    return `${this.#o.groupId}/${this.#o.topic}/${partition}`;
  }

  async #ensureTopic(inputPartitions: number): Promise<number> {
    const topic = this.#o.stateTopic;
    if (!(await this.#admin.listTopics()).includes(topic)) {
      await this.#admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic,
            numPartitions: inputPartitions,
            ...(this.#o.replicationFactor === undefined ? {} : { replicationFactor: this.#o.replicationFactor }),
            configEntries: [
              { name: 'cleanup.policy', value: 'compact' },
              // Records of a closed segment are compacted; a short segment keeps what a
              // claim reads from the beginning near one record per partition.
              { name: 'segment.ms', value: String(10 * 60_000) },
              { name: 'min.cleanable.dirty.ratio', value: '0.1' },
            ],
          },
        ],
      }).catch((error: unknown) => {
        // Another replica created it first: fine, it is checked below.
        if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
      });
    }
    const described = await this.#admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['cleanup.policy'] }] });
    const policy = described.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue ?? '';
    if (!policy.split(',').includes('compact')) {
      throw new ConfigError(`checkpoint.stateTopic ${topic} has cleanup.policy=${policy}; the state topic must be compacted (cleanup.policy=compact), or its latest records are deleted with age`);
    }
    const [meta] = (await this.#admin.fetchTopicMetadata({ topics: [topic] })).topics;
    return Math.max(1, meta?.partitions.length ?? 1);
  }

  async #startReader(): Promise<void> {
    const prefix = `${this.#o.groupId}/${this.#o.topic}/`;
    await this.#reader.connect();
    await this.#reader.subscribe({ topics: [this.#o.stateTopic], fromBeginning: true });
    // Batches of control records only (transaction markers) reach no eachBatch: their end is heard here.
    this.#reader.on(this.#reader.events.END_BATCH_PROCESS, (e) => this.#advance(e.payload.partition, Number(e.payload.lastOffset) + 1));
    await this.#reader.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const key = m.key?.toString() ?? '';
          if (key.startsWith(prefix)) this.#latest.set(key, m.value);
        }
        this.#advance(batch.partition, Number(batch.lastOffset()) + 1);
      },
    });
    this.#reader.pause([{ topic: this.#o.stateTopic }]);
  }

  #advance(partition: number, next: number): void {
    if (next > (this.#position.get(partition) ?? 0)) this.#position.set(partition, next);
  }

  /**
   * Makes this member the only writer of `partition`'s state (the previous owner is fenced)
   * and returns its latest state value (parsed JSON), or null when there is none.
   */
  async claim(partition: number): Promise<unknown> {
    await this.release(partition);
    const producer = this.#kafka.producer({
      transactionalId: `ckawatch-${this.#o.groupId}-${this.#o.topic}-${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    // An empty transaction: InitProducerId with the transactional id, and no EndTxn.
    await (await producer.transaction()).abort();
    this.#producers.set(partition, producer);
    this.#reading += 1;
    this.#reader.resume([{ topic: this.#o.stateTopic }]);
    try {
      await this.#caughtUp(partition % this.#partitions);
    } finally {
      this.#reading -= 1;
      if (this.#reading === 0) this.#reader.pause([{ topic: this.#o.stateTopic }]);
    }
    const value = this.#latest.get(this.key(partition));
    return value ? (JSON.parse(value.toString('utf8')) as unknown) : null;
  }

  async #caughtUp(statePartition: number): Promise<void> {
    const timeout = this.#o.claimTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeout;
    const offsets = await this.#admin.fetchTopicOffsets(this.#o.stateTopic);
    const end = Number(offsets.find((o) => o.partition === statePartition)?.high ?? 0);
    while ((this.#position.get(statePartition) ?? 0) < end) {
      if (Date.now() > deadline) throw new IoError(`state topic ${this.#o.stateTopic} partition ${statePartition}: not read to its end (${end}) within ${timeout} ms`, { retriable: true });
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Writes `partition`'s state and commits its next offset in one transaction. */
  async write(partition: number, value: unknown, next: number): Promise<WriteResult> {
    const producer = this.#producers.get(partition);
    if (producer === undefined) return 'fenced';
    const txn = await producer.transaction();
    try {
      await txn.send({
        topic: this.#o.stateTopic,
        compression: kafkajs.CompressionTypes.GZIP,
        messages: [{ key: this.key(partition), value: JSON.stringify(value), partition: partition % this.#partitions }],
      });
      await txn.sendOffsets({ consumerGroupId: this.#o.groupId, topics: [{ topic: this.#o.topic, partitions: [{ partition, offset: String(next) }] }] });
      await txn.commit();
      return 'written';
    } catch (error) {
      await txn.abort().catch(() => undefined);
      if (isFenced(error)) {
        await this.release(partition);
        return 'fenced';
      }
      throw error;
    }
  }

  /** Stops writing `partition` (it went to another member). */
  async release(partition: number): Promise<void> {
    const producer = this.#producers.get(partition);
    this.#producers.delete(partition);
    await producer?.disconnect().catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#producers.keys()].map((p) => this.release(p)));
    await this.#reader.disconnect().catch(() => undefined);
    await this.#admin.disconnect().catch(() => undefined);
  }
}

function isFenced(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = (e as { cause?: unknown; originalError?: unknown }).originalError ?? e.cause) {
    if (FENCED.has((e as { type?: string }).type ?? '')) return true;
  }
  return false;
}
