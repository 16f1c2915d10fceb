import { z } from 'zod';
import { STATISTICS } from './vocabulary.js';
import { cron, duration, tensorName, wholeNumber } from './fields.js';

/** The calibration and alarm sections: thresholds per series, and the one alarm per model built on them. */

const SECOND = 1000;
const DAY = 86_400_000;
const rate = z.number({ error: 'a rate above 0 and below 0.5' }).gt(0, { error: 'a rate above 0 and below 0.5' }).lt(0.5, { error: 'a rate above 0 and below 0.5' });

const thresholdOverride = z
  .strictObject({
    cka: z.number({ error: 'a CKA threshold from 0 to 1' }).min(0, { error: 'a CKA threshold from 0 to 1' }).max(1, { error: 'a CKA threshold from 0 to 1' }).optional(),
    mmd2_linear: z.number({ error: 'a threshold of 0 or more' }).min(0, { error: 'a threshold of 0 or more' }).optional(),
    mmd2_rbf: z.number({ error: 'a threshold of 0 or more' }).min(0, { error: 'a threshold of 0 or more' }).optional(),
  })
  .refine((t) => Object.keys(t).length > 0, { error: `a mapping with at least one of ${STATISTICS.join(', ')}` });

/** zod's record drops a "__proto__" key without a word; a config that has one is refused instead. */
export const noProtoKey = z.unknown().superRefine((value, ctx) => {
  if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__')) {
    ctx.addIssue({ code: 'custom', message: 'a layer name other than "__proto__"', input: value, path: ['__proto__'] });
  }
});

export const calibrationSection = z.strictObject({
  // Per layer and statistic: the level ckawatch_threshold and ckawatch_drift are drawn at.
  falseAlarmRate: rate.default(0.01),
  schedule: cron.optional(),
  // Reference-against-reference batches per calibration, and the time they may take.
  batches: wholeNumber(8, 100_000).default(1024),
  timeLimit: duration({ min: SECOND, max: DAY }).default(5 * 60 * SECOND),
  thresholds: noProtoKey
    .pipe(z.record(tensorName, thresholdOverride, { error: (iss) => (iss.code === 'invalid_type' ? 'a mapping from layer name to thresholds' : undefined) }))
    .optional(),
});


// The model's alarm (ckawatch_alarm): on when the smallest p-value of every layer and
// statistic is below a level calibrated jointly so that a window of clean data alarms
// with probability falseAlarmRate (calibration/alarm.ts). With a false-page budget
// instead, the level is the one at which the windows together start a false alarm once
// per budget on average, from a simulation of the alarm on null batches (calibration/budget.ts).
export const alarmSection = z
  .strictObject({
    falseAlarmRate: rate.default(0.01),
    // In time at the batch rate the windows see (e.g. 30d), or in batches.
    meanTimeBetweenFalseAlarms: duration({ min: SECOND, max: 3650 * DAY }).optional(),
    meanBatchesBetweenFalseAlarms: wholeNumber(2, Number.MAX_SAFE_INTEGER).optional(),
  })
  .superRefine((a, ctx) => {
    if (a.meanTimeBetweenFalseAlarms !== undefined && a.meanBatchesBetweenFalseAlarms !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'one false-page budget: meanTimeBetweenFalseAlarms or meanBatchesBetweenFalseAlarms, not both', input: a, path: ['meanBatchesBetweenFalseAlarms'] });
    }
  });
