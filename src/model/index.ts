/**
 * ONNX graph surgery, sessions and the inference worker.
 *
 *   readModel -> checkBatchDimension -> augmentModel (Gram outputs per tap)
 *     -> WorkerModelRunner (worker thread: createSession with provider fallback, run)
 *     -> checkBatchIndependence at start-up -> run(feeds) per batch -> Grams
 */
export { readModel, decodeModel, encodeModel, defaultOpset } from './graph/onnx-file.js';
export { listLayers, defaultLayers, MAX_DEFAULT_LAYERS, type LayerInfo, type DefaultLayers, type Dim } from './graph/layers.js';
export {
  augmentModel,
  gramOutputName,
  type AugmentOptions,
  type AugmentedModel,
  type GramVariant,
  type GramVariantOption,
} from './graph/augment.js';
export { checkBatchDimension, checkBatchIndependence, type BatchCheckOptions } from './runtime/batch.js';
export { isProvider } from './runtime/providers.js';
export { createSession, type SessionOptions, type LoadedSession } from './runtime/session.js';
export type { ModelRunner, Feeds, FeedTensor, RunResult } from './runtime/runner.js';
export { copyFeeds, sliceFeeds } from './runtime/feeds.js';
export { WorkerModelRunner, type WorkerRunnerOptions } from './runtime/worker-runner.js';
export type { ModelProto } from './graph/proto.js';
