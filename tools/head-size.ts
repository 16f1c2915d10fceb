/**
 * Issue 20, a design study: what a smaller pool head (fewer pool rows M, a narrower sketch k)
 * gives up in detection, next to what it saves. The head's cost is about M·Σk multiply-adds a
 * sample (bench/taps.ts measures it); this runs the validation (test/validation/harness.ts,
 * the daemon's calibrator, pipeline, windows and model alarm) once per head size, same seed,
 * same streams, on the standard drifts and the weak ones of the all-layer study.
 *
 *   npx tsx tools/head-size.ts [--heads 2048:512,512:128,256:128,128:128] [--out docs/validation]
 *
 * Writes head-size.json (per head: false-alarm rates and, per drift, the model alarm's median
 * delay and power) and head-size.svg (that power, drift by head), and prints the tables of
 * docs/validation/head-size.md; `--render` redoes both from the JSON without running anything.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { STATISTICS, type Statistic } from '../src/cka/statistic.js';
import { loadDigits } from '../src/demo/digits.js';
import { heatmapSvg } from '../src/plot/heatmap.js';
import { writePicture } from '../src/plot/write.js';
import { falseAlarmRate, runValidation, standardRun, standardScenarios } from '../test/validation/harness.js';
import { medianDelay, pct, weakScenarios } from '../test/validation/all-layer.js';
import { bestDelay, DETECTED_POWER } from '../test/validation/report.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const { values } = parseArgs({
  options: {
    heads: { type: 'string', default: '2048:512,512:128,256:128,128:128' },
    out: { type: 'string', default: join(ROOT, 'docs/validation') },
    render: { type: 'boolean', default: false },
  },
});

interface HeadResult {
  readonly pool: number;
  readonly sketchWidth: number;
  /** per window length (batches): clean windows, the model alarm's and the per-series false-alarm rates */
  readonly clean: readonly { length: number; windows: number; alarm: number; perSeries: number }[];
  /**
   * per drift: the model alarm's median delay (null: most onsets saw nothing), its power at K,
   * the best single series' delay, and per statistic its most powerful layer's power at K
   */
  readonly drifts: readonly { scenario: string; delay: number | null; power: number; best: number | null; statistics: Record<Statistic, number> }[];
  readonly elapsedMs: number;
}

/** the standard run's window (standardRun) */
const K = 4;
const jsonPath = join(values.out, 'head-size.json');
const progress = (message: string): void => void process.stderr.write(`${message}\n`);

let heads: HeadResult[];
if (values.render) {
  heads = JSON.parse(readFileSync(jsonPath, 'utf8')) as HeadResult[];
} else {
  const digits = loadDigits();
  const scenarios = [...standardScenarios(digits), ...weakScenarios()];
  heads = [];
  for (const head of values.heads.split(',')) {
    const [pool, sketchWidth] = head.split(':').map(Number) as [number, number];
    progress(`head: pool ${pool}, sketch width ${sketchWidth}`);
    const r = await runValidation({ ...standardRun(scenarios, progress), pool, sketchWidth });
    heads.push({
      pool,
      sketchWidth,
      clean: r.clean.map((c) => ({ length: c.length, windows: c.windows, alarm: c.modelAlarm / c.windows, perSeries: falseAlarmRate(c) })),
      drifts: r.alarmDetection.map((a) => {
        const power = a.power[K] ?? 0;
        const cells = r.detection.filter((c) => c.scenario === a.scenario);
        const statistics = Object.fromEntries(STATISTICS.map((s) => [s, Math.max(...cells.filter((c) => c.statistic === s).map((c) => c.power[K] ?? 0))])) as Record<Statistic, number>;
        return { scenario: a.scenario, delay: power < DETECTED_POWER ? null : medianDelay(a.delays), power, best: bestDelay(r, a.scenario)?.delay ?? null, statistics };
      }),
      elapsedMs: r.elapsedMs,
    });
    writeFileSync(jsonPath, `${JSON.stringify(heads, null, 1)}\n`);
  }
}

const name = (h: HeadResult): string => `M = ${h.pool}, k = ${h.sketchWidth}`;
const delay = (d: number | null): string => (d === null ? 'not detected' : String(d));
const lines = [
  `| | ${heads.map(name).join(' | ')} |`,
  `| --- | ${heads.map(() => '---:').join(' | ')} |`,
  ...heads[0]!.clean.map((c, i) => `| clean, windows of ${c.length}: model alarm · per series | ${heads.map((h) => `${pct(h.clean[i]!.alarm)} · ${pct(h.clean[i]!.perSeries)}`).join(' | ')} |`),
  ...heads[0]!.drifts.map(
    (d, i) => `| ${d.scenario} | ${heads.map((h) => `${delay(h.drifts[i]!.delay)} · ${pct(h.drifts[i]!.power)}`).join(' | ')} |`,
  ),
  '',
  // Where the power goes: each statistic's best layer, on the drifts no head saturates.
  `| drift: best layer's power at ${K} batches, ${STATISTICS.join(' · ')} | ${heads.map(name).join(' | ')} |`,
  `| --- | ${heads.map(() => '---:').join(' | ')} |`,
  ...heads[0]!.drifts.flatMap((d, i) =>
    heads.every((h) => h.drifts[i]!.power === 1) ? [] : [`| ${d.scenario} | ${heads.map((h) => STATISTICS.map((s) => `${Math.round(100 * h.drifts[i]!.statistics[s])}%`).join(' · ')).join(' | ')} |`],
  ),
];
process.stdout.write(`${lines.join('\n')}\n`);

// The same power as a picture: the drifts a smaller head loses stand out as a column turning dark.
const drifts = heads[0]!.drifts.filter((_, i) => heads.some((h) => h.drifts[i]!.power < 1));
await writePicture(
  join(values.out, 'head-size.svg'),
  heatmapSvg({
    title: `Model alarm's power at ${K} batches of 64, by pool head (M rows, sketch k)`,
    rowTitle: 'drift',
    columnTitle: 'pool head',
    rows: drifts.map((d) => d.scenario),
    columns: heads.map((h) => `M ${h.pool}, k ${h.sketchWidth}`),
    values: drifts.map((d) => heads.map((h) => h.drifts.find((x) => x.scenario === d.scenario)!.power)),
  }),
);
