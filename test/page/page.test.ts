import { describe, expect, it } from 'vitest';
import type { RouteResponse } from '../../src/http/routes.js';
import { createStatusPage, type ScoreRow, type ScoresPayload } from '../../src/page/index.js';
import { createHistory } from '../../src/page/history.js';
import type { RowAlarm } from '../../src/page/rows.js';
import { scriptJson } from '../../src/page/html.js';

const row = (layer: string, window: string, cka: number | null, samples = 64): ScoreRow => ({ layer, window, cka, mmd2Linear: 0.5, mmd2Rbf: 0.01, samples });

function harness(rows: () => ScoreRow[]) {
  let now = 1_000_000;
  const errors: unknown[] = [];
  const page = createStatusPage({ rows, now: () => now, version: '9.9.9', intervalMs: 1_000, capacity: 3, onError: (e) => errors.push(e) });
  const get = async (path: string): Promise<RouteResponse> => page.routes[path]!({ url: new URL(`http://x${path}`), headers: {} });
  const api = async (): Promise<ScoresPayload> => JSON.parse(String((await get('/api/scores')).body)) as ScoresPayload;
  return { page, get, api, errors, tick: (ms: number) => (now += ms) };
}

describe('status page history', () => {
  it('keeps the last `capacity` samples, oldest first, per layer and window', async () => {
    let cka = 0.9;
    const h = harness(() => [row('a', '5m', cka), row('b', '5m', null), row('a', '1h', 1)]);
    for (let i = 0; i < 5; i++) {
      h.page.sample();
      h.tick(1_000);
      cka += 0.01;
    }
    const data = await h.api();
    expect(data.layers).toEqual(['a', 'b']);
    expect(data.windows).toEqual(['5m', '1h']);
    expect(data.history.t).toEqual([1_002_000, 1_003_000, 1_004_000]);
    expect(data.history.cka['5m']![0]!.map((v) => v!.toFixed(2))).toEqual(['0.92', '0.93', '0.94']);
    expect(data.history.cka['5m']![1]).toEqual([null, null, null]);
    expect(data.history.cka['1h']).toEqual([[1, 1, 1], [null, null, null]]);
    expect(data).toMatchObject({ now: 1_005_000, intervalMs: 1_000, historyMs: 3_000 });
    expect(data.current).toHaveLength(3);
  });

  it('records nothing while there are no rows (start-up), and nothing when rows() throws', () => {
    let mode: 'empty' | 'throw' | 'ok' = 'empty';
    const errors: unknown[] = [];
    const history = createHistory({
      rows: () => {
        if (mode === 'throw') throw new Error('window set broken');
        return mode === 'empty' ? [] : [row('a', 'w', 1)];
      },
      now: () => 0,
      capacity: 10,
      onError: (e) => errors.push(e),
    });
    history.sample();
    mode = 'throw';
    history.sample();
    history.sample();
    mode = 'ok';
    history.sample();
    expect(history.samples()).toHaveLength(1);
    expect(errors).toHaveLength(1); // once per failure streak
    expect(() => createHistory({ rows: () => [], now: () => 0, capacity: 0 })).toThrow(/capacity must be a whole number of at least 1, got 0/);
  });

  it('records the model alarm per window and sample: 1 on, 0 off, null before there is one', async () => {
    const alarm = (on: boolean): RowAlarm => ({ on, score: on ? 2 : -1, cause: { layer: 'b', statistic: 'mmd2_rbf', pValue: on ? 1e-5 : 0.2 } });
    const states: (boolean | null)[] = [null, false, true, true, false];
    let i = 0;
    const h = harness(() => {
      const state = states[Math.min(i, states.length - 1)]!;
      const a = state === null ? null : alarm(state);
      return [{ ...row('a', '5m', 0.9), alarm: a }, { ...row('b', '5m', 0.9), alarm: a }, row('a', '1h', 1)];
    });
    for (; i < states.length; i++) {
      h.page.sample();
      h.tick(1_000);
    }
    const data = await h.api();
    // capacity 3: the last three samples
    expect(data.history.alarm).toEqual({ '5m': [1, 1, 0], '1h': [null, null, null] });
    expect(data.current[0]!.alarm).toEqual(alarm(false));
  });

  it('sends non-finite scores as null, never NaN or Infinity', async () => {
    const h = harness(() => [{ ...row('a', 'w', Number.NaN), mmd2Rbf: Number.POSITIVE_INFINITY }]);
    h.page.sample();
    const text = String((await h.get('/api/scores')).body);
    expect(text).not.toMatch(/NaN|Infinity/);
    const data = JSON.parse(text) as ScoresPayload;
    expect(data.current[0]).toMatchObject({ cka: null, mmd2Rbf: null, mmd2Linear: 0.5 });
    expect(data.history.cka['w']).toEqual([[null]]);
  });
});

describe('status page HTML', () => {
  it('is one document with inline script and style under a per-response nonce', async () => {
    const h = harness(() => [row('a', '5m', 0.99)]);
    const first = await h.get('/');
    const second = await h.get('/');
    expect(first.contentType).toBe('text/html; charset=utf-8');
    const csp = first.headers?.['Content-Security-Policy'] ?? '';
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1] ?? '';
    expect(csp).toMatch(/^default-src 'none'; /);
    expect(csp).toContain(`style-src 'nonce-${nonce}'`);
    expect(csp).toContain("connect-src 'self'");
    expect(second.headers?.['Content-Security-Policy']).not.toBe(csp);
    const html = String(first.body);
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(html).toContain(`<style nonce="${nonce}">`);
    expect(html).toContain('9.9.9');
    expect(html).not.toMatch(/\ssrc=|<link\b|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  });

  it('embeds layer names that look like markup as inert JSON', async () => {
    const evil = '</script><script>alert(1)</script><!--';
    const h = harness(() => [row(evil, '5m', 0.99)]);
    const html = String((await h.get('/')).body);
    expect(html.match(/<\/script>/g)).toHaveLength(3); // the two JSON blocks and the script, nothing more
    const embedded = /<script type="application\/json" id="ckawatch-data">(.*?)<\/script>/s.exec(html)?.[1] ?? '';
    expect((JSON.parse(embedded) as ScoresPayload).layers).toEqual([evil]);
    expect(scriptJson({ s: '<\u2028>' })).toBe('{"s":"\\u003c\\u2028>"}');
  });
});
