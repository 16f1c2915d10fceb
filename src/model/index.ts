/**
 * ONNX graph surgery, sessions and the inference worker.
 *
 *   readModel -> checkBatchDimension -> augmentModel (Gram outputs per tap)
 *     -> WorkerModelRunner (worker thread: createSession with provider fallback, run)
 *     -> checkBatchIndependence at start-up -> run(feeds) per batch -> Grams
 */
export { readModel, decodeModel, encodeModel, defaultOpset } from './onnx-file.js';
export { listLayers, defaultLayers, MAX_DEFAULT_LAYERS, type LayerInfo, type DefaultLayers, type Dim } from './layers.js';
export {
  augmentModel,
  gramOutputName,
  type AugmentOptions,
  type AugmentedModel,
  type GramVariant,
  type GramVariantOption,
} from './augment.js';
export { checkBatchDimension, checkBatchIndependence, type BatchCheckOptions } from './batch.js';
export { PROVIDERS, isProvider, type Provider } from './providers.js';
export { createSession, type ModelLogger, type SessionOptions, type LoadedSession } from './session.js';
export type { ModelRunner, Feeds, FeedTensor, RunResult } from './runner.js';
export { copyFeeds, sliceFeeds } from './feeds.js';
export { WorkerModelRunner, type WorkerRunnerOptions } from './worker-runner.js';
export type { ModelProto } from './proto.js';
