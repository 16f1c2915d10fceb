import { ConfigError, ModelError } from '../errors/index.js';
import { createImageDecoder, type ImageDecoderOptions } from './image/image.js';
import { createImagePool } from './image/pool.js';
import { createTextDecoder, type TextDecoderOptions } from './text/text.js';
import { decodeJsonMessage } from './json.js';
import { minMessageBytes } from './limits.js';
import { decodeNpyMessage } from './npy.js';
import { decodeRaw } from './raw.js';
import { reject, type AsyncDecoder, type AsyncSamplesDecoder, type Decoder, type DecoderOptions, type DecodeResult, type SamplesDecoder } from './types.js';
import { HARD_MAX_MESSAGE_BYTES, type ServingEncoding } from '../config/vocabulary.js';
import { createServingDecoder } from './oip/serving.js';
import { ok } from '../io/result.js';

/**
 * Message decoding, the first thing a Kafka message meets:
 *
 *   bytes --empty?--> --over maxMessageBytes?--> raw-f32 | npy | json --> finite? --> Float32Array sample
 *            |                |                          |                    |
 *          'empty'        'oversize'               shape, dtype,         'not_finite'
 *                                                  envelope reasons
 *
 * A decoder never throws on message bytes; it throws only when built with options
 * that no message could satisfy (a config or model problem, found at start-up).
 */

export type { AsyncDecoder, Decoder, DecoderOptions, DecodeResult, MessageHeaders, RejectReason, SamplesDecoder } from './types.js';
export { REJECT_REASONS } from './types.js';
export { defaultMaxMessageBytes } from './limits.js';

export function createDecoder(options: DecoderOptions): Decoder {
  const { encoding, inputName, maxMessageBytes } = options;
  const sampleShape = [...options.sampleShape];
  if (!sampleShape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new ModelError(`model input '${inputName}' has sample shape [${sampleShape.join(',')}]; every dimension must be a fixed positive size`);
  }
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  const needed = minMessageBytes(encoding, sampleSize);
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < needed || maxMessageBytes > HARD_MAX_MESSAGE_BYTES) {
    throw new ConfigError(
      `config error at input.maxMessageBytes: expected a size from ${needed} (one ${encoding} sample of input '${inputName}' [${sampleShape.join(',')}]) to ${HARD_MAX_MESSAGE_BYTES}, found ${maxMessageBytes}`,
    );
  }

  return (bytes) => {
    if (bytes.length === 0) return reject('empty', 'no bytes');
    if (bytes.length > maxMessageBytes) return reject('oversize', `${bytes.length} bytes, limit ${maxMessageBytes}`);
    switch (encoding) {
      case 'raw-f32':
        return decodeRaw(bytes, sampleSize);
      case 'npy':
        return decodeNpyMessage(bytes, sampleShape);
      case 'json':
        return decodeJsonMessage(bytes, inputName, sampleShape);
    }
  };
}

/**
 * A decoder of any encoding: images decode off the main thread (sharp, and a pool of
 * preprocessing threads), so theirs is async and has threads to close.
 */
export type MessageDecoder =
  | { readonly mode: 'sync'; readonly decode: SamplesDecoder }
  | { readonly mode: 'async'; readonly decode: AsyncDecoder | AsyncSamplesDecoder; readonly close: () => Promise<void> };

/** One model input that samples carry, packed after the previous ones in a sample row (model/layout.ts). */
export interface PackedInput {
  readonly name: string;
  readonly type: 'float32' | 'int64';
  readonly sampleShape: readonly number[];
}

export type MessageDecoderOptions =
  | { readonly encoding: 'raw-f32' | 'npy' | 'json'; readonly inputs: readonly PackedInput[]; readonly maxMessageBytes: number }
  | {
      readonly encoding: ServingEncoding;
      readonly inputs: readonly PackedInput[];
      readonly tensor: string | number | undefined;
      readonly maxMessageBytes: number;
      /** text in BYTES tensors: each element through the text decoder, which fills the model's token inputs */
      readonly text?: TextDecoderOptions | undefined;
      /** images in BYTES tensors (base64 strings in JSON): each element through the image decoder, on `threads` */
      readonly image?: { readonly options: ImageDecoderOptions; readonly threads: number } | undefined;
      /** responses, not requests (model.responses): the served model's output tensor is the sample */
      readonly responses?: boolean | undefined;
    }
  | { readonly encoding: 'text'; readonly text: TextDecoderOptions }
  | { readonly encoding: 'image'; readonly image: ImageDecoderOptions; readonly threads?: number };

/**
 * The decoder for a configured encoding. A model with several inputs gets them packed in
 * one row: from JSON `{"inputs": {name: [...], ...}}`, or from text (the tokenizer fills
 * input_ids, attention_mask, token_type_ids).
 */
export function createMessageDecoder(options: MessageDecoderOptions): MessageDecoder {
  switch (options.encoding) {
    case 'text':
      return { mode: 'sync', decode: createTextDecoder(options.text) };
    case 'image': {
      if ((options.threads ?? 0) === 0) return { mode: 'async', decode: createImageDecoder(options.image), close: async () => undefined };
      const pool = createImagePool(options.image, options.threads!);
      return { mode: 'async', decode: pool.decode, close: () => pool.close() };
    }
    case 'oip-protobuf':
    case 'oip-json':
    case 'kserve-v1-json':
    case 'auto':
      return options.image ? servingImageDecoder(options, options.image) : { mode: 'sync', decode: servingDecoder(options) };
    default: {
      const { encoding, inputs, maxMessageBytes } = options;
      if (inputs.length === 1) {
        const [only] = inputs as [PackedInput];
        const decode = createDecoder({ encoding, inputName: only.name, sampleShape: [...only.sampleShape], maxMessageBytes });
        return { mode: 'sync', decode: only.type === 'int64' ? integersOnly(decode, only.name) : decode };
      }
      if (encoding !== 'json') {
        throw new ConfigError(
          `config error at input.encoding: the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}) and ` +
            `${encoding} carries one; use json with {"inputs": {...}} or, for token inputs, text`,
        );
      }
      const parts = inputs.map((input) => {
        const decode = createDecoder({ encoding, inputName: input.name, sampleShape: [...input.sampleShape], maxMessageBytes });
        return input.type === 'int64' ? integersOnly(decode, input.name) : decode;
      });
      const size = inputs.reduce((total, i) => total + i.sampleShape.reduce((a, b) => a * b, 1), 0);
      return {
        mode: 'sync',
        decode: (bytes) => {
          const sample = new Float32Array(size);
          let offset = 0;
          for (const part of parts) {
            const result = part(bytes);
            if (!result.ok) return result;
            sample.set(result.value, offset);
            offset += result.value.length;
          }
          return ok(sample);
        },
      };
    }
  }
}

/** Serving requests carry one tensor per model input; ckawatch reads one, for a model of one input. */
function servingDecoder(options: Extract<MessageDecoderOptions, { encoding: ServingEncoding }>): SamplesDecoder {
  const { encoding, inputs, tensor, maxMessageBytes, text } = options;
  if (text) {
    const decode = createServingDecoder({ encoding, tensor, inputName: inputs[0]?.name ?? 'input_ids', sampleShape: [], elements: createTextDecoder(text) });
    return (bytes, headers) => (bytes.length === 0 ? reject('empty', 'no bytes') : bytes.length > maxMessageBytes ? reject('oversize', `${bytes.length} bytes, limit ${maxMessageBytes}`) : decode(bytes, headers));
  }
  if (inputs.length !== 1) {
    throw new ConfigError(
      `config error at input.encoding: ${encoding} reads one tensor and the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); ` +
        'name the one to watch with input.name',
    );
  }
  const [only] = inputs as [PackedInput];
  const sampleSize = only.sampleShape.reduce((a, b) => a * b, 1);
  // The fewest bytes of one sample: raw UINT8 contents, one byte a value.
  if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < sampleSize || maxMessageBytes > HARD_MAX_MESSAGE_BYTES) {
    throw new ConfigError(`config error at input.maxMessageBytes: expected a size from ${sampleSize} (one ${encoding} sample of input '${only.name}') to ${HARD_MAX_MESSAGE_BYTES}, found ${maxMessageBytes}`);
  }
  const decode = createServingDecoder({ encoding, tensor, inputName: only.name, sampleShape: only.sampleShape, responses: options.responses });
  return (bytes, headers) => {
    if (bytes.length === 0) return reject('empty', 'no bytes');
    if (bytes.length > maxMessageBytes) return reject('oversize', `${bytes.length} bytes, limit ${maxMessageBytes}`);
    const result = decode(bytes, headers);
    if (!result.ok || only.type !== 'int64') return result;
    for (const sample of result.value) {
      const bad = wholeBelow24(sample);
      if (bad !== undefined) return reject('wrong_dtype', `input '${only.name}' takes integers below 2^24, found ${bad}`);
    }
    return result;
  };
}

/**
 * Images in BYTES tensors. The request is read at once, its elements set aside by an element
 * decoder that only collects them (that read runs to its end before any await, so one array
 * serves every call); then each element goes through the image decoder, off the main thread.
 */
function servingImageDecoder(options: Extract<MessageDecoderOptions, { encoding: ServingEncoding }>, image: { options: ImageDecoderOptions; threads: number }): MessageDecoder {
  const { encoding, inputs, tensor, maxMessageBytes } = options;
  const pool = image.threads === 0 ? null : createImagePool(image.options, image.threads);
  const decodeImage = pool ? pool.decode : createImageDecoder(image.options);
  const collected: Uint8Array[] = [];
  const none = new Float32Array(0);
  const read = createServingDecoder({
    encoding,
    tensor,
    inputName: inputs[0]?.name ?? 'input',
    sampleShape: [],
    strings: 'base64',
    elements: (bytes) => {
      collected.push(bytes);
      return ok(none);
    },
  });
  const decode: AsyncSamplesDecoder = async (bytes, headers) => {
    if (bytes.length === 0) return reject('empty', 'no bytes');
    if (bytes.length > maxMessageBytes) return reject('oversize', `${bytes.length} bytes, limit ${maxMessageBytes}`);
    collected.length = 0;
    const result = read(bytes, headers);
    const elements = collected.splice(0);
    if (!result.ok) return result;
    const rows = await Promise.all(elements.map((element) => decodeImage(element)));
    const bad = rows.find((r) => !r.ok);
    if (bad) return bad;
    return ok(rows.map((r) => (r as { value: Float32Array }).value));
  };
  return { mode: 'async', decode, close: async () => pool?.close() };
}

function wholeBelow24(sample: Float32Array): number | undefined {
  return sample.find((v) => !Number.isInteger(v) || Math.abs(v) >= 2 ** 24);
}

/** Values of an int64 input travel in float32 rows: whole numbers below 2^24 in magnitude are exact. */
function integersOnly(decode: Decoder, name: string): Decoder {
  return (bytes): DecodeResult => {
    const result = decode(bytes);
    if (!result.ok) return result;
    const bad = result.value.findIndex((v) => !Number.isInteger(v) || Math.abs(v) >= 2 ** 24);
    return bad < 0 ? result : reject('wrong_dtype', `input '${name}' takes integers below 2^24, found ${result.value[bad]} at index ${bad}`);
  };
}
