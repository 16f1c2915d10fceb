/**
 * Where the inference worker's entry file is, and how to start it.
 *
 * Compiled (dist/model/*.js): the sibling worker.js, started as a file.
 * From sources (vitest, `npx tsx`): this module's URL ends in .ts and the sibling is
 * worker.ts. A worker thread does not inherit the main thread's TypeScript loader,
 * and on Node 20 `execArgv: ['--import', 'tsx']` does not reach a worker's entry
 * module either, so the worker is started from a two-line ESM snippet
 * (`eval: true`) that registers tsx's loader and then imports worker.ts. tsx is a
 * devDependency: only the source runs need it.
 */
export interface WorkerScript {
  /** A file URL, or ESM source code when `eval` is true. */
  readonly entry: URL | string;
  readonly eval: boolean;
}

export function workerScript(base: string = import.meta.url, name = 'worker'): WorkerScript {
  if (!base.endsWith('.ts')) return { entry: new URL(`./${name}.js`, base), eval: false };
  const tsx = import.meta.resolve('tsx/esm/api');
  const worker = new URL(`./${name}.ts`, base).href;
  const code = `import { register } from ${JSON.stringify(tsx)};\nregister();\nawait import(${JSON.stringify(worker)});\n`;
  return { entry: code, eval: true };
}
