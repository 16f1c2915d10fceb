/**
 * Entry of an image preprocessing thread (image-pool.ts): decodes and preprocesses the
 * messages it is sent, replying with the sample (its buffer transferred) or the rejection.
 *
 *   main ── {id, bytes} ──▶ worker: sharp decode ─▶ PIL-exact resize, crop, normalise ─▶ {id, result}
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createImageDecoder, type ImageDecoderOptions } from './image.js';

const decode = createImageDecoder(workerData as ImageDecoderOptions);
const port = parentPort!;

port.on('message', (message: { id: number; bytes: Uint8Array }) => {
  decode(message.bytes).then(
    (result) => port.postMessage({ id: message.id, result }, result.ok ? [result.value.buffer as ArrayBuffer] : []),
    (error: unknown) => port.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) }),
  );
});
