/** The compare progress bar: on stderr when it is a terminal, silent otherwise (pipes, CI logs). */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { progressBar } from '../../src/cli/progress.js';

const original = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');

function stderrIsTTY(value: boolean): void {
  Object.defineProperty(process.stderr, 'isTTY', { value, configurable: true });
}

function captureStderr(): string[] {
  const written: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  return written;
}

afterEach(() => {
  vi.restoreAllMocks();
  if (original) Object.defineProperty(process.stderr, 'isTTY', original);
  else delete (process.stderr as { isTTY?: boolean }).isTTY;
});

describe('progressBar', () => {
  it('writes nothing when stderr is not a TTY', () => {
    stderrIsTTY(false);
    const written = captureStderr();
    const bar = progressBar('compare');
    for (let i = 1; i <= 5; i++) bar.update(i, 5);
    bar.stop();
    bar.stop();
    expect(written).toEqual([]);
  });

  it('draws batches done / total on a TTY, and stopping twice is harmless', () => {
    stderrIsTTY(true);
    const written = captureStderr();
    const bar = progressBar('compare');
    bar.update(1, 4);
    bar.update(4, 4);
    bar.stop();
    const drawn = written.join('');
    expect(drawn).toContain('compare [');
    expect(drawn).toContain('4/4 batches');
    const after = written.length;
    bar.stop();
    expect(written.length).toBe(after);
  });

  it('writes nothing on a TTY when no batch was reported', () => {
    stderrIsTTY(true);
    const written = captureStderr();
    progressBar('compare').stop();
    expect(written).toEqual([]);
  });
});
