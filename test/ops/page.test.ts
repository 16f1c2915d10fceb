/**
 * The built-in page, served by a running daemon (`ckawatch demo`: MNIST digits through the
 * bundled CNN, clean, then rotated part-way) and loaded in headless Chromium (Debian's,
 * scripts/install-chromium.sh):
 *
 *   demo daemon ── GET / (HTML + embedded scores) ──▶ chromium --dump-dom   ─▶ SVG cells, table rows
 *              └── GET /api/scores (polled)      ──▶ chromium --screenshot ─▶ PNG
 *
 * The screenshot goes to .cache/ops/ckawatch-page.png; with CKAWATCH_UPDATE_DOCS=1 also to
 * docs/ckawatch-page.png (the picture in the docs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScoresPayload } from '../../src/page/index.js';
import type { WitnessesPayload } from '../../src/page/witnesses.js';
import { MAIN } from '../helpers/daemon.js';
import { useTempDir } from '../helpers/files.js';
import { waitFor } from '../helpers/kafka.js';
import { ROOT, requireTool, run } from './tools.js';

const DRIFT_AFTER_S = 12;
/** History samples (2 s apart) to wait for: some clean, most drifting. */
const HISTORY = 15;
const LAYERS = 4; // the demo model's default set (digits-cnn)

let chromium: string;
let demo: ChildProcess | undefined;
let url = '';
let output = '';
const profiles = useTempDir('ckawatch-chromium-');

function startDemo(): Promise<string> {
  const child = spawn(process.execPath, [MAIN, 'demo', '--port', '0', '--rate', '200', '--drift-after', String(DRIFT_AFTER_S), '--drift', 'rotate', '--duration', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demo = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo printed no metrics URL within 60 s:\n${output.slice(-2000)}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /metrics: (http:\/\/\S+)\/metrics/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (${signal ?? code}) before serving:\n${output.slice(-2000)}`));
    });
  });
}

/** Debian's chromium, headless, no network beyond the page, a throw-away profile. */
function chromiumArgs(...extra: string[]): string[] {
  const profile = mkdtempSync(profiles.path('profile-'));
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profile}`,
    // Lets the page's script run (and one poll of api/scores finish) before the dump.
    '--virtual-time-budget=3000',
    ...extra,
    ...(extra.some((a) => a.startsWith('--window-size=')) ? [] : ['--window-size=1200,900']),
  ];
}

async function scores(): Promise<ScoresPayload> {
  const response = await fetch(`${url}/api/scores`, { signal: AbortSignal.timeout(5_000) });
  expect(response.headers.get('content-type')).toBe('application/json');
  return (await response.json()) as ScoresPayload;
}

describe('built-in page in headless Chromium', () => {
  beforeAll(async () => {
    chromium = requireTool('chromium');
    url = await startDemo();
    // Enough history for a heatmap with the drift in it.
    await waitFor(async () => (await scores()).history.t.length >= HISTORY, 90_000, `${HISTORY} history samples on /api/scores`, 1_000);
  }, 120_000);

  afterAll(async () => {
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      const exited = new Promise((resolve) => demo!.once('exit', resolve));
      demo.kill('SIGTERM');
      await exited;
    }
  }, 30_000);

  it('serves a self-contained page with the scores embedded, behind a strict CSP', async () => {
    const response = await fetch(`${url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = response.headers.get('content-security-policy') ?? '';
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(csp).toContain("default-src 'none'");
    expect(nonce).toBeDefined();
    const html = await response.text();
    expect(html).toContain(`<script nonce="${nonce}">`);
    // No external asset of any kind: no src attributes, no stylesheets, no fonts or CSS urls.
    expect(html).not.toMatch(/\ssrc=|<link\b|url\(|@import/i);
    const embedded = /<script type="application\/json" id="ckawatch-data">(.*?)<\/script>/s.exec(html)?.[1];
    const payload = JSON.parse(embedded ?? 'null') as ScoresPayload;
    expect(payload.layers).toHaveLength(LAYERS);
    expect(payload.history.t.length).toBeGreaterThanOrEqual(HISTORY);
  });

  it('answers /api/scores with current scores and a per-layer history', async () => {
    const data = await scores();
    expect(data.windows).toEqual(['30s', '5m']);
    expect(data.current).toHaveLength(LAYERS * data.windows.length);
    for (const w of data.windows) {
      expect(data.history.cka[w]).toHaveLength(LAYERS);
      for (const row of data.history.cka[w]!) expect(row).toHaveLength(data.history.t.length);
    }
    expect(data.history.t).toEqual([...data.history.t].sort((a, b) => a - b));
    expect(data.history.cka['30s']!.flat().filter((v) => v !== null).length).toBeGreaterThan(LAYERS * 5);
  });

  it('renders the heatmap with data and the scores table (DOM after the script ran)', async () => {
    const { stdout: dom } = await run(chromium, chromiumArgs('--dump-dom', `${url}/`), { timeoutMs: 60_000 });
    const cells = [...dom.matchAll(/<rect [^>]*class="cell"[^>]*data-value="([^"]+)"/g)].map((m) => Number(m[1]));
    expect(cells.length).toBeGreaterThanOrEqual(LAYERS * 5);
    expect(cells.every(Number.isFinite)).toBe(true);
    // A row label per layer, a table row per layer, and a status line that says it updated.
    expect([...dom.matchAll(/<text [^>]*class="label"/g)]).toHaveLength(LAYERS);
    const body = /<tbody id="scores">(.*?)<\/tbody>/s.exec(dom)?.[1] ?? '';
    expect([...body.matchAll(/<tr>/g)]).toHaveLength(LAYERS);
    expect(dom).toMatch(/<span id="status"[^>]*>updated \d/);
    // What drifted: the demo keeps its (public) digits, so the panel shows them as pictures.
    expect(dom).toMatch(/<section id="drifted">/); // not hidden
    const cards = [...dom.matchAll(/<div class="witness"><img alt="sample (\d+)" src="api\/witnesses\/sample\?window=30s&amp;layer=[^"]+&amp;at=\d+&amp;rank=\1">/g)];
    expect(cards.length).toBeGreaterThanOrEqual(8);
    const missing = [...dom.matchAll(/<div class="witness"><img alt="reference sample \d+" src="api\/witnesses\/reference\?window=30s&amp;layer=[^"]+&amp;at=\d+&amp;rank=\d+">/g)];
    expect(missing.length).toBeGreaterThanOrEqual(8);
  });

  it('marks the alarm spells on the heatmap: the history has the alarm off while clean and on after the rotation', async () => {
    const data = await scores();
    const alarms = data.history.alarm['30s']!;
    expect(alarms).toHaveLength(data.history.t.length);
    const first = alarms.indexOf(1);
    expect(first, JSON.stringify(alarms)).toBeGreaterThan(0);
    // Clean digits before the drift: the model alarm off (0) at every sample before it.
    expect(alarms.slice(0, first).every((a) => a === 0 || a === null)).toBe(true);
    expect(alarms.slice(0, first)).toContain(0);
    const { stdout: dom } = await run(chromium, chromiumArgs('--dump-dom', `${url}/#window=30s`), { timeoutMs: 60_000 });
    const spells = [...dom.matchAll(/<rect [^>]*class="alarm-spell"[^>]*data-from="(\d+)" data-to="(\d+)"/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    expect(spells.length).toBeGreaterThanOrEqual(1);
    // Each spell starts and ends at samples with the alarm on; the first starts at the first such sample or later (the page polled since).
    for (const [from, to] of spells) expect(from).toBeLessThanOrEqual(to);
    expect(spells[0]![0]).toBeGreaterThanOrEqual(data.history.t[first]!);
  });

  it('the demo\'s table shows thresholds, p-values and the alarm, and says when the alarm first fired and where', () => {
    expect(output).toMatch(/^layer\s+window\s+cka\s+< thr\s+mmd²\(lin\)\s+> thr\s+mmd²\(rbf\)\s+> thr\s+p \(smallest\)\s+alarm\s+samples$/m);
    expect(output).toMatch(/^model alarm: not fired yet$/m); // the table at 10 s, before the drift at 12 s
    const fired = /^model alarm first fired: 30s window at t=(\d+)s on (\S+) (cka|mmd2_linear|mmd2_rbf) \(p [\d.e+-]+\)/m.exec(output);
    expect(fired, output.slice(-3000)).not.toBeNull();
    expect(Number(fired![1])).toBeGreaterThanOrEqual(DRIFT_AFTER_S);
    expect(output).toMatch(/ALARM (cka|lin|rbf)\s+\d+$/m);
  });

  it('serves the samples behind the drift: /api/witnesses and each kept digit as a PNG', async () => {
    const response = await fetch(`${url}/api/witnesses?window=30s`);
    expect(response.status).toBe(200);
    const w = (await response.json()) as WitnessesPayload;
    expect(w.layers).toHaveLength(LAYERS);
    expect(w.samples.length).toBeGreaterThanOrEqual(8);
    expect(w.samples.every((s) => s.topic === 'demo-digits' && s.kept && s.novelty >= 0 && s.novelty <= 1)).toBe(true);
    const image = await fetch(`${url}/api/witnesses/sample?window=30s&layer=${encodeURIComponent(w.layer)}&rank=1`);
    expect(image.headers.get('content-type')).toBe('image/png');
    const png = Buffer.from(await image.arrayBuffer());
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([112, 112]); // 28 x 28, 4 times
  });

  it('takes a screenshot', async () => {
    const out = join(ROOT, '.cache/ops/ckawatch-page.png');
    mkdirSync(join(ROOT, '.cache/ops'), { recursive: true });
    rmSync(out, { force: true });
    await run(chromium, chromiumArgs('--hide-scrollbars', `--screenshot=${out}`, `${url}/`), { timeoutMs: 60_000 });
    const png = readFileSync(out);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([1200, 900]);
    expect(png.length).toBeGreaterThan(20_000); // a blank page compresses to a few KB
    if (process.env['CKAWATCH_UPDATE_DOCS'] === '1') copyFileSync(out, join(ROOT, 'docs/ckawatch-page.png'));
    // The whole page, "what drifted" panel included.
    const whole = join(ROOT, '.cache/ops/ckawatch-witnesses.png');
    await run(chromium, chromiumArgs('--hide-scrollbars', '--window-size=1200,1600', `--screenshot=${whole}`, `${url}/`), { timeoutMs: 60_000 });
    expect(readFileSync(whole).readUInt32BE(20)).toBe(1600);
    if (process.env['CKAWATCH_UPDATE_DOCS'] === '1') copyFileSync(whole, join(ROOT, 'docs/ckawatch-witnesses.png'));
  });
});
