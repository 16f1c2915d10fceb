import { z } from 'zod';
import type { WindowSetSnapshot } from '../window/index.js';
import { storedCalibrationSchema, type StoredCalibration } from './calibrate.js';
import type { PairedIdentity } from './paired.js';
import type { Counters } from './pipeline.js';
import type { OffsetMap } from './offsets.js';

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
  }),
  offsets,
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
