import { join } from 'node:path';
import { z } from 'zod';
import { formatDuration } from './duration.js';
import {
  CHANNEL_ORDERS,
  DEFAULT_GRAM_TOLERANCE,
  HARD_MAX_MESSAGE_BYTES,
  INPUT_ENCODINGS,
  SERVING_ENCODINGS,
  CHECKPOINT_STORES,
  INTERPOLATIONS,
  LAYOUTS,
  LOG_LEVELS,
  MAX_GRAM_TOLERANCE,
  POOLINGS,
  PROVIDERS,
  RESAMPLERS,
  SASL_MECHANISMS,
  TAP_GRAPHS,
} from './vocabulary.js';
import {
  cron,
  envName,
  duration,
  filePath,
  hostPort,
  identifier,
  nonEmpty,
  passwordFromEnv,
  sampling,
  sha256,
  tensorName,
  topicName,
  wholeNumber,
  type SchemaContext,
} from './fields.js';
import { POOLING_OPTIONS } from './vocabulary.js';
import { responsesInModel, responsesNeeds, responsesSection } from './responses.js';
import { alarmSection, calibrationSection, noProtoKey } from './calibration.js';

/**
 * The configuration file's shape. Every object is strict (an unknown key is a typo
 * until proven otherwise), every optional setting has its default here, durations
 * are milliseconds and paths absolute once parsed, and secrets are Secret objects
 * read from the environment. The schema is built per load because two things come
 * from outside the file: the environment and the folder relative paths start from.
 */


const SECOND = 1000;
const DAY = 86_400_000;
/** The Gram of a stacked batch is (n + m)^2 floats per layer; past 4096 rows it stops being a monitoring cost. */
const MAX_BATCH = 4096;

/** reference.pool and reference.sketchWidth when a config leaves them out: also what the validation and the benches run. */
export const REFERENCE_DEFAULTS = { pool: 2048, sketchWidth: 256 } as const;

function unique<T>(key: (item: T) => string, what: string) {
  return (items: readonly T[], ctx: z.core.$RefinementCtx<readonly T[]>): void => {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const k = key(item);
      if (seen.has(k)) ctx.addIssue({ code: 'custom', message: `${what} that is not listed before`, input: item, path: [i] });
      seen.add(k);
    });
  };
}

const modelSection = (ctx: SchemaContext) =>
  z.strictObject({
    // Absent only with responses.
    path: filePath(ctx, 'an .onnx file').optional(),
    responses: responsesSection.optional(),
    sha256: sha256.optional(),
    layers: z.array(tensorName, { error: 'a list of ONNX tensor names' }).min(1, { error: 'a list of at least one tensor name (or no "layers" key for the automatic set)' }).superRefine(unique((s) => s, 'a layer')).optional(),
    providers: z
      .array(z.enum(PROVIDERS, { error: `one of ${PROVIDERS.join(', ')}` }), { error: 'a list of execution providers, in order of preference' })
      .min(1, { error: 'a list of at least one execution provider' })
      .superRefine(unique((s) => s, 'a provider'))
      .default(['cpu']),
    tapGraph: z.enum(TAP_GRAPHS, { error: `one of ${TAP_GRAPHS.join(', ')}` }).default('auto'),
    /** Largest relative Gram error against float64 the start-up check accepts per layer (src/model/precision.ts). */
    gramTolerance: z
      .number({ error: `a relative error above 0 and at most ${MAX_GRAM_TOLERANCE}` })
      .positive({ error: `a relative error above 0 and at most ${MAX_GRAM_TOLERANCE}` })
      .max(MAX_GRAM_TOLERANCE, { error: `a relative error above 0 and at most ${MAX_GRAM_TOLERANCE}` })
      .default(DEFAULT_GRAM_TOLERANCE),
    threads: wholeNumber(1, 1024).optional(),
    pooling: poolingSection.prefault({}),
  })
  .superRefine(responsesInModel);

/** Sequence layers [N, T, ...] to one vector per sample before the Gram (src/model/pool-graph.ts). */
const poolingSection = z.strictObject({
  default: z.enum(POOLING_OPTIONS, { error: `one of ${POOLING_OPTIONS.join(', ')}` }).default('auto'),
  layers: z
    .unknown()
    .superRefine((value, ctx) => {
      if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__')) {
        ctx.addIssue({ code: 'custom', message: 'a layer name other than "__proto__"', input: value, path: ['__proto__'] });
      }
    })
    .pipe(
      z.record(tensorName, z.enum(POOLINGS, { error: `one of ${POOLINGS.join(', ')}` }), {
        error: (iss) => (iss.code === 'invalid_type' ? 'a mapping from layer name to pooling' : undefined),
      }),
    )
    .optional(),
  mask: tensorName.default('attention_mask'),
});

const candidateSection = (ctx: SchemaContext) =>
  z
    .strictObject({
      path: filePath(ctx, 'an .onnx file'),
      sha256: sha256.optional(),
      // Tensor names compared in both models (default: the monitored layers the candidate also has).
      layers: z.array(tensorName, { error: 'a list of ONNX tensor names' }).min(1, { error: 'a list of at least one tensor name' }).superRefine(unique((s) => s, 'a layer')).optional(),
      // Or explicit pairs: monitored layer of the model -> tensor of the candidate.
      match: noProtoKey
        .pipe(z.record(tensorName, tensorName, { error: (iss) => (iss.code === 'invalid_type' ? 'a mapping from layer name to candidate tensor name' : undefined) }))
        .optional(),
    })
    .superRefine((c, zctx) => {
      if (c.layers !== undefined && c.match !== undefined) {
        zctx.addIssue({ code: 'custom', message: 'either layers or match, not both', input: c.match, path: ['match'] });
      }
    });

const referenceSection = (ctx: SchemaContext) =>
  z.strictObject({
    path: filePath(ctx, 'a .npy file'),
    // pool: every batch against `pool` reference samples whose features are computed once
    // (the rest calibrate); draws: against samplesPerBatch fresh ones run with it through the model.
    scheme: z.enum(['pool', 'draws'], { error: 'pool or draws' }).default('pool'),
    pool: wholeNumber(4, 1 << 16).default(REFERENCE_DEFAULTS.pool),
    // Layers with more features per sample are CountSketched to this many in the graph. 256:
    // on the validation's digits 512 and 128 detected the same drifts as 256 (the pool's rows
    // carry the power, not the sketch's width), and the head's cost grows with the width
    // (docs/validation/head-size.md).
    sketchWidth: wholeNumber(16, 1 << 16).default(REFERENCE_DEFAULTS.sketchWidth),
    maxCacheMiB: wholeNumber(1, 1 << 20).default(1024),
    samplesPerBatch: wholeNumber(4, MAX_BATCH).default(64),
    seed: wholeNumber(0, 2 ** 32 - 1).default(1),
  });

const tlsFiles = (ctx: SchemaContext) =>
  z.strictObject({
    ca: filePath(ctx, 'a PEM file').optional(),
    cert: filePath(ctx, 'a PEM file').optional(),
    key: filePath(ctx, 'a PEM file').optional(),
    rejectUnauthorized: z.boolean({ error: 'true or false' }).default(true),
  });

const kafkaSource = (ctx: SchemaContext) =>
  z.strictObject({
    kind: z.literal('kafka'),
    brokers: z.array(hostPort, { error: 'a list of "host:port" strings' }).min(1, { error: 'a list of at least one "host:port" string' }),
    topic: topicName,
    groupId: nonEmpty,
    clientId: nonEmpty.default('ckawatch'),
    fromBeginning: z.boolean({ error: 'true or false' }).default(true),
    // true: TLS with the system CAs; a mapping: TLS with these files; false or absent: plaintext.
    ssl: z
      .union([z.boolean(), tlsFiles(ctx)], { error: 'true, false, or a mapping with ca, cert, key, rejectUnauthorized' })
      .transform((ssl) => (ssl === true ? { rejectUnauthorized: true } : ssl === false ? undefined : ssl))
      .optional(),
    sasl: z
      .strictObject({
        mechanism: z.enum(SASL_MECHANISMS, { error: `one of ${SASL_MECHANISMS.join(', ')}` }),
        username: nonEmpty,
        passwordEnv: envName,
      })
      .transform(passwordFromEnv(ctx))
      .optional(),
    deadLetterTopic: topicName.optional(),
    sessionTimeout: duration({ min: 6 * SECOND, max: 30 * 60 * SECOND }).default(30 * SECOND),
  });

const fileSource = (ctx: SchemaContext) =>
  z.strictObject({
    kind: z.literal('file'),
    path: filePath(ctx, 'a .npy file'),
    ratePerSecond: z.number({ error: 'a number of samples per second above 0' }).positive({ error: 'a number of samples per second above 0' }).max(1e7, { error: 'at most 10000000 samples per second' }).optional(),
    loop: z.boolean({ error: 'true or false' }).default(false),
  });

const sourceSection = (ctx: SchemaContext) =>
  z.discriminatedUnion('kind', [kafkaSource(ctx), fileSource(ctx)], { error: 'a source with kind: kafka or kind: file' });

const side = wholeNumber(1, 16_384);

/** Images (JPEG, PNG, WebP) to tensors: torchvision's Resize + CenterCrop + ToTensor + Normalize, then channels and layout. */
export const imageSection = z.strictObject({
  // JSON field holding the image as base64; absent: the message is the image file.
  field: nonEmpty.optional(),
  // Shorter side to this many pixels before the crop; null: no resize; absent: the crop's larger side.
  resize: side.nullable().optional(),
  // [height, width] or one side; absent: the model input's.
  crop: z.union([side, z.tuple([side, side])], { error: 'a size in pixels or [height, width]' }).optional(),
  interpolation: z.enum(INTERPOLATIONS, { error: `one of ${INTERPOLATIONS.join(', ')}` }).default('bilinear'),
  // pil: Pillow's resize to the bit (torchvision parity); vips: libvips, faster on large photos, close but not equal.
  resampler: z.enum(RESAMPLERS, { error: `one of ${RESAMPLERS.join(', ')}` }).default('pil'),
  // Absent: from the model input (3 channels: rgb, 1: grey; channels first or last).
  channels: z.enum(CHANNEL_ORDERS, { error: `one of ${CHANNEL_ORDERS.join(', ')}` }).optional(),
  layout: z.enum(LAYOUTS, { error: `one of ${LAYOUTS.join(', ')}` }).optional(),
  scale: z.number({ error: 'a number above 0' }).positive({ error: 'a number above 0' }).default(255),
  mean: z.array(z.number({ error: 'a number' }), { error: 'a list of 1 or 3 numbers' }).min(1).max(3, { error: 'a list of 1 or 3 numbers' }).default([0]),
  std: z
    .array(z.number({ error: 'a number above 0' }).positive({ error: 'a number above 0' }), { error: 'a list of 1 or 3 numbers above 0' })
    .min(1)
    .max(3, { error: 'a list of 1 or 3 numbers above 0' })
    .default([1]),
  // Width x height above which an image is refused before decoding.
  maxPixels: wholeNumber(1, 1_000_000_000).default(25_000_000),
  // Preprocessing threads; 0: on the main thread; absent: one per core, at most 8.
  threads: wholeNumber(0, 64).optional(),
});

/** Text to token ids with a Hugging Face tokenizer.json. */
const textSection = (ctx: SchemaContext) =>
  z.strictObject({
    tokenizer: filePath(ctx, 'a tokenizer.json'),
    // Absent: tokenizer_config.json (or <name>.tokenizer_config.json) next to the tokenizer, if there is one.
    tokenizerConfig: filePath(ctx, 'a tokenizer_config.json').optional(),
    // Tokens per sample, special tokens included: longer texts are truncated, shorter ones padded.
    maxLength: wholeNumber(4, 8192).default(128),
    // UTF-8 bytes of text; longer messages are rejected (text_too_long) before tokenizing.
    maxBytes: wholeNumber(1, HARD_MAX_MESSAGE_BYTES).default(16_384),
    // JSON field holding the text; absent: the message is the text.
    field: nonEmpty.optional(),
  });

const inputSection = (ctx: SchemaContext) =>
  z
    .strictObject({
      encoding: z.enum(INPUT_ENCODINGS, { error: `one of ${INPUT_ENCODINGS.join(', ')}` }).default('raw-f32'),
      name: tensorName.optional(),
      // Serving encodings: the request tensor holding the samples, by name or position; absent: the one named as the model input, or the only one.
      tensor: z.union([tensorName, wholeNumber(0, 1023)], { error: 'a tensor name or a position from 0' }).optional(),
      maxMessageBytes: wholeNumber(1, HARD_MAX_MESSAGE_BYTES).optional(),
      // Largest |value| a decoded sample may hold (out_of_range beyond); absent: 1000 x the reference's.
      maxAbs: z.number({ error: 'a number above 0' }).positive({ error: 'a number above 0' }).max(3e38, { error: 'at most 3e38 (float32)' }).optional(),
      image: imageSection.optional(),
      text: textSection(ctx).optional(),
    })
    .superRefine((input, zctx) => {
      if (input.encoding === 'text' && input.text === undefined) {
        zctx.addIssue({ code: 'custom', message: 'a text section with at least the tokenizer (encoding: text)', input: undefined, path: ['text'] });
      }
      if (input.tensor !== undefined && !(SERVING_ENCODINGS as readonly string[]).includes(input.encoding)) {
        zctx.addIssue({ code: 'custom', message: `no tensor unless encoding is one of ${SERVING_ENCODINGS.join(', ')}`, input: input.tensor, path: ['tensor'] });
      }
      const serving = (SERVING_ENCODINGS as readonly string[]).includes(input.encoding);
      // With a serving encoding, the image or text section reads the requests' BYTES tensors.
      if (input.image !== undefined && input.encoding !== 'image' && !serving) {
        zctx.addIssue({ code: 'custom', message: `no image section unless encoding is image or one of ${SERVING_ENCODINGS.join(', ')}`, input: input.image, path: ['image'] });
      }
      if (input.image !== undefined && input.text !== undefined) {
        zctx.addIssue({ code: 'custom', message: 'an image or a text section, not both', input: input.text, path: ['text'] });
      }
      if (input.text !== undefined && input.encoding !== 'text' && !serving) {
        zctx.addIssue({ code: 'custom', message: `no text section unless encoding is text or one of ${SERVING_ENCODINGS.join(', ')}`, input: input.text, path: ['text'] });
      }
    });

const batchSection = z.strictObject({
  size: wholeNumber(4, MAX_BATCH).default(64),
  maxWait: duration({ min: 1, max: DAY }).default(2 * SECOND),
  // Messages arriving with no batch reaching the windows for this long: blind (ckawatch_blind, /readyz).
  blindAfter: duration({ min: SECOND, max: DAY }).default(2 * 60 * SECOND),
});

const windowEntry = z
  .strictObject({
    name: identifier,
    duration: duration({ min: SECOND, max: 90 * DAY }),
    buckets: wholeNumber(1, 10_000).default(10),
  })
  .superRefine((w, ctx) => {
    if (w.duration / w.buckets < SECOND) {
      ctx.addIssue({
        code: 'custom',
        message: `each of the ${w.buckets} buckets to span a second or more, found ${formatDuration(w.duration)} / ${w.buckets}; use fewer buckets or a longer duration`,
        input: w,
        params: { complete: true },
      });
    }
  });

const windowsSection = z
  .array(windowEntry, { error: 'a list of windows, each with name and duration' })
  .min(1, { error: 'a list of at least one window' })
  .superRefine(unique((w) => w.name, 'a window name'))
  .prefault([
    { name: '5m', duration: '5m' },
    { name: '1h', duration: '1h' },
    { name: '24h', duration: '24h' },
  ]);

// The samples behind an alarm (daemon/witnesses.ts): the k most novel per window and layer,
// with their Kafka coordinates; their message bytes too when keepBytes > 0 (production
// data, so off by default; served only behind the metrics server's auth, never logged).
const witnessesSection = z.strictObject({
  k: wholeNumber(0, 256).default(32),
  keepBytes: wholeNumber(0, 4 * 1024 * 1024).default(0),
  // Kafka source only: every `every`, each window and layer's lists as JSON to this topic,
  // keyed "<window>/<layer>" (a compacted topic keeps the latest), coordinates only.
  topic: topicName.optional(),
  every: duration({ min: SECOND, max: DAY }).default(60 * SECOND),
});

const metricsSection = (ctx: SchemaContext) =>
  z.strictObject({
    host: nonEmpty.default('0.0.0.0'),
    port: wholeNumber(0, 65535).default(9464),
    basicAuth: z.strictObject({ username: nonEmpty, passwordEnv: envName }).transform(passwordFromEnv(ctx)).optional(),
    tls: z.strictObject({ cert: filePath(ctx, 'a PEM file'), key: filePath(ctx, 'a PEM file') }).optional(),
  });

const checkpointSection = (ctx: SchemaContext) =>
  z.strictObject({
    dir: filePath(ctx, 'a folder').default(join(ctx.baseDir, 'ckawatch-state')),
    schedule: cron.default('*/10 * * * * *'),
    instanceId: z.string({ error: 'an instance id' }).regex(/^[A-Za-z0-9._-]{1,128}$/, { error: 'an instance id of letters, digits, ".", "_" and "-"' }).optional(),
    // file: one checkpoint file per daemon (file and demo sources, a single Kafka consumer).
    // kafka: each partition's state in a compacted topic, written in the offset commit's
    // transaction, so that it moves with the partition between replicas (docs/architecture.md).
    store: z.enum(CHECKPOINT_STORES, { error: `one of ${CHECKPOINT_STORES.join(', ')}` }).default('file'),
    stateTopic: z.string({ error: 'a topic name' }).regex(/^[A-Za-z0-9._-]{1,249}$/, { error: 'a topic name of letters, digits, ".", "_" and "-"' }).default('ckawatch-state'),
    // absent: the broker's default.replication.factor
    stateReplicationFactor: z.number({ error: 'a replication factor from 1' }).int({ error: 'a replication factor from 1' }).min(1, { error: 'a replication factor from 1' }).optional(),
  });

const logSection = z.strictObject({
  level: z.enum(LOG_LEVELS, { error: `one of ${LOG_LEVELS.join(', ')}` }).default('info'),
});

export function createConfigSchema(ctx: SchemaContext) {
  return z
    .strictObject(
      {
        model: modelSection(ctx),
        candidate: candidateSection(ctx).optional(),
        reference: referenceSection(ctx),
        source: sourceSection(ctx),
        input: inputSection(ctx).prefault({}),
        batch: batchSection.prefault({}),
        sampling: sampling.default(1),
        windows: windowsSection,
        witnesses: witnessesSection.prefault({}),
        metrics: metricsSection(ctx).prefault({}),
        checkpoint: checkpointSection(ctx).prefault({}),
        calibration: calibrationSection.prefault({}),
        alarm: alarmSection.prefault({}),
        log: logSection.prefault({}),
      },
      { error: 'a mapping with the sections model, reference, source and optional others' },
    )
    .superRefine((config, zctx) => {
      const { source } = config;
      if (source.kind === 'kafka' && source.deadLetterTopic === source.topic) {
        zctx.addIssue({ code: 'custom', message: 'a dead-letter topic other than the topic consumed', input: source.deadLetterTopic, path: ['source', 'deadLetterTopic'] });
      }
      if (config.model.responses !== undefined) responsesNeeds(config, zctx);
      if (config.checkpoint.store === 'kafka' && source.kind !== 'kafka') {
        zctx.addIssue({ code: 'custom', message: 'checkpoint.store file with a file source (the state topic holds a Kafka group\'s partitions)', input: 'kafka', path: ['checkpoint', 'store'] });
      }
    });
}

/** The parsed configuration: defaults applied, durations in ms, paths absolute, secrets as Secret. */
export type Config = z.output<ReturnType<typeof createConfigSchema>>;
export type SourceConfig = Config['source'];
export type KafkaSourceConfig = Extract<SourceConfig, { kind: 'kafka' }>;
export type FileSourceConfig = Extract<SourceConfig, { kind: 'file' }>;
export type WindowConfig = Config['windows'][number];
export type Provider = (typeof PROVIDERS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];
export type InputConfig = Config['input'];
export type ImageConfig = z.output<typeof imageSection>;
