/**
 * Where things are: the repository root and the committed fixtures under test/fixtures,
 * for any suite at any depth of test/ (no `../../fixtures` counted by hand).
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');

/** test/fixtures/...parts */
export const fixture = (...parts: string[]): string => join(ROOT, 'test/fixtures', ...parts);

/** test/fixtures/models/NAME (NAME with its extension: digits-cnn.onnx, minilm-l6-v2.tokenizer.json) */
export const modelFixture = (name: string): string => fixture('models', name);

/** test/fixtures/tiny/NAME: the small hand-made ONNX models of make_tiny.py */
export const tinyModel = (name: string): string => fixture('tiny', name);

/** The MNIST CNN that the daemon suites monitor. */
export const DIGITS_MODEL = modelFixture('digits-cnn.onnx');

/** 256 MNIST test digits, [256, 1, 28, 28] float32. */
export const DIGITS_DATA = fixture('data/digits-test-256.npy');
