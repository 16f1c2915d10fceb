import { z } from 'zod';
import type { PipelineMetrics } from './definitions.js';

/**
 * Counter values carried across restarts in checkpoints, so that ckawatch_samples_total and
 * ckawatch_rejected_total stay exact totals of what this consumer group member has counted
 * (Prometheus handles resets, but a restored window also restores the samples in it).
 */
const count = z.number().nonnegative().finite();
export const counterSeedSchema = z.object({
  samples: z.array(z.object({ topic: z.string(), value: count })),
  rejected: z.array(z.object({ topic: z.string(), reason: z.string(), value: count })),
  batches: count,
  unscored: z.array(z.object({ reason: z.string(), value: count })),
  scored: z.array(z.object({ topic: z.string(), value: count })).default([]),
});
export type CounterSeed = z.infer<typeof counterSeedSchema>;

/** Adds restored counts; call once at start-up, before the first batch. */
export function seedCounters(m: PipelineMetrics, seed: CounterSeed): void {
  for (const { topic, value } of seed.samples) m.samples.inc({ topic }, value);
  for (const { topic, reason, value } of seed.rejected) m.rejected.inc({ topic, reason }, value);
  m.batches.inc(seed.batches);
  for (const { reason, value } of seed.unscored) m.unscored.inc({ reason }, value);
  for (const { topic, value } of seed.scored ?? []) m.scored.inc({ topic }, value);
}

/** The current counts, in the form seedCounters takes back. */
export async function readCounters(m: PipelineMetrics): Promise<CounterSeed> {
  const [samples, rejected, batches, unscored, scored] = await Promise.all([m.samples.get(), m.rejected.get(), m.batches.get(), m.unscored.get(), m.scored.get()]);
  return {
    samples: samples.values.map((v) => ({ topic: String(v.labels.topic ?? ''), value: v.value })),
    rejected: rejected.values.map((v) => ({ topic: String(v.labels.topic ?? ''), reason: String(v.labels.reason ?? ''), value: v.value })),
    batches: batches.values[0]?.value ?? 0,
    unscored: unscored.values.map((v) => ({ reason: String(v.labels.reason ?? ''), value: v.value })),
    scored: scored.values.map((v) => ({ topic: String(v.labels.topic ?? ''), value: v.value })),
  };
}
