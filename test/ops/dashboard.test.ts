/**
 * The dashboard JSON on its own (no Prometheus): provisioning from files works (a
 * datasource variable that every panel and query uses), the variables are there, and
 * every metric a query names is one that ckawatch exports or the recording rules record.
 * test/ops/prometheus.test.ts runs the same queries against a real Prometheus.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createMetrics } from '../../src/metrics/index.js';
import { labelValuesQuery, loadDashboard, panelsOf, substitute, targetsOf } from './dashboard.js';
import { ROOT } from './tools.js';

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

function exportedNames(): Set<string> {
  const metrics = createMetrics({
    scoreSource: () => [],
    isReady: () => true,
    now: () => 0,
    build: { version: 'test', node: 'test', onnxruntime: 'test' },
    logger: pino({ level: 'silent' }),
  });
  const names = new Set<string>();
  for (const m of metrics.registry.getMetricsAsArray()) {
    names.add(m.name);
    if ((m as { type?: unknown }).type === 'histogram' || m.constructor.name === 'Histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
    }
  }
  return names;
}

function recordedNames(): Set<string> {
  const rules = parseYaml(readFileSync(join(ROOT, 'deploy/recording-rules.yaml'), 'utf8')) as { groups: { rules: { record?: string }[] }[] };
  return new Set(rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
}

describe('dashboards/ckawatch-overview.json', () => {
  const dashboard = loadDashboard();

  it('has a stable uid, a current schema and the datasource, job, window and layer variables', () => {
    expect(dashboard.uid).toBe('ckawatch-overview');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(39);
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect(vars.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const name of ['job', 'window', 'layer']) {
      expect(vars.get(name)?.type, name).toBe('query');
      expect(vars.get(name)?.datasource, name).toEqual(DATASOURCE);
      expect(labelValuesQuery(vars.get(name)!), name).not.toBeNull();
    }
    expect(vars.get('layer')).toMatchObject({ multi: true, includeAll: true, allValue: '.*' });
  });

  it('uses the datasource variable in every panel and every query', () => {
    const panels = panelsOf(dashboard);
    expect(panels.length).toBeGreaterThanOrEqual(10);
    for (const p of panels) expect(p.datasource, p.title).toEqual(DATASOURCE);
    for (const t of targetsOf(dashboard)) expect(t.datasource, `${t.panel} ${t.refId}`).toEqual(DATASOURCE);
  });

  it('lays panels out on the 24-column grid without overlaps, with unique ids', () => {
    const all = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    expect(new Set(all.map((p) => p.id)).size).toBe(all.length);
    const cells = new Set<string>();
    for (const p of all) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('covers scores, thresholds, drift, heatmap, throughput, lag, latency, rejections, provider and Gram precision', () => {
    const exprs = targetsOf(dashboard).map((t) => t.expr).join('\n');
    for (const name of [
      'ckawatch:cka:combined',
      'ckawatch:mmd2:combined',
      'ckawatch:threshold:combined',
      'ckawatch:drift:combined',
      'ckawatch_samples_total',
      'ckawatch_consumer_lag',
      'ckawatch_batch_duration_seconds_bucket',
      'ckawatch_inference_duration_seconds_bucket',
      'ckawatch_rejected_total',
      'ckawatch_execution_provider',
      'ckawatch_gram_relative_error',
    ]) {
      expect(exprs, name).toContain(name);
    }
    expect(panelsOf(dashboard).some((p) => p.type === 'status-history' && p.targets?.some((t) => t.expr?.includes('ckawatch:cka:combined')))).toBe(true);
    expect(exprs).toMatch(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(ckawatch_batch_duration_seconds_bucket/);
  });

  it('names only metrics that ckawatch exports or the recording rules record', () => {
    const known = new Set([...exportedNames(), ...recordedNames()]);
    const variables = dashboard.templating.list.map((v) => labelValuesQuery(v)?.selector ?? '');
    for (const expr of [...targetsOf(dashboard).map((t) => t.expr), ...variables]) {
      for (const [name] of expr.matchAll(/\bckawatch[_:][A-Za-z0-9_:]*/g)) expect(known.has(name), `${name} in ${expr}`).toBe(true);
    }
  });

  it('substitutes variables the way Grafana does', () => {
    expect(substitute('rate(x{job=~"$job", layer=~"${layer}"}[$__rate_interval])', { job: 'a', layer: '.*' })).toBe('rate(x{job=~"a", layer=~".*"}[20s])');
    expect(() => substitute('x{w="$nope"}', {})).toThrow(/no value for dashboard variable \$nope/);
  });
});
