/**
 * External tools the ops tests drive (helm, promtool, prometheus, chromium): where they
 * are, a clear failure naming the install script when one is missing, and a bounded
 * `run` that keeps stdout and stderr for the failure message.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT } from '../helpers/fixtures.js';

export { ROOT };

/** How CI (and a developer) gets each tool. */
const INSTALL: Readonly<Record<string, string>> = {
  helm: 'scripts/build-helm.sh (builds .cache/bin/helm)',
  promtool: 'scripts/install-prometheus.sh',
  prometheus: 'scripts/install-prometheus.sh',
  chromium: 'scripts/install-chromium.sh',
};

/** The tool's path; throws "`name` not found: run <script>" when it is missing. */
export function requireTool(name: keyof typeof INSTALL & string): string {
  const candidates = name === 'helm' ? [join(ROOT, '.cache/bin/helm')] : [];
  for (const dir of (process.env['PATH'] ?? '').split(':').filter(Boolean)) candidates.push(join(dir, name));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here; try the next candidate
    }
  }
  throw new Error(`${name} not found (looked in ${name === 'helm' ? '.cache/bin and ' : ''}PATH): run ${INSTALL[name]}`);
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `file args` (no shell) with a timeout; a non-zero exit throws with both outputs. */
export function run(file: string, args: readonly string[], options: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error) {
          const tail = (text: string): string => text.trim().split('\n').slice(-30).join('\n');
          const how = error.killed ? `killed after ${options.timeoutMs ?? 60_000} ms` : `exit code ${String(error.code)}`;
          const command = `${basename(file)} ${args.join(' ')}`;
          const shown = command.length > 300 ? `${command.slice(0, 300)}…` : command;
          reject(new Error(`${shown} failed (${how})\n--- stderr:\n${tail(stderr)}\n--- stdout:\n${tail(stdout)}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}
