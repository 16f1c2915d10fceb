/**
 * A Hugging Face tokenizer (tokenizer.json) with the truncation and padding that the Python
 * `tokenizers` library applies with enable_truncation(max_length) and enable_padding(length):
 * the text's tokens are cut to max_length minus the special tokens the post-processor adds
 * ([CLS] ... [SEP]), then padded on the right with the pad id, mask 0 and type id 0.
 * @huggingface/tokenizers does normalisation, pre-tokenisation, the model and the
 * post-processor; it has no truncation or padding of its own.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ConfigError } from '../../errors/index.js';

export interface TokenizedText {
  readonly ids: Int32Array;
  readonly attentionMask: Int32Array;
  readonly typeIds: Int32Array;
  /** tokens before padding */
  readonly length: number;
}

export interface TextTokenizer {
  /** Exactly `maxLength` positions, truncated and padded. */
  encode(text: string, maxLength: number): TokenizedText;
  /** Largest token id + 1. */
  readonly vocabSize: number;
  /** How many special tokens a single sequence gets (BERT: 2). */
  readonly specialTokens: number;
}

/** The tokenizer_config.json next to a tokenizer.json (`x.tokenizer.json` -> `x.tokenizer_config.json`). */
export function siblingConfig(tokenizerPath: string): string | undefined {
  const name = basename(tokenizerPath);
  const candidate = join(dirname(tokenizerPath), name.endsWith('tokenizer.json') ? `${name.slice(0, -'tokenizer.json'.length)}tokenizer_config.json` : 'tokenizer_config.json');
  return existsSync(candidate) ? candidate : undefined;
}

function readJson(path: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the ${what} ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`the ${what} ${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

export function loadTokenizer(path: string, configPath = siblingConfig(path)): TextTokenizer {
  const json = readJson(path, 'tokenizer file (Hugging Face tokenizer.json)');
  const config = configPath === undefined ? {} : readJson(configPath, 'tokenizer config');
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (error) {
    throw new ConfigError(`${path} is not a tokenizer that @huggingface/tokenizers can load: ${(error as Error).message}`, { cause: error });
  }
  const added = new Map<string, number>();
  for (const [id, token] of tokenizer.get_added_tokens_decoder()) added.set(token.content, id);
  const vocab = tokenizer.get_vocab(true);
  const vocabSize = Math.max(0, ...vocab.values(), ...added.values()) + 1;
  const unk = (tokenizer.model as unknown as { unk_token_id?: number } | null)?.unk_token_id;
  const toId = (token: string): number => {
    const id = added.get(token) ?? tokenizer.token_to_id(token) ?? unk;
    if (id === undefined) throw new ConfigError(`${path}: token '${token}' has no id and the tokenizer has no unknown token`);
    return id;
  };
  const padding = (json['padding'] ?? null) as { pad_id?: number; pad_type_id?: number } | null;
  const padToken = typeof config['pad_token'] === 'string' ? config['pad_token'] : undefined;
  const padId = padding?.pad_id ?? (padToken !== undefined ? toId(padToken) : 0);
  const padTypeId = padding?.pad_type_id ?? 0;
  const post = tokenizer.post_processor;
  const specialTokens = post ? post([], null, true).tokens.length : 0;

  return {
    vocabSize,
    specialTokens,
    encode(text, maxLength) {
      if (maxLength <= specialTokens) throw new ConfigError(`maxLength ${maxLength} leaves no room beside ${specialTokens} special tokens`);
      const content = tokenizer.tokenize(text, { add_special_tokens: false }).slice(0, maxLength - specialTokens);
      const processed: { tokens: string[]; token_type_ids?: number[] | undefined } = post ? post(content, null, true) : { tokens: content };
      const ids = new Int32Array(maxLength).fill(padId);
      const attentionMask = new Int32Array(maxLength);
      const typeIds = new Int32Array(maxLength).fill(padTypeId);
      processed.tokens.forEach((token: string, i: number) => {
        ids[i] = toId(token);
        attentionMask[i] = 1;
        typeIds[i] = processed.token_type_ids?.[i] ?? 0;
      });
      return { ids, attentionMask, typeIds, length: processed.tokens.length };
    },
  };
}
