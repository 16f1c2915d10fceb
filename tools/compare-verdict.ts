/**
 * How often `compare --data-b` calls clean data drift: `npx tsx tools/compare-verdict.ts [splits] [out.json]`.
 *
 * Per split s (seeded): 1,000 digits as --data and 500 others as --data-b, batch 64,
 * α = 0.05, 200 null batches; the model-level verdict and every per-series verdict are
 * tallied, then the same for B rotated by 40°. About 10-60 s a split on two busy cores.
 * The figures are in docs/statistics.md (Offline verdict).
 */
import { writeFileSync } from 'node:fs';
import { drifts } from '../src/demo/drifts.js';
import { openDigitsModel, tally, verdictOnSplit } from '../test/compare/verdict-splits.js';

const splits = Number(process.argv[2] ?? 40);
const out = process.argv[3];
const model = await openDigitsModel();
try {
  const clean = [];
  for (let s = 0; s < splits; s++) {
    const v = await verdictOnSplit(model, s);
    clean.push(v);
    const c = v.alarm?.cause;
    process.stdout.write(`split ${s}: ${v.alarm?.on ? 'DRIFT' : 'no drift'} (smallest p ${c?.pValue.toPrecision(3)} on ${c?.layer} ${c?.statistic}, level ${v.alarm?.level.toPrecision(3)}); series rejected ${v.series.filter((x) => x.drift).length}/${v.series.length}\n`);
  }
  const rotated = [];
  for (let s = 0; s < Math.min(5, splits); s++) rotated.push(await verdictOnSplit(model, s, undefined, drifts.rotate(40)));
  const result = { clean: tally(clean), rotated40: tally(rotated), pValues: clean.map((v) => v.series.map((x) => x.pValue)) };
  process.stdout.write(`${JSON.stringify({ clean: result.clean, rotated40: result.rotated40 })}\n`);
  if (out) writeFileSync(out, `${JSON.stringify(result)}\n`);
} finally {
  await model.close();
}
