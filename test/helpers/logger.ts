/** Loggers that keep what they are told, for assertions on what the code logs. */
import { silentLogger, type Logger } from '../../src/util/logger.js';

export interface RecordedLog {
  readonly level: 'info' | 'warn' | 'error';
  readonly obj: object;
  readonly msg: string | undefined;
}

/** A Logger that keeps every info, warn, error and fatal line, in order (fatal as error). */
export function recordingLogger(): Logger & { readonly records: RecordedLog[] } {
  const records: RecordedLog[] = [];
  return {
    records,
    debug: () => {},
    fatal: (obj, msg) => records.push({ level: 'error', obj, msg }),
    info: (obj, msg) => records.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => records.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => records.push({ level: 'error', obj, msg }),
  };
}

export interface LogEntry {
  readonly fields: object;
  readonly message: string;
}

/** A Logger that keeps warnings and infos apart (the rest is dropped). */
export function captureLogger(): { logger: Logger; warnings: LogEntry[]; infos: LogEntry[] } {
  const warnings: LogEntry[] = [];
  const infos: LogEntry[] = [];
  return {
    logger: {
      ...silentLogger,
      warn: (fields, message = '') => warnings.push({ fields, message }),
      info: (fields, message = '') => infos.push({ fields, message }),
    },
    warnings,
    infos,
  };
}
