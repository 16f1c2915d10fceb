/*
 * `sampling: auto`: the fraction of samples to score, from what the daemon measures.
 *
 *   process() calls ─scored samples, busy ms─▶ capacity C (samples scored per second of scoring)
 *   chosen or not   ─seen per second───────────▶ arrivals A
 *   consumer lag L (records behind the log end), its growth G ─▶ demand D = A + max(0, G) + L / drain
 *   target = headroom · C / D, in [min, 1]; adopted when it moves more than `hysteresis`
 *
 * While the daemon keeps up, A is the traffic and L is what a fetch holds, so the fraction
 * settles at headroom · C / traffic: the model kept busy at `headroom` of its capacity and
 * the rest of the time left to reading. While it falls behind, A is only what it reads and
 * L grows: A + G is the traffic again, and the lag term lowers the fraction further until
 * reading outpaces the traffic and the lag drains (within about `drain`), so the lag stays
 * bounded. C, A and G are exponential averages (time constant `tauMs`), so one slow batch,
 * one fetch or one burst does not swing the fraction. Pure: the clock is a parameter.
 */

export interface AutoFractionOptions {
  readonly now: () => number;
  /** share of the measured capacity aimed at (default 0.95) */
  readonly headroom?: number;
  /** a lag is to be drained in about this many ms (default 30 s) */
  readonly drainMs?: number;
  /** time constant of the rate averages (default 5 s) */
  readonly tauMs?: number;
  /** lowest fraction (default 1e-4: a batch of 64 every 640,000 samples) */
  readonly min?: number;
  /** relative change below which the fraction stays (default 0.03) */
  readonly hysteresis?: number;
}

/** Scoring time needed before a capacity estimate is taken (shorter spans are mostly start-up cost). */
const MIN_BUSY_MS = 100;

export class AutoFraction {
  readonly #now: () => number;
  readonly #headroom: number;
  readonly #drainMs: number;
  readonly #tauMs: number;
  readonly #min: number;
  readonly #hysteresis: number;
  #fraction = 1;
  /** samples scored per second of scoring, averaged; null until measured */
  #capacity: number | null = null;
  /** samples seen per second, averaged; null until the first tick */
  #arrivals: number | null = null;
  #scored = 0;
  #busyMs = 0;
  #lastSeen = 0;
  /** growth of the lag, records per second, averaged; the last lag seen */
  #growth = 0;
  #lastLag: number | null = null;
  #lastAt: number;

  constructor(options: AutoFractionOptions) {
    this.#now = options.now;
    this.#headroom = options.headroom ?? 0.95;
    this.#drainMs = options.drainMs ?? 30_000;
    this.#tauMs = options.tauMs ?? 5_000;
    this.#min = options.min ?? 1e-4;
    this.#hysteresis = options.hysteresis ?? 0.03;
    this.#lastAt = this.#now();
  }

  get fraction(): number {
    return this.#fraction;
  }

  /** Samples scored per second of scoring, as averaged so far (null before any). */
  get capacity(): number | null {
    return this.#capacity;
  }

  /** Samples seen per second, as averaged so far (null before the first tick). */
  get arrivals(): number | null {
    return this.#arrivals;
  }

  /** A process() call scored `samples` in `busyMs`. */
  scored(samples: number, busyMs: number): void {
    if (samples <= 0 || !(busyMs > 0)) return;
    this.#scored += samples;
    this.#busyMs += busyMs;
  }

  /** `seen`: samples seen since the start; `lag`: records behind the log end now. Returns the fraction. */
  tick(seen: number, lag: number): number {
    const at = this.#now();
    const dt = at - this.#lastAt;
    if (dt <= 0) return this.#fraction;
    const alpha = 1 - Math.exp(-dt / this.#tauMs);
    const rate = ((seen - this.#lastSeen) * 1000) / dt;
    this.#arrivals = this.#arrivals === null ? rate : this.#arrivals + alpha * (rate - this.#arrivals);
    this.#lastSeen = seen;
    this.#lastAt = at;
    const now = Math.max(0, lag);
    if (this.#lastLag !== null) this.#growth += alpha * (((now - this.#lastLag) * 1000) / dt - this.#growth);
    this.#lastLag = now;
    if (this.#busyMs >= MIN_BUSY_MS) {
      const c = (this.#scored * 1000) / this.#busyMs;
      this.#capacity = this.#capacity === null ? c : this.#capacity + alpha * (c - this.#capacity);
      this.#scored = 0;
      this.#busyMs = 0;
    }
    if (this.#capacity === null) return this.#fraction;
    const demand = this.#arrivals + Math.max(0, this.#growth) + (now * 1000) / this.#drainMs;
    const target = demand > 0 ? Math.min(1, Math.max(this.#min, (this.#headroom * this.#capacity) / demand)) : 1;
    if (Math.abs(target - this.#fraction) > this.#hysteresis * this.#fraction || (target === 1 && this.#fraction < 1)) {
      this.#fraction = target;
    }
    return this.#fraction;
  }
}
