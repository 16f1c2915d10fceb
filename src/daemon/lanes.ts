import type { SourceRecord } from '../source/source.js';
import type { WindowSetSnapshot } from '../window/snapshot.js';
import { createWindowSet, type WindowSet } from '../window/window-set.js';
import { resolveSpecs, type WindowSpec } from '../window/spec.js';
import { Pipeline, type Counters, type Decoded, type PipelineDeps } from './pipeline.js';

/*
 * The state of each input partition, kept apart so that it can move with the partition
 * (issue 17). A lane is one partition's pipeline (its FIFO, so its batches are runs of
 * that partition's consecutive offsets), window sums, counters and next offset:
 *
 *   records ─by partition─▶ lane p: Pipeline ─▶ its own WindowSet
 *                                     │ counters, offset, partial record
 *   /metrics, rows ◀── Σ over the lanes this member owns now
 *   checkpoint ◀── one LaneState per lane, each taken between that lane's batches
 *
 * A lane added for a partition starts from the state its store restored (or empty); a lane
 * dropped (the partition went to another member) leaves the export at once, and a batch
 * it still finishes is neither exported nor written. A partition's sums therefore depend
 * on its records alone, whichever member reads them.
 */

/** What one partition's state holds: restored into a lane, written from one. */
export interface LaneState {
  readonly counters: Counters;
  /** next offset to read; absent: nothing applied yet */
  readonly offset?: number | undefined;
  /** the next record's samples already applied, when a batch split it (partial.ts) */
  readonly partial?: { readonly offset: number; readonly applied: number } | undefined;
  /** absent: the windows start empty (written for another model, layers or reference) */
  readonly windows?: WindowSetSnapshot | undefined;
}

interface Lane {
  readonly partition: number;
  readonly pipeline: Pipeline;
  readonly windows: WindowSet;
  /** false once dropped: what it still applies is neither exported nor written */
  readonly live: () => boolean;
  readonly retire: () => void;
}

export interface LanesOptions {
  readonly topic: string;
  readonly windows: readonly WindowSpec[];
  readonly layers: readonly string[];
  readonly width: number;
  /** a lane's pipeline edges, adding to `windows`; `live()` is false once the lane is dropped */
  readonly deps: (windows: WindowSet, live: () => boolean) => PipelineDeps;
  /** records of a partition with no lane make one (file and demo sources, which have no group) */
  readonly lazy: boolean;
  /** the set of lanes changed: exported counters are recomputed from the lanes */
  readonly onChange?: () => void;
}

export const emptyCounters = (): Counters => ({ samples: {}, rejected: {}, batches: 0, unscored: {}, scored: {} });

export class Lanes {
  readonly #o: LanesOptions;
  readonly #lanes = new Map<number, Lane>();
  readonly view: Pick<WindowSet, 'windows' | 'keys' | 'sum' | 'droppedLate'>;

  constructor(options: LanesOptions) {
    this.#o = options;
    this.view = {
      windows: resolveSpecs(options.windows),
      keys: options.layers,
      sum: (window, layer, now) => {
        const out = new Float64Array(options.width);
        for (const lane of this.#lanes.values()) {
          const s = lane.windows.sum(window, layer, now);
          for (let i = 0; i < out.length; i++) out[i]! += s[i]!;
        }
        return out;
      },
      droppedLate: () => options.windows.map((w) => ({ window: w.name, count: this.#sum((l) => l.windows.droppedLate().find((d) => d.window === w.name)?.count ?? 0) })),
    };
  }

  get topic(): string {
    return this.#o.topic;
  }

  /** The partitions whose sums are exported now. */
  get partitions(): number[] {
    return [...this.#lanes.keys()].sort((a, b) => a - b);
  }

  has(partition: number): boolean {
    return this.#lanes.has(partition);
  }

  /** Makes partition's lane from `state` (null: empty); a lane it had is replaced. */
  add(partition: number, state: LaneState | null): void {
    this.#drop(partition);
    const windows = createWindowSet(this.#o.windows, this.#o.layers, this.#o.width);
    if (state?.windows) windows.restore(state.windows);
    let live = true;
    const topic = this.#o.topic;
    const restored = state
      ? {
          counters: state.counters,
          offsets: state.offset === undefined ? {} : { [topic]: { [String(partition)]: state.offset } },
          partial: state.partial ? { [topic]: { [String(partition)]: state.partial } } : undefined,
        }
      : undefined;
    const pipeline = new Pipeline(this.#o.deps(windows, () => live), restored);
    this.#lanes.set(partition, { partition, windows, pipeline, live: () => live, retire: () => void (live = false) });
    this.#o.onChange?.();
  }

  /** The partitions went to another member: their sums leave the export now. */
  drop(partitions: readonly number[]): void {
    for (const p of partitions) this.#drop(p);
    if (partitions.length > 0) this.#o.onChange?.();
  }

  #drop(partition: number): void {
    const lane = this.#lanes.get(partition);
    if (lane === undefined) return;
    lane.retire();
    this.#lanes.delete(partition);
  }

  /** Routes records to their partition's lane, in order; records of a partition not owned are dropped. */
  accept(records: readonly SourceRecord[], decoded?: readonly Decoded[]): void {
    const byPartition = new Map<number, { records: SourceRecord[]; decoded: Decoded[] }>();
    records.forEach((record, i) => {
      const group = byPartition.get(record.partition) ?? { records: [], decoded: [] };
      group.records.push(record);
      if (decoded) group.decoded.push(decoded[i]!);
      byPartition.set(record.partition, group);
    });
    for (const [partition, group] of byPartition) {
      if (!this.#lanes.has(partition) && this.#o.lazy) this.add(partition, null);
      this.#lanes.get(partition)?.pipeline.accept(group.records, decoded ? group.decoded : undefined);
    }
  }

  /** Runs every lane's full batches (see Pipeline.process), lane after lane. */
  async process(options: { flush: boolean } = { flush: false }): Promise<number> {
    let batches = 0;
    for (const lane of [...this.#lanes.values()]) batches += await lane.pipeline.process(options);
    return batches;
  }

  async flushIdle(maxWaitMs: number): Promise<number> {
    let left = 0;
    for (const lane of [...this.#lanes.values()]) left += await lane.pipeline.flushIdle(maxWaitMs);
    return left;
  }

  /** A partition whose log ends below its state (Pipeline.resetIfAhead). */
  resetIfAhead(partition: number, logEnd: number): number | null {
    return this.#lanes.get(partition)?.pipeline.resetIfAhead(this.#o.topic, partition, logEnd) ?? null;
  }

  get pendingSamples(): number {
    return this.#sum((l) => l.pipeline.pendingSamples);
  }

  get duplicates(): number {
    return this.#sum((l) => l.pipeline.duplicates);
  }

  /** Offsets applied so far, of the partitions owned. */
  get offsets(): Record<string, Record<string, number>> {
    const out: Record<string, number> = {};
    for (const lane of this.#lanes.values()) {
      const offset = lane.pipeline.offsets[this.#o.topic]?.[String(lane.partition)];
      if (offset !== undefined) out[String(lane.partition)] = offset;
    }
    return { [this.#o.topic]: out };
  }

  /** The owned lanes' counters added up: what ckawatch_samples_total and the other counters export. */
  counters(): Counters {
    const total = emptyCounters();
    for (const lane of this.#lanes.values()) addCounters(total, lane.pipeline.counters);
    return total;
  }

  /** Each owned lane's state, each taken between that lane's batches. */
  async states(): Promise<{ partition: number; state: LaneState }[]> {
    const topic = this.#o.topic;
    const out: { partition: number; state: LaneState }[] = [];
    for (const lane of [...this.#lanes.values()]) {
      const state = await lane.pipeline.exclusive((s) => ({
        counters: structuredClone(s.counters),
        offset: s.offsets[topic]?.[String(lane.partition)],
        partial: s.partial?.[topic]?.[String(lane.partition)],
        windows: lane.windows.snapshot(),
      }));
      if (lane.live()) out.push({ partition: lane.partition, state });
    }
    return out;
  }

  /** Runs `fn` with every lane between batches (a new reference: windows restart empty). */
  exclusive(fn: (windows: readonly WindowSet[]) => Promise<void> | void): Promise<void> {
    const lanes = [...this.#lanes.values()];
    const nest = (i: number): Promise<void> | void =>
      i === lanes.length ? fn(lanes.map((l) => l.windows)) : lanes[i]!.pipeline.exclusive(() => nest(i + 1));
    return Promise.resolve(nest(0));
  }

  #sum(f: (lane: Lane) => number): number {
    let total = 0;
    for (const lane of this.#lanes.values()) total += f(lane);
    return total;
  }
}

export function addCounters(into: Counters, c: Counters): void {
  for (const [topic, n] of Object.entries(c.samples)) into.samples[topic] = (into.samples[topic] ?? 0) + n;
  for (const [topic, reasons] of Object.entries(c.rejected)) {
    const byReason = (into.rejected[topic] ??= {});
    for (const [reason, n] of Object.entries(reasons)) byReason[reason] = (byReason[reason] ?? 0) + n;
  }
  for (const [reason, n] of Object.entries(c.unscored)) into.unscored[reason] = (into.unscored[reason] ?? 0) + n;
  for (const [topic, n] of Object.entries(c.scored ?? {})) into.scored[topic] = (into.scored[topic] ?? 0) + n;
  into.batches += c.batches;
}
