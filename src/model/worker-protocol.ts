/**
 * Messages between the model runner (main thread) and the inference worker, with
 * zod schemas for both directions: a thread boundary is an edge, and a malformed
 * message there is a bug to report loudly, not to guess around.
 *
 *   main -> worker   workerData: WorkerInit       worker -> main   ready | init-error
 *                    run {id, batch, feeds}                         result {id, ...} | run-error {id, ...}
 *                    close                                          log {level, msg, fields}
 */
import { z } from 'zod';

const feedTensor = z.discriminatedUnion('type', [
  z.object({ type: z.literal('float32'), data: z.instanceof(Float32Array), dims: z.array(z.number().int().nonnegative()) }),
  z.object({ type: z.literal('int64'), data: z.instanceof(BigInt64Array), dims: z.array(z.number().int().nonnegative()) }),
]);

export const workerInit = z.object({
  bytes: z.instanceof(Uint8Array),
  providers: z.array(z.string()).min(1),
  threads: z.number().int().positive().optional(),
  /** Gram outputs first, then the requested model outputs. */
  gramOutputs: z.array(z.string()).min(1),
  outputs: z.array(z.string()),
});
export type WorkerInit = z.infer<typeof workerInit>;

export const workerRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('run'), id: z.number().int(), batch: z.number().int().positive(), feeds: z.record(z.string(), feedTensor) }),
  z.object({ type: z.literal('close') }),
]);
export type WorkerRequest = z.infer<typeof workerRequest>;

export const workerReply = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), provider: z.string() }),
  z.object({ type: z.literal('init-error'), message: z.string() }),
  z.object({
    type: z.literal('result'),
    id: z.number().int(),
    grams: z.array(z.instanceof(Float32Array)),
    outputs: z.record(z.string(), z.instanceof(Float32Array)),
    inferenceMs: z.number().nonnegative(),
  }),
  z.object({ type: z.literal('run-error'), id: z.number().int(), message: z.string() }),
  z.object({
    type: z.literal('log'),
    level: z.enum(['warn', 'info']),
    msg: z.string(),
    fields: z.record(z.string(), z.unknown()),
  }),
]);
export type WorkerReply = z.infer<typeof workerReply>;
