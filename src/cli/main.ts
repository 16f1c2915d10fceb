#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { checkCommand } from './check.js';
import { compareCommand } from './compare.js';
import { ALL_DEMO_DRIFTS, DEMO_KINDS, demoCommand } from './demo.js';
import { EXIT_USAGE, fail } from './exit.js';
import { layersCommand } from './layers.js';
import { outputsCommand } from './outputs.js';
import { runCommand } from './run.js';
import { VERSION } from '../util/version.js';
import { DEFAULT_GRAM_TOLERANCE, MAX_GRAM_TOLERANCE } from '../config/vocabulary.js';

const list = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value.split(',').map((s) => s.trim()).filter((s) => s !== ''),
];

const wholeNumber = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected a whole number, got '${value}'`);
  return n;
};

const tolerance = (value: string): number => {
  const x = Number(value);
  if (!(x > 0 && x <= MAX_GRAM_TOLERANCE)) throw new InvalidArgumentError(`expected a relative error above 0 and at most ${MAX_GRAM_TOLERANCE}, got '${value}'`);
  return x;
};

const program = new Command('ckawatch')
  .description('Watch how a neural network\'s internal representations drift: CKA and MMD per layer, Kafka in, Prometheus out.')
  .version(VERSION)
  .exitOverride()
  .showSuggestionAfterError();

program
  .command('layers')
  .description('list a model\'s layer tensors with op type and shape; * marks the default monitored set')
  .argument('<model>', 'ONNX model file')
  .option('--json', 'print JSON')
  .option('--all', 'include every tensor, not only batch-first ones of rank >= 2')
  .action((model: string, opts: { json?: boolean; all?: boolean }) => layersCommand(model, opts));

program
  .command('compare')
  .description('CKA matrix between two models\' layers (torch_cka\'s compare), or drift between two data sets on one model')
  .requiredOption('--model-a <onnx>', 'first model')
  .option('--model-b <onnx>', 'second model (default: the first)')
  .requiredOption('--data <npy>', 'samples, shape [N, ...model input]')
  .option('--data-b <npy>', 'second data set: report drift of it against --data, layer by layer')
  .option('--layers-a <names>', 'ONNX tensor names of model A, comma-separated (default: automatic set)', list)
  .option('--layers-b <names>', 'ONNX tensor names of model B, comma-separated', list)
  .option('--batch-size <n>', 'samples per minibatch (at least 4)', wholeNumber, 64)
  .option('--provider <list>', 'execution providers in order of preference: cuda, tensorrt, webgpu, cpu', list)
  .addOption(new Option('--tap-graph <kind>', 'how Grams are built in the graph').choices(['auto', 'plain', 'channel-split']).default('auto'))
  .option('--gram-tolerance <x>', 'largest relative Gram error against float64 accepted per layer at start', tolerance, DEFAULT_GRAM_TOLERANCE)
  .requiredOption('--out <json>', 'result file (torch_cka export() keys plus estimator details)')
  .option('--plot <file>', 'heatmap picture, .svg or .png')
  .option('--positional-pairing', 'with --data-b: torch_cka\'s blind row-by-row pairing of two data sets (prints why it is blind)')
  .option('--witnesses <k>', 'with --data-b: the k rows of --data-b most unlike --data, and of --data least like --data-b, per layer', wholeNumber, 16)
  .option('--witness-plot <file>', 'with --data-b: those rows as pictures (image inputs), for the layer whose CKA fell most; .svg or .png')
  .option('--alpha <x>', 'with --data-b: level of the drift verdicts (per layer and statistic, and for the model); default 0.05', Number)
  .option('--null-batches <n>', 'with --data-b: null batches of --data against itself that the verdicts are calibrated on; default 200', wholeNumber)
  .option('--seed <n>', 'with --data-b: seed of the shuffles and of the calibration', wholeNumber)
  .option('-v, --verbose', 'log more')
  .action((opts: Parameters<typeof compareCommand>[0] & { provider?: string[] }) =>
    compareCommand({ ...opts, provider: opts.provider ?? ['cpu'] }),
  );

program
  .command('outputs')
  .description('a model\'s output tensor on every sample of a data set, as .npy: the reference of a model.responses config')
  .requiredOption('--model <onnx>', 'the served model')
  .requiredOption('--data <npy>', 'the reference inputs, shape [N, ...model input]')
  .requiredOption('--tensor <name>', 'the output tensor the responses carry (see ckawatch layers)')
  .requiredOption('--out <npy>', 'where to write the outputs, [N, ...output]')
  .option('--batch-size <n>', 'samples per run', wholeNumber, 256)
  .option('--provider <list>', 'execution providers in order of preference: cuda, tensorrt, webgpu, cpu', list)
  .action((opts: { model: string; data: string; tensor: string; out: string; batchSize: number; provider?: string[] }) =>
    outputsCommand({ ...opts, provider: opts.provider ?? ['cpu'] }),
  );

program
  .command('run')
  .description('run the daemon: consume samples, keep drift windows per layer, serve Prometheus metrics')
  .requiredOption('-c, --config <file>', 'YAML or JSON configuration (see deploy/ckawatch.example.yaml)')
  .action((opts: { config: string }) => runCommand(opts.config));

program
  .command('demo')
  .description('the whole pipeline with no broker: MNIST digits, photos or text through a bundled model, drifting part-way')
  .addOption(
    new Option('--kind <kind>', 'digits: MNIST through a small CNN; seldon: the same digits as Seldon Core 2 inference requests (protobuf); image: crops of two photos (JPEG/PNG) through photo-cnn; text: fortune cookies through all-MiniLM-L6-v2')
      .choices([...DEMO_KINDS])
      .default('digits'),
  )
  .option('--port <n>', 'metrics port', wholeNumber, 9464)
  .option('--rate <n>', 'production samples per second (default: digits 400, image 150, text 20)', wholeNumber)
  .option('--drift-after <s>', 'seconds of clean data before the drift starts', wholeNumber, 40)
  .addOption(
    new Option('--drift <kind>', 'what happens to the stream (digits: rotate, noise, brightness, invert; image: rotate, blur, recolour; text: legal)').choices(
      ALL_DEMO_DRIFTS,
    ),
  )
  .option('--duration <s>', 'stop after this many seconds (0: run until Ctrl-C)', wholeNumber, 120)
  .option('--keep', 'keep the temporary folder (reference, production data, checkpoints) on exit', false)
  .action((opts: Parameters<typeof demoCommand>[0]) => demoCommand(opts));

const config = program.command('config').description('configuration tools');
config
  .command('check')
  .description('validate a configuration file (and that the files it names can be read) and print it with secrets redacted')
  .argument('<file>', 'YAML or JSON configuration')
  .option('--deep', 'also open the model (CPU) and load the reference: layers, input shape, reference shape and size', false)
  .option('--online', 'also reach the brokers: the topic, the dead-letter topic and the group', false)
  .action((file: string, opts: { deep: boolean; online: boolean }) => checkCommand(file, opts));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // commander has printed its message already
    process.exit(error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  fail(error);
}
