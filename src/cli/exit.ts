import { CkawatchError } from '../errors/index.js';

/** Exit status for problems in what the user gave us (config, data, model, arguments). */
export const EXIT_USAGE = 2;

/**
 * The one crash path of the CLI: a CkawatchError is the user's to fix, so it prints one
 * line naming the problem and exits 2, with no stack; anything else is a bug in ckawatch
 * and prints its stack and exits 1.
 */
export function fail(error: unknown): never {
  if (error instanceof CkawatchError) {
    process.stderr.write(`ckawatch: ${error.message.split('\n').join('\nckawatch: ')}\n`);
    process.exit(error.retriable ? 1 : EXIT_USAGE);
  }
  process.stderr.write(`ckawatch: internal error, please report it:\n${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
}
