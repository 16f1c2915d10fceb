/**
 * Issue 19, a diagnostic (not a daemon feature): is the calibration's reference-offset term
 * the right size? The floor of every tail (src/calibration/calibrate.ts) adds to a window's
 * null variance σ₁²(1/B + ρ²): the centre's own noise over B null batches, and the offset of a
 * finite reference of N samples from the population, ρ² = n/N for cka and
 * ((1/N)/(1/n + 1/M))² for MMD² (referenceOffsets).
 *
 * Measured here directly: the held-out reference of the validation's split (seed 1, pool
 * 2,048, the default sketch) is cut at random into G blocks of N/G digits; each block's
 * centre is the statistic pooled over B batches of 64 drawn within it. Across blocks the
 * centres vary by σ₁²/B (at most) plus the blocks' own offsets. Printed per layer and
 * statistic: that variance over σ₁²/B, and over what the floor assumes for blocks of that
 * size, σ₁²(1/B + ρ²). About 1 in the second column means the term is right.
 *
 *   npx tsx tools/offset-check.ts        # about 2 minutes
 */
import { addDrift, driftRows, EMPTY_DRIFT, type DriftSums } from '../src/cka/drift.js';
import { statisticValues, STATISTICS, type Statistic } from '../src/cka/statistic.js';
import { referenceOffsets } from '../src/calibration/calibrate.js';
import { REFERENCE_DEFAULTS } from '../src/config/schema.js';
import { TappedModel } from '../src/model/tapped.js';
import { createPrng } from '../src/reference/prng.js';
import { silentLogger } from '../src/util/logger.js';
import { centredRows, distinctRows, gramRowsOf, layerPool, poolSplit, sketchedFeatures, shortLayer } from '../test/validation/all-layer.js';
import { DIGITS_MODEL } from '../test/helpers/fixtures.js';

const N = 64;
const POOL = REFERENCE_DEFAULTS.pool;
/** blocks per partition, batches per block, random partitions, windows for σ₁² */
const G = 6;
const B = 100;
const PARTITIONS = 4;
const WINDOW = 64;

const { digits, poolDigits, heldOutDigits } = poolSplit(POOL, 1);
const model = await TappedModel.open({ path: DIGITS_MODEL, providers: ['cpu'], variant: 'auto', logger: silentLogger });
try {
  const { widths, everyDigit } = await sketchedFeatures(model, digits, REFERENCE_DEFAULTS.sketchWidth, 1);
  const layers = model.layers.map((layer, l) => ({ layer, k: widths[l]!, ...layerPool(everyDigit[l]!, poolDigits, widths[l]!) }));
  const prng = createPrng(77);
  const batchSums = (rows: readonly number[]): DriftSums[] =>
    layers.map((t, l) => driftRows(gramRowsOf(centredRows(everyDigit[l]!, rows, t.k, t.mean), N, t.p, POOL, t.k), t.summary));
  const value = (s: DriftSums, statistic: Statistic): number => statisticValues(s)[statistic] ?? NaN;
  const variance = (v: readonly number[]): number => {
    const m = v.reduce((a, x) => a + x, 0) / v.length;
    return v.reduce((a, x) => a + (x - m) ** 2, 0) / (v.length - 1);
  };
  // [layer][statistic]: per partition, the centres' variance across blocks and σ₁²
  const between = layers.map(() => STATISTICS.map(() => [] as number[]));
  const perBatch = layers.map(() => STATISTICS.map(() => [] as number[]));
  const size = Math.floor(heldOutDigits.length / G);
  for (let part = 0; part < PARTITIONS; part++) {
    const shuffled = [...heldOutDigits];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = prng.below(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const batches: DriftSums[][] = [];
    const centres = layers.map(() => STATISTICS.map(() => [] as number[]));
    for (let g = 0; g < G; g++) {
      const block = shuffled.slice(g * size, (g + 1) * size);
      const pooled = layers.map(() => EMPTY_DRIFT);
      for (let b = 0; b < B; b++) {
        const sums = batchSums(distinctRows(prng, block, N));
        batches.push(sums);
        sums.forEach((v, l) => (pooled[l] = addDrift(pooled[l]!, v)));
      }
      layers.forEach((_, l) => STATISTICS.forEach((s, si) => centres[l]![si]!.push(value(pooled[l]!, s))));
    }
    layers.forEach((_, l) =>
      STATISTICS.forEach((s, si) => {
        between[l]![si]!.push(variance(centres[l]![si]!));
        // σ₁² as the calibration takes it: WINDOW × the variance of WINDOW-batch windows drawn from these batches
        const windows = Array.from({ length: 300 }, () => {
          let w = EMPTY_DRIFT;
          for (let j = 0; j < WINDOW; j++) w = addDrift(w, batches[prng.below(batches.length)]![l]!);
          return value(w, s);
        });
        perBatch[l]![si]!.push(WINDOW * variance(windows));
      }),
    );
    process.stderr.write(`partition ${part + 1}/${PARTITIONS}\n`);
  }
  const mean = (v: readonly number[]): number => v.reduce((a, x) => a + x, 0) / v.length;
  const offsets = referenceOffsets({ n: N, m: POOL, reference: size });
  process.stdout.write(`blocks of ${size} held-out digits, ${B} batches of ${N} each, ${PARTITIONS} partitions into ${G}\n\n`);
  process.stdout.write('| layer | statistic | between blocks ÷ σ₁²/B | between blocks ÷ σ₁²(1/B + ρ²) |\n| --- | --- | ---: | ---: |\n');
  layers.forEach((t, l) =>
    STATISTICS.forEach((s, si) => {
      const observed = mean(between[l]![si]!);
      const s1 = mean(perBatch[l]![si]!);
      const rho2 = s === 'cka' ? offsets.cka : offsets.mmd;
      process.stdout.write(`| ${shortLayer(t.layer)} | ${s} | ${(observed / (s1 / B)).toFixed(1)} | ${(observed / (s1 * (1 / B + rho2))).toFixed(2)} |\n`);
    }),
  );
} finally {
  await model.close();
}
