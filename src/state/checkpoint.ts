import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors/index.js';
import { canonicalJson } from './canonical-json.js';
import { errorCode, fsError } from './fs-errors.js';

/**
 * Checkpoints: one JSON file per name, `{ version, writtenAt, sha256, body }`, with sha256
 * taken over the canonical text of `body` (sorted keys, no whitespace; see canonicalJson).
 *
 *   state --canonicalJson--> text --write--> .NAME.json.PID.RAND.tmp --fsync--> rename --> NAME.json
 *                                                                                  fsync(dir)
 *
 * The rename is the commit point: the final name holds either the previous checkpoint or
 * the new one, never a part of one, even if the process dies or the disk fills mid-write.
 */
export const CHECKPOINT_VERSION = 1;

export interface WrittenCheckpoint {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export type CheckpointRead =
  | { readonly ok: true; readonly state: unknown; readonly writtenAt: string }
  | { readonly ok: false; readonly reason: 'missing' | 'corrupt' | 'checksum' | 'version'; readonly detail: string };

const envelopeSchema = z.object({
  version: z.number(),
  writtenAt: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  body: z.unknown(),
});

export function checkpointPath(dir: string, name: string): string {
  // The name becomes a file name: no separators, no leading dot (temp files use one).
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name)) {
    throw new ConfigError(`checkpoint name "${name}" must be letters, digits, '.', '_' or '-', not starting with '.'`);
  }
  return join(dir, `${name}.json`);
}

/**
 * Writes `state` (plain JSON data) as checkpoint `name` in the existing directory `dir`.
 * Throws DataError for state that JSON cannot hold exactly, IoError (retriable) when the
 * disk says no; in both cases the previous checkpoint is untouched and no temp file remains.
 */
export async function writeCheckpoint(
  dir: string,
  name: string,
  state: unknown,
  options: { readonly now?: () => number } = {},
): Promise<WrittenCheckpoint> {
  const path = checkpointPath(dir, name);
  const body = canonicalJson(state);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const writtenAt = new Date((options.now ?? Date.now)()).toISOString();
  const text = `{"version":${CHECKPOINT_VERSION},"writtenAt":${JSON.stringify(writtenAt)},"sha256":"${sha256}","body":${body}}\n`;
  const temp = join(dir, `.${name}.json.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);

  let handle: FileHandle | undefined;
  let created = false;
  try {
    handle = await open(temp, 'wx', 0o644);
    created = true;
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (err) {
    const error = fsError('write checkpoint', path, err);
    if (created) await discard(handle, temp, error);
    throw error;
  }
  await syncDirectory(dir, path);
  return { path, bytes: Buffer.byteLength(text), sha256 };
}

/** Reads checkpoint `name`. Damage is a value, not an exception; only an unreadable file (EACCES, EIO, ...) throws IoError. */
export async function readCheckpoint(dir: string, name: string): Promise<CheckpointRead> {
  const path = checkpointPath(dir, name);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return { ok: false, reason: 'missing', detail: `no checkpoint at ${path}` };
    // Not "corrupt": starting from scratch would overwrite a checkpoint that may be fine.
    throw fsError('read checkpoint', path, err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: 'corrupt', detail: `${path} is not valid JSON (truncated?): ${(err as Error).message}` };
  }
  const version = (parsed as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version !== CHECKPOINT_VERSION) {
    return { ok: false, reason: 'version', detail: `${path} has format version ${version}; this ckawatch reads version ${CHECKPOINT_VERSION}` };
  }
  const envelope = envelopeSchema.safeParse(parsed);
  if (!envelope.success || !Object.hasOwn(parsed as object, 'body')) {
    return { ok: false, reason: 'corrupt', detail: `${path} is not a ckawatch checkpoint (expected version, writtenAt, sha256, body)` };
  }
  const actual = createHash('sha256').update(canonicalJson(envelope.data.body)).digest('hex');
  if (actual !== envelope.data.sha256) {
    const detail = `${path} does not match its checksum (recorded ${envelope.data.sha256}, computed ${actual}): damaged or edited`;
    return { ok: false, reason: 'checksum', detail };
  }
  return { ok: true, state: envelope.data.body, writtenAt: envelope.data.writtenAt };
}

async function discard(handle: FileHandle | undefined, temp: string, error: Error): Promise<void> {
  // The write already failed; cleanup trouble is reported inside that error, not instead of it.
  try {
    await handle?.close();
  } catch (closeError) {
    error.message += ` (closing the temp file also failed: ${errorCode(closeError) ?? String(closeError)})`;
  }
  try {
    await unlink(temp);
  } catch (unlinkError) {
    if (errorCode(unlinkError) !== 'ENOENT') {
      error.message += ` (and the temp file ${temp} could not be removed: ${errorCode(unlinkError) ?? String(unlinkError)})`;
    }
  }
}

/** Makes the rename itself durable: without it a power cut can bring back the old directory entry. */
async function syncDirectory(dir: string, path: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    const code = errorCode(err);
    // Some file systems (certain network and FUSE mounts) cannot fsync a directory; the rename stands.
    if (code === 'EINVAL' || code === 'ENOTSUP' || code === 'EISDIR') return;
    throw fsError('make durable the checkpoint', path, err);
  }
}

/**
 * Removes temp files that a write of checkpoint `name` left behind when the process was
 * killed mid-write. Call once at start-up, before the first write (a concurrent writer's
 * temp file would go too). Returns the names removed.
 */
export async function removeStaleTemps(dir: string, name: string): Promise<string[]> {
  checkpointPath(dir, name);
  const prefix = `.${name}.json.`;
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    throw fsError('list the checkpoint directory', dir, err);
  }
  const stale = entries.filter((entry) => entry.startsWith(prefix) && entry.endsWith('.tmp'));
  for (const entry of stale) {
    try {
      await unlink(join(dir, entry));
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw fsError('remove the stale temp file', join(dir, entry), err);
    }
  }
  return stale;
}
