import type { Registry } from 'prom-client';
import type { Logger } from '../util/logger.js';

/** What a route answers; the server adds Content-Length and the common headers. */
export interface RouteResponse {
  readonly status?: number;
  readonly contentType: string;
  readonly body: string | Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RouteRequest {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** An extra GET route (e.g. a status page at '/'). A throw becomes a logged 500. */
export type RouteHandler = (request: RouteRequest) => RouteResponse | Promise<RouteResponse>;

export interface Readiness {
  readonly ready: boolean;
  /** why not ready (model not loaded, reference not calibrated, group not joined, ...) */
  readonly reasons: readonly string[];
  /** The execution provider the model runs on, once loaded and checked. */
  readonly provider?: string;
  /** problems that do not stop the daemon but need an operator (a missing dead-letter topic) */
  readonly warnings?: readonly string[];
}

/**
 * GET /metrics. With `cacheMs` > 0, one rendering answers every scrape that arrives within
 * `cacheMs` of it (and every scrape that arrives while it is being made): 50 clients
 * scraping in a loop then cost a few renderings a second, not one per request, and leave
 * the CPU to consumption (test/faults/scrape-load.test.ts). A failed rendering is not kept.
 */
export function metricsRoute(registry: Registry, logger: Logger, options: { cacheMs?: number; now?: () => number } = {}): RouteHandler {
  const cacheMs = options.cacheMs ?? 0;
  const now = options.now ?? Date.now;
  let cached: { at: number; response: RouteResponse } | null = null;
  let inFlight: Promise<RouteResponse> | null = null;
  const render = async (): Promise<RouteResponse> => {
    try {
      const response = { contentType: registry.contentType, body: await registry.metrics() };
      if (cacheMs > 0) cached = { at: now(), response };
      return response;
    } catch (err) {
      logger.error({ err }, 'collecting metrics failed; answering the scrape with 500');
      return { status: 500, contentType: 'text/plain; charset=utf-8', body: 'metrics collection failed\n' };
    }
  };
  return () => {
    if (cacheMs <= 0) return render();
    if (cached && now() - cached.at < cacheMs) return cached.response;
    inFlight ??= render().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };
}

export function healthRoute(): RouteHandler {
  // Liveness only: answering at all means the event loop turns.
  return () => ({ contentType: 'text/plain; charset=utf-8', body: 'ok\n' });
}

export function readyRoute(ready: () => Readiness, logger: Logger): RouteHandler {
  return () => {
    let report: Readiness;
    try {
      report = ready();
    } catch (err) {
      logger.error({ err }, 'readiness check failed; reporting not ready');
      report = { ready: false, reasons: [`readiness check failed: ${err instanceof Error ? err.message : String(err)}`] };
    }
    return {
      status: report.ready ? 200 : 503,
      contentType: 'application/json',
      body: `${JSON.stringify({
        ready: report.ready,
        reasons: report.reasons,
        ...(report.provider === undefined ? {} : { provider: report.provider }),
        ...(report.warnings?.length ? { warnings: report.warnings } : {}),
      })}\n`,
    };
  };
}
