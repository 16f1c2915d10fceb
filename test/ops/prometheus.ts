/**
 * A real Prometheus for a test (Debian's, started by scripts/prometheus.sh on a free port
 * with its own run dir), and its HTTP query API.
 *
 *   daemons ──scrape every 1s──▶ prometheus ──rules (deploy/recording-rules.yaml)──▶ ckawatch:*
 *                                   ▲
 *   test ──/api/v1/query, query_range, label values──┘
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { ROOT, requireTool, run } from './tools.js';

export interface Series {
  readonly metric: Readonly<Record<string, string>>;
  /** instant query: one value; range query: every value */
  readonly values: readonly number[];
}

export interface PrometheusOptions {
  /** job name to "host:port" targets */
  readonly jobs: Readonly<Record<string, readonly string[]>>;
  readonly ruleFiles: readonly string[];
}

export class TestPrometheus {
  readonly url: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #dir: string;

  private constructor(url: string, env: NodeJS.ProcessEnv, dir: string) {
    this.url = url;
    this.#env = env;
    this.#dir = dir;
  }

  /**
   * Writes the config (2 s scrape and rule interval: 1 s with a 900 ms timeout lost scrapes
   * on a loaded 2-core machine, leaving rate() over 20 s without two samples), starts
   * Prometheus, waits for /-/ready.
   */
  static async start(options: PrometheusOptions): Promise<TestPrometheus> {
    requireTool('prometheus');
    requireTool('promtool');
    const dir = mkdtempSync(join(tmpdir(), 'ckawatch-test-prometheus-'));
    const port = await freePort();
    const config = {
      global: { scrape_interval: '2s', scrape_timeout: '1900ms', evaluation_interval: '2s' },
      rule_files: [...options.ruleFiles],
      scrape_configs: Object.entries(options.jobs).map(([job, targets]) => ({ job_name: job, static_configs: [{ targets: [...targets] }] })),
    };
    const configPath = join(dir, 'prometheus.yml');
    writeFileSync(configPath, stringify(config));
    const env = { ...process.env, PROMETHEUS_PORT: String(port), PROMETHEUS_RUN_DIR: join(dir, 'run') };
    await run('bash', [join(ROOT, 'scripts/prometheus.sh'), 'start', configPath], { timeoutMs: 60_000, env }).catch((err: unknown) => {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    });
    return new TestPrometheus(`http://127.0.0.1:${port}`, env, dir);
  }

  async stop(): Promise<void> {
    try {
      await run('bash', [join(ROOT, 'scripts/prometheus.sh'), 'stop'], { timeoutMs: 30_000, env: this.#env });
    } finally {
      rmSync(this.#dir, { recursive: true, force: true });
    }
  }

  /** An instant query at now. */
  async query(expr: string): Promise<Series[]> {
    const data = await this.#get('/api/v1/query', { query: expr });
    if (data.resultType === 'scalar') return [{ metric: {}, values: [Number((data.result as [number, string])[1])] }];
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({ metric: r.metric, values: [Number(r.value[1])] }));
  }

  /** A range query, as a Grafana panel runs it. */
  async queryRange(expr: string, startMs: number, endMs: number, stepSeconds: number): Promise<Series[]> {
    const data = await this.#get('/api/v1/query_range', {
      query: expr,
      start: String(startMs / 1000),
      end: String(endMs / 1000),
      step: String(stepSeconds),
    });
    return (data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((r) => ({
      metric: r.metric,
      values: r.values.map((v) => Number(v[1])),
    }));
  }

  /** Values of `label` on series matching `selector` (what Grafana's label_values() asks). */
  async labelValues(label: string, selector: string): Promise<string[]> {
    const url = new URL(`${this.url}/api/v1/label/${encodeURIComponent(label)}/values`);
    url.searchParams.append('match[]', selector);
    return (await this.#fetch(url)) as string[];
  }

  /** Retries `query` until `accept` holds (rules and scrapes lag by a second or two). */
  async waitFor(expr: string, accept: (series: Series[]) => boolean, what: string, timeoutMs = 30_000): Promise<Series[]> {
    const deadline = Date.now() + timeoutMs;
    let last: Series[] = [];
    for (;;) {
      last = await this.query(expr);
      if (accept(last)) return last;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last result of ${expr}: ${JSON.stringify(last).slice(0, 1500)}`);
      }
      await sleep(500);
    }
  }

  async #get(path: string, params: Record<string, string>): Promise<{ resultType: string; result: unknown }> {
    const url = new URL(this.url + path);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return (await this.#fetch(url)) as { resultType: string; result: unknown };
  }

  async #fetch(url: URL): Promise<unknown> {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { status: string; data?: unknown; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${url.pathname} ${url.searchParams.get('query') ?? ''}: ${body.error ?? response.status}`);
    return body.data;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
