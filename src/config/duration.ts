/**
 * Durations in the config are strings with units, as people write them ("30s", "5m",
 * "1h30m", "250ms"), never bare numbers, whose unit a reader would have to guess.
 * Inside ckawatch they are whole milliseconds.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const WHOLE = /^(?:\d{1,9}(?:ms|s|m|h|d))+$/;
const PART = /(\d{1,9})(ms|s|m|h|d)/g;

/** Milliseconds for "1h30m"-style text, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(PART)) ms += Number(amount) * UNIT_MS[unit!]!;
  return ms;
}

/** The shortest "1h30m"-style text for whole milliseconds (for logs and error messages). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms']) {
    const size = UNIT_MS[unit]!;
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
