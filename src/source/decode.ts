import { ConfigError, ModelError } from '../errors/index.js';
import { decodeJsonMessage } from './decode-json.js';
import { HARD_MAX_MESSAGE_BYTES, minMessageBytes } from './decode-limits.js';
import { decodeNpyMessage } from './decode-npy.js';
import { decodeRaw } from './decode-raw.js';
import { reject, type Decoder, type DecoderOptions } from './decode-types.js';

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

export type { Decoder, DecoderOptions, DecodeResult, Encoding, RejectReason } from './decode-types.js';
export { ENCODINGS, REJECT_REASONS } from './decode-types.js';
export { defaultMaxMessageBytes, HARD_MAX_MESSAGE_BYTES } from './decode-limits.js';

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
