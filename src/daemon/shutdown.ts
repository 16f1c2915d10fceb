import type { DeadLetterQueue } from '../source/dead-letter.js';
import type { Source } from '../source/source.js';
import type { Logger } from '../util/logger.js';
import { withDeadline } from '../util/deadline.js';

/**
 * The Kafka steps of a graceful stop, each with a deadline (letters 5 s, leaving the group
 * 10 s, closing 5 s), so that a broker outage cannot hold the process past a 60 s grace
 * period. What they leave undone is safe: the checkpoint written before them holds the
 * offsets, unsent letters are counted and logged, and the group drops a member that left
 * without a word once its session times out.
 */
export async function closeSource(source: Source, letters: DeadLetterQueue | null, log: Logger): Promise<void> {
  const warn = (what: string) => (err: unknown) => log.warn({ err }, what);
  const unsent = (await letters?.drain(5_000)) ?? 0;
  if (unsent > 0) log.warn({ letters: unsent }, 'dead letters not sent before shutdown');
  if ((await withDeadline(source.stop(), 10_000, warn('source stop failed'))) === 'late') log.warn({}, 'leaving the consumer group timed out');
  if ((await withDeadline(source.close(), 5_000, warn('source close failed'))) === 'late') log.warn({}, 'closing the Kafka connections timed out');
}
