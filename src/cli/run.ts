import { pino, type Logger } from 'pino';
import { checkFiles } from '../config/files.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
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
  // The handlers go in before start-up, which can take a while (calibration, the group
  // join waits for a killed predecessor's session to expire): a SIGTERM then used to kill
  // the process outright. Now it stops gracefully as soon as start-up is over.
  let daemon: Daemon | undefined;
  let stopping = false;
  const stopNow = (running: Daemon): void => {
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.fatal({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, starting: daemon === undefined }, daemon ? 'stopping' : 'stopping once start-up is over');
    if (daemon) stopNow(daemon);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  daemon = await Daemon.start({
    config,
    logger,
    ...(options.source ? { source: options.source } : {}),
    onFatal: () => process.exit(1),
  });
  if (stopping) {
    stopNow(daemon);
    return daemon;
  }
  logger.info({ url: daemon.url, layers: daemon.layers.length }, 'ckawatch running');
  return daemon;
}

/** `ckawatch run --config FILE`: a bad config exits 2 with its reasons before anything starts. */
export async function runCommand(file: string): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(file);
    checkFiles(config);
  } catch (error) {
    fail(error);
  }
  await runDaemon(config);
}
