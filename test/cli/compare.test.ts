/**
 * `ckawatch compare` as a user runs it: the built CLI in a child process, stdout and stderr
 * piped (not TTYs), on the committed digits models and data. Covers the torch_cka-compatible
 * result file, the heatmap files, drift mode, positional pairing's warning, and what bad
 * input gives: one line on stderr naming the problem, exit status 2, no stack trace.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, loadDigits, rotate90, withNoise } from '../helpers/cli.js';
import { useTempDir } from '../helpers/files.js';
import { DIGITS_DATA, modelFixture, ROOT, tinyModel } from '../helpers/fixtures.js';
import { buildIfStale } from '../helpers/services.js';

interface ParityFixture {
  readonly model1_onnx_layers: string[];
  readonly model2_onnx_layers: string[];
  readonly torch_cka: { readonly CKA: number[][] };
}

interface DriftRow {
  readonly layer: string;
  readonly cka: number;
  readonly mmd2_linear: number;
  readonly mmd2_rbf: number;
  readonly rbf_gamma: number;
}

interface Verdict {
  readonly alpha: number;
  readonly drift: boolean;
  readonly level: number | null;
  readonly cause: { layer: string; statistic: string; p_value: number } | null;
}

const fixture = JSON.parse(readFileSync(`${ROOT}/test/fixtures/parity/torch_cka_digits.json`, 'utf8')) as ParityFixture;
const CNN = modelFixture('digits-cnn.onnx');
const CNN_B = modelFixture('digits-cnn-b.onnx');
const INVERTED_ROWS = [3, 17, 40, 41, 77, 90, 101, 126];

const tmp = useTempDir('ckawatch-cli-');
const readJson = (name: string): Record<string, unknown> => JSON.parse(readFileSync(tmp.path(name), 'utf8')) as Record<string, unknown>;

beforeAll(async () => {
  await buildIfStale();
  const { data } = loadDigits();
  const half = 128 * 784;
  const digits = (name: string, images: Float32Array): string => tmp.npy(name, images, [images.length / 784, 1, 28, 28]);
  digits('clean-a.npy', data.slice(0, half));
  digits('clean-b.npy', data.slice(half));
  digits('rotated.npy', rotate90(data.slice(half)));
  digits('noisy.npy', withNoise(data.slice(half), 0.8));
  // Clean digits with 8 inverted ones (white background) at known rows.
  const mixed = data.slice(half);
  for (const row of INVERTED_ROWS) for (let k = row * 784; k < (row + 1) * 784; k++) mixed[k] = 1 - mixed[k]!;
  digits('mixed.npy', mixed);
  digits('three.npy', data.slice(0, 3 * 784));
  tmp.npy('colour-32px.npy', new Float32Array(8 * 3 * 32 * 32), [8, 3, 32, 32]);
  writeFileSync(tmp.path('corrupt.npy'), Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.from('v\x00{garbage')]));
  // A valid header whose data section was cut short (a half-copied file).
  const whole = readFileSync(DIGITS_DATA);
  writeFileSync(tmp.path('truncated.npy'), whole.subarray(0, whole.length - 1000));
});

describe('ckawatch compare: two models (torch_cka\'s compare)', () => {
  // Rows: all 9 layers of model 1; columns: 3 of model 2, so that a transposed matrix cannot pass.
  const columns = [0, 4, 8];
  const layersB = columns.map((j) => fixture.model2_onnx_layers[j]!);
  let run: Awaited<ReturnType<typeof cli>>;

  beforeAll(async () => {
    run = await cli([
      'compare', '--model-a', CNN, '--model-b', CNN_B, '--data', DIGITS_DATA,
      '--layers-a', fixture.model1_onnx_layers.join(','), '--layers-b', layersB.join(','),
      '--batch-size', '32', '--out', tmp.path('paired.json'), '--plot', tmp.path('paired.svg'),
    ]);
  });

  it('exits 0 and prints where it wrote, with nothing on stderr (no progress bar when stderr is not a TTY)', () => {
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout.replaceAll(tmp.dir, '<tmp>')).toMatchInlineSnapshot(`
      "wrote <tmp>/paired.json and <tmp>/paired.svg (provider cpu)
      "
    `);
  });

  it('writes torch_cka export() keys, CKA rows = model 1 layers, plus estimator, batch size and batches', () => {
    const result = readJson('paired.json');
    expect(Object.keys(result)).toEqual(
      expect.arrayContaining([
        'model1_name', 'model2_name', 'model1_layers', 'model2_layers', 'CKA', 'dataset1_name', 'dataset2_name',
        'estimator', 'batch_size', 'batches',
      ]),
    );
    expect(result).toMatchObject({
      model1_name: 'digits-cnn',
      model2_name: 'digits-cnn-b',
      model1_layers: fixture.model1_onnx_layers,
      model2_layers: layersB,
      dataset1_name: 'digits-test-256',
      dataset2_name: 'digits-test-256',
      batch_size: 32,
      batches: 8,
      samples: 256,
      mode: 'paired',
    });
    expect(result.estimator).toMatch(/unbiased HSIC/);
    const cka = result.CKA as number[][];
    expect(cka).toHaveLength(9);
    for (const row of cka) expect(row).toHaveLength(3);
    // Orientation and values: the same cells as torch_cka's matrix.
    cka.forEach((row, i) => row.forEach((v, k) => expect(Math.abs(v - fixture.torch_cka.CKA[i]![columns[k]!]!)).toBeLessThan(1e-4)));
  });

  it('reports the start-up precision check: each layer\'s Gram graph and its error against float64', () => {
    const result = readJson('paired.json');
    expect(result.gram_tolerance).toBe(1e-4);
    for (const [key, layers] of [['model1_gram_error', fixture.model1_onnx_layers], ['model2_gram_error', layersB]] as const) {
      const rows = result[key] as { layer: string; graph: string; relative_error: number }[];
      expect(rows.map((r) => r.layer)).toEqual(layers);
      for (const r of rows) {
        expect(['plain', 'channel-split']).toContain(r.graph);
        expect(r.relative_error).toBeGreaterThan(0);
        expect(r.relative_error).toBeLessThan(1e-5);
      }
    }
  });

  it('--plot .svg writes an SVG heatmap with every layer name', () => {
    const svg = readFileSync(tmp.path('paired.svg'), 'utf8');
    expect(svg.startsWith('<svg ')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('CKA: digits-cnn vs digits-cnn-b on digits-test-256');
    for (const layer of [...fixture.model1_onnx_layers, ...layersB]) expect(svg).toContain(`<title>${layer}</title>`);
  });

  it('--plot .png writes a PNG', async () => {
    const { code, stderr } = await cli([
      'compare', '--model-a', CNN, '--model-b', CNN_B, '--data', DIGITS_DATA, '--batch-size', '64',
      '--out', tmp.path('paired-png.json'), '--plot', tmp.path('paired.png'),
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const png = readFileSync(tmp.path('paired.png'));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(statSync(tmp.path('paired.png')).size).toBeGreaterThan(1000);
    // IHDR: width and height, big-endian, right after the signature and chunk header.
    expect(png.readUInt32BE(16)).toBeGreaterThan(100);
    expect(png.readUInt32BE(20)).toBeGreaterThan(100);
  });

  it('one model and no --model-b: its default layers (those `ckawatch layers` marks) against themselves, 1 on the diagonal', async () => {
    const { code } = await cli(['compare', '--model-a', CNN, '--data', DIGITS_DATA, '--out', tmp.path('self.json')]);
    expect(code).toBe(0);
    const result = readJson('self.json');
    const layers = await cli(['layers', CNN, '--json']);
    const defaults = (JSON.parse(layers.stdout) as { layers: { name: string; default: boolean }[] }).layers
      .filter((l) => l.default)
      .map((l) => l.name);
    expect(result.model1_layers).toEqual(defaults);
    expect(result.model2_layers).toEqual(defaults);
    const cka = result.CKA as number[][];
    cka.forEach((row, i) => {
      expect(row[i]).toBeCloseTo(1, 12);
      row.forEach((v, j) => expect(v).toBeCloseTo(cka[j]![i]!, 12));
    });
  });

  it('--layers-b without --model-b: those layers of the same model as the columns', async () => {
    const { code } = await cli([
      'compare', '--model-a', CNN, '--data', DIGITS_DATA, '--layers-a', fixture.model1_onnx_layers.join(','),
      '--layers-b', 'logits', '--batch-size', '32', '--out', tmp.path('layers-b.json'),
    ]);
    expect(code).toBe(0);
    const result = readJson('layers-b.json');
    expect(result).toMatchObject({ model1_name: 'digits-cnn', model2_name: 'digits-cnn', model2_layers: ['logits'] });
    const cka = result.CKA as number[][];
    expect(cka.map((row) => row.length)).toEqual(fixture.model1_onnx_layers.map(() => 1));
    expect(cka.at(-1)![0]).toBeCloseTo(1, 12);
  });
});

describe('ckawatch compare: one model, two data sets (drift)', () => {
  const verdicts = new Map<string, { verdict: Verdict; stdout: string }>();
  const drift = async (name: string): Promise<DriftRow[]> => {
    const out = `drift-${name}.json`;
    const { code, stderr, stdout } = await cli([
      'compare', '--model-a', CNN, '--data', tmp.path('clean-a.npy'), '--data-b', tmp.path(`${name}.npy`), '--batch-size', '32', '--out', tmp.path(out),
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const result = readJson(out);
    expect(result).toMatchObject({ mode: 'drift', batches: 4, samples: 128, batch_size: 32, dataset2_name: name });
    expect(result.estimator).toMatch(/covariance-alignment CKA/);
    const rows = result.drift as DriftRow[];
    expect(result.CKA).toEqual(rows.map((r) => [r.cka]));
    expect(result.model1_layers).toEqual(rows.map((r) => r.layer));
    verdicts.set(name, { verdict: result.verdict as Verdict, stdout });
    return rows;
  };
  let clean: DriftRow[];

  beforeAll(async () => {
    clean = await drift('clean-b');
  });

  it('two halves of clean digits: cka about 1 and MMD² about 0 in every layer', () => {
    expect(clean).toHaveLength(4); // digits-cnn's default layers
    for (const row of clean) {
      expect(Math.abs(row.cka - 1), row.layer).toBeLessThan(0.1);
      // RBF MMD² lives in [-2, 2] whatever the layer's scale: ~1e-3 here.
      expect(Math.abs(row.mmd2_rbf), row.layer).toBeLessThan(0.015);
      expect(row.rbf_gamma).toBeGreaterThan(0);
    }
  });

  it('rotated digits: clearly lower cka and higher MMD² in every layer', async () => {
    const rotated = await drift('rotated');
    rotated.forEach((row, l) => {
      const base = clean[l]!;
      expect(row.cka, row.layer).toBeLessThan(base.cka - 0.08);
      expect(row.mmd2_rbf, row.layer).toBeGreaterThan(0.08);
      expect(row.mmd2_linear, row.layer).toBeGreaterThan(4 * Math.abs(base.mmd2_linear));
    });
    const mean = rotated.reduce((s, r) => s + r.cka, 0) / rotated.length;
    expect(mean).toBeLessThan(0.8);
  });

  it('a calibrated verdict: p-value and verdict per layer and statistic, and for the model with its cause', async () => {
    if (!verdicts.has('rotated')) await drift('rotated');
    const clean = verdicts.get('clean-b')!;
    const rotated = verdicts.get('rotated')!;
    const rows = readJson('drift-rotated.json').drift as (DriftRow & Record<string, unknown>)[];
    for (const row of rows) {
      for (const s of ['cka', 'mmd2_linear', 'mmd2_rbf']) {
        expect(row[`p_${s}`], `${row.layer} ${s}`).toBeGreaterThan(0);
        expect(row[`p_${s}`]).toBeLessThanOrEqual(1);
        expect(row[`drift_${s}`]).toBe((row[`p_${s}`] as number) < 0.05);
        expect(Number.isFinite(row[`threshold_${s}`])).toBe(true);
      }
    }
    // Rotated by 90°: every series far past its threshold, the model's verdict drift.
    expect(rows.every((r) => r.drift_mmd2_rbf === true && r.drift_cka === true)).toBe(true);
    expect(rotated.verdict).toMatchObject({ alpha: 0.05, null_batches: 200, effective_batches: 4, drift: true });
    expect(rotated.verdict.cause!.p_value).toBeLessThan(rotated.verdict.level!);
    expect(rotated.stdout).toMatch(/^model: DRIFT at 0\.05 \(smallest p .* on \S+ (cka|mmd2_linear|mmd2_rbf), level .* for 3×4 series over 4\.00 batches\)$/m);
    // Two halves of clean digits: the model says no drift, with a level below α (12 series at once).
    expect(clean.verdict).toMatchObject({ drift: false });
    expect(clean.verdict.level!).toBeLessThan(0.05);
    expect(clean.verdict.cause!.p_value).toBeGreaterThan(clean.verdict.level!);
    expect(clean.stdout).toMatch(/^model: no drift at 0\.05/m);
    expect(clean.stdout.split('\n').filter((l) => /DRIFT|no drift/.test(l))).toHaveLength(13); // 12 series and the model
  });

  it('--plot draws p-values beside cka and outlines the series that drifted', async () => {
    const { code } = await cli([
      'compare', '--model-a', CNN, '--data', tmp.path('clean-a.npy'), '--data-b', tmp.path('rotated.npy'), '--batch-size', '32',
      '--out', tmp.path('rotated-plot.json'), '--plot', tmp.path('rotated.svg'),
    ]);
    expect(code).toBe(0);
    const svg = readFileSync(tmp.path('rotated.svg'), 'utf8');
    expect(svg).toContain('p mmd2_rbf');
    expect(svg).toMatch(/: drift \(p /);
    expect(svg.match(/class='marked'/g)).toHaveLength(4 * 4); // four layers, each with cka and three p-values marked
  });

  it('noisy digits: clearly higher MMD² in every layer', async () => {
    const noisy = await drift('noisy');
    noisy.forEach((row, l) => {
      const base = clean[l]!;
      expect(row.mmd2_rbf, row.layer).toBeGreaterThan(0.03);
      expect(row.mmd2_linear, row.layer).toBeGreaterThan(4 * Math.abs(base.mmd2_linear));
    });
  });

  it('--witnesses names the rows of --data-b behind the drift, and --witness-plot draws them', async () => {
    const { code, stderr } = await cli([
      'compare', '--model-a', CNN, '--data', tmp.path('clean-a.npy'), '--data-b', tmp.path('mixed.npy'),
      '--batch-size', '32', '--witnesses', '8', '--out', tmp.path('mixed.json'), '--witness-plot', tmp.path('mixed-witnesses.png'),
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const witnesses = readJson('mixed.json').witnesses as { layer: string; data_b: { index: number; novelty: number }[]; missing: { index: number; witness: number }[] }[];
    expect(witnesses).toHaveLength(4);
    // pool1 names exactly the 8 inverted rows, best first; pool2 6 of them (7 in the daemon,
    // test/integration/witnesses.test.ts, and here before both sets were shuffled: novelty is
    // against the reference rows a row's batch meets, and which ones those are changed;
    // relu3 and logits cannot tell).
    witnesses.slice(0, 2).forEach((w, l) => {
      const found = w.data_b.filter((r) => INVERTED_ROWS.includes(r.index)).length;
      expect(found, w.layer).toBeGreaterThanOrEqual(l < 1 ? 8 : 6);
      expect(w.data_b.map((r) => r.novelty)).toEqual(w.data_b.map((r) => r.novelty).sort((a, b) => b - a));
    });
    for (const w of witnesses) {
      expect(w.missing).toHaveLength(8);
      expect(w.missing.every((r) => r.index >= 0 && r.index < 128 && Number.isFinite(r.witness))).toBe(true);
    }
    const png = readFileSync(tmp.path('mixed-witnesses.png'));
    expect(png.subarray(0, 4)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    expect(png.readUInt32BE(16)).toBe(2 * (2 * 10 + 8 * 94)); // 8 pictures a line, drawn at 2x
  });

  it('the same file twice: a warning that the statistics need independent samples', async () => {
    const { code, stderr } = await cli(['compare', '--model-a', CNN, '--data', DIGITS_DATA, '--data-b', DIGITS_DATA, '--out', tmp.path('same.json')]);
    expect(code).toBe(0);
    expect(stderr).toMatchInlineSnapshot(`
      "ckawatch: warning: --data and --data-b hold the same samples in the same order: the drift statistics assume independent samples, so here cka comes out above 1 and MMD^2 below 0; compare disjoint sets (say, two halves of a clean set)
      "
    `);
  });

  it('--positional-pairing runs torch_cka\'s row-by-row pairing and prints why it is blind to drift', async () => {
    const { code, stderr } = await cli([
      'compare', '--model-a', CNN, '--data', tmp.path('clean-a.npy'), '--data-b', tmp.path('rotated.npy'),
      '--positional-pairing', '--batch-size', '32', '--out', tmp.path('positional.json'),
    ]);
    expect(code).toBe(0);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toMatchInlineSnapshot(`
      "ckawatch: warning: positional pairing pairs row i of --data with row i of --data-b, as torch_cka does when comparing data sets. Those rows are independent samples, so the expected CKA is 0 whatever the drift: the result says nothing about whether the data sets differ. Without --positional-pairing, compare reports drift statistics that do.
      "
    `);
    const result = readJson('positional.json');
    expect(result).toMatchObject({ mode: 'positional', batches: 4, dataset1_name: 'clean-a', dataset2_name: 'rotated' });
    expect(result.warning).toMatch(/expected CKA is 0 whatever the drift/);
  });
});

/** Runs the CLI expecting a usage failure: exit 2, exactly one line on stderr, no stack; returns that line. */
async function failure(args: readonly string[]): Promise<string> {
  const { code, stdout, stderr } = await cli(['compare', ...args]);
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/internal error/);
  expect(code).toBe(2);
  expect(stdout).toBe('');
  return lines[0]!.replaceAll(tmp.dir, '<tmp>').replaceAll(ROOT, '<repo>');
}

describe('ckawatch compare: bad input gives one line naming the problem and exit status 2', () => {
  const out = (): string[] => ['--out', tmp.path('bad.json')];

  it('a layer name the model does not have (with the near names)', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--layers-a', '/conv1/Conv_outptu_0', ...out()])).toMatchInlineSnapshot(`"ckawatch: the model has no tensor named '/conv1/Conv_outptu_0' (did you mean '/conv1/Conv_output_0', '/conv2/Conv_output_0'?); run 'ckawatch layers MODEL' to list the layer names"`);
  });

  it('a layer name model B does not have: the message says which model', async () => {
    expect(await failure(['--model-a', CNN, '--model-b', CNN_B, '--data', DIGITS_DATA, '--layers-b', 'fc9', ...out()])).toMatchInlineSnapshot(`"ckawatch: --model-b: the model has no tensor named 'fc9'; run 'ckawatch layers MODEL' to list the layer names"`);
  });

  it('two models that take different samples', async () => {
    const tiny = tinyModel('tiny-resnet-op13.onnx');
    expect(await failure(['--model-a', CNN, '--model-b', tiny, '--data', DIGITS_DATA, ...out()])).toMatchInlineSnapshot(`"ckawatch: <repo>/test/fixtures/tiny/tiny-resnet-op13.onnx takes samples of [1,8,8] but <repo>/test/fixtures/models/digits-cnn.onnx takes [1,28,28]"`);
  });

  it('--layers-b with --data-b (one model runs there)', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--data-b', DIGITS_DATA, '--layers-b', 'logits', ...out()])).toMatchInlineSnapshot(`"ckawatch: --layers-b goes with --model-b; with --data-b one model runs on both data sets: list its layers with --layers-a"`);
  });

  it('a constant (weights) as a layer', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--layers-a', 'fc1.weight', ...out()])).toMatchInlineSnapshot(`"ckawatch: layer 'fc1.weight' is a constant (computed from the weights alone, the same for every sample): there is nothing to monitor; pick a layer computed from the input (see 'ckawatch layers MODEL')"`);
  });

  it('data whose samples do not fit the model input', async () => {
    expect(await failure(['--model-a', CNN, '--data', tmp.path('colour-32px.npy'), ...out()])).toMatchInlineSnapshot(`"ckawatch: data colour-32px.npy has samples of shape [3,32,32] but model input 'input' takes [1,28,28]"`);
  });

  it('--data-b whose samples do not fit the model input', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--data-b', tmp.path('colour-32px.npy'), ...out()])).toMatchInlineSnapshot(`"ckawatch: data colour-32px.npy has samples of shape [3,32,32] but model input 'input' takes [1,28,28]"`);
  });

  it('a corrupt .npy header', async () => {
    expect(await failure(['--model-a', CNN, '--data', tmp.path('corrupt.npy'), ...out()])).toMatchInlineSnapshot(`"ckawatch: cannot read corrupt.npy: header of 118 bytes is cut off at 8"`);
  });

  it('a truncated .npy', async () => {
    expect(await failure(['--model-a', CNN, '--data', tmp.path('truncated.npy'), ...out()])).toMatchInlineSnapshot(`"ckawatch: cannot read truncated.npy: shape (256, 1, 28, 28) of <f4 needs 802816 data bytes, found 801816"`);
  });

  it('a model file given as data', async () => {
    expect(await failure(['--model-a', CNN, '--data', CNN, ...out()])).toMatchInlineSnapshot(`"ckawatch: cannot read digits-cnn.onnx: not a .npy file (the first bytes are not \\x93NUMPY)"`);
  });

  it('a missing data file', async () => {
    expect(await failure(['--model-a', CNN, '--data', tmp.path('missing.npy'), ...out()])).toMatchInlineSnapshot(`"ckawatch: cannot read missing.npy: no such file (<tmp>/missing.npy)"`);
  });

  it('a missing model file', async () => {
    expect(await failure(['--model-a', tmp.path('missing.onnx'), '--data', DIGITS_DATA, ...out()])).toMatchInlineSnapshot(`"ckawatch: cannot read model file '<tmp>/missing.onnx': no such file; check the model path in the configuration"`);
  });

  it('a data file given as the model', async () => {
    expect(await failure(['--model-a', DIGITS_DATA, '--data', DIGITS_DATA, ...out()])).toMatchInlineSnapshot(`"ckawatch: cannot parse '<repo>/test/fixtures/data/digits-test-256.npy' as an ONNX model (invalid wire type 7 at offset 12); is it an .onnx file?"`);
  });

  it('--batch-size 3 (the unbiased HSIC needs n >= 4)', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--batch-size', '3', ...out()])).toMatchInlineSnapshot(`"ckawatch: --batch-size must be a whole number of at least 4 (the unbiased HSIC divides by n-3), got 3"`);
  });

  it('a data file of 3 samples', async () => {
    expect(await failure(['--model-a', CNN, '--data', tmp.path('three.npy'), ...out()])).toMatchInlineSnapshot(`"ckawatch: three.npy: 3 samples, need at least 4"`);
  });

  it('a --data-b of 3 samples (drift mode)', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--data-b', tmp.path('three.npy'), ...out()])).toMatchInlineSnapshot(`"ckawatch: three.npy: 3 samples, need at least 4"`);
  });

  it('a model with a fixed batch dimension', async () => {
    expect(await failure(['--model-a', modelFixture('digits-cnn-fixed-batch.onnx'), '--data', DIGITS_DATA, ...out()])).toMatchInlineSnapshot(`"ckawatch: model input 'input' has a fixed batch dimension of 1; ckawatch stacks production and reference samples into one batch, so re-export with a dynamic batch axis (torch.onnx.export dynamic_axes / dynamic_shapes)"`);
  });

  it('--batch-size that is not a number (commander)', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--batch-size', 'many', ...out()])).toMatchInlineSnapshot(`"error: option '--batch-size <n>' argument 'many' is invalid. expected a whole number, got 'many'"`);
  });

  it('--gram-tolerance out of range (commander)', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--gram-tolerance', '0.5', ...out()])).toMatchInlineSnapshot(`"error: option '--gram-tolerance <x>' argument '0.5' is invalid. expected a relative error above 0 and at most 0.01, got '0.5'"`);
  });

  it('a --gram-tolerance no provider meets: the layers and their errors', async () => {
    const line = await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--gram-tolerance', '1e-12', ...out()]);
    expect(line).toMatch(/^ckawatch: no execution provider computes the Grams of digits-cnn within the tolerance 1e-12 \(cpu: Gram error above the tolerance 1e-12 on '.+' \(plain \d\.\de-\d+/);
    expect(line).toMatch(/: raise the tolerance \(model.gramTolerance, --gram-tolerance\) if the statistics can take it, or monitor other layers$/);
  });

  it('--model-b and --data-b together', async () => {
    expect(await failure(['--model-a', CNN, '--model-b', CNN_B, '--data', DIGITS_DATA, '--data-b', DIGITS_DATA, ...out()])).toMatchInlineSnapshot(`"ckawatch: give either --model-b (compare two models on --data) or --data-b (compare two data sets on one model), not both"`);
  });

  it('--alpha out of range, or without --data-b', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--data-b', DIGITS_DATA, '--alpha', '0.7', ...out()])).toMatchInlineSnapshot(`"ckawatch: --alpha must be above 0 and below 0.5, got 0.7"`);
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--alpha', '0.01', ...out()])).toMatchInlineSnapshot(`"ckawatch: --alpha and --null-batches go with --data-b (drift mode)"`);
  });

  it('--positional-pairing without --data-b', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--positional-pairing', ...out()])).toMatchInlineSnapshot(`"ckawatch: --positional-pairing needs --data-b"`);
  });

  it('--out in a folder that does not exist, before any model runs', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--out', tmp.path('no/such/folder/result.json')])).toMatchInlineSnapshot(`"ckawatch: --out <tmp>/no/such/folder/result.json: the folder <tmp>/no/such/folder does not exist; create it first"`);
  });

  it('--out that is a folder', async () => {
    mkdirSync(tmp.path('a-folder'), { recursive: true });
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, '--out', tmp.path('a-folder')])).toMatchInlineSnapshot(`"ckawatch: --out <tmp>/a-folder is a directory; give a file name"`);
  });

  it('--plot with a format it cannot draw, before any model runs', async () => {
    expect(await failure(['--model-a', CNN, '--data', DIGITS_DATA, ...out(), '--plot', tmp.path('heatmap.jpg')])).toMatchInlineSnapshot(`"ckawatch: cannot write a picture to '<tmp>/heatmap.jpg': use a .svg or .png file name"`);
  });
});
