import { defaultLayers, listLayers } from '../model/graph/layers.js';
import { readModel } from '../model/graph/onnx-file.js';

/** `ckawatch layers MODEL`: candidate tensors with op type and shape; `*` marks the default set. */
export async function layersCommand(path: string, options: { json?: boolean; all?: boolean }): Promise<void> {
  const model = await readModel(path);
  const all = listLayers(model);
  const chosen = defaultLayers(model);
  const defaults = new Set(chosen.layers);
  const shown = options.all ? all : all.filter((l) => defaults.has(l.name) || (l.shape?.length ?? 0) >= 2);
  if (options.json) {
    const rows = shown.map((l) => ({ ...l, default: defaults.has(l.name) }));
    process.stdout.write(`${JSON.stringify({ layers: rows, warnings: chosen.warnings }, null, 2)}\n`);
    return;
  }
  const width = Math.min(72, Math.max(8, ...shown.map((l) => l.name.length)));
  process.stdout.write(`  ${'tensor'.padEnd(width)}  ${'op'.padEnd(18)}shape\n`);
  for (const l of shown) {
    const shape = l.shape === null ? '?' : `[${l.shape.map((d) => d ?? '?').join(', ')}]`;
    process.stdout.write(`${defaults.has(l.name) ? '*' : ' '} ${l.name.padEnd(width)}  ${l.opType.padEnd(18)}${shape}\n`);
  }
  process.stdout.write(`\n* = monitored by default (${chosen.layers.length} tensors)\n`);
  for (const w of chosen.warnings) process.stderr.write(`ckawatch: warning: ${w}\n`);
}
