import { hostname } from 'node:os';
import { basename } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { kafkaOptions } from '../source/kafka-options.js';
import type { PartitionHooks, Source } from '../source/source.js';
import { StateTopic } from '../state/kafka-state.js';
import { withDeadline } from '../util/deadline.js';
import type { Logger } from '../util/logger.js';
import { CheckpointStore, commitHeld, laneStateSchema, type CheckpointBody, type CheckpointParts, type Restored } from './checkpointing.js';
import type { Lanes, LaneState } from './lanes.js';
import type { PairedMode } from './paired.js';

/*
 * Which partitions' state this member holds, and where that state lives:
 *
 *   assigned(ps) ─▶ store.claim(ps) ─▶ the group's committed offsets ─▶ per partition:
 *                   state at or past the commit ─▶ lane from it, seek to its offset
 *                   state behind the commit     ─▶ another member counted past it: lane empty,
 *                                                  read from the commit (never re-counted)
 *                   no state                    ─▶ lane empty, read from the commit
 *   revoked(ps)  ─▶ lanes dropped (their sums leave the export), store released
 *   checkpoint   ─▶ file: one file of every lane, then the offsets committed
 *                   kafka: per lane, one transaction of its state record and its offset
 *
 * With the file store a member that dies for good takes its partitions' sums with it
 * (their new owners start them empty at the commit); with the Kafka store they move.
 */

/** Where partition states are claimed from and written to. */
export interface PartitionStore {
  /** calibration and bandwidths restored from a checkpoint file, for start-up (file store only) */
  readonly restored: Restored | null;
  /** the partitions' states (absent: none); Kafka: after fencing their previous owner */
  claim(partitions: readonly number[]): Promise<ReadonlyMap<number, LaneState>>;
  release(partitions: readonly number[]): void;
  /** writes every lane's state and commits the offsets it holds; false (logged) when it could not */
  save(parts: Omit<CheckpointParts, 'scope'>, withinMs: number, source: Source | null): Promise<boolean>;
  close(): Promise<void>;
}

/** The group and topic a state belongs to: state of another scope is never restored. */
export function stateScope(config: Config, source: Source | undefined): CheckpointBody['scope'] {
  if (source) return { topic: source.topic };
  if (config.source.kind === 'kafka') return { topic: config.source.topic, group: config.source.groupId };
  return { topic: `file:${basename(config.source.path)}` };
}

interface OpenOptions {
  readonly identity: CheckpointParts['identity'];
  readonly scope: CheckpointBody['scope'];
  /** Calibrator.windowsKey: windows made under another are not restored */
  readonly referenceSha256: () => string;
  readonly paired: PairedMode | null;
  readonly now: () => number;
  readonly logger: Logger;
}

export async function openPartitionStore(config: Config, o: OpenOptions): Promise<PartitionStore> {
  if (config.checkpoint.store === 'kafka' && config.source.kind === 'kafka') {
    const source = kafkaOptions(config.source, o.logger);
    const state = await StateTopic.open({
      ...source,
      stateTopic: config.checkpoint.stateTopic,
      replicationFactor: config.checkpoint.stateReplicationFactor,
    });
    return new KafkaPartitionStore(state, o);
  }
  const name = `ckawatch-${config.checkpoint.instanceId ?? hostname()}`;
  const store = new CheckpointStore({ dir: config.checkpoint.dir, name, now: o.now, logger: o.logger });
  const restored = await store.restore(o.identity, o.scope, o.referenceSha256(), o.paired);
  // The last state written of every partition this member held: what it claims back after a
  // rejoin (the commit then decides whether it still applies).
  const latest = new Map(restored?.partitions ?? []);
  return {
    restored,
    claim: async (partitions) => new Map(partitions.flatMap((p) => (latest.has(p) ? [[p, latest.get(p)!] as const] : []))),
    release: () => undefined,
    save: async (parts, withinMs, source) => {
      const body = await store.write({ ...parts, scope: o.scope }, latest);
      if (body === null) return false;
      for (const { partition, ...state } of body.partitions) latest.set(partition, state);
      if (source) await commitHeld(source, body.offsets, withinMs, o.logger);
      return true;
    },
    close: async () => undefined,
  };
}

/** What the state topic holds for one input partition. */
const stateRecordSchema = laneStateSchema.extend({
  format: z.literal(1),
  group: z.string(),
  topic: z.string(),
  partition: z.number().int().nonnegative(),
  modelSha256: z.string(),
  layers: z.array(z.string()),
  referenceSha256: z.string(),
});

class KafkaPartitionStore implements PartitionStore {
  readonly restored = null;
  readonly #state: StateTopic;
  readonly #o: OpenOptions;
  /** per partition, the offset and split record last written or restored: an unchanged state is not written again */
  readonly #written = new Map<number, string>();
  /** per partition, bumped by every claim and release: a write refused after the partition moved on drops nothing newer */
  readonly #claims = new Map<number, number>();

  constructor(state: StateTopic, options: OpenOptions) {
    this.#state = state;
    this.#o = options;
  }

  async claim(partitions: readonly number[]): Promise<ReadonlyMap<number, LaneState>> {
    const out = new Map<number, LaneState>();
    await Promise.all(
      partitions.map(async (p) => {
        this.#bump(p);
        const value = await this.#state.claim(p);
        if (value === null) return;
        const parsed = stateRecordSchema.safeParse(value);
        if (!parsed.success) {
          this.#o.logger.warn({ partition: p, detail: parsed.error.issues[0]?.message }, 'state record not understood: the partition starts empty at the group\'s commit');
          return;
        }
        const { counters, offset, partial, windows, modelSha256, layers, referenceSha256 } = parsed.data;
        const same = modelSha256 === this.#o.identity.modelSha256 && referenceSha256 === this.#o.referenceSha256() && layers.join('\n') === this.#o.identity.layers.join('\n');
        if (!same) this.#o.logger.warn({ partition: p }, 'state record written for another model, layers, reference, or reference.scheme, pool, sketchWidth or seed: its windows start empty; counters and offset kept');
        out.set(p, { counters, offset, partial, windows: same ? (windows as LaneState['windows']) : undefined });
        this.#written.set(p, writtenKey(offset, partial));
      }),
    );
    return out;
  }

  release(partitions: readonly number[]): void {
    for (const p of partitions) {
      this.#bump(p);
      this.#written.delete(p);
      void this.#state.release(p);
    }
  }

  async save(parts: Omit<CheckpointParts, 'scope'>, withinMs: number): Promise<boolean> {
    const { lanes } = parts;
    const states = (await lanes.states()).filter(({ partition, state }) => state.offset !== undefined && this.#written.get(partition) !== writtenKey(state.offset, state.partial));
    const write = async (partition: number, state: LaneState): Promise<void> => {
      const record = { format: 1, group: this.#o.scope.group, topic: lanes.topic, partition, ...this.#o.identity, referenceSha256: this.#o.referenceSha256(), ...state };
      const claim = this.#claims.get(partition);
      const result = await this.#state.write(partition, record, state.offset!);
      if (result === 'fenced' && this.#claims.get(partition) !== claim) return; // released or claimed again meanwhile
      if (result === 'fenced') {
        this.#o.logger.warn({ partition }, 'another member claimed the partition: its state here is dropped');
        lanes.drop([partition]);
        return;
      }
      this.#written.set(partition, writtenKey(state.offset, state.partial));
    };
    const all = Promise.all(states.map(({ partition, state }) => write(partition, state)));
    try {
      if ((await withDeadline(all, withinMs, () => undefined)) === 'late') this.#o.logger.warn({ waitedMs: withinMs }, 'state transactions still pending at shutdown; the last committed ones hold');
      return true;
    } catch (err) {
      this.#o.logger.error({ err: (err as Error).message }, 'partition state not written; offsets not committed; still serving');
      return false;
    }
  }

  close(): Promise<void> {
    return this.#state.close();
  }

  #bump(partition: number): void {
    this.#claims.set(partition, (this.#claims.get(partition) ?? 0) + 1);
  }
}

function writtenKey(offset: number | undefined, partial: LaneState['partial']): string {
  return `${offset}/${partial?.offset ?? ''}/${partial?.applied ?? ''}`;
}

/**
 * The source's partition hooks over `lanes`: a partition's state is restored when it is
 * assigned unless the group's commit is past it, and dropped at once when it is revoked.
 */
export function partitionHooks(lanes: Lanes, store: PartitionStore, source: Source, logger: Logger): PartitionHooks {
  // Bumped on every assign and revoke: a restore that finishes after its partition left is dropped.
  const claims = new Map<number, number>();
  const bump = (p: number): number => {
    const next = (claims.get(p) ?? 0) + 1;
    claims.set(p, next);
    return next;
  };
  return {
    revoked(partitions) {
      for (const p of partitions) bump(p);
      lanes.drop(partitions);
      store.release(partitions);
      logger.info({ partitions }, 'partitions revoked: their state left with them');
    },
    async assigned(partitions) {
      const tokens = new Map(partitions.map((p) => [p, bump(p)]));
      const states = await store.claim(partitions);
      const committed = source.committed ? await source.committed(partitions) : new Map<number, number | null>();
      const resume = new Map<number, number>();
      const restored: number[] = [];
      const none: number[] = [];
      const behind: { partition: number; state: number | undefined; committed: number | null }[] = [];
      for (const p of partitions) {
        if (claims.get(p) !== tokens.get(p)) continue;
        const state = states.get(p);
        const commit = committed.get(p) ?? null;
        const usable = state !== undefined && (commit === null || (state.offset ?? 0) >= commit);
        if (state === undefined) none.push(p);
        else if (usable) restored.push(p);
        else behind.push({ partition: p, state: state.offset, committed: commit });
        lanes.add(p, usable ? state : null);
        if (usable && state.offset !== undefined) resume.set(p, state.offset);
      }
      const { topic } = lanes;
      if (restored.length > 0) logger.info({ topic, partitions: restored, offsets: Object.fromEntries(resume) }, 'partition state restored');
      if (none.length > 0) logger.info({ topic, partitions: none }, 'no state of this group and topic for these partitions: they start empty at the group\'s committed offsets');
      if (behind.length > 0) logger.warn({ topic, behind }, 'state behind the group\'s committed offsets (another member counted past it): those partitions start empty at the commit');
      return resume;
    },
  };
}
