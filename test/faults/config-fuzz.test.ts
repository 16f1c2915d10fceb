/**
 * Fuzzed configs through the real CLI: random invalid configs (fast-check, seeded) written
 * to a file and passed to `ckawatch run --config F` and `ckawatch config check F` as child
 * processes. Each must exit 2 with one "ckawatch: config error ..." line per problem on
 * stderr: no stack trace, no secret, nothing on stdout that looks like a started daemon.
 *
 *   fast-check edits ─▶ valid base config ─▶ (in-process parse says invalid) ─▶ F ─▶ node dist/cli/main.js ─▶ exit 2, stderr lines
 *
 * The in-process suite (test/config/fuzz.test.ts) runs thousands of cases through the
 * loader; this one proves the process boundary (exit code, stream, format) on a bounded
 * number of spawns.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfigData } from '../../src/config/load.js';
import { MAIN } from '../helpers/daemon.js';
import { writeReference } from '../helpers/digits.js';
import { useTempDir } from '../helpers/files.js';
import { DIGITS_MODEL, ROOT } from '../helpers/fixtures.js';

const PASSWORD = 'fuzz-Pa55w0rd-7c1e';
const env = { ...process.env, KAFKA_PASSWORD: PASSWORD, METRICS_PASSWORD: PASSWORD };

const suite = useTempDir('ckawatch-config-fuzz-');
let base: Record<string, unknown>;

beforeAll(() => {
  const referencePath = writeReference(suite.dir, 100);
  base = {
    model: { path: DIGITS_MODEL, providers: ['cpu'], threads: 1 },
    reference: { path: referencePath, samplesPerBatch: 32 },
    source: {
      kind: 'kafka',
      brokers: ['127.0.0.1:1'],
      topic: 't',
      groupId: 'g',
      sasl: { mechanism: 'plain', username: 'u', passwordEnv: 'KAFKA_PASSWORD' },
    },
    input: { encoding: 'raw-f32' },
    batch: { size: 16, maxWait: '1s' },
    windows: [{ name: 'a', duration: '5m' }],
    metrics: { host: '127.0.0.1', port: 0, basicAuth: { username: 'p', passwordEnv: 'METRICS_PASSWORD' } },
    checkpoint: { dir: join(suite.dir, 'state') },
    log: { level: 'info' },
  };
});

const PATHS: readonly (readonly string[])[] = [
  [],
  ['model'],
  ['model', 'path'],
  ['model', 'providers'],
  ['reference'],
  ['reference', 'samplesPerBatch'],
  ['source'],
  ['source', 'kind'],
  ['source', 'brokers'],
  ['source', 'sasl'],
  ['source', 'sasl', 'passwordEnv'],
  ['source', 'sessionTimeout'],
  ['input', 'encoding'],
  ['input', 'maxMessageBytes'],
  ['batch', 'size'],
  ['batch', 'maxWait'],
  ['windows'],
  ['metrics', 'port'],
  ['metrics', 'basicAuth'],
  ['checkpoint', 'schedule'],
  ['log', 'level'],
];

const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, 0, 1e309, 2 ** 53, '', '__proto__', 'a\nb', PASSWORD, 'KAFKA_PASSWORD', 'x'.repeat(3000), '* * *', '5 parsecs', 'k:99999', null, [], {}),
  fc.constant(JSON.parse('{"__proto__": {"polluted": 1}}') as unknown),
);

/** A copy of `root` with the value at `path` replaced (or, with `key`, a key added under it). */
function edit(root: unknown, path: readonly string[], key: string | null, value: unknown): unknown {
  if (path.length === 0 && key === null) return value;
  if (typeof root !== 'object' || root === null) return root;
  const copy = structuredClone(root) as Record<string, unknown>;
  let node: Record<string, unknown> = copy;
  const steps = key === null ? path.slice(0, -1) : path;
  for (const step of steps) {
    const next = node[step];
    if (typeof next !== 'object' || next === null) return copy;
    node = next as Record<string, unknown>;
  }
  const last = key ?? path[path.length - 1]!;
  Object.defineProperty(node, last, { value, enumerable: true, configurable: true, writable: true });
  return copy;
}

function isInvalid(data: unknown): boolean {
  try {
    parseConfigData(data, { env, baseDir: suite.dir });
    return false;
  } catch {
    return true;
  }
}

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[], timeoutMs = 30_000): Promise<Result> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`ckawatch ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

function expectConfigRefusal(r: Result, what: string): void {
  const context = `${what}\nexit ${r.code}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 4000)}`;
  expect(r.code, context).toBe(2);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines.length, context).toBeGreaterThan(0);
  for (const line of lines) {
    expect(line, context).toMatch(/^ckawatch: config error( at [^\n]+| in [^\n]+)?: \S/);
    expect(line.length, context).toBeLessThan(1000);
  }
  expect(r.stderr, context).not.toMatch(/^\s+at /m); // no stack frame
  expect(r.stderr + r.stdout, context).not.toContain(PASSWORD);
  expect(r.stdout, context).not.toContain('serving /metrics');
}

describe('random invalid configs through the CLI', () => {
  it('run and config check exit 2 with one line per problem, never a stack or a secret', async () => {
    const cases = fc.sample(
      fc.array(fc.record({ path: fc.constantFrom(...PATHS), key: fc.option(fc.constantFrom('extra', '__proto__', 'constructor', 'password')), value: hostile }), {
        minLength: 1,
        maxLength: 3,
      }),
      { seed: 20261130, numRuns: 400 },
    )
      .map((edits) => edits.reduce<unknown>((data, e) => edit(data, e.path, e.key, e.value), base))
      .filter(isInvalid)
      .slice(0, 15);
    expect(cases).toHaveLength(15);
    // Plus a few hand-made ones that the generator rarely reaches.
    const { source } = base as { source: Record<string, unknown> };
    cases.push(
      edit(base, ['source', 'sasl', 'passwordEnv'], null, 'CKAWATCH_FUZZ_UNSET_VARIABLE'),
      edit(base, ['windows'], null, [{ name: 'a', duration: '5m' }, { name: 'a', duration: '1h' }]),
    );
    const file = join(suite.dir, 'fuzz.json');
    for (const [i, data] of cases.entries()) {
      writeFileSync(file, JSON.stringify(data) ?? 'null');
      const what = `case ${i}: ${(JSON.stringify(data) ?? 'undefined').slice(0, 600)}`;
      expectConfigRefusal(await cli(['config', 'check', file]), `config check, ${what}`);
      expectConfigRefusal(await cli(['run', '--config', file]), `run, ${what}`);
    }
    // Files the config names are checked before anything starts, by `config check` and
    // `run` alike (exit 2, one line per missing file, naming its field).
    writeFileSync(file, JSON.stringify(edit(edit(base, ['source'], null, { ...source, ssl: { ca: join(suite.dir, 'missing.pem') } }), ['model', 'path'], null, join(suite.dir, 'missing.onnx'))));
    for (const args of [['config', 'check', file], ['run', '--config', file]]) {
      const missing = await cli(args);
      expect(missing.code, missing.stderr).toBe(2);
      expect(missing.stderr.trimEnd().split('\n'), missing.stderr).toEqual([
        expect.stringMatching(/^ckawatch: config error at model\.path: a readable file; found nothing at \S*missing\.onnx$/),
        expect.stringMatching(/^ckawatch: config error at source\.ssl\.ca: a readable file; found nothing at \S*missing\.pem$/),
      ]);
    }
    // Text that is not a config at all.
    for (const [i, text] of ['{', '\u0000\u0001\u0002', 'model: [unclosed', '- a\n- b\n'].entries()) {
      const yaml = join(suite.dir, `garbage-${i}.yaml`);
      writeFileSync(yaml, text);
      expectConfigRefusal(await cli(['config', 'check', yaml]), `garbage ${JSON.stringify(text)}`);
    }
  }, 240_000);
});
