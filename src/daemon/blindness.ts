/**
 * Blind: messages keep arriving, yet no window has gained a batch for `afterMs`. Every
 * sample rejected (a producer that changed its encoding), or every batch's statistics
 * failing: either way the daemon counts and commits but sees nothing, and it says so
 * (ckawatch_blind, /readyz) instead of looking healthy with stale scores.
 *
 *   pipeline applies messages ──arrived(n)──▶ oldest unscored arrival
 *   a batch reaches a window ──scored()────▶ forgotten
 *   reason(): an arrival unscored for afterMs or longer ─▶ blind
 *
 * A quiet stream is not blind: with no arrivals there is nothing to have missed.
 */
export interface Blindness {
  /** `count` messages (samples or rejections) were applied */
  arrived(count: number): void;
  /** a batch reached at least one layer's windows */
  scored(): void;
  /** null while seeing; otherwise why not, for /readyz */
  reason(): string | null;
}

export function createBlindness(afterMs: number, now: () => number): Blindness {
  let oldestUnscored: number | null = null;
  let unscored = 0;
  return {
    arrived(count) {
      if (count <= 0) return;
      oldestUnscored ??= now();
      unscored += count;
    },
    scored() {
      oldestUnscored = null;
      unscored = 0;
    },
    reason() {
      if (oldestUnscored === null) return null;
      const waited = now() - oldestUnscored;
      if (waited < afterMs) return null;
      return `blind: ${unscored} messages in ${Math.round(waited / 1000)} s and none reached the statistics (all rejected, or every batch failed; see ckawatch_rejected_total and ckawatch_unscored_samples_total)`;
    },
  };
}
