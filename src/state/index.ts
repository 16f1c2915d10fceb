/** Durable state: atomic, checksummed checkpoints and their schedule. */
export * from './checkpoint.js';
export { canonicalJson } from './canonical-json.js';
export * from './schedule.js';
