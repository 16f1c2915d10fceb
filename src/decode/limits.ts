import { type Encoding, HARD_MAX_MESSAGE_BYTES, type InputEncoding, SERVING_ENCODINGS } from '../config/vocabulary.js';

/**
 * Message size bounds. The limit is checked before any parsing, so that a single
 * huge message costs one length comparison.
 */


/** Room for a .npy header or JSON braces and key names. */
const HEADER_SLACK = 4096;

/**
 * Bytes per value that each encoding may need: raw float32 is exact; .npy may carry
 * float64; JSON's shortest round-trip text of a float32 is at most ~16 characters
 * ("-1.1754944e-38, ") and 32 leaves room for float64 text and indentation.
 */
const BYTES_PER_VALUE: Readonly<Record<Encoding, number>> = { 'raw-f32': 4, npy: 8, json: 32 };

/** A photo (JPEG, PNG, WebP, or base64 of one in JSON): the byte size says little about the pixel count, which is bounded apart. */
export const DEFAULT_IMAGE_MESSAGE_BYTES = 16 * 1024 * 1024;
/** A text message's envelope; the text itself is bounded by input.text.maxBytes. */
export const DEFAULT_TEXT_MESSAGE_BYTES = 256 * 1024;

/**
 * Serving requests carry a batch: room for this many samples of JSON text (the widest of
 * their encodings) by default; larger batches need input.maxMessageBytes.
 */
export const DEFAULT_SERVING_ROWS = 64;

/** The default input.maxMessageBytes for a model input of `sampleSize` values. */
export function defaultMaxMessageBytes(encoding: InputEncoding, sampleSize: number): number {
  if (encoding === 'image') return DEFAULT_IMAGE_MESSAGE_BYTES;
  if (encoding === 'text') return DEFAULT_TEXT_MESSAGE_BYTES;
  if ((SERVING_ENCODINGS as readonly string[]).includes(encoding)) {
    return Math.min(HARD_MAX_MESSAGE_BYTES, BYTES_PER_VALUE.json * sampleSize * DEFAULT_SERVING_ROWS + HEADER_SLACK);
  }
  return Math.min(HARD_MAX_MESSAGE_BYTES, BYTES_PER_VALUE[encoding as Encoding] * sampleSize + HEADER_SLACK);
}

/** The fewest bytes that a well-formed message of this encoding can have. */
export function minMessageBytes(encoding: Encoding, sampleSize: number): number {
  return encoding === 'raw-f32' ? 4 * sampleSize : encoding === 'npy' ? 4 * sampleSize + 64 : 2 * sampleSize + 10;
}
