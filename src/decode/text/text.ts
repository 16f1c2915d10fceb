/**
 * Text messages to token rows for a transformer:
 *
 *   bytes ─empty?─▶ ─over the byte limit?─▶ ─UTF-8 (fatal)?─▶ [JSON field] ─▶ tokenize, truncate, pad
 *            │              │                     │                 │                │
 *         'empty'   'text_too_long' /        'bad_utf8'     'bad_json',         row: input_ids | attention_mask
 *                   'oversize' (JSON)                       'bad_envelope'           | token_type_ids
 *
 * The byte limit is checked before anything is decoded or tokenized, so a huge message costs
 * one comparison. The row packs the model's token inputs in its layout order (model/layout.ts).
 */
import { ModelError } from '../../errors/index.js';
import { reject, type Decoder } from '../types.js';
import { decodeUtf8, readStringField } from '../envelope.js';
import { MAX_EXACT_ID } from '../../model/runtime/layout.js';
import type { TextTokenizer } from './tokenizer.js';
import { ok } from '../../io/result.js';

/** What each token input of the model holds. */
export const TEXT_INPUT_ROLES = { input_ids: 'ids', attention_mask: 'mask', token_type_ids: 'types' } as const;
type Role = (typeof TEXT_INPUT_ROLES)[keyof typeof TEXT_INPUT_ROLES];

export interface TextDecoderOptions {
  readonly tokenizer: TextTokenizer;
  /** Tokens per sample, special tokens included: longer texts are truncated, shorter padded. */
  readonly maxLength: number;
  /** UTF-8 bytes of the text; more is rejected before tokenizing. */
  readonly maxBytes: number;
  /** JSON field holding the text; absent: the whole message is the text. */
  readonly field?: string | undefined;
  /** Bound on the JSON message (with `field`). */
  readonly maxMessageBytes: number;
  /** The model's token inputs in row order (names from TEXT_INPUT_ROLES). */
  readonly inputs: readonly string[];
}

export function createTextDecoder(o: TextDecoderOptions): Decoder {
  const roles: Role[] = o.inputs.map((name) => {
    const role = Object.hasOwn(TEXT_INPUT_ROLES, name) ? TEXT_INPUT_ROLES[name as keyof typeof TEXT_INPUT_ROLES] : undefined;
    if (role === undefined) {
      throw new ModelError(
        `model input '${name}' is not one a tokenizer fills (${Object.keys(TEXT_INPUT_ROLES).join(', ')}); ` +
          'input.encoding text feeds models whose inputs are these',
      );
    }
    return role;
  });
  if (!roles.includes('ids')) throw new ModelError(`the model has no input 'input_ids'; its inputs are ${o.inputs.join(', ')}`);
  if (o.tokenizer.vocabSize > MAX_EXACT_ID) {
    throw new ModelError(`the tokenizer has ${o.tokenizer.vocabSize} token ids; ckawatch carries ids in float32, exact below ${MAX_EXACT_ID}`);
  }
  const T = o.maxLength;

  return (bytes) => {
    if (bytes.length === 0) return reject('empty', 'no bytes');
    let text: string;
    if (o.field === undefined) {
      if (bytes.length > o.maxBytes) return reject('text_too_long', `${bytes.length} bytes, limit ${o.maxBytes}`);
      const decoded = decodeUtf8(bytes);
      if (!decoded.ok) return reject(decoded.reason, decoded.detail);
      text = decoded.value;
    } else {
      if (bytes.length > o.maxMessageBytes) return reject('oversize', `${bytes.length} bytes, limit ${o.maxMessageBytes}`);
      const field = readStringField(bytes, o.field);
      if (!field.ok) return reject(field.reason, field.detail);
      const length = Buffer.byteLength(field.value, 'utf8');
      if (length > o.maxBytes) return reject('text_too_long', `${length} bytes of text, limit ${o.maxBytes}`);
      text = field.value;
    }
    if (text.length === 0) return reject('empty', 'no text');
    const tokens = o.tokenizer.encode(text, T);
    const sample = new Float32Array(roles.length * T);
    roles.forEach((role, j) => sample.set(role === 'ids' ? tokens.ids : role === 'mask' ? tokens.attentionMask : tokens.typeIds, j * T));
    return ok(sample);
  };
}
