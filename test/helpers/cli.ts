/** The built CLI run as a child process (`node dist/cli/main.js ...`), and the digits data its suites feed it. */
import { spawn } from 'node:child_process';
import { readNpyFile } from '../../src/io/npy-file.js';
import { DIGITS_DATA, ROOT } from './fixtures.js';
import { rng } from './random.js';

export const CLI = `${ROOT}/dist/cli/main.js`;

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `node dist/cli/main.js ...args` with stdout and stderr piped (so neither is a TTY).
 * dist/ must be fresh: call services.ts's buildIfStale in beforeAll.
 */
export function cli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const array = readNpyFile(DIGITS_DATA);
  if (array.kind !== 'float32') throw new Error('digits fixture is not float32');
  return { data: array.data, count: array.shape[0]! };
}

/** Each 28×28 image turned 90° counter-clockwise (numpy's rot90 over the last two axes). */
export function rotate90(images: Float32Array): Float32Array {
  const out = new Float32Array(images.length);
  for (let s = 0; s < images.length / 784; s++) {
    for (let i = 0; i < 28; i++) for (let j = 0; j < 28; j++) out[s * 784 + i * 28 + j] = images[s * 784 + j * 28 + (27 - i)]!;
  }
  return out;
}

/** `images` plus seeded uniform noise in [-amplitude, amplitude). */
export function withNoise(images: Float32Array, amplitude: number, seed = 7): Float32Array {
  const u = rng(seed);
  return images.map((v) => v + amplitude * (2 * u() - 1));
}
