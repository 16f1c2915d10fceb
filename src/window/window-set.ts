import { StatisticsError } from '../errors/index.js';
import { assertKeys, assertWidth, resolveSpecs, type ResolvedWindowSpec, type WindowSpec } from './spec.js';
import { restoreSnapshot, takeSnapshot, type RestoreResult, type WindowSetSnapshot } from './snapshot.js';
import { addToSlot, bucketOf, claimSlot, createStore, slotsInRange, type SetStore, type WindowStore } from './store.js';

/**
 * Time-bucketed sliding windows of additive sums: for every key (a layer name) and every
 * window, the sum of fixed-length float64 vectors (DriftSums, paired-CKA sums, ...) added
 * during the window. Sums only, never samples, so memory is bounded by
 * keys × Σbuckets × width whatever the traffic.
 *
 * The clock is a parameter: `atMs` for additions, `nowMs` for reads. Timestamps should
 * come from the daemon's own clock; one far in the future moves every window forward and
 * makes what came before it late.
 */
export interface WindowSet {
  readonly width: number;
  readonly keys: readonly string[];
  readonly windows: readonly ResolvedWindowSpec[];
  /**
   * Adds `vector` to `key` at time `atMs`. Out-of-order additions still inside a window
   * land in their own bucket; an addition whose bucket has left a window (it is `buckets`
   * or more behind the newest bucket seen) is dropped from that window and counted in
   * droppedLate(). Totals take every addition.
   */
  add(key: string, vector: ArrayLike<number>, atMs: number): void;
  /** Sum over the last `buckets` buckets of `windowName` up to and including the one holding `nowMs`. */
  sum(windowName: string, key: string, nowMs: number): Float64Array;
  /** Everything added to `key` since start (or since the restored checkpoint's start). */
  total(key: string): Float64Array;
  /** Additions (one per key) dropped as late, per window. */
  droppedLate(): Array<{ window: string; count: number }>;
  /** A plain, JSON-safe copy of the state, for checkpoints. */
  snapshot(): WindowSetSnapshot;
  /** Replaces the whole state with a snapshot's; see restoreSnapshot for what carries over. */
  restore(snapshot: unknown): RestoreResult;
}

export function createWindowSet(specs: readonly WindowSpec[], keys: readonly string[], width: number): WindowSet {
  const resolved = resolveSpecs(specs);
  assertKeys(keys);
  assertWidth(width);
  const store = createStore(resolved, keys, width);
  const byName = new Map(store.windows.map((w) => [w.spec.name, w]));

  const keyOf = (key: string): number => {
    const k = store.keyIndex.get(key);
    if (k === undefined) throw new StatisticsError(`unknown window key "${key}": known keys are ${store.keys.join(', ')}`);
    return k;
  };
  const windowOf = (name: string): WindowStore => {
    const w = byName.get(name);
    if (w === undefined) throw new StatisticsError(`unknown window "${name}": known windows are ${[...byName.keys()].join(', ')}`);
    return w;
  };

  return {
    width,
    keys: store.keys,
    windows: resolved,
    add(key, vector, atMs) {
      const k = keyOf(key);
      assertVector(store, key, vector);
      if (!Number.isFinite(atMs)) throw new StatisticsError(`window timestamp must be a finite number of ms, got ${atMs}`);
      for (let i = 0; i < width; i++) store.totals[k * width + i]! += vector[i]!;
      for (const w of store.windows) {
        const slot = claimSlot(store, w, bucketOf(w, atMs));
        if (slot < 0) w.droppedLate++;
        else addToSlot(store, w, slot, k, vector);
      }
    },
    sum(windowName, key, nowMs) {
      const w = windowOf(windowName);
      const k = keyOf(key);
      if (!Number.isFinite(nowMs)) throw new StatisticsError(`window time must be a finite number of ms, got ${nowMs}`);
      return sumSlots(store, w, k, slotsInRange(w, bucketOf(w, nowMs)));
    },
    total(key) {
      const k = keyOf(key);
      return store.totals.slice(k * width, (k + 1) * width);
    },
    droppedLate() {
      return store.windows.map((w) => ({ window: w.spec.name, count: w.droppedLate }));
    },
    snapshot() {
      return takeSnapshot(store);
    },
    restore(snapshot) {
      return restoreSnapshot(store, snapshot);
    },
  };
}

function assertVector(store: SetStore, key: string, vector: ArrayLike<number>): void {
  if (vector.length !== store.width) {
    throw new StatisticsError(`vector for "${key}" has ${vector.length} components, this window set holds ${store.width}`);
  }
  for (let i = 0; i < vector.length; i++) {
    // One NaN would poison every window (and the total, forever): refuse it at the door.
    if (!Number.isFinite(vector[i])) throw new StatisticsError(`vector for "${key}" has a non-finite component ${i}: ${vector[i]}`);
  }
}

function sumSlots(store: SetStore, w: WindowStore, k: number, slots: readonly number[]): Float64Array {
  const out = new Float64Array(store.width);
  // Add in bucket order, not slot order, so that the result does not depend on where the ring wrapped.
  const ordered = [...slots].sort((a, b) => w.tags[a]! - w.tags[b]!);
  for (const slot of ordered) {
    const offset = (slot * store.keys.length + k) * store.width;
    for (let i = 0; i < store.width; i++) out[i]! += w.values[offset + i]!;
  }
  return out;
}
