/**
 * Readers of ckawatch's own metrics in a /metrics scrape (parsed by prom-text.ts): what
 * the daemon and fault suites assert on. One place, so that a renamed metric or label is
 * one edit.
 */
import { select, sumOf, valueOf, type PromSample } from './prom-text.js';

/** ckawatch_samples_total of `topic`; without a topic, summed over every topic. */
export function samplesOf(s: readonly PromSample[], topic?: string): number {
  return topic === undefined ? sumOf(s, 'ckawatch_samples_total') : (valueOf(s, 'ckawatch_samples_total', { topic }) ?? 0);
}

/** ckawatch_rejected_total of `topic`, summed over the reasons. */
export const rejectedOf = (s: readonly PromSample[], topic: string): number => sumOf(s, 'ckawatch_rejected_total', { topic });

/** ckawatch_rejected_total of `topic` per reason, the reasons with none left out. */
export function rejectedByReason(s: readonly PromSample[], topic: string): Record<string, number> {
  return Object.fromEntries(
    select(s, 'ckawatch_rejected_total', { topic })
      .filter((x) => x.value > 0)
      .map((x) => [x.labels['reason']!, x.value]),
  );
}

/** ckawatch_checkpoint_errors_total (0 when absent). */
export const checkpointErrorsOf = (s: readonly PromSample[]): number => valueOf(s, 'ckawatch_checkpoint_errors_total') ?? 0;

/** The `samples` field of ckawatch_window_sum for window "all", per layer. */
export function windowSamples(s: readonly PromSample[]): Map<string, number> {
  return new Map(select(s, 'ckawatch_window_sum', { window: 'all', field: 'samples' }).map((x) => [x.labels['layer']!, x.value]));
}

/** The additive sums of one layer's window (ckawatch_window_sum, by its field label). */
export type WindowSums = Record<'batches' | 'samples' | 'axr' | 'axx' | 'arr' | 'mmd_linear' | 'mmd_rbf' | 'cka_weight' | 'mmd_weight', number>;

/** ckawatch_window_sum of window "all", per layer. */
export function windowSums(s: readonly PromSample[]): Map<string, WindowSums> {
  const out = new Map<string, WindowSums>();
  for (const x of select(s, 'ckawatch_window_sum', { window: 'all' })) {
    const layer = x.labels['layer']!;
    const sums = out.get(layer) ?? ({} as WindowSums);
    sums[x.labels['field'] as keyof WindowSums] = x.value;
    out.set(layer, sums);
  }
  return out;
}

/** `a - b` field by field: the sums of the part of a stream between two scrapes. */
export function minus(a: WindowSums, b: WindowSums): WindowSums {
  return Object.fromEntries(Object.keys(a).map((k) => [k, a[k as keyof WindowSums] - b[k as keyof WindowSums]])) as WindowSums;
}

/** The scores that window sums give (what the gauges export), for sums of any part of a stream. */
export function scores(s: WindowSums): { cka: number; mmd2Linear: number; mmd2Rbf: number; batches: number } {
  return { cka: s.axr / Math.sqrt(s.axx * s.arr), mmd2Linear: s.mmd_linear / s.mmd_weight, mmd2Rbf: s.mmd_rbf / s.mmd_weight, batches: s.batches };
}

/** ckawatch_samples_scored_total of `topic` (samples that reached the statistics). */
export const scoredOf = (s: readonly PromSample[], topic: string): number => valueOf(s, 'ckawatch_samples_scored_total', { topic }) ?? 0;
