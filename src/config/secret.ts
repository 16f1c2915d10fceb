import { inspect } from 'node:util';

/**
 * A secret read from the environment (a SASL or basic-auth password). It prints as
 * "[redacted]" everywhere a config object may end up (JSON, pino, util.inspect,
 * template strings), so that logging the whole config cannot leak it; only `reveal()`
 * gives the value, at the one place that hands it to a client library.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}
