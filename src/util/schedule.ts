import cron, { type Logger as CronLogger } from 'node-cron';
import { ConfigError } from '../errors/index.js';
import type { Logger } from './logger.js';

/**
 * Runs a job (the checkpoint writer, the reference check) on a cron schedule (node-cron syntax: 5 fields, or 6 with
 * seconds first). Runs never overlap: a tick that comes while a run is still going is
 * skipped (and logged), not queued, so a slow disk cannot pile up writers.
 */
export interface Schedule {
  /**
   * Waits for the run in progress, if any, then runs once more; rejects with the run's
   * error. Works after stop(): shutdown is stop(), then one last runNow().
   */
  runNow(): Promise<void>;
  /** No more scheduled runs; resolves once the run in progress, if any, has finished. */
  stop(): Promise<void>;
}

/** Starts calling `tick` on `expression`; the handle stops it. Injectable so tests need no real time. */
export type Scheduler = (expression: string, tick: () => void) => { stop(): void | Promise<void> };

export interface ScheduleOptions {
  /** errors of scheduled runs (runNow's errors go to its caller) */
  readonly onError: (err: unknown) => void;
  /** the cron task's name, in logs (default 'ckawatch-checkpoint') */
  readonly name?: string;
  readonly logger?: Logger;
  readonly scheduler?: Scheduler;
}

export type CronCheck = { readonly ok: true } | { readonly ok: false; readonly detail: string };

export function validateCronExpression(expression: string): CronCheck {
  const { valid, errors } = cron.validateDetailed(expression);
  if (valid) return { ok: true };
  const detail = errors.map((e) => (e.field === 'expression' ? e.message : `${e.field}: ${e.message}`)).join('; ');
  return { ok: false, detail: `invalid cron expression "${expression}": ${detail}` };
}

export function createSchedule(expression: string, fn: () => Promise<void>, options: ScheduleOptions): Schedule {
  const check = validateCronExpression(expression);
  if (!check.ok) throw new ConfigError(check.detail);
  const { onError, logger } = options;
  const name = options.name ?? 'ckawatch-checkpoint';

  let inFlight: Promise<void> | null = null;
  let stopped = false;
  const start = (): Promise<void> => {
    // fn starts in a microtask, so even a synchronous throw becomes this run's rejection.
    const run: Promise<void> = Promise.resolve()
      .then(fn)
      .finally(() => {
        if (inFlight === run) inFlight = null;
      });
    inFlight = run;
    return run;
  };
  const tick = (): void => {
    if (stopped) return;
    if (inFlight !== null) {
      logger?.warn({ expression, task: name }, 'previous run still going; skipping this one');
      return;
    }
    start().catch(onError);
  };
  const handle = (options.scheduler ?? cronScheduler(name, logger))(expression, tick);

  return {
    async runNow() {
      // A loop, not one await: two callers waiting on the same run must not both start.
      while (inFlight !== null) await inFlight.catch(() => undefined); // that run's error belongs to its own caller
      await start();
    },
    async stop() {
      stopped = true;
      await handle.stop();
      while (inFlight !== null) await inFlight.catch(() => undefined); // already reported through onError or runNow
    },
  };
}

function cronScheduler(name: string, logger: Logger | undefined): Scheduler {
  return (expression, tick) => {
    const task = cron.schedule(expression, tick, {
      name,
      // node-cron logs to the console unless given a logger; route it to ours.
      ...(logger === undefined ? {} : { logger: cronLogger(logger) }),
    });
    return { stop: () => task.destroy() };
  };
}

function cronLogger(logger: Logger): CronLogger {
  const fields = (err?: Error): object => (err === undefined ? { source: 'node-cron' } : { source: 'node-cron', err });
  return {
    info: (message) => logger.info(fields(), message),
    warn: (message) => logger.warn(fields(), message),
    error: (message, err) => logger.error(fields(err ?? (message instanceof Error ? message : undefined)), String(message)),
    debug: () => undefined, // node-cron's per-tick chatter: not worth a log line
  };
}
