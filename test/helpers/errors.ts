/**
 * What a call throws or a promise rejects with, checked to be the error class the code
 * promises: the try/catch every "says what is wrong" test would otherwise repeat.
 */
import { expect } from 'vitest';

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/** What `f` throws; undefined when it returns. */
export function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The message of the error `f` throws, after checking that it is a `type`; fails when `f` returns. */
export function thrownMessage(f: () => unknown, type: ErrorClass<Error>): string {
  const error = thrown(f);
  if (error === undefined) throw new Error(`expected a ${type.name}, but nothing was thrown`);
  expect(error).toBeInstanceOf(type);
  return (error as Error).message;
}

/** The error `promise` rejects with, after checking that it is a `type`; fails when it resolves. */
export async function rejection<E extends Error>(promise: Promise<unknown>, type: ErrorClass<E>): Promise<E> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  if (outcome.resolved) throw new Error(`expected a rejection with a ${type.name}, but the promise resolved`);
  expect(outcome.error).toBeInstanceOf(type);
  return outcome.error as E;
}
