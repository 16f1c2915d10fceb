import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { ConfigError } from '../errors/index.js';

export type PictureFormat = 'svg' | 'png';

/** The format a picture file name asks for; throws ConfigError for anything but .svg and .png. */
export function pictureFormat(path: string): PictureFormat {
  const kind = extname(path).toLowerCase();
  if (kind === '.svg') return 'svg';
  if (kind === '.png') return 'png';
  throw new ConfigError(`cannot write a picture to '${path}': use a .svg or .png file name`);
}

/** Writes an SVG document as .svg, or rasterised to .png (resvg, system fonts). */
export async function writePicture(path: string, svg: string): Promise<void> {
  if (pictureFormat(path) === 'svg') return writeFile(path, svg);
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'zoom', value: 2 } })
    .render()
    .asPng();
  return writeFile(path, png);
}
