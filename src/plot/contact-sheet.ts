/**
 * A contact sheet as a standalone SVG document: rows of small pictures (PNG, embedded as
 * data: URLs, drawn with hard edges) each with a caption, under a title per row. Pure:
 * returns text; write.ts turns it into a .svg or a .png (resvg draws embedded PNGs).
 */
export interface SheetRow {
  readonly title: string;
  readonly cells: readonly { readonly png: Uint8Array; readonly caption: string }[];
}

const FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'";
const CELL = 84;
const GAP = 10;
const PER_LINE = 8;

export function contactSheetSvg(input: { readonly title: string; readonly rows: readonly SheetRow[] }): string {
  const width = 2 * GAP + PER_LINE * (CELL + GAP);
  const out: string[] = [];
  let y = 34;
  out.push(`<text x='${GAP}' y='22' font-size='16' font-weight='bold' ${FONT}>${xml(input.title)}</text>`);
  for (const row of input.rows) {
    y += 14;
    out.push(`<text x='${GAP}' y='${y}' font-size='13' fill='#444' ${FONT}>${xml(row.title)}</text>`);
    y += 8;
    row.cells.forEach((cell, i) => {
      const x = GAP + (i % PER_LINE) * (CELL + GAP);
      const top = y + Math.floor(i / PER_LINE) * (CELL + 26);
      out.push(
        `<image x='${x}' y='${top}' width='${CELL}' height='${CELL}' image-rendering='optimizeSpeed' href='data:image/png;base64,${Buffer.from(cell.png).toString('base64')}'/>`,
        `<text x='${x + CELL / 2}' y='${top + CELL + 14}' font-size='11' text-anchor='middle' fill='#333' ${FONT}>${xml(cell.caption)}</text>`,
      );
    });
    y += Math.ceil(row.cells.length / PER_LINE) * (CELL + 26);
  }
  const height = y + GAP;
  return [
    `<svg xmlns='http://www.w3.org/2000/svg' width='${width}' height='${height}' viewBox='0 0 ${width} ${height}'>`,
    `<rect width='100%' height='100%' fill='#ffffff'/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

function xml(text: string): string {
  return text.replace(/[&<>'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
