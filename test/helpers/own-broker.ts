/**
 * A Kafka broker of the suite's own (scripts/kafka.sh on other ports, in its own run dir),
 * for faults that must not touch the shared test broker: stopping it, or a listener with
 * SASL and TLS. `stop({ keepData: true })` keeps its data dir so that `start()` brings the
 * same broker back (topics, committed offsets, cluster id), as after an outage.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { ROOT } from './fixtures.js';
import { answers } from './services.js';

const run = promisify(execFile);

export interface OwnBroker {
  readonly port: number;
  readonly address: string;
  readonly runDir: string;
  start(): Promise<void>;
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Stops it (deleting its data) and removes its run dir. */
  destroy(): Promise<void>;
}

/** Two free consecutive ports (broker, controller) in 20000-39999, checked with a connect. */
async function freePorts(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + 2 * Math.floor(Math.random() * 10_000);
    if (!(await answers('127.0.0.1', port, 300)) && !(await answers('127.0.0.1', port + 1, 300))) return port;
  }
  throw new Error('no free port pair found');
}

export interface OwnBrokerOptions {
  /**
   * A properties file to append to the broker's config (extra listeners: SASL, TLS), made
   * in `runDir` (the broker's own temp dir), for `extraPort` (the port after the broker's and its controller's).
   */
  readonly extraConfig?: (extraPort: number, runDir: string) => string | undefined;
}

export async function ownBroker(options: OwnBrokerOptions = {}): Promise<OwnBroker & { extraPort: number }> {
  const port = await freePorts();
  // Extra listeners (SASL, TLS) after the controller port.
  const extraPort = port + 2;
  const runDir = mkdtempSync(join(tmpdir(), `ckawatch-own-kafka-${port}-`));
  const extraConfig = options.extraConfig?.(extraPort, runDir);
  const env = (keepData: boolean): NodeJS.ProcessEnv => ({
    ...process.env,
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(port + 1),
    KAFKA_RUN_DIR: runDir,
    KAFKA_KEEP_DATA: keepData ? '1' : '0',
    KAFKA_START_TIMEOUT: '120',
    ...(extraConfig ? { KAFKA_EXTRA_CONFIG: extraConfig } : {}),
  });
  const script = (command: string, keepData: boolean) =>
    run(join(ROOT, 'scripts/kafka.sh'), [command], { cwd: ROOT, env: env(keepData), maxBuffer: 4 * 1024 * 1024 }).catch((error: { stderr?: string; message: string }) => {
      throw new Error(`scripts/kafka.sh ${command} (port ${port}) failed: ${error.stderr ?? error.message}`);
    });
  const broker = {
    port,
    extraPort,
    address: `127.0.0.1:${port}`,
    runDir,
    start: async () => void (await script('start', true)),
    stop: async (o: { keepData?: boolean } = {}) => void (await script('stop', o.keepData ?? false)),
    destroy: async () => {
      await script('stop', false);
      rmSync(runDir, { recursive: true, force: true });
    },
  };
  await broker.start();
  return broker;
}

/**
 * An own broker for the whole suite that calls this (before useDaemonSuite, so that its
 * broker check finds this one): started before the first test with CKAWATCH_TEST_BROKERS
 * pointing at it, so that produce, freshTopic and the daemon configs of kafka.ts and
 * daemon.ts all go there; destroyed, and the variable restored, after the last test.
 * The returned broker may be used from the first test on.
 */
export function useOwnBroker(options: OwnBrokerOptions = {}): OwnBroker & { readonly extraPort: number } {
  let broker: (OwnBroker & { extraPort: number }) | undefined;
  const saved = process.env['CKAWATCH_TEST_BROKERS'];
  const started = (): OwnBroker & { extraPort: number } => {
    if (!broker) throw new Error('the own broker is not started yet: use it in a test, not while the file loads');
    return broker;
  };
  beforeAll(async () => {
    broker = await ownBroker(options);
    process.env['CKAWATCH_TEST_BROKERS'] = broker.address;
  }, 180_000);
  afterAll(async () => {
    if (saved === undefined) delete process.env['CKAWATCH_TEST_BROKERS'];
    else process.env['CKAWATCH_TEST_BROKERS'] = saved;
    await broker?.destroy();
  }, 60_000);
  return {
    get port() {
      return started().port;
    },
    get extraPort() {
      return started().extraPort;
    },
    get address() {
      return started().address;
    },
    get runDir() {
      return started().runDir;
    },
    start: () => started().start(),
    stop: (o) => started().stop(o),
    destroy: () => started().destroy(),
  };
}
