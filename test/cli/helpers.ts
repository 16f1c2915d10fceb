/** Shared by the test/cli suites: the built CLI run as a child process, fixture paths, .npy files. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpyFile, writeNpyFile } from '../../src/io/npy-file.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
export const CLI = `${REPO}/dist/cli/main.js`;
export const DIGITS = `${REPO}/test/fixtures/data/digits-test-256.npy`;
export const model = (name: string): string => `${REPO}/test/fixtures/models/${name}.onnx`;

/** Newest modification time of the files under `dir`, in ms. */
function newest(dir: string): number {
  return Math.max(
    0,
    ...readdirSync(dir, { withFileTypes: true }).map((e) =>
      e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs,
    ),
  );
}

/**
 * Builds dist/ when it is missing (a fresh checkout) or older than src/, so that these
 * suites never test stale JavaScript; vitest's hookTimeout covers the ~10 s of tsc.
 */
export function ensureBuilt(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newest(`${REPO}/src`)) return;
  const built = spawnSync('npm', ['run', 'build'], { cwd: REPO, encoding: 'utf8' });
  // tsc emits despite type errors (say, in a file someone is editing): test what it emitted.
  if (!existsSync(CLI)) throw new Error(`npm run build wrote no ${CLI}:\n${built.stdout}\n${built.stderr}`);
  if (built.status !== 0) console.warn(`npm run build reported errors; testing what it emitted:\n${built.stdout}`);
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node dist/cli/main.js ...args` with stdout and stderr piped (so neither is a TTY). */
export function cli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** digits-test-256.npy as [256, 1, 28, 28] float32. */
export function loadDigits(): { data: Float32Array; count: number } {
  const array = readNpyFile(DIGITS);
  if (array.kind !== 'float32') throw new Error('digits fixture is not float32');
  return { data: array.data, count: array.shape[0]! };
}

export function writeSamples(path: string, data: Float32Array, shape: readonly number[] = [data.length / 784, 1, 28, 28]): string {
  writeNpyFile(path, data, shape);
  return path;
}

/** Each 28×28 image turned 90° counter-clockwise (numpy's rot90 over the last two axes). */
export function rotate90(images: Float32Array): Float32Array {
  const out = new Float32Array(images.length);
  for (let s = 0; s < images.length / 784; s++) {
    for (let i = 0; i < 28; i++) for (let j = 0; j < 28; j++) out[s * 784 + i * 28 + j] = images[s * 784 + j * 28 + (27 - i)]!;
  }
  return out;
}

/** `images` plus seeded uniform noise in [-amplitude, amplitude) (mulberry32: the same on every run). */
export function withNoise(images: Float32Array, amplitude: number, seed = 7): Float32Array {
  let state = seed >>> 0;
  return images.map((v) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return v + amplitude * ((((t ^ (t >>> 14)) >>> 0) / 2 ** 31) - 1);
  });
}
