/**
 * Messages between the model runner (main thread) and the inference worker, with
 * zod schemas for both directions: a thread boundary is an edge, and a malformed
 * message there is a bug to report loudly, not to guess around.
 *
 *   main -> worker   workerData: WorkerInit       worker -> main   ready | init-error
 *                    run {id, batch, feeds}                         result {id, ...} | run-error {id, ...}
 *                    probe {id, batch, feeds, bytes, taps}          probe-result {id, taps} | run-error {id, ...}
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

const variant = z.enum(['plain', 'channel-split']);

export const workerRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('run'), id: z.number().int(), batch: z.number().int().positive(), feeds: z.record(z.string(), feedTensor) }),
  /** The precision check: load `bytes` (a probe model) on the provider in use, run once, compare each Gram with float64. */
  z.object({
    type: z.literal('probe'),
    id: z.number().int(),
    batch: z.number().int().positive(),
    feeds: z.record(z.string(), feedTensor),
    bytes: z.instanceof(Uint8Array),
    taps: z.array(z.object({ features: z.string(), grams: z.array(z.object({ variant, output: z.string() })) })),
  }),
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
  z.object({
    type: z.literal('probe-result'),
    id: z.number().int(),
    /** Per tap, per Gram variant: relativeGramError (null: constant features; Infinity: non-finite Gram). */
    taps: z.array(z.array(z.object({ variant, error: z.custom<number>((v) => typeof v === 'number' && !Number.isNaN(v)).nullable() }))),
    /** Per tap, the dims of the features the Gram is built from, as ONNX Runtime ran them. */
    dims: z.array(z.array(z.number().int().nonnegative())),
    ms: z.number().nonnegative(),
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
export type ProbeReply = Extract<WorkerReply, { type: 'probe-result' }>;
