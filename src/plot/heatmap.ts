import { inkOn, viridis } from './colormap.js';

/**
 * A CKA heatmap as a standalone SVG document: rows and columns labelled with layer
 * names, axis titles, a colour bar, and the value in each cell when cells are large
 * enough to hold it. Pure: returns text; writing files is someone else's job.
 */
export interface HeatmapInput {
  readonly title: string;
  readonly rowTitle: string;
  readonly columnTitle: string;
  readonly rows: readonly string[];
  readonly columns: readonly string[];
  /** values[row][column]; null where undefined (drawn grey) */
  readonly values: readonly (readonly (number | null)[])[];
  /** colour scale; CKA lives in [0, 1] */
  readonly min?: number;
  readonly max?: number;
  /** marked[row][column]: cells outlined in red (compare's drift verdicts) */
  readonly marked?: readonly (readonly boolean[])[];
}

const FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'";

export function heatmapSvg(input: HeatmapInput): string {
  const { rows, columns, values } = input;
  const min = input.min ?? 0;
  const max = input.max ?? 1;
  const cell = Math.max(14, Math.min(48, Math.floor(640 / Math.max(rows.length, columns.length, 1))));
  const labelChars = Math.min(48, Math.max(...[...rows, ...columns].map((s) => s.length), 4));
  const labelWidth = 16 + labelChars * 6.2;
  const left = labelWidth + 30;
  const top = 50;
  const barH = Math.max(120, rows.length * cell);
  // Room for the title (16 px type, ~9.5 px a character) and for a colour bar taller than a short matrix.
  const width = Math.max(left + columns.length * cell + 110, Math.ceil(input.title.length * 9.5) + 40);
  const height = Math.max(top + rows.length * cell + labelWidth + 30, top + barH + 30);
  const short = (s: string): string => (s.length > labelChars ? `…${s.slice(s.length - labelChars + 1)}` : s);
  const scale = (v: number): number => (v - min) / (max - min || 1);
  const out: string[] = [
    `<svg xmlns='http://www.w3.org/2000/svg' width='${width}' height='${height}' viewBox='0 0 ${width} ${height}'>`,
    `<rect width='100%' height='100%' fill='#ffffff'/>`,
    `<text x='${width / 2}' y='24' text-anchor='middle' font-size='16' ${FONT}>${esc(input.title)}</text>`,
  ];
  rows.forEach((name, i) => {
    const y = top + i * cell;
    out.push(
      `<text x='${left - 6}' y='${y + cell / 2 + 4}' text-anchor='end' font-size='11' ${FONT}><title>${esc(name)}</title>${esc(short(name))}</text>`,
    );
    columns.forEach((_, j) => {
      const v = values[i]?.[j] ?? null;
      const x = left + j * cell;
      const fill = v === null ? '#bbbbbb' : viridis(scale(v));
      out.push(`<rect x='${x}' y='${y}' width='${cell}' height='${cell}' fill='${fill}'><title>${v ?? 'undefined'}</title></rect>`);
      if (input.marked?.[i]?.[j] === true) {
        out.push(`<rect class='marked' x='${x + 1.5}' y='${y + 1.5}' width='${cell - 3}' height='${cell - 3}' fill='none' stroke='#d62728' stroke-width='3'/>`);
      }
      if (cell >= 30) {
        const label = v === null ? 'n/a' : v.toFixed(2);
        out.push(
          `<text x='${x + cell / 2}' y='${y + cell / 2 + 4}' text-anchor='middle' font-size='10' fill='${v === null ? '#000000' : inkOn(scale(v))}' ${FONT}>${label}</text>`,
        );
      }
    });
  });
  const bottom = top + rows.length * cell;
  columns.forEach((name, j) => {
    const x = left + j * cell + cell / 2 + 4;
    out.push(
      `<text transform='translate(${x},${bottom + 6}) rotate(-90)' text-anchor='end' font-size='11' ${FONT}><title>${esc(name)}</title>${esc(short(name))}</text>`,
    );
  });
  out.push(
    `<text transform='translate(14,${top + (rows.length * cell) / 2}) rotate(-90)' text-anchor='middle' font-size='13' ${FONT}>${esc(input.rowTitle)}</text>`,
    `<text x='${left + (columns.length * cell) / 2}' y='${height - 8}' text-anchor='middle' font-size='13' ${FONT}>${esc(input.columnTitle)}</text>`,
  );
  // colour bar
  const barX = left + columns.length * cell + 24;
  const steps = 32;
  out.push(`<g class='colour-bar'>`);
  for (let s = 0; s < steps; s++) {
    const y = top + ((steps - 1 - s) * barH) / steps;
    out.push(`<rect x='${barX}' y='${y}' width='16' height='${barH / steps + 0.5}' fill='${viridis(s / (steps - 1))}'/>`);
  }
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const y = top + (1 - t) * barH;
    out.push(`<text x='${barX + 22}' y='${y + 4}' font-size='10' ${FONT}>${(min + t * (max - min)).toFixed(2)}</text>`);
  }
  out.push('</g>', '</svg>');
  return out.join('\n');
}

function esc(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
