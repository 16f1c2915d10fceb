/**
 * deploy/alerts.yaml: promtool accepts it, its unit tests (deploy/alerts.test.yaml, firing
 * and not firing for every alert) pass, and every metric it reads is one the daemon exports.
 * promtool comes with Prometheus: scripts/install-prometheus.sh (CI runs it).
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const RULES = join(ROOT, 'deploy/alerts.yaml');
const TESTS = join(ROOT, 'deploy/alerts.test.yaml');

function promtool(): string {
  for (const dir of (process.env['PATH'] ?? '').split(':').filter(Boolean)) {
    try {
      accessSync(join(dir, 'promtool'), constants.X_OK);
      return join(dir, 'promtool');
    } catch {
      // not in this directory; try the next one
    }
  }
  throw new Error('promtool not found on PATH: install it with `bash scripts/install-prometheus.sh` (Debian package prometheus)');
}

function run(args: string[]): Promise<string> {
  const tool = promtool();
  return new Promise((done, fail) => {
    execFile(tool, args, { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`promtool ${args.join(' ')} failed:\n${stdout}\n${stderr}`));
      else done(`${stdout}${stderr}`);
    });
  });
}

interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: { readonly severity: string };
}

const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

describe('deploy/alerts.yaml', () => {
  it('passes promtool check rules', async () => {
    expect(await run(['check', 'rules', RULES])).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('passes its promtool unit tests', async () => {
    expect(await run(['test', 'rules', TESTS])).toContain('SUCCESS');
  });

  it('has a firing and a not-firing case for every alert', () => {
    const cases = (parse(readFileSync(TESTS, 'utf8')) as { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }).tests.flatMap(
      (t) => t.alert_rule_test,
    );
    for (const { alert } of rules) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect({ alert, fires: mine.some((c) => c.exp_alerts.length > 0), quiet: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({
        alert,
        fires: true,
        quiet: true,
      });
    }
  });

  it('reads only metrics the daemon exports, and pages or warns', () => {
    const definitions = readFileSync(join(ROOT, 'src/metrics/definitions.ts'), 'utf8');
    const exported = new Set([...definitions.matchAll(/name: '(ckawatch_[a-z0-9_]+)'/g)].map((m) => m[1]!));
    for (const { alert, expr, labels } of rules) {
      for (const [metric] of expr.matchAll(/ckawatch_[a-z0-9_]+/g)) expect(exported, `${alert} reads ${metric}`).toContain(metric);
      expect(['page', 'warning']).toContain(labels.severity);
    }
    expect(rules.map((r) => r.alert)).toEqual([
      'CkawatchDrift',
      'CkawatchLayerDrift',
      'CkawatchConsumerStalled',
      'CkawatchConsumerLagGrowing',
      'CkawatchRejectedBurst',
      'CkawatchCheckpointFailing',
      'CkawatchBlind',
      'CkawatchNotReady',
    ]);
  });
});
