/**
 * The inference worker thread: one ONNX Runtime session, one request at a time.
 * ORT's run() blocks its thread for the whole forward pass; here that is this
 * thread, so the main thread keeps serving Kafka heartbeats and /metrics.
 *
 *   main thread                         this thread
 *   WorkerModelRunner.create ---------> workerData: model bytes, providers, fetches
 *                            <--------- ready {provider} | init-error
 *   run(feeds) --- run {id} ----------> session.run (blocking)
 *              <-- result {id, grams} - (buffers transferred, not copied)
 *   close() ----- close --------------> session.release(), port closed, thread exits
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import { ownBuffer } from './feeds.js';
import { gramOf, relativeGramError } from '../../cka/gram.js';
import { createSession, sessionOptions } from './session.js';
import { workerInit, workerRequest, type ProbeReply, type WorkerReply, type WorkerRequest } from './worker-protocol.js';
import { type Provider } from '../../config/vocabulary.js';
import { silentLogger, type Logger } from '../../util/logger.js';


const port = parentPort;
if (port === null) throw new Error('src/model/worker.ts is a worker_threads entry point; do not import it');

function send(reply: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(reply, transfer);
}

const init = workerInit.parse(workerData);
// Only warn and info cross to the main thread: the session code logs nothing else.
const logger: Logger = {
  ...silentLogger,
  warn: (fields, msg = '') => send({ type: 'log', level: 'warn', msg, fields: { ...fields } }),
  info: (fields, msg = '') => send({ type: 'log', level: 'info', msg, fields: { ...fields } }),
};

let session: ort.InferenceSession;
let provider: Provider;
try {
  const loaded = await createSession(init.bytes, init.providers, { logger, ...(init.threads ? { threads: init.threads } : {}) });
  session = loaded.session;
  provider = loaded.provider;
  send({ type: 'ready', provider: loaded.provider });
} catch (error) {
  send({ type: 'init-error', message: error instanceof Error ? error.message : String(error) });
  port.close();
  process.exit(0);
}

const fetches = [...init.gramOutputs, ...init.outputs];
let queue: Promise<void> = Promise.resolve();

port.on('message', (raw: unknown) => {
  const parsed = workerRequest.safeParse(raw);
  if (!parsed.success) throw new Error(`inference worker got an invalid request: ${parsed.error.message}`);
  const request = parsed.data;
  // One at a time, in arrival order: concurrent native runs would only contend for the same cores.
  queue = queue.then(() => handle(request));
});

async function handle(request: WorkerRequest): Promise<void> {
  if (request.type === 'close') {
    await session.release();
    port!.close();
    return;
  }
  try {
    if (request.type === 'probe') return send(await probe(request));
    const feeds = tensors(request.feeds);
    const start = performance.now();
    const results = await session.run(feeds, fetches);
    const inferenceMs = performance.now() - start;
    const grams = init.gramOutputs.map((name) => asFloat32(results[name], name));
    const outputs: Record<string, Float32Array<ArrayBuffer>> = {};
    for (const name of init.outputs) outputs[name] = asFloat32(results[name], name);
    const transfer = [...grams, ...Object.values(outputs)].map((a) => a.buffer);
    send({ type: 'result', id: request.id, grams, outputs, inferenceMs }, transfer);
  } catch (error) {
    send({ type: 'run-error', id: request.id, message: error instanceof Error ? error.message : String(error) });
  }
}

function tensors(feeds: Extract<WorkerRequest, { type: 'run' }>['feeds']): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, feed] of Object.entries(feeds)) out[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
  return out;
}

/**
 * Loads the probe model on the provider in use, runs it once, and measures each Gram
 * against the float64 Gram of the same features. Here, not in the main thread: only the
 * errors cross the thread boundary, not megabytes of features.
 */
async function probe(request: Extract<WorkerRequest, { type: 'probe' }>): Promise<ProbeReply> {
  const start = performance.now();
  const probeSession = await ort.InferenceSession.create(request.bytes, sessionOptions(provider, init.threads));
  try {
    const fetches = request.taps.flatMap((t) => [t.features, ...t.grams.map((g) => g.output)]);
    const results = await probeSession.run(tensors(request.feeds), fetches);
    const n = request.batch;
    const dims = request.taps.map((t) => [...(results[t.features]?.dims ?? [])]);
    const taps = request.taps.map((t) => {
      const features = asFloat32(results[t.features], t.features);
      const reference = gramOf(features, n, features.length / n);
      return t.grams.map((g) => ({ variant: g.variant, error: relativeGramError(reference, { n, data: asFloat32(results[g.output], g.output) }) }));
    });
    return { type: 'probe-result', id: request.id, taps, dims, ms: performance.now() - start };
  } finally {
    await probeSession.release();
  }
}

/** A Float32Array that owns its buffer (so it can be transferred); other numeric outputs are converted. */
function asFloat32(tensor: ort.Tensor | undefined, name: string): Float32Array<ArrayBuffer> {
  if (tensor === undefined) throw new Error(`ONNX Runtime returned no tensor '${name}'`);
  const data = tensor.data;
  if (data instanceof Float32Array) return ownBuffer(data);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float32Array.from(data, Number);
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) return Float32Array.from(data as ArrayLike<number>);
  throw new Error(`output '${name}' is of type ${tensor.type}; ckawatch can only return numeric outputs`);
}
