/**
 * Starting a worker thread from its entry file, named by the caller as
 * `new URL('./worker.js', import.meta.url)` (as pino names its transport workers).
 *
 * Compiled (dist/**\/*.js): that file exists and is started as it is.
 * From sources (vitest, `npx tsx`): the caller's URL ends in .ts, so its sibling is
 * worker.ts. A worker thread does not inherit the main thread's TypeScript loader, and
 * on Node 20 `execArgv: ['--import', 'tsx']` does not reach a worker's entry module
 * either, so the worker is started from a two-line ESM snippet (`eval: true`) that
 * registers tsx's loader and then imports worker.ts. tsx is a devDependency: only the
 * source runs need it.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

export interface WorkerScript {
  /** A file URL, or ESM source code when `eval` is true. */
  readonly entry: URL | string;
  readonly eval: boolean;
}

/** How to start `entry` (a `.js` URL next to the caller, whose own URL is `caller`). */
export function workerScript(entry: URL, caller: string): WorkerScript {
  if (!caller.endsWith('.ts')) return { entry, eval: false };
  const tsx = import.meta.resolve('tsx/esm/api');
  const source = entry.href.replace(/\.js$/, '.ts');
  const code = `import { register } from ${JSON.stringify(tsx)};\nregister();\nawait import(${JSON.stringify(source)});\n`;
  return { entry: code, eval: true };
}

/** Starts the worker whose entry is `entry` (see workerScript); `caller` is the caller's import.meta.url. */
export function startWorker(entry: URL, caller: string, options: Omit<WorkerOptions, 'eval'> = {}): Worker {
  const script = workerScript(entry, caller);
  return new Worker(script.entry, { ...options, eval: script.eval });
}
