import { checkFiles } from '../config/files.js';
import { loadConfig } from '../config/load.js';
import { redactedConfig } from '../config/redact.js';
import type { Config } from '../config/schema.js';
import { openModel } from '../daemon/assemble.js';
import { choosePairs } from '../daemon/paired.js';
import { createInputDecoder } from '../decode/input.js';
import { loadReferenceFor } from '../decode/reference.js';
import { ConfigError, DataError } from '../errors/index.js';
import type { TappedModel } from '../model/tapped.js';
import type { Reference } from '../reference/reference.js';
import { poolRows } from '../reference/split.js';
import { checkKafka } from '../source/kafka-check.js';
import { kafkaOptions } from '../source/kafka-options.js';
import { cliLogger } from './logger.js';

/**
 * `ckawatch config check FILE [--deep] [--online]`: what `run` would refuse, found before
 * a deploy. Always: the schema and the files it names. `--deep`: the model opened with its
 * taps on the CPU (layers, input), the reference loaded and preprocessed as the model's
 * input, the decoder built, the candidate's layer pairs or the pool head's cost, without a broker. `--online`: the
 * brokers, topics and group (kafka-check.ts). Field errors exit 2, an unreachable broker 1.
 */
export async function checkCommand(file: string, options: { deep?: boolean; online?: boolean }): Promise<void> {
  const config = loadConfig(file);
  checkFiles(config);
  const facts: string[] = [];
  if (options.deep) facts.push(...(await checkDeep(config)));
  if (options.online) facts.push(...(await checkOnline(config)));
  process.stdout.write(`${JSON.stringify(redactedConfig(config), null, 2)}\n`);
  for (const fact of facts) process.stdout.write(`${fact}\n`);
  process.stdout.write(`config ok: ${file}${options.deep ? ' (deep)' : ''}${options.online ? ' (online)' : ''}\n`);
}

async function checkDeep(config: Config): Promise<string[]> {
  // The CPU provider: this checks the graph and the data, not this machine's accelerators.
  const { model, sha256 } = await openModel({ ...config, model: { ...config.model, providers: ['cpu'] } }, cliLogger());
  try {
    const decoder = createInputDecoder(config.input, model.layout, config.model.responses);
    if (decoder.mode === 'async') await decoder.close();
    const reference = await loadReferenceFor(config.reference.path, config.input, model.layout);
    referenceSizeFits(reference.count, reference.name, config);
    const facts = [
      `model ${config.model.path ?? `responses '${config.model.responses?.tensor}' (identity model)`}: sha256 ${sha256.slice(0, 12)}, input '${model.input.name}' [${model.input.sampleShape.join(',')}], ${model.layers.length} layers: ${model.layers.join(', ')}`,
      `reference ${config.reference.path}: ${reference.count} samples of [${reference.sampleShape.join(',')}]`,
    ];
    if (config.candidate) {
      const pairs = await choosePairs(config.candidate, model.layers);
      if (pairs.length === 0) throw new ConfigError(`config error at candidate: no monitored layer of the model has a tensor to compare in ${config.candidate.path}`);
      facts.push(`candidate ${config.candidate.path}: ${pairs.map((p) => `${p.layer} ~ ${p.candidate}`).join(', ')}`);
    } else if (config.reference.scheme === 'pool') {
      facts.push(await poolHeadCost(model, reference, config));
    }
    return facts;
  } finally {
    await model.close();
  }
}

/**
 * What the pool head will cost, before a deploy: its kernel products against the pool are
 * M · Σk multiply-adds a production sample (k: each layer's features, CountSketched past
 * reference.sketchWidth), the term that dominates on small models (docs/validation/head-size.md).
 */
async function poolHeadCost(model: TappedModel, reference: Reference, config: Config): Promise<string> {
  const probe = await model.features(reference.data.subarray(0, 2 * reference.sampleSize), 2, { kind: 'features', sketches: {} }, 2);
  const width = config.reference.sketchWidth;
  const layers = probe.map((f, l) => {
    const d = f.length / 2;
    return { text: d > width ? `${model.layers[l]} ${d} -> ${width}` : `${model.layers[l]} ${d}`, k: Math.min(d, width) };
  });
  const rows = poolRows(reference.count, config.reference.pool);
  const features = layers.reduce((a, l) => a + l.k, 0);
  return (
    `pool head: ${rows} reference rows x ${features} features (${layers.map((l) => l.text).join(', ')}) = ` +
    `${(rows * features).toLocaleString('en-US')} multiply-adds a production sample for its kernel products (reference.pool, reference.sketchWidth)`
  );
}

async function checkOnline(config: Config): Promise<string[]> {
  if (config.source.kind !== 'kafka') return [`source.kind ${config.source.kind}: no brokers to check`];
  const { facts, problems } = await checkKafka(kafkaOptions(config.source, cliLogger()));
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return [...facts];
}

/** What a reference must hold for calibration: a pool and a held-out batch, or n + m distinct draws. */
function referenceSizeFits(count: number, name: string, config: Config): void {
  const { batch, reference } = config;
  if (reference.scheme === 'draws') {
    const needed = batch.size + reference.samplesPerBatch;
    if (count < needed) {
      throw new DataError(`reference ${name} has ${count} samples; calibration needs ${needed} distinct ones per batch (batch.size + reference.samplesPerBatch)`);
    }
    return;
  }
  const pool = poolRows(count, reference.pool);
  if (pool < 4 || count - pool < batch.size) {
    throw new DataError(
      `reference ${name} has ${count} samples; with the pool scheme, at most half go to the pool and the rest must hold ` +
        `one calibration batch (batch.size ${batch.size}): it needs at least ${Math.max(8, 2 * batch.size)}`,
    );
  }
}
