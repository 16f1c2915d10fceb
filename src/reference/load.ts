import { basename } from 'node:path';
import { DataError } from '../errors/index.js';
import { readNpyFile } from '../io/npy-file.js';
import type { Reference } from './reference.js';

/**
 * Loads the reference set: a .npy of shape [N, ...sample shape], float32 or float64
 * (narrowed). The samples must fit the model input; dimensions of size 1 may be
 * present or absent on either side ([N, 28, 28] fits an input of [1, 28, 28]), as
 * they do not change the C-order layout. Every value must be finite: one NaN in the
 * reference would make every batch it is drawn into useless.
 */

const show = (shape: readonly number[]): string => `[${shape.join(',')}]`;
const withoutOnes = (shape: readonly number[]): number[] => shape.filter((d) => d !== 1);

export function samplesFit(fileSampleShape: readonly number[], sampleShape: readonly number[]): boolean {
  const a = withoutOnes(fileSampleShape);
  const b = withoutOnes(sampleShape);
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function referenceFromArray(name: string, shape: readonly number[], data: Float32Array, sampleShape: readonly number[], inputName = 'input', role = 'reference'): Reference {
  if (shape.length < 1) throw new DataError(`${role} ${name} is a scalar; expected an array of shape [N,${sampleShape.join(',')}]`);
  const [count, ...fileSampleShape] = shape as [number, ...number[]];
  if (!samplesFit(fileSampleShape, sampleShape)) {
    throw new DataError(`${role} ${name} has samples of shape ${show(fileSampleShape)} but model input '${inputName}' takes ${show(sampleShape)}`);
  }
  if (count === 0) throw new DataError(`${role} ${name} holds no samples (shape ${show(shape)})`);
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      const sample = Math.floor(i / sampleSize);
      throw new DataError(`${role} ${name}: sample ${sample} holds ${data[i]} at position ${i - sample * sampleSize}; every value must be finite (and within float32 range)`);
    }
  }
  return { name, count, sampleShape: [...sampleShape], sampleSize, data };
}

/** Reads a reference .npy; throws DataError with one line that names the file. */
export function loadReference(path: string, sampleShape: readonly number[], inputName = 'input', role = 'reference'): Reference {
  const name = basename(path);
  const array = readNpyFile(path);
  if (array.kind !== 'float32') {
    throw new DataError(`${role} ${name} holds '${array.dtype}' integers; ckawatch needs float32 ('<f4') or float64 samples`);
  }
  return referenceFromArray(name, array.shape, array.data, sampleShape, inputName, role);
}
