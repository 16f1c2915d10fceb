import { mkdir } from 'node:fs/promises';
import { z } from 'zod';
import { storedCalibrationSchema, type StoredCalibration } from '../calibration/null-batches.js';
import { cloneOffsets, type OffsetMap } from '../source/offsets.js';
import type { Source } from '../source/source.js';
import { readCheckpoint, removeStaleTemps, writeCheckpoint } from '../state/checkpoint.js';
import type { Logger } from '../util/logger.js';
import { withDeadline } from '../util/deadline.js';
import type { WindowSet } from '../window/window-set.js';
import type { WindowSetSnapshot } from '../window/snapshot.js';
import type { PairedIdentity, PairedMode } from './paired.js';
import type { Counters, Pipeline, PipelineState } from './pipeline.js';
import type { PartialRecords } from './partial.js';
import type { Calibrator, RestoredReference } from './reference.js';

/*
 * The daemon's durable state, in one place:
 *
 *   start-up: checkpoint file ─parse─▶ usable for this model and layers? ─▶ windows, paired
 *             windows, counters, offsets, bandwidths and thresholds restored (each part
 *             dropped alone when it no longer applies)
 *   every checkpoint.schedule and at stop: snapshot between batches ─▶ atomic write ─▶ the
 *             caller commits the offsets it holds (never before the write succeeded)
 */

/**
 * What a checkpoint holds: window sums, the counters and offsets they cover (all taken
 * together between batches), and what they are only valid for (model bytes, layers,
 * RBF bandwidths).
 */
export interface CheckpointBody {
  readonly format: 1;
  readonly modelSha256: string;
  readonly layers: readonly string[];
  readonly gammas: readonly number[];
  readonly counters: Counters;
  readonly offsets: OffsetMap;
  /** samples of each partition's next record already applied (a record a batch split); absent: none */
  readonly partial?: PartialRecords | undefined;
  readonly windows: WindowSetSnapshot;
  /** SHA-256 of the reference file the windows and bandwidths were computed against (absent in older checkpoints) */
  readonly referenceSha256?: string | undefined;
  /** the thresholds in use, with what they are valid for: reused at start-up instead of recalibrating */
  readonly calibration?: StoredCalibration | undefined;
  /** paired mode's windows, valid for this candidate model and these layer pairs */
  readonly paired?: (PairedIdentity & { readonly windows: WindowSetSnapshot }) | undefined;
}

const count = z.number().int().nonnegative();
const offsets = z.record(z.string(), z.record(z.string().regex(/^\d+$/), count));

export const checkpointBodySchema = z.object({
  format: z.literal(1),
  modelSha256: z.string().regex(/^[0-9a-f]{64}$/),
  layers: z.array(z.string()),
  gammas: z.array(z.number().positive()),
  counters: z.object({
    samples: z.record(z.string(), count),
    rejected: z.record(z.string(), z.record(z.string(), count)),
    batches: count,
    // absent in checkpoints written before the counter existed
    unscored: z.record(z.string(), count).default({}),
  }),
  offsets,
  // absent in checkpoints written before serving encodings, and when no record is split
  partial: z.record(z.string(), z.record(z.string().regex(/^\d+$/), z.object({ offset: count, applied: count }))).optional(),
  windows: z.unknown(),
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
  readonly pipeline: Pipeline;
  readonly windows: WindowSet;
  readonly calibrator: Calibrator;
  readonly paired: PairedMode | null;
}

export type Restored = PipelineState & { readonly reference: RestoredReference | null };

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
  async restore(windows: WindowSet, identity: CheckpointParts['identity'], referenceSha256: string, paired: PairedMode | null): Promise<Restored | null> {
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
    const { counters, offsets, partial } = body;
    if (body.referenceSha256 !== undefined && body.referenceSha256 !== referenceSha256) {
      // Same decision as a reference change while running: windows restart, the rest goes on.
      this.#log.warn(
        { from: body.referenceSha256, to: referenceSha256 },
        'the reference file changed since the checkpoint: its windows and RBF bandwidths are dropped; counters and offsets kept',
      );
      return { counters, offsets, partial, reference: null };
    }
    const restored = windows.restore(body.windows);
    if (!restored.ok) {
      this.#log.warn({ detail: restored.detail }, 'ignoring checkpoint windows');
      return null;
    }
    if (paired && body.paired) {
      const same = body.paired.candidateSha256 === paired.candidateSha256 && JSON.stringify(body.paired.pairs) === JSON.stringify(paired.pairs);
      const result = same ? paired.windows.restore(body.paired.windows) : null;
      if (!result?.ok) this.#log.warn({ detail: result?.detail ?? 'another candidate model or other layer pairs' }, 'paired windows not restored');
    }
    this.#log.info({ offsets, writtenAt: read.writtenAt }, 'restored checkpoint');
    return { counters, offsets, partial, reference: { gammas: body.gammas, calibration: body.calibration } };
  }

  /** Snapshots `parts` between batches and writes them; the body on success, null (logged) when the write failed. */
  async write(parts: CheckpointParts): Promise<CheckpointBody | null> {
    const { identity, pipeline, windows, calibrator, paired } = parts;
    const body: CheckpointBody = await pipeline.exclusive((state) => ({
      format: 1,
      ...identity,
      gammas: calibrator.state.gammas,
      counters: structuredClone(state.counters),
      offsets: cloneOffsets(state.offsets),
      ...(state.partial ? { partial: state.partial } : {}),
      windows: windows.snapshot(),
      referenceSha256: calibrator.state.sha256,
      ...(calibrator.stored ? { calibration: calibrator.stored } : {}),
      ...(paired ? { paired: { ...paired.identity, windows: paired.windows.snapshot() } } : {}),
    }));
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
