/**
 * The Grafana dashboard as the tests see it: its panels' queries and variables, and the
 * substitution Grafana does before a query reaches Prometheus.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './tools.js';

export const DASHBOARD_PATH = join(ROOT, 'dashboards/ckawatch-overview.json');

export interface DashboardTarget {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
  /** instant queries (tables); the others are range queries */
  readonly instant: boolean;
  readonly datasource: unknown;
}

export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: unknown;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly targets?: readonly { refId: string; expr?: string; instant?: boolean; range?: boolean; datasource?: unknown }[];
  readonly panels?: readonly Panel[];
}

export interface Variable {
  readonly name: string;
  readonly type: string;
  readonly query: unknown;
  readonly datasource?: unknown;
  readonly multi?: boolean;
  readonly includeAll?: boolean;
  readonly allValue?: string;
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly Variable[] };
}

export function loadDashboard(path = DASHBOARD_PATH): Dashboard {
  return JSON.parse(readFileSync(path, 'utf8')) as Dashboard;
}

/** Every panel, rows' nested panels included, rows themselves excluded. */
export function panelsOf(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => (p.type === 'row' ? [...(p.panels ?? [])] : [p]));
}

export function targetsOf(d: Dashboard): DashboardTarget[] {
  return panelsOf(d).flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      refId: t.refId,
      expr: t.expr ?? '',
      instant: t.instant === true && t.range !== true,
      datasource: t.datasource,
    })),
  );
}

/**
 * Grafana's substitution: `$name`, `${name}` and `[[name]]` by the variable's value, and
 * the built-in intervals. A multi-value "All" is the variable's allValue (".*" here).
 */
export function substitute(expr: string, values: Readonly<Record<string, string>>): string {
  const all: Record<string, string> = { __rate_interval: '20s', __interval: '5s', __range: '5m', ...values };
  const out = expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (match, a?: string, b?: string, c?: string) => {
    const name = a ?? b ?? c ?? '';
    const value = all[name];
    if (value === undefined) throw new Error(`no value for dashboard variable ${match} in: ${expr}`);
    return value;
  });
  return out;
}

/** label_values(selector, label) of a query variable; null for other kinds of variable query. */
export function labelValuesQuery(v: Variable): { selector: string; label: string } | null {
  const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
  const match = /^label_values\((.+),\s*(\w+)\)$/.exec(q ?? '');
  return match ? { selector: match[1]!.trim(), label: match[2]! } : null;
}
