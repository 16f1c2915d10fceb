import { StatisticsError } from '../errors/index.js';
import { assertKeys, resolveSpecs, type ResolvedWindowSpec, type WindowSpec } from './spec.js';

/** An item and the score it is ranked by (higher first). */
export interface Ranked<T> {
  readonly score: number;
  readonly item: T;
}

/**
 * The k highest-scored items per key over sliding time windows, bucketed like the sums
 * (window-set.ts): each window keeps its last `buckets` buckets, each bucket its own top
 * k, and a read merges the live buckets. Memory is bounded by keys × Σbuckets × k items,
 * whatever the traffic; an item added late, into a bucket that has left a window, is
 * dropped from that window.
 */
export class TopKWindows<T> {
  readonly k: number;
  readonly windows: readonly ResolvedWindowSpec[];
  readonly keys: readonly string[];
  /** per window, per key: `buckets` slots of [bucket, top k] */
  readonly #slots: Map<string, { bucket: number; items: Ranked<T>[] }[]>[];
  readonly #head: number[];

  constructor(specs: readonly WindowSpec[], keys: readonly string[], k: number) {
    if (!Number.isInteger(k) || k < 1) throw new StatisticsError(`top-k needs k >= 1, got ${k}`);
    this.k = k;
    this.windows = resolveSpecs(specs);
    assertKeys(keys);
    this.keys = [...keys];
    this.#slots = this.windows.map((w) => new Map(keys.map((key) => [key, Array.from({ length: w.buckets }, () => ({ bucket: -Infinity, items: [] }))])));
    this.#head = this.windows.map(() => -Infinity);
  }

  add(key: string, items: readonly Ranked<T>[], atMs: number): void {
    const best = topK(items.filter((r) => Number.isFinite(r.score)), this.k);
    this.windows.forEach((w, i) => {
      const bucket = Math.floor(atMs / w.granularityMs);
      if (bucket <= this.#head[i]! - w.buckets) return; // left the window already
      this.#head[i] = Math.max(this.#head[i]!, bucket);
      const slot = this.#slotsOf(i, key)[((bucket % w.buckets) + w.buckets) % w.buckets]!;
      if (slot.bucket !== bucket) {
        slot.bucket = bucket;
        slot.items = [];
      }
      slot.items = mergeTop(slot.items, best, this.k);
    });
  }

  /**
   * The score an item added to `key` at `atMs` must beat to enter any window: -Infinity
   * while a bucket it would land in has room. Lets a caller skip building the items that
   * could not enter (most of them, once the buckets are full).
   */
  floor(key: string, atMs: number): number {
    let floor = Infinity;
    this.windows.forEach((w, i) => {
      const bucket = Math.floor(atMs / w.granularityMs);
      if (bucket <= this.#head[i]! - w.buckets) return; // late: enters nothing here
      const slot = this.#slotsOf(i, key)[((bucket % w.buckets) + w.buckets) % w.buckets]!;
      floor = slot.bucket !== bucket || slot.items.length < this.k ? -Infinity : Math.min(floor, slot.items[this.k - 1]!.score);
    });
    return floor;
  }

  /** The top k of `key` over `window` up to and including the bucket holding `nowMs`, best first. */
  top(window: string, key: string, nowMs: number): Ranked<T>[] {
    const i = this.windows.findIndex((w) => w.name === window);
    if (i < 0) throw new StatisticsError(`unknown window "${window}": known windows are ${this.windows.map((w) => w.name).join(', ')}`);
    const w = this.windows[i]!;
    const last = Math.floor(nowMs / w.granularityMs);
    const live = this.#slotsOf(i, key).filter((s) => s.bucket > last - w.buckets && s.bucket <= last);
    return topK(live.flatMap((s) => s.items), this.k);
  }

  clear(): void {
    for (const byKey of this.#slots) for (const slots of byKey.values()) for (const s of slots) Object.assign(s, { bucket: -Infinity, items: [] });
    this.#head.fill(-Infinity);
  }

  #slotsOf(window: number, key: string): { bucket: number; items: Ranked<T>[] }[] {
    const slots = this.#slots[window]!.get(key);
    if (slots === undefined) throw new StatisticsError(`unknown key "${key}": known keys are ${this.keys.join(', ')}`);
    return slots;
  }
}

function topK<T>(items: readonly Ranked<T>[], k: number): Ranked<T>[] {
  return [...items].sort((a, b) => b.score - a.score).slice(0, k);
}

/** The top k of two lists sorted best first, in O(k): every batch adds to every window's bucket. */
function mergeTop<T>(a: readonly Ranked<T>[], b: readonly Ranked<T>[], k: number): Ranked<T>[] {
  const out: Ranked<T>[] = [];
  let i = 0;
  let j = 0;
  while (out.length < k && (i < a.length || j < b.length)) {
    out.push(j >= b.length || (i < a.length && a[i]!.score >= b[j]!.score) ? a[i++]! : b[j++]!);
  }
  return out;
}
