import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError, IoError } from '../../src/errors/index.js';
import { readCheckpoint, removeStaleTemps, writeCheckpoint } from '../../src/state/checkpoint.js';
import { createWindowSet } from '../../src/window/window-set.js';
import { rejection } from '../helpers/errors.js';
import { useTempDir } from '../helpers/files.js';

const tmp = useTempDir('ckawatch-checkpoint-', { each: true });

const state = { consumer: { group: 'g', offsets: [{ topic: 'images', partition: 0, offset: '42' }] }, note: 'ünïcödé ✓', n: -0.125 };
const now = () => Date.UTC(2026, 11, 1);

describe('writeCheckpoint / readCheckpoint', () => {
  it('round-trips plain state, window snapshots included', async () => {
    const windows = createWindowSet([{ name: '5m', durationMs: 300_000, buckets: 5 }], ['conv1'], 7);
    windows.add('conv1', [1, 64, 0.5, 0.25, 0.75, 1e-9, 3.3], 1_000_000);
    const written = await writeCheckpoint(tmp.dir, 'daemon', { ...state, windows: windows.snapshot() }, { now });
    expect(written.path).toBe(join(tmp.dir, 'daemon.json'));
    const read = await readCheckpoint(tmp.dir, 'daemon');
    expect(read).toEqual({ ok: true, state: { ...state, windows: windows.snapshot() }, writtenAt: '2026-12-01T00:00:00.000Z' });
    expect(await readdir(tmp.dir)).toEqual(['daemon.json']);
  });

  it('writes the documented envelope, with the checksum over the canonical body', async () => {
    await writeCheckpoint(tmp.dir, 'c', { b: 1, a: [true, null] }, { now });
    const text = await readFile(join(tmp.dir, 'c.json'), 'utf8');
    expect(text).toMatchInlineSnapshot(`
      "{"version":1,"writtenAt":"2026-12-01T00:00:00.000Z","sha256":"51705a2c9eb3e7e410a58f696a770c3ac3885a0cf43eb7fc88f5e47c11d4d30d","body":{"a":[true,null],"b":1}}
      "
    `);
  });

  it('replaces the previous checkpoint', async () => {
    await writeCheckpoint(tmp.dir, 'c', { v: 1 });
    await writeCheckpoint(tmp.dir, 'c', { v: 2 });
    expect(await readCheckpoint(tmp.dir, 'c')).toMatchObject({ ok: true, state: { v: 2 } });
  });

  it('reports a missing checkpoint', async () => {
    expect(await readCheckpoint(tmp.dir, 'nothing')).toEqual({ ok: false, reason: 'missing', detail: `no checkpoint at ${join(tmp.dir, 'nothing.json')}` });
  });

  it('detects every truncation', async () => {
    await writeCheckpoint(tmp.dir, 'c', state);
    const full = await readFile(join(tmp.dir, 'c.json'));
    for (let length = 0; length < full.length - 1; length++) {
      await writeFile(join(tmp.dir, 'c.json'), full.subarray(0, length));
      const read = await readCheckpoint(tmp.dir, 'c');
      expect(read.ok, `truncated to ${length} bytes`).toBe(false);
    }
  });

  it('never returns a state other than the one written, whichever byte is flipped', async () => {
    await writeCheckpoint(tmp.dir, 'c', state);
    const full = await readFile(join(tmp.dir, 'c.json'));
    const reasons = new Set<string>();
    for (let i = 0; i < full.length; i++) {
      const damaged = Buffer.from(full);
      damaged[i]! ^= 0x04;
      await writeFile(join(tmp.dir, 'c.json'), damaged);
      const read = await readCheckpoint(tmp.dir, 'c');
      if (read.ok) expect(read.state, `byte ${i} flipped`).toEqual(state);
      else reasons.add(read.reason);
    }
    expect([...reasons].sort()).toEqual(['checksum', 'corrupt', 'version']);
  });

  it('names a tampered body as a checksum mismatch', async () => {
    await writeCheckpoint(tmp.dir, 'c', { offset: 41 });
    const path = join(tmp.dir, 'c.json');
    await writeFile(path, (await readFile(path, 'utf8')).replace('"offset":41', '"offset":42'));
    expect(await readCheckpoint(tmp.dir, 'c')).toMatchObject({ ok: false, reason: 'checksum', detail: expect.stringContaining('does not match its checksum') });
  });

  it('names other format versions and foreign JSON', async () => {
    await writeFile(join(tmp.dir, 'v.json'), '{"version":2,"whatever":true}');
    expect(await readCheckpoint(tmp.dir, 'v')).toMatchObject({ ok: false, reason: 'version', detail: expect.stringContaining('format version 2') });
    await writeFile(join(tmp.dir, 'f.json'), '[1,2,3]');
    expect(await readCheckpoint(tmp.dir, 'f')).toMatchObject({ ok: false, reason: 'corrupt' });
    await writeFile(join(tmp.dir, 'b.json'), `{"version":1,"writtenAt":"x","sha256":"${'0'.repeat(64)}"}`);
    expect(await readCheckpoint(tmp.dir, 'b')).toMatchObject({ ok: false, reason: 'corrupt' });
  });

  it('throws IoError, not "corrupt", when the file cannot be read', async () => {
    await mkdir(join(tmp.dir, 'c.json'));
    await expect(readCheckpoint(tmp.dir, 'c')).rejects.toBeInstanceOf(IoError);
  });

  it('refuses state JSON cannot hold exactly, leaving the previous checkpoint and no temp file', async () => {
    await writeCheckpoint(tmp.dir, 'c', { v: 1 });
    await expect(writeCheckpoint(tmp.dir, 'c', { v: Number.NaN })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[DataError: checkpoint state at $.v is NaN, which JSON cannot hold]`,
    );
    await expect(writeCheckpoint(tmp.dir, 'c', { v: new Float64Array(2) })).rejects.toBeInstanceOf(DataError);
    expect(await readdir(tmp.dir)).toEqual(['c.json']);
    expect(await readCheckpoint(tmp.dir, 'c')).toMatchObject({ ok: true, state: { v: 1 } });
  });

  it('refuses names that are not plain file names', async () => {
    await expect(writeCheckpoint(tmp.dir, '../escape', {})).rejects.toThrowErrorMatchingInlineSnapshot(
      `[ConfigError: checkpoint name "../escape" must be letters, digits, '.', '_' or '-', not starting with '.']`,
    );
  });
});

describe('writeCheckpoint on a directory that does not take it (tests run as root: chmod is no obstacle)', () => {
  it('a path under a regular file: IoError, retriable, with what to fix', async () => {
    await writeFile(join(tmp.dir, 'file'), 'x');
    const error = await rejection(writeCheckpoint(join(tmp.dir, 'file', 'x'), 'c', state), IoError);
    expect(error.retriable).toBe(true);
    expect(error.message.replace(tmp.dir, 'DIR')).toMatchInlineSnapshot(
      `"cannot write checkpoint DIR/file/x/c.json: ENOTDIR, a component of the path is not a directory"`,
    );
  });

  it('a directory that does not exist', async () => {
    const error = await rejection(writeCheckpoint(join(tmp.dir, 'absent'), 'c', state), IoError);
    expect(error.message.replace(tmp.dir, 'DIR')).toMatchInlineSnapshot(
      `"cannot write checkpoint DIR/absent/c.json: ENOENT, the directory does not exist: create it, or point the state directory at one that does"`,
    );
  });

  it('a failure after the temp file was written leaves no temp file behind', async () => {
    await mkdir(join(tmp.dir, 'c.json')); // rename onto a directory fails
    await rejection(writeCheckpoint(tmp.dir, 'c', state), IoError);
    expect(await readdir(tmp.dir)).toEqual(['c.json']);
  });

  it('sysfs, which refuses new files even to root', async () => {
    await expect(writeCheckpoint('/sys', 'ckawatch-test', state)).rejects.toBeInstanceOf(IoError);
  });
});

describe('removeStaleTemps', () => {
  it("removes this name's leftovers and nothing else", async () => {
    await writeFile(join(tmp.dir, '.c.json.123.abcd.tmp'), '{"ver');
    await writeFile(join(tmp.dir, '.other.json.123.abcd.tmp'), '');
    await writeCheckpoint(tmp.dir, 'c', state);
    expect(await removeStaleTemps(tmp.dir, 'c')).toEqual(['.c.json.123.abcd.tmp']);
    expect((await readdir(tmp.dir)).sort()).toEqual(['.other.json.123.abcd.tmp', 'c.json']);
  });
});
