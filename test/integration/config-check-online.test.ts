/**
 * `ckawatch config check --online` against the real broker: the topic and the dead-letter
 * topic by field, the group's commits, and an unreachable broker (exit 1: try again).
 * Before it, a missing dead-letter topic passed `config check` and then stalled every fetch
 * that held a reject for 8.5-10.6 s.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { writeReference } from '../helpers/digits.js';
import { useTempDir } from '../helpers/files.js';
import { DIGITS_MODEL } from '../helpers/fixtures.js';
import { brokers, freshTopic, requireBroker } from '../helpers/kafka.js';
import { buildIfStale } from '../helpers/services.js';

const suite = useTempDir('ckawatch-config-online-');
let referencePath: string;

beforeAll(async () => {
  await requireBroker();
  await buildIfStale();
  referencePath = writeReference(suite.dir, 100);
});

function config(name: string, source: Record<string, unknown>): string {
  const file = join(suite.dir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      model: { path: DIGITS_MODEL, providers: ['cpu'], threads: 1 },
      reference: { path: referencePath, samplesPerBatch: 32 },
      source: { kind: 'kafka', brokers: brokers(), groupId: 'g', ...source },
      input: { encoding: 'raw-f32' },
      checkpoint: { dir: join(suite.dir, 'state') },
    }),
  );
  return file;
}

describe('config check --online', () => {
  it('names a missing topic and dead-letter topic by field (exit 2), passes when both exist, exit 1 when no broker answers', async () => {
    const topic = await freshTopic('check-online');
    const letters = await freshTopic('check-online-dlt');
    const missing = await cli(['config', 'check', '--online', config('online-missing', { topic: `${topic}-nope`, deadLetterTopic: `${letters}-nope` })]);
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr.trimEnd().split('\n')).toEqual([
      `ckawatch: config error at source.topic: a topic on ${brokers().join(',')}; found none named ${topic}-nope`,
      `ckawatch: config error at source.deadLetterTopic: a topic on ${brokers().join(',')}; found none named ${letters}-nope`,
    ]);
    const ok = await cli(['config', 'check', '--online', config('online-ok', { topic, deadLetterTopic: letters })]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`topic ${topic}: 1 partition; group g has committed offsets on 0`);
    expect(ok.stdout).toMatch(new RegExp(`dead-letter topic ${letters}: exists, max.message.bytes \\d+`));
    const down = await cli(['config', 'check', '--online', config('online-down', { topic, brokers: ['127.0.0.1:1'] })]);
    expect(down.code, down.stderr).toBe(1);
    expect(down.stderr).toMatch(/^ckawatch: cannot reach Kafka at 127\.0\.0\.1:1: /m);
  }, 120_000);
});
