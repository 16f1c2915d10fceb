/**
 * Writes the validation harness's digit streams as .npy files, for the side-by-side with
 * alibi-detect (tools/alibi/side_by_side.py). Same pieces as test/validation/harness.ts:
 * the seeded per-class split (seed 1 by default: reference and held-out production), and
 * the standard scenarios drawn the way the harness draws them (production prng seed + 17,
 * drift noise prng seed + 29; the samples of each block of 64 rows are distinct digits).
 *
 *   npx tsx tools/alibi/export-streams.ts [--out DIR] [--seed 1] [--windows 160]
 *
 * DIR (default /tmp/ckawatch-alibi) gets, all float32 [rows, 1, 28, 28] in [0, 1] (the
 * daemon's input for digits-cnn, unscaled):
 *   reference.npy   the reference split (5,002 digits)
 *   heldout.npy     the held-out production split (4,998 digits, never in the reference)
 *   clean.npy       windows × 64 clean draws from the held-out split
 *   drift-NN.npy    windows × 64 draws of scenario NN (standardScenarios' order)
 *   manifest.json   what each file is
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { splitDigitsRandomly, standardScenarios, type ProductionPool } from '../../test/validation/harness.js';
import { DIGIT_SIZE, gather, loadDigits } from '../../src/demo/digits.js';
import { writeNpyFile } from '../../src/io/npy-file.js';
import { createPrng } from '../../src/reference/prng.js';

const BLOCK = 64;
const SIDE = 28;

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: '/tmp/ckawatch-alibi' },
    seed: { type: 'string', default: '1' },
    windows: { type: 'string', default: '160' },
  },
});
const out = values.out!;
const seed = Number(values.seed);
const windows = Number(values.windows);
if (!Number.isInteger(seed) || !Number.isInteger(windows) || windows < 1) throw new Error('--seed and --windows must be integers (windows ≥ 1)');
mkdirSync(out, { recursive: true });

const digits = loadDigits();
const split = splitDigitsRandomly(digits, 0.5, seed);
const shape = (rows: number): number[] => [rows, 1, SIDE, SIDE];
writeNpyFile(join(out, 'reference.npy'), gather(digits, split.reference), shape(split.reference.length));
writeNpyFile(join(out, 'heldout.npy'), gather(digits, split.production), shape(split.production.length));

// As in runValidation: one production pool (distinct digits within a batch), one noise source.
const pool: ProductionPool = { digits, indices: split.production, prng: createPrng(seed + 17), used: new Set() };
const noise = createPrng(seed + 29);
const random = (): number => noise.nextUint32() / 4294967296;
const anyImage = (): Float32Array => {
  for (;;) {
    const i = pool.indices[pool.prng.below(pool.indices.length)]!;
    if (pool.used.has(i)) continue;
    pool.used.add(i);
    return digits.images.slice(i * DIGIT_SIZE, (i + 1) * DIGIT_SIZE);
  }
};
function stream(draw: () => Float32Array): Float32Array {
  const rows = windows * BLOCK;
  const data = new Float32Array(rows * DIGIT_SIZE);
  for (let r = 0; r < rows; r++) {
    if (r % BLOCK === 0) pool.used.clear();
    data.set(draw(), r * DIGIT_SIZE);
  }
  return data;
}

const files: { file: string; name: string; kind: string; rows: number }[] = [
  { file: 'reference.npy', name: 'reference split', kind: 'reference', rows: split.reference.length },
  { file: 'heldout.npy', name: 'held-out production split', kind: 'heldout', rows: split.production.length },
];
writeNpyFile(join(out, 'clean.npy'), stream(anyImage), shape(windows * BLOCK));
files.push({ file: 'clean.npy', name: 'clean', kind: 'clean', rows: windows * BLOCK });
standardScenarios(digits).forEach((scenario, k) => {
  const file = `drift-${String(k).padStart(2, '0')}.npy`;
  writeNpyFile(join(out, file), stream(() => scenario.draw(pool, random)), shape(windows * BLOCK));
  files.push({ file, name: scenario.name, kind: scenario.kind, rows: windows * BLOCK });
});
writeFileSync(join(out, 'manifest.json'), JSON.stringify({ seed, block: BLOCK, windows, files }, null, 2) + '\n');
process.stdout.write(`wrote ${files.length} arrays to ${out}\n`);
