import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { medianGamma } from '../cka/drift.js';
import type { Gram } from '../cka/gram.js';
import { ModelError } from '../errors/index.js';
import { formatError, PRECISION_ROWS, type TapPrecision } from '../model/runtime/precision.js';
import type { PrecisionReport, TappedModel } from '../model/tapped.js';
import type { ReferenceSampler } from '../reference/sampler.js';
import type { Logger } from '../util/logger.js';

/** SHA-256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Refuses a model whose bytes are not the pinned ones (a tampered or swapped file). */
export function checkPin(path: string, actual: string, pinned: string | undefined): void {
  if (pinned !== undefined && pinned.toLowerCase() !== actual) {
    throw new ModelError(`${path} has SHA-256 ${actual}, but the configuration pins ${pinned.toLowerCase()}: refusing to load it`);
  }
}

/**
 * RBF gamma per layer from one batch of reference samples (median heuristic). Fixed for
 * the daemon's life, and kept in checkpoints, so that MMD² sums from before and after a
 * restart are on the same scale.
 */
export async function rbfGammas(model: TappedModel, sampler: ReferenceSampler, count: number): Promise<number[]> {
  const grams = await model.grams(sampler.draw(count), count);
  return grams.map((g, l) => {
    try {
      return medianGamma(g);
    } catch (error) {
      throw new ModelError(`layer ${model.layers[l]}: ${(error as Error).message}`, { cause: error });
    }
  });
}

/**
 * Each layer's Gram on the provider in use against float64, on reference samples, before
 * any statistics; logs the worst layer. Throws (the daemon exits) when no listed provider
 * gets every layer within `tolerance`.
 */
export async function checkGramPrecision(model: TappedModel, sampler: ReferenceSampler, tolerance: number, logger: Logger): Promise<PrecisionReport> {
  const report = await model.checkPrecision(sampler.draw(PRECISION_ROWS), PRECISION_ROWS, tolerance);
  const worst = report.taps.reduce<TapPrecision | null>((w, t) => (t.error !== null && (w === null || t.error > (w.error ?? 0)) ? t : w), null);
  logger.info(
    { provider: report.provider, tolerance, worstLayer: worst?.layer, worstError: worst?.error, graphs: report.taps.map((t) => t.variant) },
    `Grams on '${report.provider}' agree with float64 to ${worst ? formatError(worst.error) : 'exactly'} (tolerance ${tolerance})`,
  );
  return report;
}

/**
 * The model must treat samples independently, or stacking production over reference
 * samples changes the numbers. Runs k reference samples alone and again inside a larger
 * batch, and compares each layer's double-centred Gram block (centring removes the batch
 * mean the graph subtracted, so equal features give equal blocks).
 */
export async function checkSampleIndependence(model: TappedModel, sampler: ReferenceSampler, k = 8): Promise<void> {
  const extra = sampler.draw(2 * k);
  const alone = await model.grams(extra.subarray(0, k * model.sampleSize).slice(), k);
  const inBatch = await model.grams(extra, 2 * k);
  alone.forEach((g, l) => {
    const a = doubleCentre(g, k);
    const b = doubleCentre(inBatch[l]!, k);
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < a.length; i++) {
      scale = Math.max(scale, Math.abs(a[i]!));
      diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    }
    if (diff > 1e-3 * scale + 1e-6) {
      throw new ModelError(
        `layer ${model.layers[l]} of ${model.name} changes when other samples share its batch ` +
          `(relative difference ${(diff / scale).toExponential(1)}): export the model in eval mode ` +
          '(BatchNorm/Dropout), without a batch size baked into Reshape, and with a dynamic batch axis',
      );
    }
  });
}

/** H G[0:k, 0:k] H for the first k rows of a Gram. */
function doubleCentre(g: Gram, k: number): Float64Array {
  const out = new Float64Array(k * k);
  const row = new Float64Array(k);
  let total = 0;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) row[i]! += g.data[i * g.n + j]!;
    total += row[i]!;
  }
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) out[i * k + j] = g.data[i * g.n + j]! - row[i]! / k - row[j]! / k + total / (k * k);
  }
  return out;
}
