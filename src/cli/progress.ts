import cliProgress from 'cli-progress';

/**
 * A progress bar on stderr when it is a terminal; nothing otherwise (CI logs, pipes),
 * so that piped output stays clean.
 */
export function progressBar(label: string): { update: (done: number, total: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} batches  {eta_formatted} left`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    /** Safe to call more than once (compare stops it before writing and again on the way out). */
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
