/**
 * The validation suite, trimmed for CI (the full run: `npx tsx tools/validate.ts`, results
 * in docs/validation/). Real digits, the real model, the daemon's calibrator, pipeline and
 * windows; about 15 s on two cores.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadDigits } from '../../src/demo/digits.js';
import { STATISTICS } from '../../src/cka/statistic.js';
import { falseAlarmRate, runValidation, standardScenarios, type ValidationResult } from './harness.js';
import { detected } from './report.js';
import { DIGITS_MODEL } from '../helpers/fixtures.js';

const ALPHA = 0.05;
const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

function promtool(args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile('promtool', args, { timeout: 60_000 }, (error, stdout, stderr) => (error ? fail(new Error(`promtool failed:\n${stdout}\n${stderr}`)) : done(`${stdout}${stderr}`)));
  });
}
const K = 2;

let result: ValidationResult;

beforeAll(async () => {
  const all = standardScenarios(loadDigits());
  const keep = ['rotation 40°', 'brightness +0.2, contrast ×0.7', 'class prior: digits 0, 1, 7 only', 'OOD: inverted images', 'OOD: uniform noise images', 'gaussian noise σ=0.3'];
  result = await runValidation({
    modelPath: DIGITS_MODEL,
    // digits-cnn's default layers, named so that the trimmed run stays the same if the default moves.
    layers: ['/pool1/MaxPool_output_0', '/pool2/MaxPool_output_0', '/relu3/Relu_output_0', 'logits'],
    n: 64,
    m: 64,
    falseAlarmRate: ALPHA,
    calibrationBatches: 100,
    windowBatches: K,
    cleanWindows: 60,
    scenarios: all.filter((s) => keep.includes(s.name)),
    watchBatches: 8,
    repeats: 1,
    seed: 3,
  });
}, 300_000);

describe('validation on MNIST digits (trimmed)', () => {
  it('keeps the model alarm at its configured rate on clean windows, and raises it on every strong drift within two batches', () => {
    const clean = result.clean[0]!;
    expect(clean.modelAlarm / clean.windows).toBeLessThanOrEqual(2 * ALPHA);
    for (const a of result.alarmDetection) expect({ scenario: a.scenario, delay: a.delays[0] }).toEqual({ scenario: a.scenario, delay: expect.any(Number) });
    for (const a of result.alarmDetection) expect(a.delays[0]!).toBeLessThanOrEqual(2);
  });

  it('pages (deploy/alerts.yaml, promtool) on a drift but not on the clean stream, from the alarm the daemon computed', async () => {
    // One evaluation per minute: the clean stream's sliding-window alarm, then the first drift's.
    const drift = result.alarmDetection.find((a) => a.scenario === 'rotation 40°')!;
    const values = [...result.alarmTrace, ...drift.trace].map((on) => (on ? 1 : 0));
    const onset = result.alarmTrace.length;
    const firstOn = onset + drift.trace.indexOf(true);
    const dir = mkdtempSync(join(tmpdir(), 'ckawatch-page-'));
    const rules = join(dir, 'alerts.yaml');
    copyFileSync(join(ROOT, 'deploy/alerts.yaml'), rules);
    const rule = (parse(readFileSync(rules, 'utf8')) as { groups: { rules: { alert: string; annotations: Record<string, string> }[] }[] }).groups
      .flatMap((g) => g.rules)
      .find((r) => r.alert === 'CkawatchDrift')!;
    const annotations = Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, v.replaceAll('{{ $labels.window }}', 'k2')]));
    const test = {
      rule_files: [rules],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [{ series: 'ckawatch_alarm{job="ckawatch",instance="validation",window="k2"}', values: values.join(' ') }],
          alert_rule_test: [
            { eval_time: `${onset - 1}m`, alertname: 'CkawatchDrift', exp_alerts: [] },
            // for: 5m after the first minute the alarm is on (docs/statistics.md: delay + for:)
            { eval_time: `${firstOn + 5}m`, alertname: 'CkawatchDrift', exp_alerts: [{ exp_labels: { severity: 'page', job: 'ckawatch', window: 'k2' }, exp_annotations: annotations }] },
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'test.yaml'), JSON.stringify(test));
    expect(drift.trace.slice(drift.trace.indexOf(true)).every(Boolean)).toBe(true);
    // No clean spell long enough to page: at most 5 evaluations in a row.
    expect(await promtool(['test', 'rules', join(dir, 'test.yaml')])).toContain('SUCCESS');
    // The clean stream never held the alarm long enough to page at any time, not only at its end.
    let run = 0;
    let longest = 0;
    for (const on of result.alarmTrace) longest = Math.max(longest, (run = on ? run + 1 : 0));
    expect(longest).toBeLessThan(6);
  });

  it('keeps the false-alarm rate on clean held-out digits within twice the configured rate', () => {
    const clean = result.clean[0]!;
    expect(clean.windows).toBe(60);
    // 60 windows × 4 layers × 3 statistics = 720 judgements (correlated across layers).
    expect(falseAlarmRate(clean)).toBeLessThanOrEqual(2 * ALPHA);
  });

  it('detects every injected drift, in most layers, within a few batches', () => {
    for (const scenario of new Set(result.detection.map((c) => c.scenario))) {
      const cells = result.detection.filter((c) => c.scenario === scenario);
      const caught = cells.filter((c) => detected(c, K) && c.delays[0] !== null && c.delays[0]! <= 4);
      // every drift here is strong: at least half of the layer/statistic series see it
      expect({ scenario, caught: caught.length >= cells.length / 2 }).toEqual({ scenario, caught: true });
    }
  });

  it('sees out-of-distribution inputs with every statistic in the deeper layers at once', () => {
    for (const scenario of ['OOD: inverted images', 'OOD: uniform noise images']) {
      for (const statistic of STATISTICS) {
        for (const layer of ['/pool2/MaxPool_output_0', '/relu3/Relu_output_0', 'logits']) {
          const c = result.detection.find((d) => d.scenario === scenario && d.layer === layer && d.statistic === statistic)!;
          expect({ scenario, statistic, layer, delay: c.delays[0] }).toEqual({ scenario, statistic, layer, delay: 1 });
        }
      }
    }
  });
});
