/** Starting the inference worker thread and waiting until it has loaded the model. */
import type { Worker } from 'node:worker_threads';
import { ModelError } from '../../errors/index.js';
import { workerReply, type WorkerInit, type WorkerReply } from './worker-protocol.js';
import { startWorker as startThread } from '../../util/worker.js';
import type { Logger } from '../../util/logger.js';

export interface StartedWorker {
  readonly worker: Worker;
  /** Settles when the thread has exited, for whatever reason. */
  readonly exited: Promise<void>;
  /** The execution provider that loaded the model. */
  readonly provider: string;
}

export interface StartOptions {
  readonly logger: Logger;
  /** Default 300 s: TensorRT builds its engines while loading. */
  readonly startTimeoutMs?: number;
}

/** Starts worker.ts with `init` (the model bytes' buffer is transferred) and waits for ready or init-error. */
export async function startWorker(init: WorkerInit, modelBuffer: ArrayBuffer, options: StartOptions): Promise<StartedWorker> {
  const worker = startThread(new URL('./worker.js', import.meta.url), import.meta.url, { workerData: init, transferList: [modelBuffer] });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const provider = await waitUntilReady(worker, options);
  return { worker, exited, provider };
}

export function logTo(logger: Logger, reply: Extract<WorkerReply, { type: 'log' }>): void {
  if (reply.level === 'warn') logger.warn(reply.fields, reply.msg);
  else logger.info(reply.fields, reply.msg);
}

function waitUntilReady(worker: Worker, options: StartOptions): Promise<string> {
  const timeoutMs = options.startTimeoutMs ?? 300_000;
  return new Promise((resolve, reject) => {
    const fail = (error: ModelError): void => {
      stop();
      void worker.terminate();
      reject(error);
    };
    const onMessage = (raw: unknown): void => {
      const parsed = workerReply.safeParse(raw);
      if (!parsed.success) return fail(new ModelError(`the inference worker sent an invalid message (${parsed.error.message})`));
      const reply = parsed.data;
      switch (reply.type) {
        case 'log':
          return logTo(options.logger, reply);
        case 'ready':
          stop();
          return resolve(reply.provider);
        case 'init-error':
          return fail(new ModelError(reply.message));
        default:
          return fail(new ModelError(`the inference worker sent '${reply.type}' before it was ready`));
      }
    };
    const onError = (error: Error): void =>
      fail(new ModelError(`the inference worker failed to start: ${error.message}`, { cause: error }));
    const onExit = (code: number): void =>
      fail(new ModelError(`the inference worker exited while loading the model (exit code ${code})`));
    const timer = setTimeout(
      () => fail(new ModelError(`loading the model took longer than ${timeoutMs} ms; raise startTimeoutMs`, { retriable: true })),
      timeoutMs,
    );
    const stop = (): void => {
      clearTimeout(timer);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}
