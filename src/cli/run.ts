import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../config/index.js';
import { Daemon } from '../daemon/daemon.js';
import type { Source } from '../source/source.js';
import { fail } from './exit.js';

/**
 * Runs a daemon until SIGTERM or SIGINT: then finishes the batch in progress, writes a
 * last checkpoint, commits and exits 0. An unrecoverable error exits non-zero at once;
 * the last checkpoint holds everything that was committed.
 */
export async function runDaemon(config: Config, options: { source?: Source; logger?: Logger } = {}): Promise<Daemon> {
  const logger = options.logger ?? pino({ level: config.log.level, base: { service: 'ckawatch' } });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection');
    process.exit(1);
  });
  const daemon = await Daemon.start({
    config,
    logger,
    ...(options.source ? { source: options.source } : {}),
    onFatal: () => process.exit(1),
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.fatal({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  logger.info({ url: daemon.url, layers: daemon.layers.length }, 'ckawatch running');
  return daemon;
}

/** `ckawatch run --config FILE`: a bad config exits 2 with its reasons before anything starts. */
export async function runCommand(file: string): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(file);
  } catch (error) {
    fail(error);
  }
  await runDaemon(config);
}
