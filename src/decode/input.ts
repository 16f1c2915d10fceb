/**
 * The message decoder for a configured input section and a loaded model: numeric encodings
 * as they were, images with a transform completed from the model input's shape (crop size,
 * channels, layout), text with the tokenizer and the model's token inputs.
 */
import { availableParallelism } from 'node:os';
import type { InputConfig, ImageConfig } from '../config/schema.js';
import { ConfigError, ModelError } from '../errors/index.js';
import type { LayoutEntry, SampleLayout } from '../model/runtime/layout.js';
import { createMessageDecoder, defaultMaxMessageBytes, type MessageDecoder } from './message.js';
import { imageSection } from '../config/schema.js';
import { tensorShape, type ImageTransform } from './image/tensor.js';
import { loadTokenizer } from './text/tokenizer.js';
import type { TextDecoderOptions } from './text/text.js';
import type { ImageDecoderOptions } from './image/image.js';
import { type ChannelOrder, type Layout } from '../config/vocabulary.js';


/** What TappedModel.open needs to know from the input section. */
export function modelInputOptions(input: InputConfig): { inputName?: string; sequenceLength?: number } {
  return {
    ...(input.name === undefined ? {} : { inputName: input.name }),
    // text, or text in a serving encoding's BYTES tensors
    ...(input.text ? { sequenceLength: input.text.maxLength } : {}),
  };
}

/**
 * `responses` (model.responses): the messages are the served model's responses and the
 * samples its output tensor, named `responses.tensor` unless input.tensor says otherwise.
 */
export function createInputDecoder(input: InputConfig, layout: SampleLayout, responses?: { readonly tensor: string }): MessageDecoder {
  const maxMessageBytes = input.maxMessageBytes ?? defaultMaxMessageBytes(input.encoding, layout.sampleSize);
  switch (input.encoding) {
    case 'text':
      return createMessageDecoder({ encoding: 'text', text: textOptions(input.text!, layout, maxMessageBytes) });
    case 'image': {
      if (layout.entries.length !== 1) {
        throw new ModelError(`input.encoding image feeds one model input; this model has ${layout.entries.map((e) => e.name).join(', ')}: name one with input.name`);
      }
      const image = input.image ?? imageSection.parse({});
      return createMessageDecoder({
        encoding: 'image',
        image: { transform: imageTransform(image, layout.entries[0]!), maxPixels: image.maxPixels, field: image.field, maxMessageBytes, resampler: image.resampler },
        threads: image.threads ?? defaultImageThreads(),
      });
    }
    case 'oip-protobuf':
    case 'oip-json':
    case 'kserve-v1-json':
    case 'auto':
      return createMessageDecoder({
        encoding: input.encoding,
        inputs: layout.entries,
        tensor: input.tensor ?? responses?.tensor,
        maxMessageBytes,
        responses: responses !== undefined,
        // BYTES tensors of text or images: the element is the text or image itself, never a JSON envelope.
        text: input.text ? textOptions({ ...input.text, field: undefined }, layout, maxMessageBytes) : undefined,
        image: input.image ? servingImage(input.image, layout, maxMessageBytes) : undefined,
      });
    default:
      return createMessageDecoder({ encoding: input.encoding, inputs: layout.entries, maxMessageBytes });
  }
}

function servingImage(image: ImageConfig, layout: SampleLayout, maxMessageBytes: number): { options: ImageDecoderOptions; threads: number } {
  if (layout.entries.length !== 1) throw new ModelError(`images feed one model input; this model has ${layout.entries.map((e) => e.name).join(', ')}: name one with input.name`);
  const transform = imageTransform(image, layout.entries[0]!);
  return { options: { transform, maxPixels: image.maxPixels, field: undefined, maxMessageBytes, resampler: image.resampler }, threads: image.threads ?? defaultImageThreads() };
}

function textOptions(text: NonNullable<InputConfig['text']>, layout: SampleLayout, maxMessageBytes: number): TextDecoderOptions {
  return {
    tokenizer: loadTokenizer(text.tokenizer, text.tokenizerConfig),
    maxLength: text.maxLength,
    maxBytes: text.maxBytes,
    field: text.field,
    maxMessageBytes,
    inputs: layout.entries.map((e) => e.name),
  };
}

/** The configured transform, with what it leaves out taken from the model input [C,H,W], [H,W,C] or [H,W]. */
export function imageTransform(image: ImageConfig, entry: LayoutEntry): ImageTransform {
  const shape = entry.sampleShape;
  const show = `[${shape.join(',')}]`;
  if (entry.type !== 'float32') throw new ModelError(`model input '${entry.name}' takes ${entry.type}; images become float32 tensors`);
  const inferred = inferLayout(shape);
  const layout: Layout = image.layout ?? inferred?.layout ?? 'nchw';
  const channelCount = shape.length === 2 ? 1 : layout === 'nchw' ? shape[0]! : shape[2]!;
  const channels: ChannelOrder = image.channels ?? (channelCount === 1 ? 'grey' : 'rgb');
  const hw = shape.length === 2 ? shape : layout === 'nchw' ? shape.slice(1) : shape.slice(0, 2);
  const crop: [number, number] =
    image.crop === undefined ? [hw[0]!, hw[1]!] : typeof image.crop === 'number' ? [image.crop, image.crop] : [image.crop[0], image.crop[1]];
  const transform: ImageTransform = {
    resize: image.resize === undefined ? Math.max(...crop) : image.resize,
    interpolation: image.interpolation,
    crop,
    channels,
    layout,
    scale: image.scale,
    mean: image.mean,
    std: image.std,
  };
  const produced = tensorShape(transform);
  const fits = produced.join(',') === shape.join(',') || (shape.length === 2 && channels === 'grey' && crop.join(',') === shape.join(','));
  if (!fits) {
    throw new ConfigError(
      `config error at input.image: the transform makes [${produced.join(',')}] (${channels}, ${layout}, crop ${crop.join('x')}) ` +
        `but model input '${entry.name}' takes ${show}; set crop, channels or layout to match`,
    );
  }
  const c = channels === 'grey' ? 1 : 3;
  for (const key of ['mean', 'std'] as const) {
    if (image[key].length !== 1 && image[key].length !== c) {
      throw new ConfigError(`config error at input.image.${key}: expected 1 or ${c} numbers (${channels}), found ${image[key].length}`);
    }
  }
  return transform;
}

/**
 * One per core, at most 8: a fetched batch is decoded, then run through the model, so
 * preprocessing and inference take turns and each may use every core.
 */
export function defaultImageThreads(cores = availableParallelism()): number {
  return Math.min(8, Math.max(1, cores));
}

function inferLayout(shape: readonly number[]): { layout: Layout } | null {
  if (shape.length !== 3) return null;
  if (shape[0] === 3 || shape[0] === 1) return { layout: 'nchw' };
  if (shape[2] === 3 || shape[2] === 1) return { layout: 'nhwc' };
  return null;
}
