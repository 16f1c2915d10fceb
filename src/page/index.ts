import { randomBytes } from 'node:crypto';
import type { RouteHandler } from '../http/routes.js';
import { viridis } from '../plot/colormap.js';
import { scoresPayload, type ScoresPayload } from './api.js';
import { createHistory, type ScoreRow } from './history.js';
import { renderPage, scriptJson } from './html.js';

/*
 * The built-in page on the metrics port:
 *
 *   daemon timer (every intervalMs) ─▶ sample() ─▶ history ring (last capacity samples)
 *   GET /           ─▶ HTML + script + the payload below embedded (first paint has data)
 *   GET /api/scores ─▶ { current rows, history of cka per window and layer }  ◀─ page polls
 *
 * Both routes sit behind the server's basic auth like /metrics.
 */

export type { ScoreRow } from './history.js';
export type { ScoresPayload } from './api.js';

export interface StatusPageOptions {
  /** current scores of every layer and window (Daemon.rows()) */
  readonly rows: () => readonly ScoreRow[];
  readonly now: () => number;
  readonly version: string;
  /** history sample interval; default 2 s */
  readonly intervalMs?: number;
  /** samples kept; default 300 (10 minutes at 2 s) */
  readonly capacity?: number;
  readonly onError?: (err: unknown) => void;
}

export interface StatusPage {
  /** GET routes for MetricsServer: '/' and '/api/scores' */
  readonly routes: Readonly<Record<string, RouteHandler>>;
  /** call every `intervalMs` */
  sample(): void;
  readonly intervalMs: number;
}

/** Viridis at 9 stops: the page's colour scale, the same as ckawatch compare's heatmaps. */
const COLOURS = Array.from({ length: 9 }, (_, i) => viridis(i / 8));

export function createStatusPage(options: StatusPageOptions): StatusPage {
  const intervalMs = options.intervalMs ?? 2_000;
  const capacity = options.capacity ?? 300;
  const history = createHistory({ rows: options.rows, now: options.now, capacity, ...(options.onError ? { onError: options.onError } : {}) });
  const payload = (): ScoresPayload => scoresPayload(options.rows(), history, { now: options.now(), intervalMs, historyMs: intervalMs * capacity });
  return {
    intervalMs,
    sample: () => history.sample(),
    routes: {
      '/': () => {
        const nonce = randomBytes(16).toString('base64');
        return {
          contentType: 'text/html; charset=utf-8',
          body: renderPage({ payloadJson: scriptJson(payload()), colours: COLOURS, nonce, version: options.version }),
          headers: {
            'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
            'Referrer-Policy': 'no-referrer',
          },
        };
      },
      '/api/scores': () => ({ contentType: 'application/json', body: `${JSON.stringify(payload())}\n` }),
    },
  };
}
