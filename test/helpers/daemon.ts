/**
 * The daemon as a child process (`node dist/cli/main.js run --config FILE`), the way it
 * runs in production: for tests of what only a process shows (SIGKILL, SIGTERM, exit
 * codes, restarts from a checkpoint).
 *
 *   writeDaemonConfig(dir, {...}) ─▶ config.json ─▶ DaemonProcess.start ─▶ pino JSON lines on stdout
 *                                                        │ "serving /metrics..." {url}
 *                                                        ▼
 *                                       scrape() / waitForMetric() ◀─ GET url/metrics
 *
 * dist/ must be built first (test/global-setup.ts does it). Every line the daemon prints
 * is kept, so that a failed wait can show the log tail.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DIGITS_MODEL, ROOT } from './fixtures.js';
import { brokers } from './kafka.js';
import { parsePromText, type PromSample } from './prom-text.js';

export const MAIN = join(ROOT, 'dist/cli/main.js');

/** A checkpoint schedule that never fires during a test (1 January, midnight). */
export const NEVER = '0 0 0 1 1 *';

export interface DaemonConfigOptions {
  readonly topic: string;
  readonly groupId: string;
  readonly referencePath: string;
  readonly modelPath?: string;
  readonly encoding?: 'raw-f32' | 'npy' | 'json';
  /** the whole input section (image, text), instead of `{ encoding }` */
  readonly input?: Readonly<Record<string, unknown>>;
  readonly deadLetterTopic?: string;
  readonly batchSize?: number;
  readonly referencePerBatch?: number;
  /** reference.scheme; the daemon's default (pool) when absent */
  readonly scheme?: 'pool' | 'draws';
  /** reference.sketchWidth; the daemon's default when absent */
  readonly sketchWidth?: number;
  /** reference.pool; the daemon's default when absent */
  readonly pool?: number;
  readonly maxWait?: string;
  /** node-cron with seconds; default every second */
  readonly schedule?: string;
  /** not warn or error: start() reads the metrics URL (port 0) from an info line */
  readonly logLevel?: 'debug' | 'info';
  readonly threads?: number;
  readonly tapGraph?: 'auto' | 'plain' | 'channel-split';
  readonly instanceId?: string;
  /**
   * reference-against-reference batches calibrated before serving; default 16 (the
   * daemon's default, 128, takes seconds on a small machine); null: the daemon's default
   */
  readonly calibrationBatches?: number | null;
  /** windows instead of the one 1-hour window "all" */
  readonly windows?: readonly { name: string; duration: string; buckets?: number }[];
}

/**
 * Writes a daemon config for one test into `dir` (checkpoints in `dir/state`), and
 * returns its path. One long window ("all", 1 h) holds everything a test produces.
 */
export function writeDaemonConfig(dir: string, o: DaemonConfigOptions): string {
  const config = {
    model: {
      path: o.modelPath ?? DIGITS_MODEL,
      providers: ['cpu'],
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.tapGraph ? { tapGraph: o.tapGraph } : {}),
    },
    reference: { path: o.referencePath, samplesPerBatch: o.referencePerBatch ?? 64, seed: 1, ...(o.scheme ? { scheme: o.scheme } : {}), ...(o.sketchWidth ? { sketchWidth: o.sketchWidth } : {}), ...(o.pool ? { pool: o.pool } : {}) },
    source: {
      kind: 'kafka',
      brokers: brokers(),
      topic: o.topic,
      groupId: o.groupId,
      clientId: 'ckawatch-test-daemon',
      fromBeginning: true,
      // The minimum: a member killed with SIGKILL is dropped from the group after this,
      // so that a restarted daemon gets its partitions back quickly.
      sessionTimeout: '6s',
      ...(o.deadLetterTopic ? { deadLetterTopic: o.deadLetterTopic } : {}),
    },
    input: o.input ?? { encoding: o.encoding ?? 'raw-f32' },
    batch: { size: o.batchSize ?? 64, maxWait: o.maxWait ?? '300ms' },
    windows: o.windows ?? [{ name: 'all', duration: '1h', buckets: 10 }],
    metrics: { host: '127.0.0.1', port: 0 },
    checkpoint: { dir: join(dir, 'state'), schedule: o.schedule ?? '* * * * * *', instanceId: o.instanceId ?? 'test' },
    ...(o.calibrationBatches === null ? {} : { calibration: { batches: o.calibrationBatches ?? 16 } }),
    log: { level: o.logLevel ?? 'info' },
  };
  const path = join(dir, 'config.json');
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}

/** A config written by writeDaemonConfig, parsed, as `edit` may change it. */
export type DaemonConfig = Record<string, Record<string, unknown>>;

/** Changes a config file that writeDaemonConfig wrote (what its options do not cover: TLS, SASL, a pinned model...). */
export function editConfig(path: string, edit: (config: DaemonConfig) => void): void {
  const config = JSON.parse(readFileSync(path, 'utf8')) as DaemonConfig;
  edit(config);
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
}

export interface LogLine {
  readonly level?: number;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Every daemon a test started, so that `killAll` (afterEach) leaves none behind. */
const running = new Set<DaemonProcess>();

export async function killAll(): Promise<void> {
  await Promise.all([...running].map((d) => d.kill('SIGKILL')));
}

export class DaemonProcess {
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  readonly exited: Promise<Exit>;
  #exit: Exit | null = null;
  #url: string | null = null;

  private constructor(child: ChildProcess) {
    this.#child = child;
    running.add(this);
    this.exited = new Promise<Exit>((done) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        running.delete(this);
        done(this.#exit);
      });
    });
    const collect = (stream: NodeJS.ReadableStream | null, prefix: string): void => {
      let rest = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) this.#onLine(prefix + line);
      });
      stream?.on('end', () => {
        if (rest !== '') this.#onLine(prefix + rest);
      });
    };
    collect(child.stdout, '');
    collect(child.stderr, '[stderr] ');
  }

  /**
   * Spawns `node dist/cli/main.js run --config FILE` and waits until it serves /metrics
   * (its URL is read from the "serving /metrics" log line, so metrics.port may be 0).
   */
  static async start(
    configPath: string,
    options: {
      timeoutMs?: number;
      env?: NodeJS.ProcessEnv;
      /** node flags, e.g. --cpu-prof */
      nodeArgs?: readonly string[];
      /** another build's cli/main.js (A/B comparisons); default dist/cli/main.js */
      main?: string;
    } = {},
  ): Promise<DaemonProcess> {
    const main = options.main ?? MAIN;
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` (test/global-setup.ts does it)`);
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), main, 'run', '--config', configPath], {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const daemon = new DaemonProcess(child);
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    while (daemon.#url === null) {
      if (daemon.#exit) throw new Error(`the daemon exited (${describeExit(daemon.#exit)}) before serving /metrics\n${daemon.logTail()}`);
      if (Date.now() > deadline) {
        await daemon.kill('SIGKILL');
        throw new Error(`the daemon did not serve /metrics within ${timeoutMs} ms\n${daemon.logTail()}`);
      }
      await sleep(20);
    }
    return daemon;
  }

  #onLine(line: string): void {
    this.#lines.push(line);
    if (this.#url === null && line.startsWith('{')) {
      const parsed = parseJsonLine(line);
      if (typeof parsed?.['url'] === 'string' && String(parsed.msg ?? '').startsWith('serving /metrics')) this.#url = parsed['url'];
    }
  }

  get pid(): number {
    return this.#child.pid!;
  }

  get url(): string {
    return this.#url!;
  }

  get exit(): Exit | null {
    return this.#exit;
  }

  /** Every line printed so far (stderr lines prefixed "[stderr] "). */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** The pino JSON lines printed so far, parsed. */
  logs(): LogLine[] {
    return this.#lines.flatMap((l) => {
      const parsed = l.startsWith('{') ? parseJsonLine(l) : undefined;
      return parsed ? [parsed] : [];
    });
  }

  /** The last `n` lines, for failure messages. */
  logTail(n = 40): string {
    const tail = this.#lines.slice(-n);
    return `--- daemon pid ${this.#child.pid} log, last ${tail.length} of ${this.#lines.length} lines:\n${tail.join('\n')}\n---`;
  }

  async scrape(): Promise<PromSample[]> {
    const response = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`GET /metrics: HTTP ${response.status}`);
    return parsePromText(await response.text());
  }

  /**
   * Scrapes until `predicate` holds; throws after `timeoutMs` with `what`, the last
   * scrape's relevant value (from `show`) and the daemon's log tail. Fails at once if the
   * daemon exits.
   */
  async waitForMetrics(
    predicate: (samples: PromSample[]) => boolean,
    what: string,
    options: { timeoutMs?: number; intervalMs?: number; show?: (samples: PromSample[]) => unknown } = {},
  ): Promise<PromSample[]> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    let last: PromSample[] | undefined;
    let lastError: unknown;
    for (;;) {
      if (this.#exit) throw new Error(`the daemon exited (${describeExit(this.#exit)}) while waiting for ${what}\n${this.logTail()}`);
      try {
        last = await this.scrape();
        lastError = undefined;
        if (predicate(last)) return last;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() >= deadline) {
        const seen = last && options.show ? `; last seen: ${JSON.stringify(options.show(last))}` : '';
        const error = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}${error}\n${this.logTail()}`);
      }
      await sleep(options.intervalMs ?? 100);
    }
  }

  /** Sends `signal` and waits for the exit (SIGKILL: the exit is certain). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    if (this.#exit) return this.#exit;
    this.#child.kill(signal);
    return this.exited;
  }

  /** SIGTERM, then the exit within `timeoutMs` (else SIGKILL and an error with the log tail). */
  async stop(timeoutMs = 20_000): Promise<Exit> {
    if (this.#exit) return this.#exit;
    this.#child.kill('SIGTERM');
    const timer = sleep(timeoutMs).then(() => null);
    const exit = await Promise.race([this.exited, timer]);
    if (exit === null) {
      await this.kill('SIGKILL');
      throw new Error(`the daemon did not exit within ${timeoutMs} ms of SIGTERM\n${this.logTail()}`);
    }
    return exit;
  }
}

function parseJsonLine(line: string): LogLine | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as LogLine) : undefined;
  } catch {
    return undefined; // not a pino line (a native library's own print): kept as text only
  }
}

export function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}
