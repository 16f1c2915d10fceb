import type { ResolvedWindowSpec } from './spec.js';

/**
 * The storage behind a window set (internal to src/window/).
 *
 * Each window is a ring of `buckets` slots shared by all keys. A slot remembers which
 * bucket index (floor(t / granularity)) it holds in `tags`; when an addition lands in a
 * newer bucket that maps to the same slot, the slot is zeroed for every key and re-tagged.
 * That is the lazy reset: nothing runs on a timer, and memory stays
 * keys × Σbuckets × width floats whatever the traffic.
 *
 * Values are laid out [slot][key][component] so that resetting a slot is one fill().
 */
export interface WindowStore {
  readonly spec: ResolvedWindowSpec;
  /** bucket index held by each slot; -Infinity for a slot never used */
  readonly tags: Float64Array;
  readonly values: Float64Array;
  /** newest bucket index claimed so far; -Infinity while empty */
  head: number;
  /** additions (one per key) that arrived after their bucket had left the window */
  droppedLate: number;
}

export interface SetStore {
  readonly width: number;
  readonly keys: readonly string[];
  readonly keyIndex: ReadonlyMap<string, number>;
  /** per key, everything added since start (late additions included) */
  readonly totals: Float64Array;
  readonly windows: readonly WindowStore[];
}

export function createStore(specs: readonly ResolvedWindowSpec[], keys: readonly string[], width: number): SetStore {
  return {
    width,
    keys: [...keys],
    keyIndex: new Map(keys.map((key, i) => [key, i])),
    totals: new Float64Array(keys.length * width),
    windows: specs.map((spec) => ({
      spec,
      tags: new Float64Array(spec.buckets).fill(-Infinity),
      values: new Float64Array(spec.buckets * keys.length * width),
      head: -Infinity,
      droppedLate: 0,
    })),
  };
}

export function clearStore(store: SetStore): void {
  store.totals.fill(0);
  for (const w of store.windows) {
    w.tags.fill(-Infinity);
    w.values.fill(0);
    w.head = -Infinity;
    w.droppedLate = 0;
  }
}

export function bucketOf(w: WindowStore, atMs: number): number {
  return Math.floor(atMs / w.spec.granularityMs);
}

/**
 * The slot that holds `bucket`, zeroing it first if it held an older bucket; -1 when the
 * bucket is already `buckets` or more behind the newest one (it could never be summed
 * again by a query at or after the newest addition, and storing it would evict live data).
 */
export function claimSlot(store: SetStore, w: WindowStore, bucket: number): number {
  const n = w.spec.buckets;
  if (bucket <= w.head - n) return -1;
  const slot = ((bucket % n) + n) % n;
  if (w.tags[slot] !== bucket) {
    // The check above guarantees the slot holds an older bucket (or none): reset it.
    const block = store.keys.length * store.width;
    w.values.fill(0, slot * block, (slot + 1) * block);
    w.tags[slot] = bucket;
    if (bucket > w.head) w.head = bucket;
  }
  return slot;
}

export function addToSlot(store: SetStore, w: WindowStore, slot: number, key: number, vector: ArrayLike<number>): void {
  const offset = (slot * store.keys.length + key) * store.width;
  for (let i = 0; i < store.width; i++) w.values[offset + i]! += vector[i]!;
}

/** Slots whose bucket lies in the window ending at bucket `last`: (last - buckets, last]. */
export function slotsInRange(w: WindowStore, last: number): number[] {
  const slots: number[] = [];
  for (let slot = 0; slot < w.spec.buckets; slot++) {
    const tag = w.tags[slot]!;
    if (tag > last - w.spec.buckets && tag <= last) slots.push(slot);
  }
  return slots;
}
