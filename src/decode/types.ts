import { type Encoding } from '../config/vocabulary.js';
import { fail, type Result } from '../io/result.js';
/**
 * What a message decoder gives back. A bad message is an expected event in a
 * long-running consumer, so it is a value, not an exception: the daemon counts it by
 * `reason` (a Prometheus label, hence a closed set), logs `detail` (one line, bounded
 * length, never the payload) and moves on.
 */


export const REJECT_REASONS = [
  'empty', // no bytes (a Kafka tombstone or an empty value)
  'oversize', // more bytes than input.maxMessageBytes; refused before any parsing
  'wrong_size', // raw-f32 whose length is not 4 x the sample size
  'bad_npy', // .npy bytes that do not parse (magic, header, length, Fortran order)
  'wrong_dtype', // .npy of a dtype other than float32/float64
  'wrong_shape', // .npy or JSON whose shape is not the model input's
  'not_finite', // a NaN or infinite value (after narrowing to float32)
  'out_of_range', // a value beyond ±input.maxAbs (by default 1000 x the reference's largest |value|)
  'bad_json', // not UTF-8, not JSON, or nested too deep
  'bad_envelope', // JSON without the expected {"input": [...]} / {"inputs": {...}} structure (or {"<field>": "..."})
  'image_format', // image bytes that are not JPEG, PNG or WebP (told by their first bytes)
  'bad_image', // JPEG, PNG or WebP that does not decode (corrupt, truncated), or base64 that is not
  'image_too_large', // more pixels than input.image.maxPixels, refused from the header before decoding
  'bad_utf8', // text that is not valid UTF-8
  'text_too_long', // more UTF-8 bytes than input.text.maxBytes, refused before tokenizing
  // Serving encodings (oip-protobuf, oip-json, kserve-v1-json, auto; decode/oip/):
  'bad_protobuf', // bytes that do not parse as an inference.ModelInferRequest (ModelInferResponse with model.responses)
  'no_tensor', // no tensor of the configured name (input.tensor, else the model input's) or position
  'bytes_tensor', // a BYTES tensor without input.image or input.text (with them, each element is an image or a text)
  'not_request', // a response (CloudEvent type ...inference.response) where requests are read
  'not_response', // a request (CloudEvent type ...inference.request) where responses are read (model.responses)
  'unknown_encoding', // encoding auto: a content-type that is neither JSON nor protobuf
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type DecodeResult = Result<Float32Array, RejectReason>;

/** A message's Kafka headers, values read as UTF-8 (CloudEvents attributes, content-type). */
export type MessageHeaders = Readonly<Record<string, string>>;

/**
 * One message to one sample, or to several: a serving request's tensor [B, ...] is B
 * samples. `headers` tell encodings apart where the value alone cannot (encoding auto).
 */
export type SamplesDecoder = (bytes: Uint8Array, headers?: MessageHeaders) => Result<Float32Array | readonly Float32Array[], RejectReason>;

/** Turns one message value into one sample of the model input (batch dimension excluded). */
export type Decoder = (bytes: Uint8Array) => DecodeResult;

/** The same, for decoders that wait on other threads (images: sharp decodes in libuv's pool). */
export type AsyncDecoder = (bytes: Uint8Array) => Promise<DecodeResult>;

/** SamplesDecoder's async form: images in a serving request's BYTES tensor. */
export type AsyncSamplesDecoder = (bytes: Uint8Array, headers?: MessageHeaders) => Promise<ReturnType<SamplesDecoder>>;

export interface DecoderOptions {
  readonly encoding: Encoding;
  /** The model input the samples are for; picks the entry of a JSON `inputs` object. */
  readonly inputName: string;
  /** The model input's shape without the batch dimension, e.g. [1, 28, 28]. */
  readonly sampleShape: readonly number[];
  /** Messages longer than this are refused unread; see defaultMaxMessageBytes. */
  readonly maxMessageBytes: number;
}

export function reject(reason: RejectReason, detail: string): DecodeResult {
  return fail(reason, detail);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A sample is accepted with or without a leading batch dimension of 1. */
export function fitsSampleShape(shape: readonly number[], sampleShape: readonly number[]): boolean {
  return sameShape(shape, sampleShape) || (shape[0] === 1 && sameShape(shape.slice(1), sampleShape));
}
