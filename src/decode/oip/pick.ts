import { fail, ok, type Result } from '../../io/result.js';
import type { Decoder, RejectReason } from '../types.js';

/**
 * Which tensor of a request holds the samples: `tensor` by name or position when the config
 * sets input.tensor; otherwise the one named as the model input, or the only one.
 */
export interface TensorChoice {
  readonly tensor: string | number | undefined;
  readonly inputName: string;
  /** Text in BYTES tensors (input.text with a serving encoding): the text decoder for one element. */
  readonly elements?: Decoder | undefined;
  /** How JSON strings become element bytes: UTF-8 (text), or base64 (images). */
  readonly strings?: 'utf8' | 'base64' | undefined;
}

/** The chosen tensor and its position (raw contents are matched by position). */
export function pickTensor<T extends { readonly name: string }>(tensors: readonly T[], choice: TensorChoice): Result<{ tensor: T; index: number }, RejectReason> {
  const index = tensorIndex(tensors, choice);
  if (typeof index === 'string') return fail('no_tensor', index);
  return ok({ tensor: tensors[index]!, index });
}

function tensorIndex(tensors: readonly { readonly name: string }[], { tensor, inputName }: TensorChoice): number | string {
  const names = (): string => tensors.slice(0, 5).map((t) => JSON.stringify(t.name.slice(0, 40))).join(', ') + (tensors.length > 5 ? ', ...' : '');
  if (typeof tensor === 'number') return tensor < tensors.length ? tensor : `no tensor at position ${tensor} (${tensors.length} in the message)`;
  const name = tensor ?? inputName;
  const found = tensors.findIndex((t) => t.name === name);
  if (found >= 0) return found;
  if (tensor === undefined && tensors.length === 1) return 0;
  return `no tensor named ${JSON.stringify(name)} (found ${names() || 'none'})`;
}
