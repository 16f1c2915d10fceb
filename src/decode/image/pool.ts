/**
 * Image preprocessing on a pool of worker threads, so that it scales with cores and keeps
 * the main thread (Kafka heartbeats, /metrics, the pipeline) free. Each message goes to
 * the thread with the fewest in flight; its bytes are transferred there and the sample
 * back. Requests have ids and a pending map; if a thread dies, everything pending fails
 * and so does every later call (the daemon then crashes loudly, as for the model worker).
 *
 *   decode(bytes) ──▶ least-busy worker (image-worker.ts) ──▶ DecodeResult
 */
import { CkawatchError } from '../../errors/index.js';
import { startWorker } from '../../util/worker.js';
import type { AsyncDecoder, DecodeResult } from '../types.js';
import type { ImageDecoderOptions } from './image.js';

interface Pending {
  readonly resolve: (result: DecodeResult) => void;
  readonly reject: (error: Error) => void;
  readonly worker: number;
}

export interface ImagePool {
  readonly decode: AsyncDecoder;
  /** Stops the threads; pending and later calls fail. */
  close(): Promise<void>;
}

export function createImagePool(options: ImageDecoderOptions, threads: number): ImagePool {
  const pending = new Map<number, Pending>();
  const load = new Array<number>(threads).fill(0);
  let failure: Error | null = null;
  let nextId = 1;

  const fail = (error: Error): void => {
    if (failure) return;
    failure = error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  const workers = Array.from({ length: threads }, () => {
    const worker = startWorker(new URL('./worker.js', import.meta.url), import.meta.url, { workerData: options });
    worker.unref();
    worker.on('message', (reply: { id: number; result?: DecodeResult; error?: string }) => {
      const p = pending.get(reply.id);
      if (p === undefined) return;
      pending.delete(reply.id);
      load[p.worker]! -= 1;
      if (reply.result) p.resolve(reply.result);
      else p.reject(new CkawatchError(`image preprocessing failed: ${reply.error ?? 'no result'}`));
    });
    worker.on('error', (error) => fail(new CkawatchError(`an image preprocessing thread crashed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => fail(new CkawatchError(`an image preprocessing thread exited (exit code ${code})`)));
    return worker;
  });

  const decode: AsyncDecoder = (bytes) => {
    if (failure) return Promise.reject(failure);
    let index = 0;
    for (let i = 1; i < threads; i++) if (load[i]! < load[index]!) index = i;
    const id = nextId++;
    // A copy in a buffer of its own to transfer: the message's bytes may be a view of a shared
    // buffer (kafkajs, Node's Buffer pool), and Buffer#slice would be a view too.
    const own = new Uint8Array(bytes);
    return new Promise<DecodeResult>((resolve, reject) => {
      pending.set(id, { resolve, reject, worker: index });
      load[index]! += 1;
      workers[index]!.postMessage({ id, bytes: own }, [own.buffer]);
    });
  };

  return {
    decode,
    async close() {
      fail(new CkawatchError('the image preprocessing pool is closed'));
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
