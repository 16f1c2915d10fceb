import { z } from 'zod';
import { addToSlot, claimSlot, clearStore, type SetStore, type WindowStore } from './store.js';

/**
 * The JSON-safe form of a window set, written into checkpoints. Vectors are plain arrays
 * aligned with `keys` (arrays rather than objects keyed by layer name, so that no layer
 * name can collide with an object property such as __proto__). Only slots still inside
 * their window are kept.
 */
const vector = z.array(z.number());
const snapshotSchema = z.object({
  version: z.literal(1),
  width: z.number().int().positive(),
  keys: z.array(z.string()),
  totals: z.array(vector),
  windows: z.array(
    z.object({
      name: z.string(),
      durationMs: z.number().int().positive(),
      buckets: z.number().int().positive(),
      droppedLate: z.number().int().nonnegative(),
      slots: z.array(z.object({ bucket: z.number().int(), values: z.array(vector) })),
    }),
  ),
});

export type WindowSetSnapshot = z.infer<typeof snapshotSchema>;

export interface RestoreReport {
  /** keys found in both the snapshot and this set */
  readonly restoredKeys: readonly string[];
  /** keys of the snapshot that this set does not have (their sums are dropped) */
  readonly droppedKeys: readonly string[];
  /** windows restored (same bucket granularity, or a coarser one that old buckets fit into) */
  readonly restoredWindows: readonly string[];
  /** snapshot windows whose contents could not be kept, with why */
  readonly droppedWindows: ReadonlyArray<{ readonly name: string; readonly reason: string }>;
}

export type RestoreResult = { readonly ok: true; readonly report: RestoreReport } | { readonly ok: false; readonly detail: string };

export function takeSnapshot(store: SetStore): WindowSetSnapshot {
  const perKey = (data: Float64Array, base: number): number[][] =>
    store.keys.map((_, k) => Array.from(data.subarray(base + k * store.width, base + (k + 1) * store.width)));
  return {
    version: 1,
    width: store.width,
    keys: [...store.keys],
    totals: perKey(store.totals, 0),
    windows: store.windows.map((w) => ({
      name: w.spec.name,
      durationMs: w.spec.durationMs,
      buckets: w.spec.buckets,
      droppedLate: w.droppedLate,
      slots: liveSlots(w).map((slot) => ({
        bucket: w.tags[slot]!,
        values: perKey(w.values, slot * store.keys.length * store.width),
      })),
    })),
  };
}

/**
 * Replaces the store's state with the snapshot's. A checkpoint may come from a daemon with
 * another configuration, so: keys are matched by name (unknown ones dropped, new ones start
 * at zero); windows are matched by name and kept when the new bucket granularity is a
 * multiple of the old one (each old bucket then falls whole into one new bucket), otherwise
 * dropped. A snapshot of another vector width, or of the wrong shape, restores nothing.
 */
export function restoreSnapshot(store: SetStore, input: unknown): RestoreResult {
  const parsed = snapshotSchema.safeParse(input);
  if (!parsed.success) return { ok: false, detail: `window snapshot has the wrong shape: ${z.prettifyError(parsed.error)}` };
  const snap = parsed.data;
  if (snap.width !== store.width) {
    return { ok: false, detail: `window snapshot holds vectors of ${snap.width} components, this set holds ${store.width}` };
  }
  const shapeError = checkShape(snap);
  if (shapeError !== null) return { ok: false, detail: shapeError };

  clearStore(store);
  // Snapshot key position -> this set's key index (or undefined when dropped).
  const mapping = snap.keys.map((key) => store.keyIndex.get(key));
  snap.totals.forEach((v, i) => {
    const k = mapping[i];
    if (k !== undefined) store.totals.set(v, k * store.width);
  });

  const restoredWindows: string[] = [];
  const droppedWindows: Array<{ name: string; reason: string }> = [];
  for (const old of snap.windows) {
    const w = store.windows.find((candidate) => candidate.spec.name === old.name);
    const oldGranularity = old.durationMs / old.buckets;
    if (w === undefined) {
      droppedWindows.push({ name: old.name, reason: 'no longer configured' });
    } else if (w.spec.granularityMs % oldGranularity !== 0) {
      droppedWindows.push({
        name: old.name,
        reason: `bucket of ${w.spec.granularityMs} ms is not a multiple of the checkpoint's ${oldGranularity} ms`,
      });
    } else {
      w.droppedLate = old.droppedLate;
      // Oldest first, so that the ring fills the way it would have live.
      for (const slot of [...old.slots].sort((a, b) => a.bucket - b.bucket)) {
        const target = claimSlot(store, w, Math.floor((slot.bucket * oldGranularity) / w.spec.granularityMs));
        if (target < 0) continue; // older than the (possibly shorter) new window: not late traffic, not counted
        slot.values.forEach((v, i) => {
          const k = mapping[i];
          if (k !== undefined) addToSlot(store, w, target, k, v);
        });
      }
      restoredWindows.push(old.name);
    }
  }
  return {
    ok: true,
    report: {
      restoredKeys: snap.keys.filter((_, i) => mapping[i] !== undefined),
      droppedKeys: snap.keys.filter((_, i) => mapping[i] === undefined),
      restoredWindows,
      droppedWindows,
    },
  };
}

function liveSlots(w: WindowStore): number[] {
  const slots: number[] = [];
  for (let slot = 0; slot < w.spec.buckets; slot++) {
    if (w.tags[slot]! > w.head - w.spec.buckets) slots.push(slot);
  }
  return slots;
}

function checkShape(snap: WindowSetSnapshot): string | null {
  const keyCount = snap.keys.length;
  if (new Set(snap.keys).size !== keyCount) return 'window snapshot lists a key twice';
  if (new Set(snap.windows.map((w) => w.name)).size !== snap.windows.length) return 'window snapshot lists a window twice';
  const badVector = (vs: number[][]): boolean => vs.length !== keyCount || vs.some((v) => v.length !== snap.width);
  if (badVector(snap.totals)) return `window snapshot totals do not match its ${keyCount} keys × ${snap.width} components`;
  for (const w of snap.windows) {
    if (w.durationMs % w.buckets !== 0) return `window snapshot "${w.name}" has a duration that is not a multiple of its buckets`;
    if (w.slots.some((slot) => badVector(slot.values))) {
      return `window snapshot "${w.name}" has a slot that does not match its ${keyCount} keys × ${snap.width} components`;
    }
  }
  return null;
}
