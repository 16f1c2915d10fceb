import type { Logger } from '../util/logger.js';

/** A terse logger for interactive commands: warnings and errors to stderr as plain lines; info only when asked. */
export function cliLogger(verbose = false): Logger {
  const line = (level: string, message: string | undefined): void => {
    process.stderr.write(`ckawatch: ${level}${message ?? ''}\n`);
  };
  return {
    debug: () => {},
    info: (_f, m) => verbose && line('', m),
    warn: (_f, m) => line('warning: ', m),
    error: (_f, m) => line('error: ', m),
    fatal: (_f, m) => line('error: ', m),
  };
}
