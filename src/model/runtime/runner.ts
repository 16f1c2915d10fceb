/**
 * The interface the daemon uses to run the model: one call per stacked batch,
 * one Gram per monitored layer back. The implementation (worker-runner.ts) runs
 * ONNX Runtime in a worker thread; tests and tools may provide others.
 */
import type { LayerOutput } from '../../cka/pool.js';

/** One input tensor, row-major, batch first. */
export type FeedTensor =
  | { readonly type: 'float32'; readonly data: Float32Array; readonly dims: readonly number[] }
  | { readonly type: 'int64'; readonly data: BigInt64Array; readonly dims: readonly number[] };

/** Model inputs by name. */
export type Feeds = Readonly<Record<string, FeedTensor>>;

export interface RunResult {
  /**
   * One per tap, in the order of `taps`, float32 data from the device: the Gram of the
   * batch (n = batch), or with a pool head the batch reduced against the tap's pool.
   */
  readonly grams: LayerOutput[];
  /** The model's own outputs that were asked for when the runner was created, flattened. */
  readonly outputs?: Readonly<Record<string, Float32Array>>;
  /** Time spent in ONNX Runtime's run(), measured where it ran. */
  readonly inferenceMs: number;
}

export interface ModelRunner {
  /** The execution provider that loaded the model ('cuda', 'tensorrt', 'webgpu' or 'cpu'). */
  readonly provider: string;
  /** The monitored tensor names, in the order of RunResult.grams. */
  readonly taps: readonly string[];
  /**
   * Runs the model on a batch of `batch` samples (every feed's dims[0]). The feeds'
   * buffers may be transferred to another thread: do not use them after the call.
   */
  run(feeds: Feeds, batch: number): Promise<RunResult>;
  /** Rejects pending runs and releases the session; later runs reject. Safe to call twice. */
  close(): Promise<void>;
}
