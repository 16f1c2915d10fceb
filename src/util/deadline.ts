/**
 * Waits for `work` at most `ms`: 'done' when it settled in time (its error swallowed and
 * passed to `onError`), 'late' when the deadline came first (it goes on, unwatched).
 * For shutdown steps that must not hold a pod past its grace period: a kafkajs commit or
 * disconnect during a broker outage retries for as long as it is let.
 */
export async function withDeadline(work: Promise<unknown>, ms: number, onError: (err: unknown) => void): Promise<'done' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms);
  });
  const done = work.then(
    () => 'done' as const,
    (err: unknown) => {
      onError(err);
      return 'done' as const;
    },
  );
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}
