/**
 * ckawatch's one logger type: pino's call shape, an object of fields first, then a message.
 * A pino Logger fits as it is; `cliLogger()` (terse lines for interactive commands) and the
 * tests' recorders implement it too.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  fatal(fields: object, message?: string): void;
}

/** A logger that drops everything (tools, tests that do not look at logs). */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, fatal: () => {} };
