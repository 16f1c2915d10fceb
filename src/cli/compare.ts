import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { compareDrift, comparePaired, comparePositional, type MatrixResult } from '../compare/compare.js';
import { ConfigError } from '../errors/index.js';
import type { GramVariantOption } from '../model/augment.js';
import { TappedModel } from '../model/tapped.js';
import { heatmapSvg } from '../plot/heatmap.js';
import { writePicture } from '../plot/write.js';
import { loadReference } from '../reference/load.js';
import { cliLogger } from './logger.js';
import { progressBar } from './progress.js';
import { VERSION } from './version.js';

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
  out: string;
  plot?: string;
  positionalPairing?: boolean;
  verbose?: boolean;
}

const PAIRED_ESTIMATOR =
  'minibatch CKA: sum_b HSIC1(K_b, L_b) / sqrt(sum_b HSIC1(K_b, K_b) * sum_b HSIC1(L_b, L_b)), ' +
  'HSIC1 = unbiased HSIC (Song et al. 2012), float64 from float32 Grams of batch-centred features';
const DRIFT_ESTIMATOR =
  'covariance-alignment CKA: sum_b A_xr / sqrt(sum_b A_xx * sum_b A_rr) with A_xr = ||H C H||_F^2/((n-1)(m-1)), ' +
  'A_xx = HSIC1(K, K); unbiased MMD^2 (linear and RBF, median-heuristic bandwidth) averaged over batches';

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
  const common = { providers: o.provider, variant: o.tapGraph, logger } as const;
  const a = await TappedModel.open({ path: o.modelA, layers: o.layersA, ...common });
  const models = [a];
  try {
    const data = loadReference(o.data, a.input.sampleShape, a.input.name, 'data');
    const bar = progressBar('compare');
    const base = {
      model1_name: a.name,
      model1_layers: a.layers,
      dataset1_name: basename(o.data, '.npy'),
      batch_size: o.batchSize,
      provider: a.provider,
      ckawatch_version: VERSION,
    };
    let result: object;
    let picture: Parameters<typeof heatmapSvg>[0];
    if (o.dataB) {
      const dataB = loadReference(o.dataB, a.input.sampleShape, a.input.name, 'data');
      if (o.positionalPairing) {
        process.stderr.write(`ckawatch: warning: ${POSITIONAL_WARNING}\n`);
        const r = await comparePositional(a, data, dataB, o.batchSize, bar.update);
        result = { ...base, ...matrixFields(r), mode: 'positional', model2_name: a.name, model2_layers: a.layers, dataset2_name: basename(o.dataB, '.npy'), estimator: PAIRED_ESTIMATOR, warning: POSITIONAL_WARNING };
        picture = { title: `CKA, rows paired by position (blind to drift)`, rowTitle: `${a.name} on ${base.dataset1_name}`, columnTitle: `${a.name} on ${basename(o.dataB, '.npy')}`, rows: a.layers, columns: a.layers, values: r.cka };
      } else {
        const r = await compareDrift(a, data, dataB, o.batchSize, bar.update);
        const drift = r.layers.map((l) => ({ layer: l.layer, cka: l.cka, mmd2_linear: l.mmd2Linear, mmd2_rbf: l.mmd2Rbf, rbf_gamma: l.rbfGamma }));
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
          dropped_samples: r.dropped,
        };
        picture = { title: `Drift of ${basename(o.dataB)} against ${basename(o.data)}`, rowTitle: `${a.name} layer`, columnTitle: 'covariance-alignment CKA', rows: a.layers, columns: ['cka'], values: drift.map((d) => [d.cka]) };
      }
    } else {
      const b = o.modelB ? await TappedModel.open({ path: o.modelB, layers: o.layersB, ...common }) : a;
      if (b !== a) models.push(b);
      if (b.input.sampleSize !== a.input.sampleSize) {
        throw new ConfigError(`${o.modelB} takes samples of [${b.input.sampleShape.join(',')}] but ${o.modelA} takes [${a.input.sampleShape.join(',')}]`);
      }
      const r = await comparePaired(a, b, data, o.batchSize, bar.update);
      result = { ...base, ...matrixFields(r), mode: 'paired', model2_name: b.name, model2_layers: b.layers, dataset2_name: base.dataset1_name, estimator: PAIRED_ESTIMATOR };
      picture = { title: `CKA: ${a.name} vs ${b.name} on ${base.dataset1_name}`, rowTitle: `${a.name} layer`, columnTitle: `${b.name} layer`, rows: a.layers, columns: b.layers, values: r.cka };
    }
    bar.stop();
    await writeFile(o.out, `${JSON.stringify(result, null, 2)}\n`);
    if (o.plot) await writePicture(o.plot, heatmapSvg(picture));
    process.stdout.write(`wrote ${o.out}${o.plot ? ` and ${o.plot}` : ''} (provider ${a.provider})\n`);
  } finally {
    await Promise.all(models.map((m) => m.close()));
  }
}

function matrixFields(r: MatrixResult): object {
  return { CKA: r.cka, batches: r.batches, samples: r.samples, dropped_samples: r.dropped };
}
