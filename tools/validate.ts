/**
 * The full validation run (docs/validation/): `npx tsx tools/validate.ts [outDir]`.
 * Clean held-out digits for the false-alarm rate (200 windows of 4 batches, α = 0.05),
 * then every drift scenario five times; writes tables, CSV and a plot. About two minutes
 * on two CPU cores; the same seed gives the same numbers. `--render` rewrites the tables
 * and the plot from outDir/results.json without running anything. The trimmed version
 * runs in CI: test/validation/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDigits } from '../src/demo/digits.js';
import { writePicture } from '../src/plot/write.js';
import { runValidation, standardScenarios, type ValidationResult } from '../test/validation/harness.js';
import { delaySvg, detectionCsv, falseAlarmCsv, resultsMarkdown, thresholdCsv } from '../test/validation/report.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const args = process.argv.slice(2);
const render = args.includes('--render');
const out = resolve(args.find((a) => !a.startsWith('--')) ?? join(ROOT, 'docs/validation'));
mkdirSync(out, { recursive: true });

const result: ValidationResult = render
  ? (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ValidationResult)
  : await runValidation({
      modelPath: join(ROOT, 'test/fixtures/models/digits-cnn.onnx'),
      n: 64,
      m: 64,
      falseAlarmRate: 0.05,
      calibrationBatches: 200,
      windowBatches: 4,
      cleanWindows: 200,
      otherLengths: [1, 16],
      scenarios: standardScenarios(loadDigits()),
      watchBatches: 20,
      repeats: 5,
      seed: 1,
      progress: (message) => process.stderr.write(`${message}\n`),
    });

if (!render) writeFileSync(join(out, 'results.json'), `${JSON.stringify(result, null, 1)}\n`);
writeFileSync(join(out, 'results.md'), resultsMarkdown(result));
writeFileSync(join(out, 'detection.csv'), detectionCsv(result));
writeFileSync(join(out, 'false-alarms.csv'), falseAlarmCsv(result));
writeFileSync(join(out, 'thresholds.csv'), thresholdCsv(result));
await writePicture(join(out, 'detection-delay.svg'), delaySvg(result));
process.stdout.write(`${resultsMarkdown(result)}\nwritten to ${out}\n`);
