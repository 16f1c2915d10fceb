/**
 * Real text with no download: fortune cookies and sentences of licence text from Debian
 * packages, committed in test/fixtures/text (SOURCES.md). Fortunes are the reference and the
 * clean stream; legal text is the drift.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
export const TEXT_DIR = join(ROOT, 'test/fixtures/text');
export const MINILM_MODEL = join(ROOT, 'test/fixtures/models/minilm-l6-v2-int8.onnx');
export const MINILM_TOKENIZER = join(ROOT, 'test/fixtures/models/minilm-l6-v2.tokenizer.json');
export const PHOTO_MODEL = join(ROOT, 'test/fixtures/models/photo-cnn.onnx');

export function readLines(name: 'fortunes.txt' | 'legal.txt', dir = TEXT_DIR): string[] {
  return readFileSync(join(dir, name), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
}

/** Fortunes split once: the first `referenceCount` for the reference, the rest held out for production. */
export function textSets(referenceCount = 500): { reference: string[]; clean: string[]; drift: string[] } {
  const fortunes = readLines('fortunes.txt');
  return { reference: fortunes.slice(0, referenceCount), clean: fortunes.slice(referenceCount), drift: readLines('legal.txt') };
}
