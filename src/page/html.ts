import { readFileSync } from 'node:fs';

/**
 * The page's script (client.js beside this file: plain browser JavaScript, type-checked by
 * `npm run lint`), read once at start-up. The build copies it next to dist/page/html.js.
 */
const CLIENT_SCRIPT = readFileSync(new URL('./client.js', import.meta.url), 'utf8');

/**
 * The page at GET /: one self-contained HTML document (inline CSS and script, no external
 * asset), with the current scores embedded as JSON so that the first paint has data.
 * Everything dynamic is inserted by the script with textContent, never as markup.
 */
export function renderPage(options: { readonly payloadJson: string; readonly colours: readonly string[]; readonly nonce: string; readonly version: string }): string {
  const { nonce } = options;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ckawatch</title>
<style nonce="${nonce}">
  :root { color-scheme: light; --ink: #1d2330; --muted: #667085; --line: #e4e7ec; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f7f8fa; }
  header { display: flex; align-items: baseline; gap: 1rem; padding: 0.9rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 1.15rem; }
  header .links { margin-left: auto; }
  header a { color: var(--muted); margin-left: 1rem; }
  main { max-width: 1100px; margin: 1.2rem auto; padding: 0 1.5rem; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.2rem; margin-bottom: 1.2rem; }
  h2 { font-size: 1rem; margin: 0 0 0.6rem; color: var(--ink); }
  .bar h2 { margin: 0 0.6rem 0 0; }
  .bar { display: flex; align-items: center; gap: 0.6rem; margin-bottom: 0.6rem; color: var(--muted); }
  #status { margin-left: auto; }
  #status.error { color: #b42318; }
  svg { width: 100%; height: auto; display: block; }
  svg .label { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; fill: var(--ink); }
  svg .axis { font-size: 11px; fill: var(--muted); }
  svg .tick { stroke: var(--muted); }
  svg .empty { fill: #f2f4f7; }
  svg .alarm-spell { fill: #d62728; fill-opacity: 0.08; stroke: #d62728; stroke-width: 2.5; pointer-events: none; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 0.3rem 0.6rem; border-bottom: 1px solid var(--line); }
  td:first-child { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; word-break: break-all; }
  th { font-weight: 600; color: var(--muted); }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  .swatch { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 2px; margin-right: 0.5em; vertical-align: -0.05em; }
  .note { color: var(--muted); font-size: 12px; margin: 0.6rem 0 0; }
  .witnesses { display: grid; grid-template-columns: repeat(auto-fill, minmax(116px, 1fr)); gap: 0.7rem; }
  .witness { font-size: 11px; color: var(--muted); word-break: break-all; }
  .witness img { display: block; width: 100%; image-rendering: pixelated; border: 1px solid var(--line); border-radius: 4px; margin-bottom: 0.2rem; }
  .witness b { color: var(--ink); }
  h3 { font-size: 0.9rem; margin: 1rem 0 0.5rem; color: var(--muted); font-weight: 600; }
</style>
</head>
<body>
<header>
  <h1>ckawatch</h1><span class="version">${escapeHtml(options.version)}</span>
  <span class="links"><a href="metrics">/metrics</a><a href="readyz">/readyz</a><a href="api/scores">/api/scores</a><a href="api/witnesses">/api/witnesses</a></span>
</header>
<main>
  <section>
    <div class="bar">
      <h2>CKA per layer over time</h2>
      <label>window <select id="window"></select></label>
      <span id="status">loading…</span>
    </div>
    <svg id="heatmap" role="img" aria-label="heatmap of CKA per layer over time" viewBox="0 0 1000 60"></svg>
    <p class="note">Covariance-alignment CKA of production against the reference over the chosen window: 1 when the
      covariance shape of a layer's features is unchanged, lower as it drifts (mean shifts show in MMD², not here).
      Grey: no score yet. Red outline: the model's alarm was on (calibrated over every layer and statistic).</p>
  </section>
  <section>
    <h2>Current scores</h2>
    <table>
      <thead><tr><th>layer</th><th class="num">CKA</th><th class="num">MMD² (RBF)</th><th class="num">MMD² (linear)</th><th class="num">samples</th></tr></thead>
      <tbody id="scores"></tbody>
    </table>
  </section>
  <section id="drifted" hidden>
    <div class="bar">
      <h2>What drifted</h2>
      <label>layer <select id="witness-layer"></select></label>
    </div>
    <div id="witnesses" class="witnesses"></div>
    <h3>Missing from production</h3>
    <div id="missing" class="witnesses"></div>
    <p class="note">The production samples of the window most unlike the reference in this layer (novelty: 1 − the RBF
      kernel to the nearest reference row of their batch), best first, with their Kafka coordinates; by default the layer whose CKA
      fell most. Pictures show when <code>witnesses.keepBytes</code> keeps the messages. Below them, the reference samples
      production resembles least (lowest MMD witness): what stopped arriving.</p>
  </section>
</main>
<script type="application/json" id="ckawatch-data">${options.payloadJson}</script>
<script type="application/json" id="ckawatch-colours">${JSON.stringify(options.colours)}</script>
<script nonce="${nonce}">${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}

/** JSON that is safe inside a <script> element: no "</script>", no "<!--". */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
