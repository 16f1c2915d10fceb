/** Calibrated thresholds: pure functions of null batch sums, no I/O. */
export {
  calibrate,
  MIN_CALIBRATION_BATCHES,
  referenceRatio,
  type Calibration,
  type CalibrationOptions,
  type LayerCalibration,
  type SampleSizes,
  type StatisticCalibration,
} from './calibrate.js';
export { normalQuantile } from './normal.js';
export { thresholdAt, thresholdsFor, type StaticThresholds } from './thresholds.js';
export { nonIncreasing, quantileSorted } from './quantile.js';
export { alarmSide } from './window-statistic.js';
