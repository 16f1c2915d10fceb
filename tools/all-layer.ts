/**
 * Issue 19: one statistic over all layers at once against the best single layer, on the
 * validation's digits (test/validation/all-layer.ts). Writes docs/validation/all-layer.json,
 * all-layer.md and all-layer.svg.
 *
 *   npx tsx tools/all-layer.ts            the study (6 minutes on two shared CPU cores, 2026-12-05)
 *   npx tsx tools/all-layer.ts --quick    a small run to try the code (written to /tmp)
 *   npx tsx tools/all-layer.ts --render   the tables and figure again from all-layer.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDigits } from '../src/demo/digits.js';
import { standardScenarios } from '../test/validation/harness.js';
import { ALARM, ALL, ALL_MEDIAN, bestSingle, pct, runAllLayerStudy, weakScenarios, type AllLayerStudy } from '../test/validation/all-layer.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const render = args.includes('--render');
const out = quick ? '/tmp/all-layer' : join(ROOT, 'docs/validation');
const COMMAND = 'npx tsx tools/all-layer.ts';
// Written from the run of 2026-12-05 (all-layer.json); a rerun with other settings needs it rewritten.
const CONCLUSION = `## Conclusion: drop

**No all-layer statistic beats the best single series in any cell**: 17 scenarios × 3
window lengths × 6 all-layer series, not one above the best single series (no bold in the
power tables). Where a single series is not yet at 100%, the gap is large: noise σ = 0.05 at
K = 4, pool1 mmd2_rbf 76.1% against 18.5% (all mmd2_rbf) and 13.2% (all-median mmd2_rbf);
rotation 4°, 68.3% against 56.2%; class prior 20% from 0, 1, 7, relu3 mmd2_rbf 35.0%
against 29.6% (all-median mmd2_rbf). The best single series is chosen after the fact (the
largest of 12 estimates), which flatters it where power is low, but not by gaps like these.

**Against the model alarm as it is** (fixed in advance, what pages), the all-layer RBF MMD²
wins some and loses more. It is ahead on the mild class-prior shifts (10% from 0, 1, 7:
19.1% all-median mmd2_rbf against 10.3% at K = 4, 47.5% against 30.1% at K = 16) and on
rotation 4° (56.2% against 46.6% at K = 4), and far behind on pixel-level drifts (noise
σ = 0.05: 18.5% against 45.3% at K = 4, 48.2% against 99.6% at K = 16; noise σ = 0.1 at
K = 1: 33.1% against 100%; brightness +0.03, contrast ×0.95 at K = 1: 35.4% against 94.9%).
**Added to the alarm** as three or six more series (\`alarm + all\`), they change its power
by at most 3.2 points in any cell (+2.2 at best: rotation 4°, K = 1; −3.2 at worst: class prior
20%, K = 16; mostly 0), within the noise of these estimates: the
alarm's joint level falls a little with every series added, and the drifts the all-layer
series see best are the ones a single layer already carries.

Why: in every scenario here the drift shows mostly in one layer (pool1 for pixel-level
changes, relu3 or pool2 for the class mix). A sum over layers adds that layer's signal to
the null noise of the others (linear: Σ_l mmd2_linear_l / s_l), and in the RBF kernel the
unchanged layers' distances add to the drifted layer's and widen the median-heuristic
bandwidth, so the drifted layer moves the kernel less. Scaling each layer by its own median
distance (all-median) shifts weight towards the deep layers: better on the class mix,
worse on pixel noise; neither weighting wins both. The alarm's minimum p-value over series
already picks the layer that carries the drift, at the cost of a lower level (about 0.01
for 12 series at 5%). The all-layer cka (covariance alignment of the concatenation) is the
weakest all-layer candidate in 47 of the 51 scenario × length cells.

So: no all-layer statistic in the daemon. Open: a drift spread evenly and weakly over all
layers (none of the 17 scenarios is one) would favour a sum; a model other than this
4-layer CNN could behave differently. Clean false-alarm rates are comparable across
candidates (table above: 3.6%-6.3% at K = 1, 1.9%-2.8% at K = 4, 1.3%-3.0% at K = 16 for the
all-layer series and the alarms, against single series averaging 4.7%, 2.7%, 2.6%); like the
single series of reference.seed 1 in [clean.md](clean.md), windows of 4 and 16 batches run
below α, for every candidate alike, so the power comparison is at the same level. Delays in
batches for K = 16 are of windows still holding clean batches (the watch is 12 batches).`;

const progress = (message: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);

const study: AllLayerStudy = render
  ? (JSON.parse(readFileSync(join(out, 'all-layer.json'), 'utf8')) as AllLayerStudy)
  : await runAllLayerStudy({
      modelPath: join(ROOT, 'test/fixtures/models/digits-cnn.onnx'),
      n: 64,
      pool: quick ? 256 : 2048,
      sketchWidth: 512,
      falseAlarmRate: 0.05,
      nullBatches: quick ? 40 : 500,
      cleanBatches: quick ? 20 : 300,
      driftBatches: quick ? 6 : 40,
      lengths: [1, 4, 16],
      windows: quick ? 100 : 1000,
      onsets: quick ? 5 : 20,
      watch: 12,
      scenarios: quick ? weakScenarios().slice(0, 2) : [...standardScenarios(loadDigits()), ...weakScenarios()],
      seed: 1,
      threads: 1,
      progress,
    });
if (quick) (await import('node:fs')).mkdirSync(out, { recursive: true });
if (!render) writeFileSync(join(out, 'all-layer.json'), `${JSON.stringify(study)}\n`);
writeFileSync(join(out, 'all-layer.md'), markdown(study));
writeFileSync(join(out, 'all-layer.svg'), figure(study, 4));
progress(`written to ${out}`);

function markdown(s: AllLayerStudy): string {
  const o = s.options;
  const compared = s.candidates.filter((x) => !s.singles.includes(x));
  const lines: string[] = [
    '# One statistic over all layers, or the best single layer? (issue 19)',
    '',
    `Generated by \`${COMMAND}\` on ${new Date().toISOString().slice(0, 10)} (${Math.round(s.elapsedMs / 1000)} s); raw numbers in [all-layer.json](all-layer.json).`,
    '',
    '## Method',
    '',
    `- Digits and model as the validation ([README.md](README.md)): digits-cnn, its ${s.layers.length} default layers (${s.layers.join(', ')}), reference = a seeded half of the digits, production = the other half; batches of n = ${o.n}; the pool scheme (every batch against a pool of ${o.pool} reference digits, layers wider than ${o.sketchWidth} CountSketched as the daemon does: widths ${s.widths.join(', ')}).`,
    `- Candidates, all from the daemon's own functions (\`driftRows\`, \`calibrate\`, \`judgeWindow\`): the ${s.singles.length} single series (layer × cka, mmd2_linear, mmd2_rbf); three statistics of a pseudo-layer \`all\`, the concatenation of every layer's centred features each scaled to unit mean squared norm on the pool (its Gram is Σ_l G_l / s_l, s_l = ${s.scales.map((v) => v.toPrecision(3)).join(', ')}): **all mmd2_linear** (= Σ_l mmd2_linear_l / s_l), **all mmd2_rbf** (k = exp(−γ Σ_l d²_l / s_l), γ = ${s.gammaAll[0]!.toPrecision(3)} by the median heuristic) and **all cka**; the same three for **all-median**, the concatenation with layer l scaled by its own median squared distance 1/γ_l instead (${s.medianScales.map((v) => v.toPrecision(3)).join(', ')}; Gram Σ_l γ_l G_l, γ = ${s.gammaAll[1]!.toPrecision(3)}), so that each layer's typical distance counts alike; the model alarm as it is (\`alarm\`, ${s.singles.length} series, joint level) and with the six all-layer series added (\`alarm + all\`).`,
    `- Every series is calibrated the same way: \`calibrate()\` on ${o.nullBatches} null batches (n held-out reference digits against the pool, fresh per batch), per-series level α = ${o.falseAlarmRate}, alarm rate ${o.falseAlarmRate}. A series alarms on a window when its p-value is below α.`,
    `- Windows of K = ${o.lengths.join(', ')} batches, ${o.windows} per cell, drawn with replacement from ${o.cleanBatches} clean production batches (false alarms) or from ${o.driftBatches} drifted batches per scenario (power: share of windows of drifted batches that alarm). Delay: ${o.onsets} onsets per scenario, each a window of clean batches followed by up to ${o.watch} drifted ones; the median number of drifted batches until the first alarm.`,
    `- Scenarios: the validation's nine (\`standardScenarios\`, test/validation/harness.ts) and eight weaker versions (\`weakScenarios\`, test/validation/all-layer.ts) near the edge of detection, where the standard ones leave no room: a drift every series catches at once cannot show a gain. Seed ${o.seed} for the split, the pool, the draws and the bootstrap.`,
    '- "Best single" is the single series with the most power in that cell, chosen after the fact: an upper bound on any one series fixed in advance (and the maximum of 12 noisy estimates).',
    '- The model runs only the features head; the products against the pool are float64 in JavaScript (the pool head reduces the per-layer distances the RBF on the concatenation needs). Per layer the statistics are the daemon\'s up to float32 rounding.',
    '',
    '## Clean production digits: false-alarm rates (α = 5%)',
    '',
    `| K | windows | single series, mean (range of ${s.singles.length}) | ${compared.join(' | ')} |`,
    `| ---: | ---: | --- | ${compared.map(() => '---:').join(' | ')} |`,
    ...s.clean.map((c) => {
      const singles = s.singles.map((x) => c.rate[x]!);
      const mean = singles.reduce((a, b) => a + b, 0) / singles.length;
      return `| ${c.length} | ${c.windows} | ${pct(mean)} (${pct(Math.min(...singles))}-${pct(Math.max(...singles))}) | ${compared.map((x) => pct(c.rate[x]!)).join(' | ')} |`;
    }),
    '',
    '## Power per scenario (share of windows of drifted batches that alarm)',
    '',
  ];
  for (const length of o.lengths) {
    lines.push(`### K = ${length} batch${length === 1 ? '' : 'es'}`, '', `| drift | best single | ${compared.join(' | ')} |`, `| --- | --- | ${compared.map(() => '---:').join(' | ')} |`);
    for (const sc of s.scenarios) {
      const p = sc.power[length]!;
      const best = bestSingle(p, s.singles);
      const mark = (x: string): string => (p[x]! > best.power ? `**${pct(p[x]!)}**` : pct(p[x]!));
      lines.push(`| ${sc.name} | ${pct(best.power)} (${best.series}) | ${compared.map(mark).join(' | ')} |`);
    }
    lines.push('', 'Bold: above the best single series.', '');
  }
  lines.push(
    '## Median delay (drifted batches until the first alarm; "-": not within the watch in most onsets)',
    '',
  );
  for (const length of o.lengths) {
    lines.push(`### K = ${length}`, '', `| drift | fastest single | ${compared.join(' | ')} |`, `| --- | --- | ${compared.map(() => '---:').join(' | ')} |`);
    for (const sc of s.scenarios) {
      const d = sc.delays[length]!;
      const fastest = s.singles.map((x) => ({ x, d: d[x]! })).reduce((a, b) => (b.d !== null && (a.d === null || b.d < a.d) ? b : a));
      lines.push(`| ${sc.name} | ${fastest.d ?? '-'}${fastest.d === null ? '' : ` (${fastest.x})`} | ${compared.map((x) => `${d[x] ?? '-'}`).join(' | ')} |`);
    }
    lines.push('');
  }
  lines.push('![Power at K = 4: the best single series, the all-layer MMD² statistics and the model alarm](all-layer.svg)', '', CONCLUSION, '');
  return lines.join('\n');
}

/** Grouped bars: per scenario, the power at K of the best single series, the three all-layer series and the alarm. */
function figure(s: AllLayerStudy, length: number): string {
  const bars = [
    { name: 'best single series', colour: '#555555', of: (p: Record<string, number>) => bestSingle(p, s.singles).power },
    { name: 'all mmd2_linear', colour: '#1f77b4', of: (p: Record<string, number>) => p[`${ALL} mmd2_linear`]! },
    { name: 'all mmd2_rbf', colour: '#d62728', of: (p: Record<string, number>) => p[`${ALL} mmd2_rbf`]! },
    { name: 'all-median mmd2_rbf', colour: '#9467bd', of: (p: Record<string, number>) => p[`${ALL_MEDIAN} mmd2_rbf`]! },
    { name: 'model alarm', colour: '#ff7f0e', of: (p: Record<string, number>) => p[ALARM]! },
  ];
  const rowH = 16 * bars.length + 14;
  const left = 310;
  const width = 760;
  const plot = width - left - 30;
  const top = 50;
  const height = top + rowH * s.scenarios.length + 40;
  const esc = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="20" y="18" font-size="14">Power at K = ${length} batches of ${s.options.n} (α = ${s.options.falseAlarmRate} per series)</text>`,
    ...bars.map((b, i) => `<rect x="${20 + i * 148}" y="28" width="10" height="10" fill="${b.colour}"/><text x="${34 + i * 148}" y="37" font-size="10">${b.name}</text>`),
  ];
  for (const x of [0, 0.25, 0.5, 0.75, 1]) {
    const at = left + plot * x;
    parts.push(`<line x1="${at}" y1="${top}" x2="${at}" y2="${height - 30}" stroke="#ddd"/><text x="${at}" y="${height - 14}" text-anchor="middle">${x * 100}%</text>`);
  }
  s.scenarios.forEach((sc, r) => {
    const y0 = top + r * rowH;
    parts.push(`<text x="${left - 8}" y="${y0 + rowH / 2}" text-anchor="end">${esc(sc.name)}</text>`);
    bars.forEach((b, i) => {
      const v = b.of(sc.power[length]!);
      parts.push(`<rect x="${left}" y="${y0 + 5 + i * 16}" width="${(plot * v).toFixed(1)}" height="13" fill="${b.colour}"/>`);
    });
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}

