/** Reference samples in memory: `count` rows of `sampleSize` float32 values, C order. */
export interface Reference {
  /** Where it came from, for messages (the file name). */
  readonly name: string;
  readonly count: number;
  readonly sampleShape: readonly number[];
  readonly sampleSize: number;
  readonly data: Float32Array;
}
