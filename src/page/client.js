// @ts-check
/**
 * The built-in page's script: plain browser JavaScript (ES2020, no library, no build step),
 * read by html.ts and sent inline with a CSP nonce. Type-checked against the DOM and the
 * server's payload type by `npm run lint` (tsconfig.page.json: checkJs over this file).
 *
 * It reads the scores embedded in the page, draws the heatmap (SVG, one row per layer, one
 * cell per history sample, newest at the right) and the table, then polls `api/scores`
 * (relative, so the page also works behind a path prefix) every `intervalMs` and redraws.
 *
 * It also polls `api/witnesses` for the "what drifted" panel: the window's most novel
 * production samples in the chosen layer, with pictures of the kept ones.
 *
 * @typedef {import('./api.js').ScoresPayload} ScoresPayload
 * @typedef {import('./witnesses.js').WitnessesPayload} WitnessesPayload
 */
(() => {
  'use strict';
  const SVG = 'http://www.w3.org/2000/svg';
  /**
   * The element with this id, of the type the page's markup (html.ts) gives it.
   * @template {HTMLElement | SVGElement} T
   * @param {string} id
   * @param {{ new (): T, prototype: T }} type
   * @returns {T}
   */
  function byId(id, type) {
    const e = document.getElementById(id);
    if (!(e instanceof type)) throw new Error('the page has no <' + type.name + ' id="' + id + '">');
    return e;
  }
  const statusLine = byId('status', HTMLSpanElement);
  /** @type {string[]} */
  const stops = JSON.parse(byId('ckawatch-colours', HTMLScriptElement).text);
  /** @type {ScoresPayload} */
  let data = JSON.parse(byId('ckawatch-data', HTMLScriptElement).text);
  let chosen = decodeURIComponent((location.hash.match(/window=([^&]+)/) || [])[1] || '');

  const W = 1000, LABEL = 230, RIGHT = 70, TOP = 8, ROW = 22, AXIS = 26;

  /**
   * @param {string} name an SVG element name
   * @param {Record<string, string | number>} attrs
   * @param {Element} [parent]
   * @param {string} [text]
   */
  function node(name, attrs, parent, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  /** @param {string} c two hex digits */
  function hex(c) { return parseInt(c, 16); }
  /**
   * Viridis (the same stops as ckawatch compare's heatmaps) at t in [0, 1].
   * @param {number} t
   */
  function colour(t) {
    const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x)), f = x - i;
    const a = stops[i] ?? '#000000', b = stops[i + 1] ?? a;
    let out = '#';
    for (let k = 1; k < 7; k += 2) {
      const v = Math.round(hex(a.slice(k, k + 2)) + (hex(b.slice(k, k + 2)) - hex(a.slice(k, k + 2))) * f);
      out += v.toString(16).padStart(2, '0');
    }
    return out;
  }

  /**
   * Colour scale: 1 is the top; the bottom is 0.9 or lower in steps of 0.05, so noise near 1 stays one colour.
   * @param {readonly (readonly (number | null)[])[]} rows
   */
  function scale(rows) {
    let lo = 0.9;
    for (const row of rows) for (const v of row) if (v !== null && v < lo) lo = Math.floor(v * 20) / 20;
    lo = Math.max(lo, -1);
    return { lo, hi: 1, t: (/** @type {number} */ v) => (v - lo) / (1 - lo) };
  }

  /** @param {number | null} v @param {number} digits */
  function fmt(v, digits) { return v === null ? '–' : v.toFixed(digits); }
  /** @param {number | null} v */
  function small(v) { return v === null ? '–' : Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(4) : v.toExponential(2); }
  /** @param {number} ms */
  function clock(ms) { return new Date(ms).toLocaleTimeString([], { hour12: false }); }
  /** @param {string} name */
  function shorten(name) { return name.length > 34 ? '…' + name.slice(-33) : name; }

  /** @param {string} win */
  function drawHeatmap(win) {
    const svg = byId('heatmap', SVGSVGElement);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const layers = data.layers, rows = data.history.cka[win] || [], times = data.history.t;
    const height = TOP + Math.max(1, layers.length) * ROW + AXIS + 28;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + height);
    // The axis spans the history there is (at least 2 minutes), up to all the server keeps.
    const span = Math.min(data.historyMs, Math.max(120000, times[0] === undefined ? 0 : data.now - times[0] + data.intervalMs));
    const x0 = LABEL, x1 = W - RIGHT;
    const xOf = (/** @type {number} */ t) => x1 - ((data.now - t) / span) * (x1 - x0);
    const cellW = Math.max(1, (data.intervalMs / span) * (x1 - x0));
    const s = scale(rows);
    node('rect', { x: x0, y: TOP, width: x1 - x0, height: layers.length * ROW, class: 'empty' }, svg);
    layers.forEach((layer, i) => {
      const y = TOP + i * ROW;
      const label = node('text', { x: x0 - 8, y: y + ROW / 2 + 4, class: 'label', 'text-anchor': 'end' }, svg, shorten(layer));
      node('title', {}, label, layer);
      (rows[i] || []).forEach((v, k) => {
        const t = times[k] ?? data.now;
        const x = xOf(t);
        if (x + cellW <= x0) return;
        const cell = node('rect', {
          // +0.4: neighbouring cells overlap a little, so that no hairline seams show between them
          x: Math.max(x0, x - cellW).toFixed(2), y: y + 1, width: (cellW + 0.4).toFixed(2), height: ROW - 2,
          class: v === null ? 'cell missing' : 'cell', fill: v === null ? '#d9d9d9' : colour(s.t(v)),
          'data-layer': layer, 'data-value': v === null ? '' : String(v),
        }, svg);
        node('title', {}, cell, layer + '\n' + clock(t) + '  cka ' + fmt(v, 4));
      });
    });
    // Alarm spells: an outline over the time columns where the model alarm was on (runs of samples).
    const alarms = (data.history.alarm && data.history.alarm[win]) || [];
    for (let k = 0; k < alarms.length; k++) {
      if (alarms[k] !== 1) continue;
      let end = k;
      while (alarms[end + 1] === 1) end++;
      const left = Math.max(x0, xOf(times[k] ?? data.now) - cellW), right = xOf(times[end] ?? data.now);
      if (right > x0) {
        const spell = node('rect', {
          x: left.toFixed(2), y: TOP - 4, width: Math.max(1, right - left).toFixed(2), height: layers.length * ROW + 8,
          class: 'alarm-spell', 'data-from': String(times[k]), 'data-to': String(times[end]),
        }, svg);
        node('title', {}, spell, 'model alarm on ' + clock(times[k] ?? data.now) + '–' + clock(times[end] ?? data.now));
      }
      k = end;
    }
    // time axis: minutes back from now
    const yAxis = TOP + layers.length * ROW + 16;
    const seconds = span / 1000;
    const step = [15, 30, 60, 120, 300, 600, 1800].find((s) => seconds / s <= 6) || 3600;
    for (let back = 0; back <= seconds + 1e-9; back += step) {
      const x = x1 - (back / seconds) * (x1 - x0);
      node('line', { x1: x, x2: x, y1: yAxis - 12, y2: yAxis - 8, class: 'tick' }, svg);
      const label = back === 0 ? 'now' : back < 120 ? '−' + back + ' s' : '−' + Math.round(back / 60) + ' min';
      node('text', { x, y: yAxis + 2, class: 'axis', 'text-anchor': 'middle' }, svg, label);
    }
    // legend: the colour bar from lo to 1
    const yl = yAxis + 14, lw = 200, lx = x1 - lw;
    for (let k = 0; k < 40; k++) node('rect', { x: lx + (k * lw) / 40, y: yl, width: lw / 40 + 0.5, height: 8, fill: colour(k / 39) }, svg);
    node('text', { x: lx - 6, y: yl + 8, class: 'axis', 'text-anchor': 'end' }, svg, 'cka ' + s.lo.toFixed(2));
    node('text', { x: lx + lw + 6, y: yl + 8, class: 'axis' }, svg, '1.00');
    if (times.length === 0) node('text', { x: (x0 + x1) / 2, y: TOP + 16, class: 'axis', 'text-anchor': 'middle' }, svg, 'no history yet: the first sample comes within ' + data.intervalMs / 1000 + ' s');
  }

  /** @param {string} win */
  function drawTable(win) {
    const body = byId('scores', HTMLTableSectionElement);
    while (body.firstChild) body.removeChild(body.firstChild);
    const s = scale(data.history.cka[win] || []);
    for (const r of data.current.filter((r) => r.window === win)) {
      const tr = body.insertRow();
      tr.insertCell().textContent = r.layer;
      const cka = tr.insertCell();
      if (r.cka !== null) {
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.background = colour(s.t(r.cka));
        cka.appendChild(swatch);
      }
      cka.appendChild(document.createTextNode(fmt(r.cka, 4)));
      tr.insertCell().textContent = small(r.mmd2Rbf);
      tr.insertCell().textContent = small(r.mmd2Linear);
      tr.insertCell().textContent = String(r.samples);
      for (const cell of Array.from(tr.cells).slice(1)) cell.className = 'num';
    }
  }

  function render() {
    const select = byId('window', HTMLSelectElement);
    if (!data.windows.includes(chosen)) chosen = data.windows[0] || '';
    if (select.options.length !== data.windows.length) {
      select.replaceChildren(...data.windows.map((w) => new Option(w, w)));
    }
    select.value = chosen;
    drawHeatmap(chosen);
    drawTable(chosen);
    statusLine.textContent = 'updated ' + clock(data.now) + ' · ' + data.layers.length + ' layers · ' + data.history.t.length + ' samples of history';
    statusLine.className = '';
  }

  byId('window', HTMLSelectElement).addEventListener('change', (e) => {
    if (e.target instanceof HTMLSelectElement) chosen = e.target.value;
    history.replaceState(null, '', '#window=' + encodeURIComponent(chosen));
    render();
  });

  /** '' until the user picks a layer: then the server's choice, the layer whose CKA fell most. */
  let witnessLayer = '';
  async function pollWitnesses() {
    const section = byId('drifted', HTMLElement);
    const query = 'window=' + encodeURIComponent(chosen) + (witnessLayer ? '&layer=' + encodeURIComponent(witnessLayer) : '');
    const response = await fetch('api/witnesses?' + query, { cache: 'no-store', headers: { accept: 'application/json' } });
    section.hidden = !response.ok;
    if (!response.ok) return;
    /** @type {WitnessesPayload} */
    const w = await response.json();
    const select = byId('witness-layer', HTMLSelectElement);
    if (select.options.length !== w.layers.length) select.replaceChildren(...w.layers.map((l) => new Option(shorten(l), l)));
    select.value = w.layer;
    const at = '?window=' + encodeURIComponent(w.window) + '&layer=' + encodeURIComponent(w.layer) + '&at=' + data.now + '&rank=';
    byId('witnesses', HTMLDivElement).replaceChildren(...w.samples.map((s) => card(
      s.kept ? 'api/witnesses/sample' + at + s.rank : null, 'sample ' + s.rank, '#' + s.rank + ' novelty ' + s.novelty.toFixed(3),
      s.topic + ' ' + s.partition + '@' + s.offset + (s.sample > 0 ? '[' + s.sample + ']' : '') + (s.key === null ? '' : ' key ' + s.key) + (s.timestamp === null ? '' : ' ' + clock(s.timestamp)),
    )));
    byId('missing', HTMLDivElement).replaceChildren(...w.missing.map((m) => card(
      'api/witnesses/reference' + at + m.rank, 'reference sample ' + m.index, '#' + m.rank + ' witness ' + m.witness.toFixed(3), 'reference #' + m.index,
    )));
  }

  /**
   * One sample: its picture (when there is one), a bold line and a line of where it came from.
   * @param {string | null} src @param {string} alt @param {string} head @param {string} where
   */
  function card(src, alt, head, where) {
    const div = document.createElement('div');
    div.className = 'witness';
    if (src !== null) {
      const img = document.createElement('img');
      img.alt = alt;
      img.src = src;
      div.appendChild(img);
    }
    const b = document.createElement('b');
    b.textContent = head;
    div.append(b, document.createElement('br'), document.createTextNode(where));
    return div;
  }

  byId('witness-layer', HTMLSelectElement).addEventListener('change', (e) => {
    if (e.target instanceof HTMLSelectElement) witnessLayer = e.target.value;
    void pollWitnesses().catch(() => undefined);
  });

  async function poll() {
    try {
      const response = await fetch('api/scores', { cache: 'no-store', headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      data = await response.json();
      render();
      await pollWitnesses();
    } catch (err) {
      statusLine.textContent = 'cannot refresh (' + (err instanceof Error ? err.message : String(err)) + '); showing ' + clock(data.now);
      statusLine.className = 'error';
    }
    setTimeout(poll, data.intervalMs);
  }

  render();
  void pollWitnesses().catch(() => undefined);
  setTimeout(poll, data.intervalMs);
})();
