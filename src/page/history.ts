/**
 * Server-side history for the built-in page: every `intervalMs` the daemon calls
 * `sample()`, which keeps the current score rows of every layer and window in a ring of
 * `capacity` entries, so that the heatmap has the last minutes at first load, before the
 * page has polled once. Bounded memory: capacity x layers x windows rows.
 */

import type { ScoreRow } from './rows.js';

export type { ScoreRow } from './rows.js';

interface Sample {
  readonly t: number;
  readonly rows: readonly ScoreRow[];
}

export interface History {
  /** Records the current rows at the clock's time; rows that throw or are empty record nothing. */
  sample(): void;
  /** Oldest first. */
  samples(): readonly Sample[];
}

export function createHistory(options: {
  readonly rows: () => readonly ScoreRow[];
  readonly now: () => number;
  readonly capacity: number;
  readonly onError?: (err: unknown) => void;
}): History {
  if (!Number.isSafeInteger(options.capacity) || options.capacity < 1) {
    throw new RangeError(`history capacity must be a whole number of at least 1, got ${options.capacity}`);
  }
  const ring: Sample[] = [];
  let failing = false;
  return {
    sample() {
      let rows: readonly ScoreRow[];
      try {
        rows = options.rows();
        failing = false;
      } catch (err) {
        // A page is never worth a crash: log once per failure streak, keep the old history.
        if (!failing) options.onError?.(err);
        failing = true;
        return;
      }
      if (rows.length === 0) return;
      ring.push({ t: options.now(), rows: rows.map((r) => ({ ...r })) });
      if (ring.length > options.capacity) ring.splice(0, ring.length - options.capacity);
    },
    samples: () => ring,
  };
}
