/**
 * The statistics' names (cka/statistic.ts Statistic), spelled out: the page's browser
 * script is type-checked against this file for ES2020 (tsconfig.page.json), and cka/
 * pulls in ES2022 error options.
 */
type Statistic = 'cka' | 'mmd2_linear' | 'mmd2_rbf';

/** The model's alarm on one window (calibration/alarm.ts), as the page, its API and the demo show it. */
export interface RowAlarm {
  readonly on: boolean;
  /** log10(level / smallest p): > 0 exactly when on */
  readonly score: number;
  /** the series with the smallest p-value */
  readonly cause: { readonly layer: string; readonly statistic: Statistic; readonly pValue: number };
}

/** One layer's current scores over one window: what the page, its API and the demo's table show. */
export interface ScoreRow {
  readonly layer: string;
  readonly window: string;
  readonly cka: number | null;
  readonly mmd2Linear: number | null;
  readonly mmd2Rbf: number | null;
  readonly samples: number;
  /** calibrated (or configured) thresholds of this window's length; absent before calibration */
  readonly thresholds?: Readonly<Partial<Record<Statistic, number>>>;
  /** p-values of the window's statistics; absent before calibration or with too few batches */
  readonly pValues?: Readonly<Partial<Record<Statistic, number>>>;
  /** the window's model alarm (the same on every layer's row of the window); null when there is none yet */
  readonly alarm?: RowAlarm | null;
}
