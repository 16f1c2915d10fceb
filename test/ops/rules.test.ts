/**
 * deploy/recording-rules.yaml with promtool: it loads, and its unit tests
 * (deploy/recording-rules.test.yaml) pass. promtool comes from scripts/install-prometheus.sh.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, requireTool, run } from './tools.js';

describe('recording rules', () => {
  let promtool: string;
  beforeAll(() => {
    promtool = requireTool('promtool');
  });

  it('pass promtool check rules', async () => {
    const { stdout } = await run(promtool, ['check', 'rules', join(ROOT, 'deploy/recording-rules.yaml')]);
    expect(stdout).toContain('SUCCESS');
  });

  it('pass their promtool unit tests', async () => {
    const { stdout } = await run(promtool, ['test', 'rules', join(ROOT, 'deploy/recording-rules.test.yaml')]);
    expect(stdout).toContain('SUCCESS');
  });
});
