/** The reference set: loading it from .npy and drawing seeded, distinct samples from it. */
export type { Reference } from './reference.js';
export { loadReference, referenceFromArray, samplesFit } from './load.js';
export { createSampler, type ReferenceSampler } from './sampler.js';
export { splitIndices } from './split.js';
export { createPrng, deriveSeed, splitmix32, xoshiro128ss, type Prng } from './prng.js';
