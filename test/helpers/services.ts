/**
 * What the integration suites and the benchmarks need running: a fresh dist/ (the daemon
 * is spawned from dist/cli/main.js) and a Kafka broker at CKAWATCH_TEST_BROKERS (default
 * 127.0.0.1:19092). Used by test/global-setup.ts and bench/daemon.ts.
 *
 * Several processes may share one broker (vitest runs in two terminals, a benchmark): each
 * registers its pid under .cache/kafka-run-<port>/users/, and a broker that ensureBroker
 * started is stopped by the last one that leaves, never under a process still using it. A
 * broker started by someone else (CI, by hand) is never stopped here.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './fixtures.js';

const run = promisify(execFile);
const say = (text: string): void => void process.stderr.write(`[services] ${text}\n`);

export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

function newestMtime(files: readonly string[]): number {
  return files.reduce((max, f) => {
    try {
      return Math.max(max, statSync(f).mtimeMs);
    } catch {
      return max; // deleted since it was listed (someone is editing the tree)
    }
  }, 0);
}

/** `npm run build` when dist/cli/main.js is missing or older than any file of src/ or tsconfig.json. */
export async function buildIfStale(): Promise<void> {
  const main = join(ROOT, 'dist/cli/main.js');
  const sources = [...listFiles(join(ROOT, 'src')), join(ROOT, 'tsconfig.json'), join(ROOT, 'package.json')];
  if (existsSync(main) && statSync(main).mtimeMs >= newestMtime(sources)) return;
  const started = Date.now();
  say(existsSync(main) ? 'src/ changed since the last build: npm run build' : 'dist/ missing: npm run build');
  try {
    await run('npm', ['run', '--silent', 'build'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    say(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    // tsc emits JavaScript even with type errors: the suites still run, and the type
    // errors are CI's `npm run build` step to report. A build that emitted nothing fails below.
    const output = (error as { stdout?: string }).stdout ?? String(error);
    say(`npm run build reported errors (daemon suites use what it emitted):\n${output.split('\n').slice(0, 20).join('\n')}`);
    if (!existsSync(main)) throw new Error(`npm run build did not produce ${main}`, { cause: error });
  }
}

export function firstBroker(): { host: string; port: number } {
  const address = (process.env['CKAWATCH_TEST_BROKERS'] ?? '127.0.0.1:19092').split(',')[0]!.trim();
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

export function answers(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolveAnswer(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Makes sure a broker answers; returns the teardown. Failures to start one are reported
 * and do not stop the run: unit suites do not need Kafka, and the Kafka suites then fail
 * in `requireBroker` with the way to fix it.
 */
export async function ensureBroker(): Promise<() => Promise<void>> {
  const { host, port } = firstBroker();
  const local = host === '127.0.0.1' || host === 'localhost';
  const runDir = join(ROOT, `.cache/kafka-run-${port}`);
  const users = join(runDir, 'users');
  const ownMark = join(runDir, 'started-by-test-setup');
  const env = { ...process.env, KAFKA_PORT: String(port) };
  const script = join(ROOT, 'scripts/kafka.sh');

  if (!(await answers(host, port))) {
    if (!local) {
      say(`no broker answers at ${host}:${port}, and it is not local: not starting one`);
      return async () => undefined;
    }
    const started = Date.now();
    say(`no broker at ${host}:${port}: scripts/kafka.sh fetch && start (stopped again at teardown)`);
    try {
      await run('bash', [script, 'fetch'], { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });
      await run('bash', [script, 'start'], { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 });
      mkdirSync(runDir, { recursive: true });
      writeFileSync(ownMark, `${process.pid}\n`);
      say(`broker ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (error) {
      // Another run may have started one on this port meanwhile ("already in use").
      if (!(await answers(host, port))) {
        const e = error as { stderr?: string; message?: string };
        say(`could not start Kafka (Kafka suites will fail): ${(e.stderr ?? e.message ?? String(error)).trim().split('\n').slice(-8).join('\n')}`);
        return async () => undefined;
      }
    }
  }
  if (!local) return async () => undefined;
  mkdirSync(users, { recursive: true });
  const me = join(users, String(process.pid));
  writeFileSync(me, '');

  return async () => {
    rmSync(me, { force: true });
    if (!existsSync(ownMark)) return; // not a broker that test setup started: leave it
    const others = readdirSync(users).filter((name) => {
      const pid = Number(name);
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) return true;
      rmSync(join(users, name), { force: true }); // a run that died without teardown
      return false;
    });
    if (others.length > 0) {
      say(`leaving the broker on :${port} running for vitest run(s) ${others.join(', ')}`);
      return;
    }
    rmSync(ownMark, { force: true });
    await run('bash', [script, 'stop'], { cwd: ROOT, env }).catch((error: unknown) => say(`kafka.sh stop failed: ${String(error)}`));
  };
}
