/**
 * Issue 20, a design study (not a daemon feature): would random Fourier features (Rahimi
 * and Recht 2007) keep the RBF MMD²'s power? They are the one known way to make the pool
 * head's RBF terms cost n·k·D a batch instead of n·M·k (bench/README.md, bench/taps.ts).
 *
 *   npx tsx tools/rff-power.ts [--null 300] [--drifted 40] [--dims 64,128,256,1024] [--seed 1]
 *
 * On the validation's digits and digits-cnn's default layers, each layer as the daemon sees
 * it (features head, CountSketch to 512, centred by the pool's mean; pool 2,048, held-out
 * reference for null batches, n = 64):
 *
 *   exact   the daemon's unbiased RBF MMD² of a batch against the pool (driftRows)
 *   rff D   the unbiased MMD² for the kernel k_W(x, y) = z(x)·z(y), z(x) = sqrt(2/D) cos(xW + b),
 *           W ~ N(0, 2γ) (k × D), b ~ U(0, 2π), the same γ; one fixed draw, as a graph would
 *           bake it in. Every term comes from Σ_i z(x_i), Σ_i ‖z(x_i)‖² and the pool's Σ_a z(p_a):
 *           a proper kernel's MMD², so no term is mixed with the exact kernel's.
 *
 * Each statistic's threshold is the 95% quantile of its own null windows (K batches drawn
 * from the null batches), so the power columns compare like with like at α = 5%.
 */
import { parseArgs } from 'node:util';
import { driftRows } from '../src/cka/drift.js';
import { DIGIT_SIZE } from '../src/demo/digits.js';
import { TappedModel } from '../src/model/tapped.js';
import { createPrng, deriveSeed, type Prng } from '../src/reference/prng.js';
import { silentLogger } from '../src/util/logger.js';
import { centredRows, distinctDigit, distinctRows, gramRowsOf, layerPool, poolSplit, sketchedFeatures, shortLayer, weakScenarios } from '../test/validation/all-layer.js';
import { standardScenarios, type ProductionPool, type Scenario } from '../test/validation/harness.js';
import { DIGITS_MODEL } from '../test/helpers/fixtures.js';

const { values } = parseArgs({
  options: {
    null: { type: 'string', default: '300' },
    drifted: { type: 'string', default: '40' },
    dims: { type: 'string', default: '64,128,256,1024' },
    seed: { type: 'string', default: '1' },
  },
});
const N = 64;
const POOL = 2048;
const SKETCH = 512;
const ALPHA = 0.05;
const LENGTHS = [1, 4];
const WINDOWS = 2000;
const seed = Number(values.seed);
const dims = values.dims.split(',').map(Number);
const say = (s: string): void => void process.stdout.write(`${s}\n`);

/** A standard normal from two uniforms (Box-Muller). */
function gaussian(prng: Prng): number {
  const u = (prng.nextUint32() + 1) / 4294967297;
  const v = prng.nextUint32() / 4294967296;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

interface Rff {
  readonly d: number;
  /** k × D, row-major */
  readonly w: Float64Array;
  readonly b: Float64Array;
}

function drawRff(k: number, d: number, gamma: number, prng: Prng): Rff {
  // k(x, y) = exp(−γ‖x − y‖²) is the characteristic function of N(0, 2γ I).
  const w = new Float64Array(k * d);
  for (let i = 0; i < w.length; i++) w[i] = Math.sqrt(2 * gamma) * gaussian(prng);
  const b = Float64Array.from({ length: d }, () => (2 * Math.PI * prng.nextUint32()) / 4294967296);
  return { d, w, b };
}

/** Σ_i z(x_i) and Σ_i ‖z(x_i)‖² over the rows of x (count × k, centred). */
function embed(x: Float64Array, count: number, k: number, r: Rff): { sum: Float64Array; squares: number } {
  const sum = new Float64Array(r.d);
  const scale = Math.sqrt(2 / r.d);
  let squares = 0;
  const u = new Float64Array(r.d);
  for (let i = 0; i < count; i++) {
    u.set(r.b);
    for (let j = 0; j < k; j++) {
      const v = x[i * k + j]!;
      if (v === 0) continue;
      const row = j * r.d;
      for (let c = 0; c < r.d; c++) u[c]! += v * r.w[row + c]!;
    }
    for (let c = 0; c < r.d; c++) {
      const z = scale * Math.cos(u[c]!);
      sum[c]! += z;
      squares += z * z;
    }
  }
  return { sum, squares };
}

const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

/** The unbiased MMD² for k_W of a batch's embedding against the pool's. */
function rffMmd(batch: { sum: Float64Array; squares: number }, n: number, pool: { sum: Float64Array; squares: number }, m: number): number {
  const withinX = (dot(batch.sum, batch.sum) - batch.squares) / (n * (n - 1));
  const withinP = (dot(pool.sum, pool.sum) - pool.squares) / (m * (m - 1));
  return withinX + withinP - (2 * dot(batch.sum, pool.sum)) / (n * m);
}

const { digits, split, poolDigits, heldOutDigits } = poolSplit(POOL, seed);
const model = await TappedModel.open({ path: DIGITS_MODEL, providers: ['cpu'], variant: 'auto', logger: silentLogger });
try {
  const layers = model.layers;
  const { widths, featuresOf, everyDigit } = await sketchedFeatures(model, digits, SKETCH, seed);

  const series = ['exact', ...dims.map((d) => `rff ${d}`)];
  const perLayer = layers.map((layer, l) => {
    const k = widths[l]!;
    const { mean, p, summary } = layerPool(everyDigit[l]!, poolDigits, k);
    const rffs = dims.map((d) => drawRff(k, d, summary.gamma, createPrng(deriveSeed(seed, 1000 + 17 * l + d))));
    const pools = rffs.map((r) => embed(p, POOL, k, r));
    say(`${shortLayer(layer)}: ${k} features, γ = ${summary.gamma.toPrecision(3)}`);
    return { k, mean, p, summary, rffs, pools };
  });

  /** Per layer, per series: one batch's statistic. */
  const score = (features: readonly Float32Array[], rows: ArrayLike<number>): number[][] =>
    perLayer.map((t, l) => {
      const x = centredRows(features[l]!, rows, t.k, t.mean);
      const exact = driftRows(gramRowsOf(x, N, t.p, POOL, t.k), t.summary);
      return [exact.mmdRbf / exact.mmdWeight, ...t.rffs.map((r, i) => rffMmd(embed(x, N, t.k, r), N, t.pools[i]!, POOL))];
    });
  const nullPrng = createPrng(deriveSeed(seed, 100));
  const nulls: number[][][] = [];
  for (let b = 0; b < Number(values.null); b++) {
    nulls.push(score(everyDigit, distinctRows(nullPrng, heldOutDigits, N)));
    if ((b + 1) % 50 === 0) say(`null batches ${b + 1}/${values.null}`);
  }
  // How far each rff series is from the exact one on null batches: their correlation per layer.
  for (let l = 0; l < layers.length; l++) {
    const exact = nulls.map((b) => b[l]![0]!);
    const corr = dims.map((_, i) => correlation(exact, nulls.map((b) => b[l]![i + 1]!)));
    say(`${shortLayer(layers[l]!)}: correlation with exact on null batches, ${dims.map((d, i) => `D=${d} ${corr[i]!.toFixed(3)}`).join(', ')}`);
  }
  const windowPrng = createPrng(deriveSeed(seed, 300));
  const windowMeans = (from: readonly number[][][], l: number, s: number, length: number): number[] =>
    Array.from({ length: WINDOWS }, () => {
      let sum = 0;
      for (let j = 0; j < length; j++) sum += from[windowPrng.below(from.length)]![l]![s]!;
      return sum / length;
    });
  const thresholds = LENGTHS.map((length) =>
    layers.map((_, l) => series.map((_, s) => windowMeans(nulls, l, s, length).sort((a, b) => a - b)[Math.floor((1 - ALPHA) * WINDOWS)]!)),
  );

  const production: ProductionPool = { digits, indices: split.production, prng: createPrng(seed + 17), used: new Set() };
  const noise = createPrng(seed + 29);
  const random = (): number => noise.nextUint32() / 4294967296;
  const rows: string[] = [];
  const header = `| drift | K | ${series.map((s) => `${s}: best layer`).join(' | ')} |`;
  // Clean held-out production digits first: each statistic's false-alarm rate at its threshold.
  const clean: Scenario = { name: 'clean (false alarms)', kind: 'natural', draw: (pool) => distinctDigit(pool, () => true) };
  for (const scenario of [clean, ...standardScenarios(digits), ...weakScenarios()]) {
    const count = Number(values.drifted);
    const images = new Float32Array(count * N * DIGIT_SIZE);
    for (let b = 0; b < count; b++) {
      production.used.clear();
      for (let i = 0; i < N; i++) images.set(scenario.draw(production, random), (b * N + i) * DIGIT_SIZE);
    }
    const features = await featuresOf(images, count * N);
    const drifted = Array.from({ length: count }, (_, b) => score(features, Array.from({ length: N }, (_, i) => b * N + i)));
    LENGTHS.forEach((length, li) => {
      const cells = series.map((_, s) => {
        const power = layers.map((_, l) => windowMeans(drifted, l, s, length).filter((v) => v > thresholds[li]![l]![s]!).length / WINDOWS);
        const best = power.indexOf(Math.max(...power));
        return `${(100 * power[best]!).toFixed(1)}% (${shortLayer(layers[best]!)})`;
      });
      rows.push(`| ${scenario.name} | ${length} | ${cells.join(' | ')} |`);
    });
    say(rows.at(-1)!);
  }
  say(`\nclean-threshold power at α = ${ALPHA}, n = ${N}, pool ${POOL}, sketch ${SKETCH}, ${values.null} null and ${values.drifted} drifted batches a scenario, ${WINDOWS} windows a cell, seed ${seed}\n`);
  say(header);
  say(`| --- | --- | ${series.map(() => '---').join(' | ')} |`);
  for (const r of rows) say(r);
} finally {
  await model.close();
}

function correlation(a: readonly number[], b: readonly number[]): number {
  const ma = a.reduce((s, v) => s + v, 0) / a.length;
  const mb = b.reduce((s, v) => s + v, 0) / b.length;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  a.forEach((v, i) => {
    sab += (v - ma) * (b[i]! - mb);
    saa += (v - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  });
  return sab / Math.sqrt(saa * sbb);
}
