/** The CKA heatmap SVG: labels, titles, colour bar, undefined cells, escaping, long names. */
import { Resvg } from '@resvg/resvg-js';
import { describe, expect, it } from 'vitest';
import { inkOn, viridis } from '../../src/plot/colormap.js';
import { heatmapSvg, type HeatmapInput } from '../../src/plot/heatmap.js';

const base: HeatmapInput = {
  title: 'CKA: model-a vs model-b on digits',
  rowTitle: 'model-a layer',
  columnTitle: 'model-b layer',
  rows: ['conv1', 'relu1', 'logits'],
  columns: ['conv1', 'logits'],
  values: [
    [1, 0.5],
    [0.25, null],
    [0, 0.75],
  ],
};

/** Attributes of every element of one kind, in document order. */
function elements(svg: string, tag: string): Record<string, string>[] {
  return [...svg.matchAll(new RegExp(`<${tag}\\s([^>]*?)/?>`, 'g'))].map((m) =>
    Object.fromEntries([...m[1]!.matchAll(/([\w-]+)='([^']*)'/g)].map((a) => [a[1]!, a[2]!])),
  );
}

/** The text content of <text> elements (their <title> children removed). */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>(.*?)<\/text>/g)].map((m) => m[1]!.replace(/<title>.*?<\/title>/g, ''));
}

const colourBar = (svg: string): string => svg.match(/<g class='colour-bar'>([\s\S]*?)<\/g>/)?.[1] ?? '';
const withoutColourBar = (svg: string): string => svg.replace(/<g class='colour-bar'>[\s\S]*?<\/g>/, '');

/** Matrix cells: the rects that carry their value as a tooltip, in document (row-major) order. */
function cells(svg: string): { fill: string; width: number; tooltip: string }[] {
  return [...svg.matchAll(/<rect [^>]*width='([\d.]+)'[^>]*fill='([^']*)'><title>([^<]*)<\/title><\/rect>/g)].map((m) => ({
    width: Number(m[1]),
    fill: m[2]!,
    tooltip: m[3]!,
  }));
}

describe('heatmapSvg', () => {
  const svg = heatmapSvg(base);

  it('is one well-formed SVG document that resvg can draw', () => {
    expect(svg.startsWith("<svg xmlns='http://www.w3.org/2000/svg'")).toBe(true);
    expect(svg.endsWith('</svg>')).toBe(true);
    const png = new Resvg(svg).render();
    expect(png.width).toBeGreaterThan(100);
    expect(png.height).toBeGreaterThan(100);
  });

  it('has the title and both axis titles', () => {
    const t = texts(svg);
    expect(t).toContain('CKA: model-a vs model-b on digits');
    expect(t).toContain('model-a layer');
    expect(t).toContain('model-b layer');
  });

  it('labels every row and every column, each with its full name as a tooltip', () => {
    const t = texts(svg);
    for (const name of [...base.rows, ...base.columns]) {
      expect(t).toContain(name);
      expect(svg).toContain(`<title>${name}</title>${name}</text>`);
    }
    // Columns: one rotated label each.
    expect(svg.match(/rotate\(-90\)' text-anchor='end'/g)).toHaveLength(base.columns.length);
  });

  it('draws one cell per value, coloured on the viridis scale, with the value as tooltip and label', () => {
    const matrix = cells(svg);
    expect(matrix.map((c) => c.fill)).toEqual([viridis(1), viridis(0.5), viridis(0.25), '#bbbbbb', viridis(0), viridis(0.75)]);
    expect(matrix.map((c) => c.tooltip)).toEqual(['1', '0.5', '0.25', 'undefined', '0', '0.75']);
    expect(matrix.every((c) => c.width === 48)).toBe(true);
    expect(viridis(0)).toBe('#440154');
    expect(viridis(1)).toBe('#fde725');
    // Cells of 48 px hold their value, ink chosen for contrast.
    expect(texts(withoutColourBar(svg))).toEqual(expect.arrayContaining(['1.00', '0.50', '0.25', '0.00', '0.75']));
    expect(svg).toContain(`fill='${inkOn(1)}' `);
    expect(inkOn(1)).toBe('#000000');
    expect(inkOn(0)).toBe('#ffffff');
  });

  it('draws undefined (null) cells grey, labelled n/a', () => {
    expect(svg).toContain("fill='#bbbbbb'><title>undefined</title></rect>");
    expect(texts(svg)).toContain('n/a');
  });

  it('has a colour bar from the low end to the high end of the scale, with tick labels', () => {
    const bar = colourBar(svg);
    const steps = elements(bar, 'rect');
    expect(steps).toHaveLength(32);
    // Drawn top-down from the high end: the last step is the bottom (low) colour.
    expect(steps[0]!.fill).toBe(viridis(0));
    expect(steps.at(-1)!.fill).toBe(viridis(1));
    expect(Number(steps.at(-1)!.y)).toBeLessThan(Number(steps[0]!.y));
    expect(texts(bar)).toEqual(['0.00', '0.25', '0.50', '0.75', '1.00']);
    const custom = colourBar(heatmapSvg({ ...base, min: -1, max: 3 }));
    expect(texts(custom)).toEqual(['-1.00', '0.00', '1.00', '2.00', '3.00']);
  });

  it('escapes markup in titles and layer names', () => {
    const nasty = `blk<1>&"x'`;
    const out = heatmapSvg({ ...base, title: 'A & B <vs> "C"', rowTitle: "it's", rows: [nasty, 'b', 'c'], columns: [nasty, 'y'] });
    expect(out).not.toContain(nasty);
    expect(out).not.toContain('A & B');
    const escaped = 'blk&#60;1&#62;&#38;&#34;x&#39;';
    expect(out).toContain(`<title>${escaped}</title>${escaped}</text>`);
    expect(out.split(`<title>${escaped}</title>`)).toHaveLength(3);
    expect(texts(out)).toContain('A &#38; B &#60;vs&#62; &#34;C&#34;');
    expect(texts(out)).toContain('it&#39;s');
    new Resvg(out).render(); // still well-formed
  });

  it('shortens long names to their tail, keeping the full name in <title>', () => {
    const long = `/encoder/layers.11/attention/self/output/dense/MatMul_output_0_${'x'.repeat(20)}`;
    expect(long.length).toBeGreaterThan(48);
    const out = heatmapSvg({ ...base, rows: [long, 'b', 'c'], columns: [long, 'short'] });
    const shown = texts(out).filter((t) => t.startsWith('…'));
    expect(shown).toHaveLength(2);
    for (const label of shown) {
      expect(label.length).toBe(48);
      expect(long.endsWith(label.slice(1))).toBe(true);
    }
    expect(out.split(`<title>${long}</title>…`)).toHaveLength(3);
    expect(texts(out)).toContain('short');
  });

  it('keeps a large matrix legible: small cells without numbers, every label still present', () => {
    const names = Array.from({ length: 40 }, (_, i) => `layer${i}`);
    const values = names.map((_, i) => names.map((__, j) => (i === j ? 1 : 0.5)));
    const out = heatmapSvg({ ...base, rows: names, columns: names, values });
    const matrix = cells(out);
    expect(matrix).toHaveLength(1600);
    expect(matrix[0]!.width).toBe(16);
    expect(texts(withoutColourBar(out))).not.toContain('0.50');
    for (const name of names) expect(out.split(`<title>${name}</title>`)).toHaveLength(3);
  });

  it('fits the title and the colour bar inside the picture for a one-cell matrix', () => {
    const title = 'Drift of production-2026-11-30-rotated.npy against reference.npy';
    const out = heatmapSvg({ ...base, title, rows: ['a'], columns: ['b'], values: [[0.9]] });
    const [svgTag] = elements(out, 'svg');
    const width = Number(svgTag!.width);
    const height = Number(svgTag!.height);
    expect(width).toBeGreaterThanOrEqual(title.length * 9);
    for (const step of elements(colourBar(out), 'rect')) {
      expect(Number(step.y) + Number(step.height)).toBeLessThanOrEqual(height);
    }
    const tickYs = [...colourBar(out).matchAll(/<text x='[\d.]+' y='([\d.]+)'/g)].map((m) => Number(m[1]));
    for (const y of tickYs) expect(y).toBeLessThan(height);
  });
});
