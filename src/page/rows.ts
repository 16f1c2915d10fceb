/** One layer's current scores over one window: what the page, its API and the demo's table show. */
export interface ScoreRow {
  readonly layer: string;
  readonly window: string;
  readonly cka: number | null;
  readonly mmd2Linear: number | null;
  readonly mmd2Rbf: number | null;
  readonly samples: number;
}
