/**
 * One error family for the whole project (after kafkajs): every error that ckawatch
 * raises on purpose is a CkawatchError, says what is wrong and how to fix it, and
 * carries `retriable` (may succeed if tried again) and an optional `cause`.
 * Callers branch with `instanceof`; the CLI prints `message` alone, without a stack.
 */
export class CkawatchError extends Error {
  readonly retriable: boolean;

  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** Invalid numbers or shapes handed to the math core (n < 4, sizes that do not match, NaN). */
export class StatisticsError extends CkawatchError {}

/** A configuration file or command-line option that cannot be used. */
export class ConfigError extends CkawatchError {}

/** Input data that cannot be read or does not fit the model (files, .npy, messages). */
export class DataError extends CkawatchError {}

/** An ONNX model that cannot be loaded, tapped or run as asked. */
export class ModelError extends CkawatchError {}

/** Kafka, HTTP or storage trouble; usually retriable. */
export class IoError extends CkawatchError {}
