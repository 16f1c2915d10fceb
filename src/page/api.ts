import type { History, ScoreRow } from './history.js';

/**
 * The JSON of GET /api/scores (also embedded in GET / for the first paint):
 *
 *   { now, intervalMs, historyMs, windows: [w...], layers: [l...],
 *     current: [ScoreRow...],                       scores right now, every layer and window
 *     history: { t: [ms...],                        sample times, oldest first
 *                cka: { [window]: [[number|null per t] per layer] },
 *                alarm: { [window]: [0|1|null per t] } } }     the model alarm (null: none yet)
 *
 * Layers and windows are listed in the daemon's order; a layer or window missing from a
 * sample (start-up) is null there. Non-finite numbers never reach the JSON.
 */
export interface ScoresPayload {
  readonly now: number;
  readonly intervalMs: number;
  /** the time the history can span: intervalMs x capacity */
  readonly historyMs: number;
  readonly windows: readonly string[];
  readonly layers: readonly string[];
  readonly current: readonly ScoreRow[];
  readonly history: {
    readonly t: readonly number[];
    readonly cka: Readonly<Record<string, readonly (readonly (number | null)[])[]>>;
    /** per window, whether the model alarm was on at each sample time; null before calibration */
    readonly alarm: Readonly<Record<string, readonly (0 | 1 | null)[]>>;
  };
}

export function scoresPayload(
  current: readonly ScoreRow[],
  history: History,
  timing: { readonly now: number; readonly intervalMs: number; readonly historyMs: number },
): ScoresPayload {
  const samples = history.samples();
  const every = [...current, ...samples.flatMap((s) => s.rows)];
  const windows = unique(every.map((r) => r.window));
  const layers = unique(every.map((r) => r.layer));
  const cka: Record<string, (number | null)[][]> = Object.create(null) as Record<string, (number | null)[][]>;
  const alarm: Record<string, (0 | 1 | null)[]> = Object.create(null) as Record<string, (0 | 1 | null)[]>;
  for (const w of windows) {
    cka[w] = layers.map(() => new Array<number | null>(samples.length).fill(null));
    alarm[w] = new Array<0 | 1 | null>(samples.length).fill(null);
  }
  const layerIndex = new Map(layers.map((l, i) => [l, i]));
  samples.forEach((s, k) => {
    for (const r of s.rows) {
      const row = cka[r.window]?.[layerIndex.get(r.layer) ?? -1];
      if (row) row[k] = finite(r.cka);
      const alarms = alarm[r.window];
      if (alarms && r.alarm) alarms[k] = r.alarm.on ? 1 : 0;
    }
  });
  return {
    ...timing,
    windows,
    layers,
    current: current.map((r) => ({ ...r, cka: finite(r.cka), mmd2Linear: finite(r.mmd2Linear), mmd2Rbf: finite(r.mmd2Rbf) })),
    history: { t: samples.map((s) => s.t), cka, alarm },
  };
}

function finite(v: number | null): number | null {
  return v !== null && Number.isFinite(v) ? v : null;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
