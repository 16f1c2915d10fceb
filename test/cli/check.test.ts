/**
 * `ckawatch config check --deep` (and --online: test/integration/config-check-online.test.ts): what `run` would refuse, found before a
 * deploy. Before them a wrong-shape reference or an unknown layer passed `config check` and
 * was found only when the daemon started, and a missing dead-letter topic not at all.
 *
 *   config ─▶ check (schema, files) ─▶ --deep: model taps on the CPU, reference, decoder ─▶ --online: brokers, topics, group
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeNpyFile } from '../../src/io/npy-file.js';
import { cli } from '../helpers/cli.js';
import { writeReference } from '../helpers/digits.js';
import { useTempDir } from '../helpers/files.js';
import { DIGITS_MODEL } from '../helpers/fixtures.js';
import { buildIfStale } from '../helpers/services.js';

const suite = useTempDir('ckawatch-config-check-');
let referencePath: string;

beforeAll(async () => {
  await buildIfStale();
  referencePath = writeReference(suite.dir, 100);
});

function config(name: string, edit: (c: Record<string, Record<string, unknown>>) => void = () => {}): string {
  const c: Record<string, Record<string, unknown>> = {
    model: { path: DIGITS_MODEL, providers: ['cpu'], threads: 1 },
    reference: { path: referencePath, samplesPerBatch: 32 },
    source: { kind: 'kafka', brokers: ['127.0.0.1:1'], topic: 't', groupId: 'g' },
    input: { encoding: 'raw-f32' },
    batch: { size: 32, maxWait: '1s' },
    checkpoint: { dir: join(suite.dir, 'state') },
  };
  edit(c);
  const file = join(suite.dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(c));
  return file;
}

describe('config check --deep', () => {
  it('opens the model and loads the reference: prints layers and shapes, exits 0', async () => {
    const r = await cli(['config', 'check', '--deep', config('deep-ok')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^model \S+digits-cnn\.onnx: sha256 [0-9a-f]{12}, input 'input' \[1,28,28\], 4 layers: /m);
    expect(r.stdout).toMatch(/^reference \S+reference\.npy: 100 samples of \[1,28,28\]$/m);
    // 50 pool rows (half of 100 samples); pool1's 1,352 features sketched to 256, pool2's 400 too: 50 × 586
    expect(r.stdout).toMatch(/^pool head: 50 reference rows x 586 features \(\/pool1\/MaxPool_output_0 1352 -> 256, \/pool2\/MaxPool_output_0 400 -> 256, \/relu3\/Relu_output_0 64, logits 10\) = 29,300 multiply-adds a production sample/m);
    expect(r.stdout).toMatch(/config ok: \S+ \(deep\)\n$/);
  }, 60_000);

  it('refuses, with exit 2 and no stack: an unknown layer, a reference of the wrong shape, a reference too small to calibrate', async () => {
    const wrongShape = join(suite.dir, 'wrong-shape.npy');
    writeNpyFile(wrongShape, new Float32Array(100 * 10), [100, 10]);
    const cases: [string, string, RegExp][] = [
      [config('unknown-layer', (c) => (c['model']!['layers'] = ['/no/such/tensor'])), 'unknown layer', /\/no\/such\/tensor/],
      [config('wrong-shape', (c) => (c['reference']!['path'] = wrongShape)), 'wrong shape', /\[10\]|\[100,10\]|shape/],
      [config('too-small', (c) => (c['batch']!['size'] = 96)), 'too small', /has 100 samples; with the pool scheme, at most half go to the pool and the rest must hold one calibration batch \(batch.size 96\): it needs at least 192/],
    ];
    for (const [file, what, message] of cases) {
      // Plain `config check` passes each of them: only --deep opens the files.
      expect((await cli(['config', 'check', file])).code, what).toBe(0);
      const r = await cli(['config', 'check', '--deep', file]);
      expect(r.code, `${what}: ${r.stderr}`).toBe(2);
      expect(r.stderr, what).toMatch(message);
      expect(r.stderr, what).not.toMatch(/^\s+at /m);
    }
  }, 120_000);
});
