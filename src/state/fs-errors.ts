import { IoError } from '../errors/index.js';

/** Says what a file-system error code means for a state directory, and how to fix it. */
const HINTS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device: free space or give the state volume more room',
  EDQUOT: 'disk quota exceeded: free space or raise the quota',
  EACCES: "permission denied: the daemon's user must be able to create files there (check the volume's owner and mode, or fsGroup)",
  EPERM: "operation not permitted: the daemon's user must be able to create files there",
  EROFS: 'read-only file system: mount the state volume read-write',
  ENOENT: 'the directory does not exist: create it, or point the state directory at one that does',
  ENOTDIR: 'a component of the path is not a directory',
  EISDIR: 'a directory is in the way of the checkpoint file',
  EMFILE: 'too many open files in this process',
  EIO: 'input/output error on the device',
};

export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** An IoError (retriable: the daemon keeps serving and tries again later) naming the path and the cause. */
export function fsError(action: string, path: string, err: unknown): IoError {
  const code = errorCode(err);
  const hint = code === undefined ? undefined : HINTS[code];
  const detail = hint === undefined ? (err instanceof Error ? err.message : String(err)) : `${code}, ${hint}`;
  return new IoError(`cannot ${action} ${path}: ${detail}`, { retriable: true, cause: err });
}
