/**
 * The slice of a pino logger that the metrics, state and HTTP modules use: an object of
 * fields first, then a message. A pino Logger fits as is; tests can pass a recorder.
 */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
