/**
 * Long synchronous work on the daemon's main thread (start-up checks, calibration) holds
 * /metrics, /healthz and the consumer's heartbeats for as long as it runs. Pure code stays
 * pure by pausing as a generator; the caller gives the event loop a turn at every pause.
 */

/** Resolves on the event loop's next turn, after pending I/O callbacks. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs `steps` to its return value, giving the event loop a turn at every pause. */
export async function runSteps<T>(steps: Generator<void, T, void>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await nextTurn();
  }
}
