/**
 * Storage faults on the checkpoint directory, with the daemon as a child process and the
 * real broker:
 *
 *   unusable dir (its parent is a regular file: fails as root too) ─▶ "checkpoint not written" log,
 *       ckawatch_checkpoint_errors_total rises, /metrics served, nothing committed ─▶ dir fixed ─▶ checkpoint + commit
 *   full disk (a 512 KiB tmpfs, filled; needs root for mount) ─▶ ENOSPC, old checkpoint intact, no temp file left
 *   damaged checkpoint (bytes edited, then truncated) ─▶ warning at start, ignored, fresh start from Kafka's commits
 *
 * Every check of a count is exact: the stream is made of good digits only.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../src/state/checkpoint.js';
import { DaemonProcess, editConfig, NEVER } from '../helpers/daemon.js';
import { SMALL_RUN, useDaemonSuite, waitForCommitsAtEnd } from '../helpers/daemon-suite.js';
import { heldOutDigits, rawMessage } from '../helpers/digits.js';
import { committedOffsets, produce } from '../helpers/kafka.js';
import { checkpointErrorsOf, samplesOf, windowSamples } from '../helpers/metrics.js';
import { valueOf } from '../helpers/prom-text.js';

const suite = useDaemonSuite('ckawatch-faults-storage-', { referenceDigits: 500, defaults: SMALL_RUN });
const NAME = 'ckawatch-test';

/** True when this process may mount a tmpfs (root in a container that allows it). */
function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = join(suite.dir, 'probe');
  try {
    mkdirSync(probe, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

describe('checkpoint storage faults', () => {
  it('an unusable checkpoint dir: logged, counted, still serving, nothing committed; fixed: checkpoint and commit', async () => {
    const blocker = join(suite.dir, 'not-a-dir');
    writeFileSync(blocker, 'a regular file where a directory should be\n');
    const stateDir = join(blocker, 'state'); // ENOTDIR for every user, root included
    const run = await suite.run('faults-unwritable', 1);
    editConfig(run.config, (c) => {
      c['checkpoint']!['dir'] = stateDir;
    });
    await produce(run.topic, heldOutDigits(200).map(rawMessage));

    const d = await DaemonProcess.start(run.config);
    const s1 = await d.waitForMetrics((s) => samplesOf(s, run.topic) === 200 && checkpointErrorsOf(s) >= 3, '200 samples and 3 failed checkpoints', {
      timeoutMs: 60_000,
      show: (s) => ({ samples: samplesOf(s, run.topic), errors: checkpointErrorsOf(s) }),
    });
    expect(checkpointErrorsOf(s1)).toBeGreaterThanOrEqual(3);
    const logs = d.logs();
    expect(logs.some((l) => l.msg === 'checkpoint directory is not usable; serving without durable state until it is')).toBe(true);
    const failed = logs.find((l) => l.msg === 'checkpoint not written; offsets not committed; still serving');
    expect(failed, d.logTail()).toBeDefined();
    expect(String(failed!['err'])).toContain('ENOTDIR');
    expect(String(failed!['err'])).toContain(stateDir);
    expect(failed!.level).toBe(50); // error
    // Never committed past what no checkpoint holds.
    expect([...(await committedOffsets(run.groupId, run.topic)).values()]).toEqual([-1]);
    expect((await fetch(`${d.url}/healthz`)).status).toBe(200);
    expect(d.exit).toBeNull();

    // The operator fixes the volume: the next scheduled checkpoint succeeds and commits.
    rmSync(blocker);
    mkdirSync(stateDir, { recursive: true });
    await d.waitForMetrics((s) => (valueOf(s, 'ckawatch_checkpoint_last_success_timestamp_seconds') ?? 0) > 0, 'a successful checkpoint', { timeoutMs: 20_000 });
    await waitForCommitsAtEnd(run.groupId, run.topic, d);
    expect(readdirSync(stateDir)).toEqual([`${NAME}.json`]);
    const read = await readCheckpoint(stateDir, NAME);
    expect(read.ok).toBe(true);
    expect((await d.stop()).code).toBe(0);
  });

  it.skipIf(!canMountTmpfs())('a full disk: ENOSPC logged and counted, the last good checkpoint intact, no temp file left', async () => {
    const run = await suite.run('faults-full', 1);
    mkdirSync(run.stateDir, { recursive: true });
    // Room for a checkpoint and its temporary copy (the calibration's tails are most of it), not much more.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', run.stateDir]);
    try {
      await produce(run.topic, heldOutDigits(100).map(rawMessage));
      const d = await DaemonProcess.start(run.config);
      await d.waitForMetrics((s) => samplesOf(s, run.topic) === 100, '100 samples', { timeoutMs: 60_000 });
      await waitForCommitsAtEnd(run.groupId, run.topic, d);
      const good = await readCheckpoint(run.stateDir, NAME);
      expect(good.ok).toBe(true);

      // Fill the file system: whatever room is left goes to a filler file.
      const filler = join(run.stateDir, 'filler');
      let chunks = 0;
      try {
        for (; chunks < 128; chunks++) writeFileSync(filler, Buffer.alloc(4096, 1), { flag: 'a' });
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
      const before = checkpointErrorsOf(await d.scrape());
      await produce(run.topic, heldOutDigits(60, { from: 100 }).map(rawMessage));
      const s = await d.waitForMetrics((x) => samplesOf(x, run.topic) === 160 && checkpointErrorsOf(x) >= before + 2, '160 samples and 2 more failed checkpoints', {
        timeoutMs: 30_000,
        show: (x) => ({ samples: samplesOf(x, run.topic), errors: checkpointErrorsOf(x) }),
      });
      expect(checkpointErrorsOf(s)).toBeGreaterThanOrEqual(before + 2);
      const failed = d.logs().filter((l) => l.msg === 'checkpoint not written; offsets not committed; still serving');
      expect(failed.length).toBeGreaterThan(0);
      expect(String(failed.at(-1)!['err'])).toMatch(/ENOSPC, no space left on the device/);
      // The last good checkpoint is still there and whole; no partial or temp file beside it.
      const still = await readCheckpoint(run.stateDir, NAME);
      expect(still.ok).toBe(true);
      expect(readdirSync(run.stateDir).sort()).toEqual([`${NAME}.json`, 'filler']);
      expect([...(await committedOffsets(run.groupId, run.topic)).values()]).toEqual([100]);

      // Room again: the next checkpoint holds everything and commits it.
      rmSync(filler);
      await waitForCommitsAtEnd(run.groupId, run.topic, d);
      expect(readdirSync(run.stateDir)).toEqual([`${NAME}.json`]);
      expect((await d.stop()).code).toBe(0);
    } finally {
      execFileSync('umount', ['-l', run.stateDir]);
    }
  });

  it('a checkpoint with edited bytes, then a truncated one: warned about at start, ignored, fresh start from the committed offsets', async () => {
    const run = await suite.run('faults-corrupt', 1, { schedule: NEVER });
    const file = join(run.stateDir, `${NAME}.json`);
    await produce(run.topic, heldOutDigits(100).map(rawMessage));
    const first = await DaemonProcess.start(run.config);
    await first.waitForMetrics((s) => samplesOf(s, run.topic) === 100, '100 samples', { timeoutMs: 60_000 });
    expect((await first.stop()).code).toBe(0); // SIGTERM: last checkpoint, then commit
    expect([...(await committedOffsets(run.groupId, run.topic)).values()]).toEqual([100]);

    // One digit of the samples counter changed, the JSON still valid: only the checksum can tell.
    const text = readFileSync(file, 'utf8');
    const edited = text.replace(/"samples":\{"([^"]+)":100\}/, '"samples":{"$1":900}');
    expect(edited).not.toBe(text);
    writeFileSync(file, edited);
    await produce(run.topic, heldOutDigits(40, { from: 100 }).map(rawMessage));
    const second = await DaemonProcess.start(run.config);
    const s2 = await second.waitForMetrics((s) => samplesOf(s, run.topic) >= 40, '40 new samples', { timeoutMs: 60_000 });
    const warned = second.logs().find((l) => l.msg === 'ignoring damaged checkpoint');
    expect(warned, second.logTail()).toMatchObject({ level: 40, reason: 'checksum' });
    expect(second.logs().some((l) => l.msg === 'restored checkpoint')).toBe(false);
    // Fresh state, from Kafka's committed offset: only what came after it.
    expect(samplesOf(s2, run.topic)).toBe(40);
    for (const [layer, n] of windowSamples(s2)) expect(n, layer).toBe(40);
    expect((await second.stop()).code).toBe(0);
    expect([...(await committedOffsets(run.groupId, run.topic)).values()]).toEqual([140]);

    // Cut in the middle, as a crash of a non-atomic writer would leave it.
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    await produce(run.topic, heldOutDigits(24, { from: 140 }).map(rawMessage));
    const third = await DaemonProcess.start(run.config);
    const s3 = await third.waitForMetrics((s) => samplesOf(s, run.topic) >= 24, '24 new samples', { timeoutMs: 60_000 });
    expect(third.logs().find((l) => l.msg === 'ignoring damaged checkpoint'), third.logTail()).toMatchObject({ level: 40, reason: 'corrupt' });
    expect(samplesOf(s3, run.topic)).toBe(24);
    expect((await third.stop()).code).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect((await readCheckpoint(run.stateDir, NAME)).ok).toBe(true); // the stop wrote a whole one again
  });
});
