import type { RouteHandler, RouteResponse } from '../http/routes.js';

/*
 * The samples behind an alarm, on the metrics port (behind its basic auth, like /metrics):
 *
 *   GET /api/witnesses?window=W&layer=L         ─▶ { window, layer, windows, layers, samples: [WitnessRow...], missing: [MissingRow...] }
 *   GET /api/witnesses/sample?window=W&layer=L&rank=R    ─▶ the sample as an image (or text), when its bytes are kept
 *   GET /api/witnesses/reference?window=W&layer=L&rank=R ─▶ the reference sample of the missing list, as an image
 *
 * Without `layer`, the layer whose CKA is lowest in the window (the one that moved most).
 */

/** One sample of GET /api/witnesses, best first. */
export interface WitnessRow {
  readonly rank: number;
  /** 1 - the RBF kernel to the nearest reference row of its batch: 1 is far from all of them */
  readonly novelty: number;
  /** the MMD witness at the sample: like the new traffic, unlike the reference */
  readonly witness: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly timestamp: number | null;
  /** its message bytes are kept (witnesses.keepBytes), so /api/witnesses/sample shows it */
  readonly kept: boolean;
}

/** One reference sample production no longer resembles (lowest witness first). */
export interface MissingRow {
  readonly rank: number;
  /** its index in the reference set */
  readonly index: number;
  /** the MMD witness at it: low is unlike the new traffic */
  readonly witness: number;
}

export interface WitnessesPayload {
  readonly window: string;
  readonly layer: string;
  readonly windows: readonly string[];
  readonly layers: readonly string[];
  readonly samples: readonly WitnessRow[];
  readonly missing: readonly MissingRow[];
}

export interface WitnessSource {
  readonly windows: readonly string[];
  readonly layers: readonly string[];
  list(window: string, layer: string, now: number): readonly WitnessRow[];
  missing(window: string, layer: string, now: number): readonly MissingRow[];
  /** the reference sample at `rank` of the missing list, shown as an image (or its values); null past the list */
  referenceView(window: string, layer: string, rank: number, now: number): Promise<RouteResponse | null>;
  /** the kept sample at `rank`, shown as an image or text; null when its bytes are not kept */
  view(window: string, layer: string, rank: number, now: number): Promise<RouteResponse | null>;
}

export interface WitnessRouteOptions {
  /** null until the daemon has started its model, or when witnesses are off */
  readonly source: () => WitnessSource | null;
  /** the layer that moved most in a window: the default `layer` */
  readonly mostMoved: (window: string) => string | undefined;
  readonly now: () => number;
}

const rankOf = (url: URL): number | null => {
  const rank = Number(url.searchParams.get('rank'));
  return Number.isInteger(rank) && rank >= 1 ? rank : null;
};

const json = (status: number, value: unknown): RouteResponse => ({ status, contentType: 'application/json', body: `${JSON.stringify(value)}\n` });

export function witnessRoutes(o: WitnessRouteOptions): Record<string, RouteHandler> {
  /** The source and the window and layer asked for, or the error to answer with. */
  const resolve = (url: URL): { source: WitnessSource; window: string; layer: string } | RouteResponse => {
    const source = o.source();
    if (source === null) return json(404, { error: 'no witnesses: the model is not loaded yet, or witnesses.k is 0' });
    const window = url.searchParams.get('window') ?? source.windows[0]!;
    if (!source.windows.includes(window)) return json(400, { error: `unknown window; one of ${source.windows.join(', ')}` });
    const layer = url.searchParams.get('layer') || o.mostMoved(window) || source.layers[0]!;
    if (!source.layers.includes(layer)) return json(400, { error: `unknown layer; one of ${source.layers.join(', ')}` });
    return { source, window, layer };
  };
  return {
    '/api/witnesses': ({ url }) => {
      const r = resolve(url);
      if (!('source' in r)) return r;
      const now = o.now();
      const payload: WitnessesPayload = {
        window: r.window,
        layer: r.layer,
        windows: r.source.windows,
        layers: r.source.layers,
        samples: r.source.list(r.window, r.layer, now),
        missing: r.source.missing(r.window, r.layer, now),
      };
      return json(200, payload);
    },
    '/api/witnesses/sample': async ({ url }) => {
      const r = resolve(url);
      if (!('source' in r)) return r;
      const rank = rankOf(url);
      if (rank === null) return json(400, { error: 'rank: a whole number from 1' });
      const view = await r.source.view(r.window, r.layer, rank, o.now());
      return view ?? json(404, { error: 'no kept bytes for that sample (witnesses.keepBytes is 0, the message was longer, or the rank is past the list)' });
    },
    '/api/witnesses/reference': async ({ url }) => {
      const r = resolve(url);
      if (!('source' in r)) return r;
      const rank = rankOf(url);
      if (rank === null) return json(400, { error: 'rank: a whole number from 1' });
      return (await r.source.referenceView(r.window, r.layer, rank, o.now())) ?? json(404, { error: 'the rank is past the list' });
    },
  };
}
