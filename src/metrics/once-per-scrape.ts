/**
 * Wraps `fn` so that it runs at most once per synchronous turn. prom-client's
 * Registry.metrics() calls every metric's collect() in one synchronous pass before its
 * first await, so the five window gauges that each ask for a refresh share one
 * computation (and one `now`) per scrape. If that ever stops being true the cost is a
 * second computation, not a wrong value.
 */
export function oncePerTurn(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    queueMicrotask(() => {
      done = false;
    });
    fn();
  };
}
