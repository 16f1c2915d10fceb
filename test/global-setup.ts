/**
 * Runs once per `vitest run`, before any test file, so that `npm test` alone works on a
 * machine with java and mvn:
 *
 *   1. dist/ is built (`npm run build`) when it is missing or older than src/: the
 *      integration suites spawn the daemon from dist/cli/main.js.
 *   2. A Kafka broker answers at CKAWATCH_TEST_BROKERS (default 127.0.0.1:19092): one
 *      already running (CI starts its own) is used as it is; otherwise this starts one with
 *      scripts/kafka.sh (fetch + start on that port) and stops it at teardown.
 *
 * Both are skipped when the run's file filters select no integration suite
 * (`npx vitest run test/cka`), or with CKAWATCH_TEST_SERVICES=skip.
 *
 * The work is in test/helpers/services.ts (shared with bench/daemon.ts), which also says
 * how several runs share one broker.
 */
import { join, relative, resolve } from 'node:path';
import { parseCLI } from 'vitest/node';
import { ROOT } from './helpers/fixtures.js';
import { buildIfStale, ensureBroker, listFiles } from './helpers/services.js';

export default async function setup(): Promise<() => Promise<void>> {
  if (!servicesNeeded()) return async () => undefined;
  await buildIfStale();
  const release = await ensureBroker();
  return release;
}

/** False when the file filters of this run select no integration suite. */
function servicesNeeded(): boolean {
  if (process.env['CKAWATCH_TEST_SERVICES'] === 'skip') return false;
  let filters: string[];
  try {
    filters = parseCLI(['vitest', ...process.argv.slice(2)]).filter.map(String);
  } catch {
    return true; // an argv we cannot read: do the safe thing and start what may be needed
  }
  if (filters.length === 0) return true;
  // test/faults spawns the daemon and uses the broker too.
  const integration = [...listFiles(join(ROOT, 'test/integration')), ...listFiles(join(ROOT, 'test/faults'))].map((f) => relative(ROOT, f));
  return filters.some((filter) => {
    const f = relative(ROOT, resolve(ROOT, filter));
    return integration.some((file) => file.includes(f) || file.includes(filter));
  });
}
