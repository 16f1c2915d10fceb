import type { Logger } from '../../src/util/logger.js';

export interface RecordedLog {
  readonly level: 'info' | 'warn' | 'error';
  readonly obj: object;
  readonly msg: string | undefined;
}

/** A Logger that keeps what it is told, for assertions. */
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

/** Sample lines (name{labels} value) of an exposition text, without comments. */
export function sampleLines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0 && !line.startsWith('#'));
}
