/**
 * The closed sets and limits that the configuration names: each is defined once, here,
 * and imported by the schema and by the module that acts on it (model/, decode/). The
 * config sits below those modules, so the schema never imports them.
 */
export { STATISTICS, type Statistic } from '../cka/statistic.js';

/** Execution providers ckawatch can ask onnxruntime-node 1.30 for (model/runtime/providers.ts). */
export const PROVIDERS = ['cuda', 'tensorrt', 'webgpu', 'cpu'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** How each tap's Gram is built (model/graph/gram-graph.ts); auto: by provider and shape. */
export const TAP_GRAPHS = ['auto', 'plain', 'channel-split'] as const;

/** Where the per-partition state lives (daemon/ownership.ts): a local file, or a compacted Kafka topic. */
export const CHECKPOINT_STORES = ['file', 'kafka'] as const;

/** How sequence taps [N, T, ...] become one vector per sample (model/graph/pool-graph.ts). */
export const POOLINGS = ['mean', 'first', 'flatten'] as const;
export type Pooling = (typeof POOLINGS)[number];
export const POOLING_OPTIONS = ['auto', ...POOLINGS] as const;
export type PoolingOption = (typeof POOLING_OPTIONS)[number];

/** The start-up precision check's default tolerance (relative Frobenius error of a Gram). */
export const DEFAULT_GRAM_TOLERANCE = 1e-4;
/** Beyond this a "tolerance" would pass Grams that move CKA by a percent. */
export const MAX_GRAM_TOLERANCE = 0.01;

/** Message encodings of numbers (decode/), and every input.encoding. */
export const ENCODINGS = ['raw-f32', 'npy', 'json'] as const;
export type Encoding = (typeof ENCODINGS)[number];
/**
 * What serving systems already write (decode/oip/): Open Inference Protocol (KServe v2)
 * requests as protobuf (Seldon Core 2) or JSON, KServe v1 JSON, or `auto`, told apart by
 * the Kafka headers (CloudEvents ce_type, content-type).
 */
export const SERVING_ENCODINGS = ['oip-protobuf', 'oip-json', 'kserve-v1-json', 'auto'] as const;
export type ServingEncoding = (typeof SERVING_ENCODINGS)[number];
export const INPUT_ENCODINGS = [...ENCODINGS, ...SERVING_ENCODINGS, 'image', 'text'] as const;
export type InputEncoding = (typeof INPUT_ENCODINGS)[number];
/** No sample message may be larger than this, whatever the configuration says. */
export const HARD_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** Image preprocessing (decode/image/). */
export const INTERPOLATIONS = ['bilinear', 'bicubic'] as const;
export type Interpolation = (typeof INTERPOLATIONS)[number];
export const CHANNEL_ORDERS = ['rgb', 'bgr', 'grey'] as const;
export type ChannelOrder = (typeof CHANNEL_ORDERS)[number];
export const LAYOUTS = ['nchw', 'nhwc'] as const;
export type Layout = (typeof LAYOUTS)[number];
/** pil: Pillow's resize in JS, to the bit; vips: libvips resizes while decoding (faster, close, not equal). */
export const RESAMPLERS = ['pil', 'vips'] as const;
export type Resampler = (typeof RESAMPLERS)[number];

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
