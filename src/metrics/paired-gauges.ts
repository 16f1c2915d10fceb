import { pairedCka, type PairedSums } from '../cka/paired.js';
import type { WindowMetrics } from './definitions.js';
import type { Logger } from '../util/logger.js';

/** One layer pair's paired-CKA sums over one window at scrape time (paired mode). */
export interface PairedScore {
  /** the monitored layer of the model (the candidate's tensor may have another name) */
  readonly layer: string;
  readonly window: string;
  readonly sums: PairedSums;
}

export type PairedSource = (nowMs: number) => Iterable<PairedScore>;

/**
 * Sets ckawatch_paired_cka from the source at scrape time. As for the drift gauges: values
 * are computed first and applied only when that succeeded (a throwing source keeps the
 * last good values, logged once per failure streak); undefined CKA leaves the series absent.
 */
export function createPairedRefresh(m: WindowMetrics, source: PairedSource, now: () => number, logger: Logger): () => void {
  let failing = false;
  return () => {
    let points: { labels: { layer: string; window: string }; value: number }[];
    try {
      points = [];
      for (const { layer, window, sums } of source(now())) {
        const value = pairedCka(sums);
        if (value !== null && Number.isFinite(value)) points.push({ labels: { layer, window }, value });
      }
    } catch (err) {
      m.collectErrors.inc();
      if (!failing) logger.error({ err }, 'cannot compute paired CKA; /metrics serves the last good values until this clears');
      failing = true;
      return;
    }
    failing = false;
    m.pairedCka.reset();
    for (const p of points) m.pairedCka.set(p.labels, p.value);
  };
}
