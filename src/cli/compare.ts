import { existsSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { MIN_SAMPLES } from '../cka/gram.js';
import { DEFAULT_NULL_BATCHES, verdictOf } from '../compare/verdict.js';
import { compareDrift, comparePaired, comparePositional, topRows, type Dataset, type LayerDrift, type MatrixResult } from '../compare/compare.js';
import { CkawatchError, ConfigError } from '../errors/index.js';
import type { GramVariantOption } from '../model/graph/augment.js';
import { PRECISION_ROWS } from '../model/runtime/precision.js';
import { TappedModel } from '../model/tapped.js';
import { contactSheetSvg } from '../plot/contact-sheet.js';
import { heatmapSvg } from '../plot/heatmap.js';
import { tensorThumbnail } from '../plot/thumbnail.js';
import { pictureFormat, writePicture } from '../plot/write.js';
import { loadReference } from '../reference/load.js';
import { cliLogger } from './logger.js';
import { progressBar } from './progress.js';
import { VERSION } from '../util/version.js';
import { verdictCells, verdictColumns, verdictJson, verdictTable } from './verdict.js';

export interface CompareOptions {
  modelA: string;
  modelB?: string;
  data: string;
  dataB?: string;
  layersA?: string[];
  layersB?: string[];
  batchSize: number;
  provider: string[];
  tapGraph: GramVariantOption;
  gramTolerance: number;
  out: string;
  plot?: string;
  positionalPairing?: boolean;
  witnesses?: number;
  witnessPlot?: string;
  /** with --data-b: the level of the drift verdicts, and the null batches they are calibrated on */
  alpha?: number;
  nullBatches?: number;
  seed?: number;
  verbose?: boolean;
}

const PAIRED_ESTIMATOR =
  'minibatch CKA: sum_b HSIC1(K_b, L_b) / sqrt(sum_b HSIC1(K_b, K_b) * sum_b HSIC1(L_b, L_b)), ' +
  'HSIC1 = unbiased HSIC (Song et al. 2012), float64 from float32 Grams of batch-centred features';
const DRIFT_ESTIMATOR =
  'covariance-alignment CKA: sum_b A_xr / sqrt(sum_b A_xx * sum_b A_rr) with A_xr = ||H C H||_F^2/((n-1)(m-1)), ' +
  'A_xx = HSIC1(K, K); unbiased MMD^2 (linear and RBF, median-heuristic bandwidth from up to 1,000 rows of --data) averaged over batches ' +
  'weighted by their pairs; both data sets shuffled (seeded), each batch of --data-b against the next rows of --data, cycling through all of it';

const POSITIONAL_WARNING =
  'positional pairing pairs row i of --data with row i of --data-b, as torch_cka does when comparing data sets. ' +
  'Those rows are independent samples, so the expected CKA is 0 whatever the drift: the result says nothing about ' +
  'whether the data sets differ. Without --positional-pairing, compare reports drift statistics that do.';

/** `ckawatch compare`: torch_cka's CKA matrix (two models), or drift between two data sets (one model). */
export async function compareCommand(o: CompareOptions): Promise<void> {
  const logger = cliLogger(o.verbose);
  if (o.positionalPairing && !o.dataB) throw new ConfigError('--positional-pairing needs --data-b');
  if (o.dataB && o.modelB) {
    throw new ConfigError('give either --model-b (compare two models on --data) or --data-b (compare two data sets on one model), not both');
  }
  if ((o.alpha !== undefined || o.nullBatches !== undefined) && (!o.dataB || o.positionalPairing)) throw new ConfigError('--alpha and --null-batches go with --data-b (drift mode)');
  if (o.alpha !== undefined && !(o.alpha > 0 && o.alpha < 0.5)) throw new ConfigError(`--alpha must be above 0 and below 0.5, got ${o.alpha}`);
  if (o.witnessPlot !== undefined && (!o.dataB || o.positionalPairing)) throw new ConfigError('--witness-plot goes with --data-b (drift mode)');
  if (o.dataB && o.layersB) {
    throw new ConfigError('--layers-b goes with --model-b; with --data-b one model runs on both data sets: list its layers with --layers-a');
  }
  // Before any model runs: a result that cannot be written should not cost a whole comparison.
  assertWritable('--out', o.out);
  for (const [option, path] of [['--plot', o.plot], ['--witness-plot', o.witnessPlot]] as const) {
    if (path === undefined) continue;
    pictureFormat(path);
    assertWritable(option, path);
  }
  let sheet: (() => Promise<string>) | undefined;
  const common = { providers: o.provider, variant: o.tapGraph, logger } as const;
  // With two models, an error about a model or its layers says which one.
  const twoModels = o.modelB !== undefined || o.layersB !== undefined;
  const open = (option: string, path: string, layers: string[] | undefined): Promise<TappedModel> =>
    namingOption(twoModels ? option : null, () => TappedModel.open({ path, layers, ...common }));
  const a = await open('--model-a', o.modelA, o.layersA);
  const models = [a];
  const bar = progressBar('compare');
  try {
    const data = loadReference(o.data, a.input.sampleShape, a.input.name, 'data');
    const check = async (m: TappedModel): Promise<object[]> => {
      const rows = Math.min(PRECISION_ROWS, data.count);
      if (rows < 2) return [];
      const report = await m.checkPrecision(data.data.slice(0, rows * m.sampleSize), rows, o.gramTolerance);
      return report.taps.map((t) => ({ layer: t.layer, graph: t.variant, relative_error: t.error }));
    };
    const gramCheckA = await check(a);
    const base = {
      model1_name: a.name,
      model1_layers: a.layers,
      dataset1_name: basename(o.data, '.npy'),
      batch_size: o.batchSize,
      provider: a.provider,
      ckawatch_version: VERSION,
      gram_tolerance: o.gramTolerance,
      model1_gram_error: gramCheckA,
    };
    const k = o.witnesses ?? 16;
    let table: string | undefined;
    let result: object;
    let picture: Parameters<typeof heatmapSvg>[0];
    if (o.dataB) {
      const dataB = loadReference(o.dataB, a.input.sampleShape, a.input.name, 'data');
      if (!o.positionalPairing && sameSamples(data, dataB)) logger.warn({}, SAME_SAMPLES_WARNING);
      if (o.positionalPairing) {
        process.stderr.write(`ckawatch: warning: ${POSITIONAL_WARNING}\n`);
        const r = await comparePositional(a, data, dataB, o.batchSize, bar.update);
        result = { ...base, ...matrixFields(r), mode: 'positional', model2_name: a.name, model2_layers: a.layers, dataset2_name: basename(o.dataB, '.npy'), estimator: PAIRED_ESTIMATOR, warning: POSITIONAL_WARNING };
        picture = { title: `CKA, rows paired by position (blind to drift)`, rowTitle: `${a.name} on ${base.dataset1_name}`, columnTitle: `${a.name} on ${basename(o.dataB, '.npy')}`, rows: a.layers, columns: a.layers, values: r.cka };
      } else {
        const seed = o.seed ?? 0;
        const r = await compareDrift(a, data, dataB, o.batchSize, bar.update, { seed });
        bar.stop();
        const nullBar = progressBar('null batches');
        const verdict = await verdictOf(a, data, r.layers, {
          alpha: o.alpha ?? 0.05,
          nullBatches: o.nullBatches ?? DEFAULT_NULL_BATCHES,
          seed,
          batchSize: o.batchSize,
          m: r.m,
          gammas: r.layers.map((l) => l.rbfGamma),
        }, nullBar.update);
        nullBar.stop();
        table = verdictTable(verdict);
        const drift = r.layers.map((l) => ({ layer: l.layer, cka: l.cka, mmd2_linear: l.mmd2Linear, mmd2_rbf: l.mmd2Rbf, rbf_gamma: l.rbfGamma, ...verdictColumns(verdict, l.layer) }));
        result = {
          ...base,
          mode: 'drift',
          model2_name: a.name,
          model2_layers: ['covariance alignment'],
          dataset2_name: basename(o.dataB, '.npy'),
          CKA: drift.map((d) => [d.cka]),
          drift,
          estimator: DRIFT_ESTIMATOR,
          batches: r.batches,
          samples: r.samples,
          unused_samples: r.unused,
          reference_rows_per_batch: r.m,
          verdict: verdictJson(verdict),
          witnesses: r.layers.map((l) => ({
            layer: l.layer,
            data_b: topRows(l.novelty, k, 'highest').map((w) => ({ index: w.index, novelty: w.score })),
            missing: topRows(l.referenceWitness, k, 'lowest').map((w) => ({ index: w.index, witness: w.score })),
          })),
        };
        if (o.witnessPlot !== undefined) sheet = () => witnessSheet(a, data, dataB, r.layers, k);
        const cells = verdictCells(verdict, a.layers);
        const called = verdict.alarm?.on ? `drift (p ${verdict.alarm.cause.pValue.toPrecision(2)}, ${verdict.alarm.cause.statistic})` : 'no drift';
        picture = {
          title: `Drift of ${basename(o.dataB)} against ${basename(o.data)}: ${called} at ${verdict.alpha}`,
          rowTitle: `${a.name} layer`,
          columnTitle: 'covariance-alignment CKA, p-values (red: drift)',
          rows: a.layers,
          columns: ['cka', ...cells.columns],
          values: drift.map((d, l) => [d.cka, ...cells.values[l]!]),
          marked: drift.map((d, l) => [verdict.series.some((s) => s.layer === d.layer && s.statistic === 'cka' && s.drift), ...cells.marked[l]!]),
        };
      }
    } else {
      // --layers-b alone compares layers of one model with other layers of it (torch_cka's model2 = model1).
      const b = twoModels ? await open('--model-b', o.modelB ?? o.modelA, o.layersB) : a;
      if (b !== a) models.push(b);
      if (b.input.sampleSize !== a.input.sampleSize) {
        throw new ConfigError(`${o.modelB ?? o.modelA} takes samples of [${b.input.sampleShape.join(',')}] but ${o.modelA} takes [${a.input.sampleShape.join(',')}]`);
      }
      const gramCheckB = b === a ? gramCheckA : await check(b);
      const r = await comparePaired(a, b, data, o.batchSize, bar.update);
      result = { ...base, ...matrixFields(r), mode: 'paired', model2_name: b.name, model2_layers: b.layers, model2_gram_error: gramCheckB, dataset2_name: base.dataset1_name, estimator: PAIRED_ESTIMATOR };
      picture = { title: `CKA: ${a.name} vs ${b.name} on ${base.dataset1_name}`, rowTitle: `${a.name} layer`, columnTitle: `${b.name} layer`, rows: a.layers, columns: b.layers, values: r.cka };
    }
    bar.stop();
    await writeOutput('--out', o.out, () => writeFile(o.out, `${JSON.stringify(result, null, 2)}\n`));
    const plot = o.plot;
    if (plot !== undefined) await writeOutput('--plot', plot, () => writePicture(plot, heatmapSvg(picture)));
    const witnessPlot = o.witnessPlot;
    if (witnessPlot !== undefined && sheet) {
      const svg = await sheet();
      await writeOutput('--witness-plot', witnessPlot, () => writePicture(witnessPlot, svg));
    }
    if (table !== undefined) process.stdout.write(`${table}\n`);
    const pictures = [o.plot, o.witnessPlot].filter((p) => p !== undefined);
    process.stdout.write(`wrote ${[o.out, ...pictures].join(' and ')} (provider ${a.provider})\n`);
  } finally {
    bar.stop();
    await Promise.all(models.map((m) => m.close()));
  }
}

const SAME_SAMPLES_WARNING =
  '--data and --data-b hold the same samples in the same order: the drift statistics assume independent samples, ' +
  'so here cka comes out above 1 and MMD^2 below 0; compare disjoint sets (say, two halves of a clean set)';

/** True when the batches of `b` would repeat `a` row for row (the same file given twice, say). */
function sameSamples(a: Dataset, b: Dataset): boolean {
  if (Math.min(a.count, b.count) < MIN_SAMPLES) return false; // compareDrift says what is wrong
  const length = Math.min(a.data.length, b.data.length);
  for (let i = 0; i < length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

function assertWritable(option: string, path: string): void {
  const folder = dirname(resolve(path));
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new ConfigError(`${option} ${path}: the folder ${folder} does not exist; create it first`);
  }
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new ConfigError(`${option} ${path} is a directory; give a file name`);
  }
}

/** Runs `open`, putting `option` in front of the message of a CkawatchError it throws (same class). */
async function namingOption<T>(option: string | null, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    if (option === null || !(error instanceof CkawatchError)) throw error;
    const Same = error.constructor as new (message: string, options: { retriable: boolean; cause: unknown }) => CkawatchError;
    throw new Same(`${option}: ${error.message}`, { retriable: error.retriable, cause: error });
  }
}

/** File-system failures while writing a result become one-line ConfigErrors naming the option and path. */
async function writeOutput(option: string, path: string, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (cause) {
    if (cause instanceof CkawatchError) throw cause;
    const code = (cause as NodeJS.ErrnoException | null)?.code;
    const reason = code ?? (cause instanceof Error ? cause.message.split('\n')[0] : String(cause));
    throw new ConfigError(`cannot write ${option} ${path}: ${reason}`, { cause });
  }
}

function matrixFields(r: MatrixResult): object {
  return { CKA: r.cka, batches: r.batches, samples: r.samples, unused_samples: r.unused };
}

/**
 * The rows behind the drift, as pictures, for the layer whose CKA fell most: the rows of
 * --data-b most unlike --data (highest novelty) and the rows of --data least like --data-b
 * (lowest witness). Only for inputs that are images.
 */
async function witnessSheet(model: TappedModel, data: Dataset, dataB: Dataset, layers: readonly LayerDrift[], k: number): Promise<string> {
  const moved = [...layers].sort((x, y) => (x.cka ?? 1) - (y.cka ?? 1))[0]!;
  const picture = async (set: Dataset, index: number): Promise<Uint8Array> => {
    const png = await tensorThumbnail(set.data.subarray(index * set.sampleSize, (index + 1) * set.sampleSize), model.input.sampleShape, 84);
    if (png === null) throw new ConfigError(`--witness-plot draws image inputs; ${model.name} takes [${model.input.sampleShape.join(',')}]`);
    return png;
  };
  const cells = (set: Dataset, rows: { index: number; score: number }[], what: string): Promise<{ png: Uint8Array; caption: string }[]> =>
    Promise.all(rows.map(async (r) => ({ png: await picture(set, r.index), caption: `#${r.index} ${what} ${r.score.toFixed(3)}` })));
  return contactSheetSvg({
    title: `What drifted in ${moved.layer} (cka ${moved.cka?.toFixed(3) ?? '?'})`,
    rows: [
      { title: `${dataB.name}: the ${k} rows most unlike ${data.name} (novelty)`, cells: await cells(dataB, topRows(moved.novelty, k, 'highest'), 'nov') },
      { title: `${data.name}: the ${k} rows least like ${dataB.name} (witness)`, cells: await cells(data, topRows(moved.referenceWitness, k, 'lowest'), 'wit') },
    ],
  });
}
