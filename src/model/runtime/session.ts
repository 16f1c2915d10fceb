/**
 * Creating an ONNX Runtime session with the first execution provider that works,
 * in the order given, with a logged warning for each one that does not.
 */
import ort from 'onnxruntime-node';
import { ModelError } from '../../errors/index.js';
import { isProvider, providerCaveat, providerHint } from './providers.js';
import { type Provider, PROVIDERS } from '../../config/vocabulary.js';
import type { Logger } from '../../util/logger.js';

/** The part of a pino logger this folder uses (pino's Logger satisfies it). */

export interface SessionOptions {
  readonly logger: Logger;
  /** ORT intra-op threads for the CPU provider; ORT's default (one per core) when absent. */
  readonly threads?: number;
}

export interface LoadedSession {
  readonly session: ort.InferenceSession;
  readonly provider: Provider;
}

/**
 * Tries each provider in order with InferenceSession.create. onnxruntime-node 1.30
 * throws when a provider cannot be loaded (missing libraries, no GPU adapter) rather
 * than falling back, so every failure is seen here; see providerCaveat for what is not.
 */
export async function createSession(
  bytes: Uint8Array,
  providers: readonly string[],
  options: SessionOptions,
): Promise<LoadedSession> {
  const { logger } = options;
  if (providers.length === 0) {
    throw new ModelError(`no execution providers given: list some of ${PROVIDERS.join(', ')} (in order of preference)`);
  }
  const failures: string[] = [];
  for (const [i, name] of providers.entries()) {
    const next = providers[i + 1];
    const fallback = next === undefined ? 'no provider left to try' : `trying '${next}'`;
    if (!isProvider(name)) {
      const reason = `unknown execution provider '${name}' (ckawatch knows ${PROVIDERS.join(', ')})`;
      failures.push(reason);
      logger.warn({ provider: name }, `${reason}; ${fallback}`);
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(bytes, sessionOptions(name, options.threads));
      const caveat = providerCaveat(name);
      if (caveat !== null) logger.info({ provider: name }, caveat);
      return { session, provider: name };
    } catch (cause) {
      const ortReason = firstLine(cause);
      const reason = `${name}: ${ortReason} (${providerHint(name, ortReason)})`;
      failures.push(reason);
      logger.warn({ provider: name, err: ortReason }, `execution provider '${name}' failed to load the model; ${fallback}`);
    }
  }
  throw new ModelError(
    `no execution provider could load the model:\n  ${failures.join('\n  ')}\n` +
      `add 'cpu' as the last provider to always have a fallback`,
  );
}

export function sessionOptions(provider: Provider, threads: number | undefined): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    ...(threads === undefined ? {} : { intraOpNumThreads: threads }),
  };
}

/** ORT's messages carry a source path and a multi-line log tail; the first line says what failed. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split('\n')[0] ?? text).trim();
}
