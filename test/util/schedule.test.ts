import { describe, expect, it } from 'vitest';
import { createSchedule, validateCronExpression, type Scheduler } from '../../src/util/schedule.js';
import { recordingLogger } from '../helpers/logger.js';

/** A scheduler that ticks when the test says so. */
function manualScheduler(): Scheduler & { tick: () => void; stopped: boolean } {
  let tick: () => void = () => undefined;
  const scheduler = Object.assign(
    (_expression: string, t: () => void) => {
      tick = t;
      return { stop: () => void (scheduler.stopped = true) };
    },
    { tick: () => tick(), stopped: false },
  );
  return scheduler;
}

/** A run that finishes when the test resolves it. */
function gate() {
  let open: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('createSchedule', () => {
  it('skips (and logs) a tick that comes while a run is in progress', async () => {
    const scheduler = manualScheduler();
    const logger = recordingLogger();
    const g = gate();
    let runs = 0;
    const schedule = createSchedule('*/5 * * * *', async () => { runs++; await g.promise; }, { onError: () => undefined, logger, scheduler });
    scheduler.tick();
    await settle();
    scheduler.tick();
    scheduler.tick();
    await settle();
    expect(runs).toBe(1);
    expect(logger.records.filter((r) => r.level === 'warn')).toHaveLength(2);
    g.open();
    await settle();
    scheduler.tick();
    await settle();
    expect(runs).toBe(2);
    await schedule.stop();
  });

  it('hands errors of scheduled runs, synchronous ones too, to onError and keeps going', async () => {
    const scheduler = manualScheduler();
    const errors: unknown[] = [];
    let call = 0;
    createSchedule('* * * * *', () => {
      call++;
      if (call === 1) throw new Error('sync');
      return Promise.reject(new Error('async'));
    }, { onError: (err) => errors.push(err), scheduler });
    scheduler.tick();
    await settle();
    scheduler.tick();
    await settle();
    expect(errors.map((e) => (e as Error).message)).toEqual(['sync', 'async']);
  });

  it('runNow waits for the run in progress, runs once more and rejects with its own error', async () => {
    const scheduler = manualScheduler();
    const g = gate();
    const order: string[] = [];
    let fail = false;
    const schedule = createSchedule('* * * * *', async () => {
      order.push('start');
      if (fail) throw new Error('disk full');
      await g.promise;
      order.push('end');
    }, { onError: () => undefined, scheduler });
    scheduler.tick();
    await settle();
    const a = schedule.runNow();
    const b = schedule.runNow();
    await settle();
    expect(order).toEqual(['start']);
    g.open();
    await Promise.all([a, b]);
    expect(order).toEqual(['start', 'end', 'start', 'end', 'start', 'end']);
    fail = true;
    await expect(schedule.runNow()).rejects.toThrow('disk full');
  });

  it('stop() waits for the run in progress; no scheduled run after it, runNow still works', async () => {
    const scheduler = manualScheduler();
    const g = gate();
    let runs = 0;
    let finished = false;
    const schedule = createSchedule('* * * * *', async () => { runs++; await g.promise; finished = true; }, { onError: () => undefined, scheduler });
    scheduler.tick();
    await settle();
    const stopping = schedule.stop();
    await settle();
    expect(finished).toBe(false);
    g.open();
    await stopping;
    expect(finished).toBe(true);
    expect(scheduler.stopped).toBe(true);
    scheduler.tick();
    await settle();
    expect(runs).toBe(1);
    await schedule.runNow();
    expect(runs).toBe(2);
  });

  it('refuses an invalid expression', () => {
    expect(() => createSchedule('61 * * * *', async () => undefined, { onError: () => undefined })).toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: invalid cron expression "61 * * * *": minute: 61 is a invalid expression for minute]`,
    );
  });

  it('runs on a real node-cron schedule', async () => {
    let runs = 0;
    const schedule = createSchedule('* * * * * *', async () => void runs++, { onError: () => undefined, logger: recordingLogger() });
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    await schedule.stop();
    const after = runs;
    expect(after).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(runs).toBe(after);
  });
});

describe('validateCronExpression', () => {
  it('accepts 5 and 6 fields and explains what is wrong otherwise', () => {
    expect(validateCronExpression('*/5 * * * *')).toEqual({ ok: true });
    expect(validateCronExpression('*/30 * * * * *')).toEqual({ ok: true });
    expect(validateCronExpression('every minute')).toEqual({ ok: false, detail: 'invalid cron expression "every minute": expected 5 or 6 fields but got 2' });
  });
});
