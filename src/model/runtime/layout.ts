/**
 * How one sample row maps to the model's inputs. Everything between the decoder and the
 * model (pipeline FIFO, reference sampler, checkpoints) moves samples as rows of one
 * Float32Array; a model with several inputs (a transformer's input_ids, attention_mask,
 * token_type_ids) gets them packed one after another in each row:
 *
 *   row = [ input_ids (T) | attention_mask (T) | token_type_ids (T) ]   (float32; ids < 2^24 are exact)
 *          └──────────── layoutFeeds ────────────▶ { input_ids: int64 [n, L], attention_mask: ..., ... }
 *
 * With `trim`, sequence inputs are cut to the longest unmasked length in the batch (L <= T):
 * padding the attention mask hides changes nothing for pooled layers, and costs time.
 */
import { ModelError } from '../../errors/index.js';
import { indexGraph } from '../graph/graph-index.js';
import { DataType, valueInfoElemType, valueInfoShape, type ModelProto } from '../graph/proto.js';
import type { FeedTensor, Feeds } from './runner.js';

export interface LayoutEntry {
  readonly name: string;
  readonly type: 'float32' | 'int64';
  /** dims without the batch dimension */
  readonly sampleShape: readonly number[];
  readonly size: number;
  /** where this input starts in a row */
  readonly offset: number;
  /** a [batch, sequence] input whose sequence length came from the configuration */
  readonly sequence: boolean;
}

export interface SampleLayout {
  readonly entries: readonly LayoutEntry[];
  /** values per row */
  readonly sampleSize: number;
}

export interface LayoutOptions {
  /** Feed only this input (the others must be optional). */
  readonly inputName?: string | undefined;
  /** The length of a dynamic second dimension of [batch, sequence] inputs (text: the padded token count). */
  readonly sequenceLength?: number | undefined;
}

/** Largest integer a float32 holds exactly: token ids are carried in float32 rows. */
export const MAX_EXACT_ID = 2 ** 24;

export function sampleLayout(model: ModelProto, options: LayoutOptions = {}): SampleLayout {
  const inputs = indexGraph(model).inputs;
  if (inputs.length === 0) throw new ModelError('the model has no inputs');
  const chosen = options.inputName === undefined ? inputs : inputs.filter((i) => i.name === options.inputName);
  if (chosen.length === 0) {
    throw new ModelError(`the model has no input '${options.inputName}'; its inputs are ${inputs.map((i) => `'${i.name}'`).join(', ')}`);
  }
  let offset = 0;
  const entries = chosen.map((vi): LayoutEntry => {
    const name = vi.name ?? '';
    const shape = valueInfoShape(vi);
    if (shape === null || shape.length === 0) {
      throw new ModelError(`model input '${name}' has no recorded shape; re-export the model with input shapes`);
    }
    const rest = shape.slice(1);
    const sequence = rest.length === 1 && typeof rest[0] !== 'number' && options.sequenceLength !== undefined;
    const dims = sequence ? [options.sequenceLength!] : rest;
    if (!dims.every((d): d is number => typeof d === 'number' && d > 0)) {
      const hint = rest.length === 1 ? ' (a token sequence: use input.encoding text, whose maxLength fixes it)' : '';
      throw new ModelError(`model input '${name}' has shape [${shape.join(', ')}]: every dimension after the batch must be a fixed number${hint}`);
    }
    const elem = valueInfoElemType(vi);
    const type = elem === DataType.INT64 ? 'int64' : elem === DataType.FLOAT || elem === null ? 'float32' : null;
    if (type === null) throw new ModelError(`model input '${name}' has element type ${elem}; ckawatch feeds float32 or int64`);
    const size = dims.reduce((a, b) => a * b, 1);
    const entry = { name, type, sampleShape: dims, size, offset, sequence } as const;
    offset += size;
    return entry;
  });
  return { entries, sampleSize: offset };
}

/**
 * Feeds for `n` rows. `trim` names the attention-mask input: sequence inputs are then cut to
 * the last position any row leaves unmasked (at least 1).
 */
export function layoutFeeds(layout: SampleLayout, rows: Float32Array, n: number, trim?: string): Feeds {
  if (rows.length !== n * layout.sampleSize) {
    throw new ModelError(`expected ${n} samples of ${layout.sampleSize} values, got ${rows.length} values`);
  }
  const only = layout.entries[0]!;
  if (layout.entries.length === 1 && only.type === 'float32') {
    return { [only.name]: { type: 'float32', data: rows.slice(), dims: [n, ...only.sampleShape] } };
  }
  const mask = trim === undefined ? undefined : layout.entries.find((e) => e.name === trim);
  const length = mask ? usedLength(rows, n, layout.sampleSize, mask) : undefined;
  const feeds: Record<string, FeedTensor> = {};
  for (const e of layout.entries) {
    const width = e.sequence && length !== undefined ? length : e.size;
    const dims = e.sequence ? [n, width] : [n, ...e.sampleShape];
    if (e.type === 'float32') {
      const data = new Float32Array(n * width);
      for (let r = 0; r < n; r++) data.set(rows.subarray(r * layout.sampleSize + e.offset, r * layout.sampleSize + e.offset + width), r * width);
      feeds[e.name] = { type: 'float32', data, dims };
    } else {
      const data = new BigInt64Array(n * width);
      for (let r = 0; r < n; r++) {
        const from = r * layout.sampleSize + e.offset;
        for (let k = 0; k < width; k++) data[r * width + k] = BigInt(rows[from + k]!);
      }
      feeds[e.name] = { type: 'int64', data, dims };
    }
  }
  return feeds;
}

/** One past the last non-zero mask position over all rows (at least 1). */
function usedLength(rows: Float32Array, n: number, sampleSize: number, mask: LayoutEntry): number {
  let used = 1;
  for (let r = 0; r < n; r++) {
    const from = r * sampleSize + mask.offset;
    for (let k = mask.size - 1; k >= used; k--) {
      if (rows[from + k] !== 0) {
        used = k + 1;
        break;
      }
    }
  }
  return used;
}
