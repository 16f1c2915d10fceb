import { describe, expect, it } from 'vitest';
import { firstAlarmLine, noteFirstAlarms, scoreTable, type FirstAlarm } from '../../src/cli/table.js';
import type { ScoreRow } from '../../src/page/rows.js';

const clean: ScoreRow = {
  layer: 'conv1', window: '30s', cka: 0.9981, mmd2Linear: 0.01, mmd2Rbf: 0.00012, samples: 640,
  thresholds: { cka: 0.9712, mmd2_linear: 1.25, mmd2_rbf: 0.0021 },
  pValues: { cka: 0.41, mmd2_linear: 0.3, mmd2_rbf: 0.52 },
  alarm: { on: false, score: -1.2, cause: { layer: 'conv1', statistic: 'mmd2_linear', pValue: 0.3 } },
};
const drifting = (at: string): ScoreRow[] => {
  const alarm = { on: true, score: 4.1, cause: { layer: 'conv2', statistic: 'mmd2_rbf' as const, pValue: 2e-7 } };
  return [
    { ...clean, window: at, cka: 0.9, pValues: { cka: 0.004, mmd2_linear: 0.2, mmd2_rbf: 0.01 }, alarm },
    { ...clean, layer: 'conv2', window: at, mmd2Rbf: 0.05, pValues: { cka: 0.3, mmd2_linear: 0.2, mmd2_rbf: 2e-7 }, alarm },
  ];
};

describe('the demo table', () => {
  it('shows each statistic beside its threshold, the smallest p-value and the window alarm', () => {
    expect(scoreTable([clean, ...drifting('5m')])).toMatchInlineSnapshot(`
      "layer  window   cka     < thr    mmd²(lin)    > thr  mmd²(rbf)    > thr  p (smallest)  alarm      samples
      ---------------------------------------------------------------------------------------------------------
      conv1  30s      0.9981  0.9712       0.010    1.250    0.00012  0.00210     0.300 lin  off            640
      conv1  5m       0.9000  0.9712       0.010    1.250    0.00012  0.00210     0.004 cka  on             640
      conv2  5m       0.9981  0.9712       0.010    1.250    0.05000  0.00210      2e-7 rbf  ALARM rbf      640"
    `);
  });

  it('before calibration: dashes where thresholds, p-values and the alarm will be', () => {
    const { thresholds: _t, pValues: _p, alarm: _a, ...bare } = clean;
    const line = scoreTable([bare]).split('\n')[2]!;
    expect(line.match(/—/g)).toHaveLength(5);
  });

  it('the first-alarm line keeps the first time each window fired', () => {
    const seen = new Map<string, FirstAlarm>();
    noteFirstAlarms([clean], 10, seen);
    expect(firstAlarmLine(seen)).toBe('model alarm: not fired yet');
    noteFirstAlarms(drifting('30s'), 22, seen);
    noteFirstAlarms(drifting('30s'), 32, seen);
    expect(firstAlarmLine(seen)).toBe('model alarm first fired: 30s window at t=22s on conv2 mmd2_rbf (p 2.0e-7)');
  });
});
