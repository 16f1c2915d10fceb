import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** ckawatch's own version, from its package.json. */
export const VERSION: string = (require('../../package.json') as { version: string }).version;
/** The onnxruntime-node version actually installed. */
export const ONNXRUNTIME_VERSION: string = (require('onnxruntime-node/package.json') as { version: string }).version;
