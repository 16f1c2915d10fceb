import type { WindowSpec } from '../../src/window/spec.js';

/** Test helper: the window sums recomputed from the full list of additions. */
export interface Addition {
  readonly key: number;
  readonly atMs: number;
  readonly vector: readonly number[];
}

export function bruteSum(spec: WindowSpec, additions: readonly Addition[], key: number, nowMs: number, width: number): number[] {
  const g = spec.durationMs / spec.buckets;
  const last = Math.floor(nowMs / g);
  const out = new Array<number>(width).fill(0);
  for (const a of additions) {
    const b = Math.floor(a.atMs / g);
    if (a.key === key && b > last - spec.buckets && b <= last) a.vector.forEach((v, i) => (out[i]! += v));
  }
  return out;
}

export function bruteTotal(additions: readonly Addition[], key: number, width: number): number[] {
  const out = new Array<number>(width).fill(0);
  for (const a of additions) if (a.key === key) a.vector.forEach((v, i) => (out[i]! += v));
  return out;
}
