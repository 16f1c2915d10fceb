import { describe, expect, it } from 'vitest';
import { judgeWindow } from '../../src/calibration/alarm.js';
import { budgetLevel, spellRate } from '../../src/calibration/budget.js';
import { calibrate } from '../../src/calibration/calibrate.js';
import { addDrift, EMPTY_DRIFT, type DriftSums } from '../../src/cka/drift.js';
import { judgeWindows } from '../../src/daemon/judge.js';
import type { Calibrator } from '../../src/daemon/reference.js';
import { nullBatches } from './synthetic.js';

const names = ['a', 'b', 'c'];
const lengths = [1, 4];
// Tails from 300 null batches per layer, spells simulated on 600 others: as the daemon
// does, the simulation judges batches the tails were not fitted to.
const calibration = calibrate(
  names.map((layer, i) => ({ layer, batches: nullBatches(100 + i, 300) })),
  { falseAlarmRate: 0.05, alarmRate: 0.05, seed: 7, replicates: 2000, spellSteps: 20_000, spellBatches: names.map((_, i) => nullBatches(200 + i, 600)) },
);
const spells = calibration.spells!;

/** New alarm spells of the union of sliding windows of `lengths` batches over a fresh null stream, at `level`. */
function pages(stream: readonly DriftSums[][], level: number): number {
  let count = 0;
  let wasOn = false;
  for (let t = Math.max(...lengths) - 1; t < stream.length; t++) {
    const on = lengths.some((k) => {
      const sums = names.map((layer, l) => ({ layer, sums: stream.slice(t - k + 1, t + 1).reduce((s, b) => addDrift(s, b[l]!), EMPTY_DRIFT) }));
      return judgeWindow(calibration, sums, level).alarm?.on === true;
    });
    if (on && !wasOn) count += 1;
    wasOn = on;
  }
  return count;
}

describe('false-page budget', () => {
  it('pages on a fresh clean stream about once per budget: 3,000 null batches, budget 50', () => {
    const budget = 50;
    const level = budgetLevel(spells, lengths, budget)!;
    expect(level).toBeGreaterThan(0);
    expect(level).toBeLessThan(calibration.alarm.levels[0]!); // stricter than the per-window 5% level
    const fresh = names.map((_, i) => nullBatches(900 + i, 3000));
    const stream = fresh[0]!.map((_, t) => fresh.map((f) => f[t]!));
    const n = pages(stream, level);
    // 60 expected; within [0.5, 2]x the budget means 30 to 120 pages.
    expect(n).toBeGreaterThanOrEqual(30);
    expect(n).toBeLessThanOrEqual(120);
  });

  it('asks more of a longer budget and of more windows; nothing without a window', () => {
    const levels = [10, 100, 1_000, 100_000].map((b) => budgetLevel(spells, lengths, b)!);
    for (let i = 1; i < levels.length; i++) expect(levels[i]!).toBeLessThan(levels[i - 1]!);
    expect(budgetLevel(spells, [1, 4, 16], 100)!).toBeLessThan(budgetLevel(spells, [1], 100)!);
    expect(budgetLevel(spells, [], 100)).toBeNull();
    expect(budgetLevel(spells, [0], 100)).toBeNull();
    // More spells at a higher level, and fewer for a longer window than the longest simulated.
    const log = Math.log(1e-3);
    expect(spellRate(spells, 4, Math.log(1e-2))).toBeGreaterThan(spellRate(spells, 4, log));
    const longest = spells.lengths.at(-1)!;
    expect(spellRate(spells, 4 * longest, log)).toBeCloseTo(spellRate(spells, longest, log) / 2, 12);
  });

  it('is what the daemon judges with: a budget in batches, or in time at the windows\' batch rate', () => {
    const calibrator = { calibration, thresholds: () => ({}) } as unknown as Calibrator;
    const batches = names.map((_, i) => nullBatches(50 + i, 4));
    const windowSums = names.flatMap((layer, l) => [
      { layer, window: '1m', sums: batches[l]!.slice(0, 1).reduce(addDrift, EMPTY_DRIFT) },
      { layer, window: '4m', sums: batches[l]!.reduce(addDrift, EMPTY_DRIFT) },
    ]);
    const levelOf = (budget: { batches: number } | { ms: number }): number => {
      const judged = judgeWindows(calibrator, windowSums, { budget, windowMs: new Map([['1m', 60_000], ['4m', 240_000]]) });
      expect(judged.alarms).toHaveLength(2);
      expect(judged.alarms[1]!.level).toBe(judged.alarms[0]!.level); // one level for the union of the windows
      return judged.alarms[0]!.level;
    };
    expect(levelOf({ batches: 500 })).toBeCloseTo(budgetLevel(spells, [1, 4], 500)!, 15);
    // One batch a minute in both windows: 500 minutes are 500 batches.
    expect(levelOf({ ms: 500 * 60_000 })).toBeCloseTo(budgetLevel(spells, [1, 4], 500)!, 15);
    // Without a budget, the per-window level c(K) of alarm.falseAlarmRate.
    const plain = judgeWindows(calibrator, windowSums);
    expect(plain.alarms[0]!.level).toBeCloseTo(calibration.alarm.levels[0]!, 12);
  });
});
