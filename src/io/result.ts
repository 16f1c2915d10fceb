/**
 * Expected failures as values (after zod's safeParse): a decoder that meets hostile
 * bytes returns `{ ok: false }` with a closed `reason` (fit for a metric label) and a
 * one-line `detail` for logs, instead of throwing. Throwing is left to callers that
 * cannot go on (a reference file that does not load), which wrap `detail` in a DataError.
 */
export type Result<T, R extends string> = { ok: true; value: T } | { ok: false; reason: R; detail: string };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail<R extends string>(reason: R, detail: string): { ok: false; reason: R; detail: string } {
  return { ok: false, reason, detail };
}
