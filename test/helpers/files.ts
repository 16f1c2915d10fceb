/**
 * Temp dirs for tests: made when first used, removed after the suite (or after each test),
 * so that no suite leaves files in /tmp, and .npy files written into them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { writeNpyFile } from '../../src/io/npy-file.js';

/** A fresh temp dir; `cleanup` removes it. */
export function tempDir(prefix = 'ckawatch-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TempDir {
  /** the directory, made on first use */
  readonly dir: string;
  /** `dir/...names` */
  path(...names: string[]): string;
  /** Writes `data` as the .npy file `dir/name` of `shape`; returns its path. */
  npy(name: string, data: Float32Array | Float64Array | Int32Array, shape: readonly number[]): string;
}

/**
 * A temp dir for the suite that calls this (at the top level of a file or a describe):
 * made on first use, removed after its last test; with `each`, a fresh one for every test.
 */
export function useTempDir(prefix: string, options: { each?: boolean } = {}): TempDir {
  let current: { dir: string; cleanup: () => void } | undefined;
  const remove = (): void => {
    current?.cleanup();
    current = undefined;
  };
  if (options.each) afterEach(remove);
  else afterAll(remove);
  const fixture: TempDir = {
    get dir() {
      current ??= tempDir(prefix);
      return current.dir;
    },
    path: (...names) => join(fixture.dir, ...names),
    npy: (name, data, shape) => {
      const path = fixture.path(name);
      writeNpyFile(path, data, shape);
      return path;
    },
  };
  return fixture;
}
