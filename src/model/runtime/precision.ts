/**
 * The start-up precision check's verdict: for each tap, which Gram construction to use on
 * the provider in use, given each variant's measured error against float64 (worker.ts's
 * probe). Pure: TappedModel.checkPrecision runs the probe and acts on the verdict.
 *
 * Why a check at all: a Gram is a sum of products over D features (D up to 10⁶ for a
 * ResNet block) in float32, in whatever order the provider's kernel adds them. On the CPU
 * that stays near 1e-7 relative; DESIGN.md measured one long-K MatMul at 2.9e-4 on WebGPU,
 * and TF32 tensor cores (which onnxruntime-node gives no switch for) round to 10 bits.
 * Every statistic is bilinear in the Grams, so a relative Gram error e moves CKA by about
 * e (test/model/runtime/precision.test.ts measures it); the default tolerance 1e-4 keeps that a
 * hundred times below the spread of a calibrated threshold.
 */
import type { GramVariant } from '../graph/augment.js';

/** Samples the check runs: enough rows for a meaningful n×n comparison, few enough to be quick. */
export const PRECISION_ROWS = 16;

export interface VariantError {
  readonly variant: GramVariant;
  /** Relative Frobenius error against float64; null when the features were constant. */
  readonly error: number | null;
}

export interface TapPrecision {
  readonly layer: string;
  readonly variant: GramVariant;
  /** Of the chosen variant; null when the probe's features were constant (nothing to judge). */
  readonly error: number | null;
  /** True when the preferred variant was too imprecise and another one was taken. */
  readonly switched: boolean;
}

export type PrecisionVerdict =
  | { readonly ok: true; readonly taps: readonly TapPrecision[] }
  | { readonly ok: false; readonly reason: string };

/**
 * Per tap: the preferred variant (the speed rule's choice, first in `measured`) if its error
 * is within `tolerance`, else the most precise variant within it. Refuses when a tap has no
 * variant within tolerance, naming the tap and the errors.
 */
export function chooseTapGraphs(
  layers: readonly string[],
  measured: readonly (readonly VariantError[])[],
  tolerance: number,
): PrecisionVerdict {
  const taps: TapPrecision[] = [];
  const failures: string[] = [];
  layers.forEach((layer, l) => {
    const options = measured[l] ?? [];
    const preferred = options[0];
    if (preferred === undefined) throw new Error(`chooseTapGraphs: no measurement for layer '${layer}'`);
    const within = (e: VariantError): boolean => e.error === null || e.error <= tolerance;
    if (within(preferred)) {
      taps.push({ layer, variant: preferred.variant, error: preferred.error, switched: false });
      return;
    }
    const best = options.filter(within).sort((a, b) => (a.error ?? 0) - (b.error ?? 0))[0];
    if (best !== undefined) {
      taps.push({ layer, variant: best.variant, error: best.error, switched: true });
      return;
    }
    failures.push(`'${layer}' (${options.map((o) => `${o.variant} ${formatError(o.error)}`).join(', ')})`);
  });
  if (failures.length > 0) {
    return { ok: false, reason: `Gram error above the tolerance ${tolerance} on ${failures.join('; ')}` };
  }
  return { ok: true, taps };
}

export function formatError(error: number | null): string {
  return error === null ? 'constant' : error.toExponential(1);
}
