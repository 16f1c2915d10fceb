import { mkdir } from 'node:fs/promises';
import { z } from 'zod';
import { storedCalibrationSchema, type StoredCalibration } from '../calibration/null-batches.js';
import type { OffsetMap } from '../source/offsets.js';
import type { Source } from '../source/source.js';
import { readCheckpoint, removeStaleTemps, writeCheckpoint } from '../state/checkpoint.js';
import type { Logger } from '../util/logger.js';
import { withDeadline } from '../util/deadline.js';
import type { WindowSetSnapshot } from '../window/snapshot.js';
import type { PairedIdentity, PairedMode } from './paired.js';
import { addCounters, emptyCounters, type Lanes, type LaneState } from './lanes.js';
import type { Counters } from './pipeline.js';
import type { Calibrator, RestoredReference } from './reference.js';

/*
 * The daemon's durable state, in one place:
 *
 *   start-up: checkpoint file ─parse─▶ usable for this model, layers, group and topic?
 *             ─▶ each partition's state (windows, counters, offset), paired windows,
 *             bandwidths and thresholds (each part dropped alone when it no longer applies);
 *             a partition's state becomes a lane when the partition is assigned
 *             (ownership.ts: never behind the group's committed offset)
 *   every checkpoint.schedule and at stop: snapshot between batches ─▶ atomic write ─▶ the
 *             caller commits the offsets it holds (never before the write succeeded)
 */

/**
 * What a checkpoint file holds: each owned partition's state (window sums, counters, next
 * offset: daemon/lanes.ts, each taken between that partition's batches), what they are only
 * valid for (model bytes, layers, RBF bandwidths, the group and topic they were read from),
 * and the counters and offsets added up over the partitions, for people reading the file.
 */
export interface CheckpointBody {
  readonly format: 2;
  readonly modelSha256: string;
  readonly layers: readonly string[];
  readonly gammas: readonly number[];
  /** the consumer group (absent: a source without one) and topic the partitions were read from */
  readonly scope: { readonly topic: string; readonly group?: string | undefined };
  readonly counters: Counters;
  readonly offsets: OffsetMap;
  readonly partitions: readonly (LaneState & { readonly partition: number })[];
  /**
   * The windows' key (Calibrator.windowsKey): a SHA-256 of the reference file and of how batches
   * met it (scheme, pool, sketch width, seed). Under another key windows and bandwidths are dropped.
   * Before 2026-12-05 the file's SHA-256 alone: such checkpoints' windows are dropped once.
   */
  readonly referenceSha256?: string | undefined;
  /** the thresholds in use, with what they are valid for: reused at start-up instead of recalibrating */
  readonly calibration?: StoredCalibration | undefined;
  /** paired mode's windows, valid for this candidate model and these layer pairs */
  readonly paired?: (PairedIdentity & { readonly windows: WindowSetSnapshot }) | undefined;
}

const count = z.number().int().nonnegative();
const offsets = z.record(z.string(), z.record(z.string().regex(/^\d+$/), count));
const countersSchema = z.object({
  samples: z.record(z.string(), count),
  rejected: z.record(z.string(), z.record(z.string(), count)),
  batches: count,
  unscored: z.record(z.string(), count).default({}),
  // absent in states written before sampling (issue 20)
  scored: z.record(z.string(), count).default({}),
});

/** One partition's state as files and the state topic hold it; windows are checked when restored. */
export const laneStateSchema = z.object({
  counters: countersSchema,
  offset: count.optional(),
  partial: z.object({ offset: count, applied: count }).optional(),
  windows: z.unknown().optional(),
});

export const checkpointBodySchema = z.object({
  format: z.literal(2),
  modelSha256: z.string().regex(/^[0-9a-f]{64}$/),
  layers: z.array(z.string()),
  gammas: z.array(z.number().positive()),
  scope: z.object({ topic: z.string(), group: z.string().optional() }),
  counters: countersSchema,
  offsets,
  partitions: z.array(laneStateSchema.extend({ partition: count })),
  referenceSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  // A calibration or paired section that does not parse is dropped, not the whole checkpoint.
  calibration: storedCalibrationSchema.optional().catch(undefined),
  paired: z
    .object({
      candidateSha256: z.string().regex(/^[0-9a-f]{64}$/),
      pairs: z.array(z.object({ layer: z.string(), candidate: z.string() })),
      windows: z.unknown(),
    })
    .optional()
    .catch(undefined),
});

export type RestoreDecision =
  | { readonly use: true; readonly body: CheckpointBody }
  | { readonly use: false; readonly why: string };

/** Whether a checkpoint's body can be resumed by a daemon with this model and these layers. */
export function usableCheckpoint(state: unknown, modelSha256: string, layers: readonly string[]): RestoreDecision {
  if ((state as { format?: unknown } | null)?.format === 1) return { use: false, why: 'it was written before state was kept per partition (format 1)' };
  const parsed = checkpointBodySchema.safeParse(state);
  if (!parsed.success) return { use: false, why: `unexpected content (${parsed.error.issues[0]?.message ?? 'invalid'})` };
  const body = parsed.data as CheckpointBody;
  if (body.modelSha256 !== modelSha256) return { use: false, why: 'it was written for another model file' };
  if (body.layers.length !== layers.length || body.layers.some((l, i) => l !== layers[i])) {
    return { use: false, why: 'it was written for another set of layers' };
  }
  if (body.gammas.length !== layers.length) return { use: false, why: 'its RBF bandwidths do not match the layers' };
  return { use: true, body };
}

/** What the daemon is made of at checkpoint time: read together, between batches. */
export interface CheckpointParts {
  readonly identity: Pick<CheckpointBody, 'modelSha256' | 'layers'>;
  readonly scope: CheckpointBody['scope'];
  readonly lanes: Lanes;
  readonly calibrator: Calibrator;
  readonly paired: PairedMode | null;
}

/** Each partition's state in the file (windows left out when the reference changed), and the reference's. */
export interface Restored {
  readonly partitions: ReadonlyMap<number, LaneState>;
  readonly reference: RestoredReference | null;
}

/** One checkpoint file (`<dir>/<name>.json`), written atomically, read once at start-up. */
export class CheckpointStore {
  readonly #dir: string;
  readonly #name: string;
  readonly #now: () => number;
  readonly #log: Logger;

  constructor(options: { readonly dir: string; readonly name: string; readonly now: () => number; readonly logger: Logger }) {
    this.#dir = options.dir;
    this.#name = options.name;
    this.#now = options.now;
    this.#log = options.logger;
  }

  /**
   * Restores what still applies into `windows` (and paired mode's windows) and returns the
   * counters, offsets and reference state to resume from; null: start fresh.
   */
  async restore(identity: CheckpointParts['identity'], scope: CheckpointBody['scope'], referenceSha256: string, paired: PairedMode | null): Promise<Restored | null> {
    try {
      await mkdir(this.#dir, { recursive: true });
      await removeStaleTemps(this.#dir, this.#name);
    } catch (err) {
      this.#log.error({ err, dir: this.#dir }, 'checkpoint directory is not usable; serving without durable state until it is');
      return null;
    }
    const read = await readCheckpoint(this.#dir, this.#name).catch((err: unknown) => {
      this.#log.error({ err }, 'cannot read the checkpoint; starting fresh');
      return null;
    });
    if (read === null || !read.ok) {
      if (read && read.reason !== 'missing') this.#log.warn({ reason: read.reason, detail: read.detail }, 'ignoring damaged checkpoint');
      return null;
    }
    const decision = usableCheckpoint(read.state, identity.modelSha256, identity.layers);
    if (!decision.use) {
      this.#log.warn({ why: decision.why }, 'ignoring checkpoint');
      return null;
    }
    const body = decision.body;
    if (body.scope.topic !== scope.topic || body.scope.group !== scope.group) {
      // Another group's or topic's sums and offsets would mix with this one's (issue 17).
      this.#log.warn({ checkpoint: body.scope, now: scope }, 'ignoring checkpoint: it holds another consumer group\'s or topic\'s state; starting fresh');
      return null;
    }
    const sameReference = body.referenceSha256 === undefined || body.referenceSha256 === referenceSha256;
    if (!sameReference) {
      // Same decision as a reference change while running: windows restart, the rest goes on.
      this.#log.warn(
        { from: body.referenceSha256, to: referenceSha256 },
        'the reference file, or how batches meet it (reference.scheme, pool, sketchWidth, seed), changed since the checkpoint: its windows and RBF bandwidths are dropped; counters and offsets kept',
      );
    }
    const partitions = new Map(body.partitions.map(({ partition, ...state }) => [partition, sameReference ? state : { ...state, windows: undefined }] as const));
    if (sameReference && paired && body.paired) {
      const same = body.paired.candidateSha256 === paired.candidateSha256 && JSON.stringify(body.paired.pairs) === JSON.stringify(paired.pairs);
      const result = same ? paired.windows.restore(body.paired.windows) : null;
      if (!result?.ok) this.#log.warn({ detail: result?.detail ?? 'another candidate model or other layer pairs' }, 'paired windows not restored');
    }
    this.#log.info({ offsets: body.offsets, writtenAt: read.writtenAt }, 'restored checkpoint');
    return { partitions, reference: sameReference ? { gammas: body.gammas, calibration: body.calibration } : null };
  }

  /** Snapshots `parts` between batches and writes them; the body on success, null (logged) when the write failed. */
  async write(parts: CheckpointParts, carried: ReadonlyMap<number, LaneState> = new Map()): Promise<CheckpointBody | null> {
    const { identity, scope, lanes, calibrator, paired } = parts;
    // The owned partitions' states, and the last known state of every other partition this
    // file held: a checkpoint taken before the group assigned them must not erase them.
    const owned = await lanes.states();
    const states = [...owned, ...[...carried].filter(([p]) => !owned.some((o) => o.partition === p)).map(([partition, state]) => ({ partition, state }))];
    states.sort((a, b) => a.partition - b.partition);
    const counters = emptyCounters();
    const held: Record<string, number> = {};
    for (const { partition, state } of states) {
      addCounters(counters, state.counters);
      if (state.offset !== undefined) held[String(partition)] = state.offset;
    }
    const body: CheckpointBody = {
      format: 2,
      ...identity,
      gammas: calibrator.state.gammas,
      scope,
      counters,
      offsets: { [lanes.topic]: held },
      partitions: states.map(({ partition, state }) => ({ partition, ...state })),
      referenceSha256: calibrator.windowsKey,
      ...(calibrator.stored ? { calibration: calibrator.stored } : {}),
      ...(paired ? { paired: { ...paired.identity, windows: paired.windows.snapshot() } } : {}),
    };
    try {
      await writeCheckpoint(this.#dir, this.#name, body, { now: this.#now });
      return body;
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'checkpoint not written; offsets not committed; still serving');
      return null;
    }
  }
}

/**
 * Commits the offsets a written checkpoint holds, waiting at most `withinMs` (at shutdown:
 * kafkajs retries a commit for as long as a broker outage lasts). A failed or late commit
 * loses nothing: the checkpoint holds the offsets, and the next owner resumes from them.
 */
export async function commitHeld(source: Source, offsets: OffsetMap, withinMs: number, log: Logger): Promise<void> {
  const warn = (err: unknown): void => log.warn({ err }, 'offset commit failed; the checkpoint holds them');
  if (withinMs === Number.POSITIVE_INFINITY) return source.commit(offsets).catch(warn);
  if ((await withDeadline(source.commit(offsets), withinMs, warn)) === 'late') {
    log.warn({ waitedMs: withinMs }, 'offset commit still pending at shutdown; the checkpoint holds the offsets');
  }
}
