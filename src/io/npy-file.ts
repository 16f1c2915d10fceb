import { closeSync, fstatSync, openSync, readSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { DataError } from '../errors/index.js';
import { decodeNpyData, encodeNpy, type NpyArray } from './npy.js';
import { NPY_PREFIX_BYTES, parseNpyHeader } from './npy-header.js';

/**
 * .npy files on disk. The header is read and checked first; only then is the data
 * read, into a buffer of exactly the size the (checked) header gives, so that a large
 * reference set is held once and a forged file costs nothing.
 */

/** Largest data section read into memory: beyond it a typed array cannot be built anyway. */
const MAX_FILE_DATA_BYTES = 2 ** 32;

function readFully(fd: number, into: Uint8Array, position: number): number {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

/** Reads a whole .npy file; throws DataError with one line that names the file. */
export function readNpyFile(path: string): NpyArray {
  const name = basename(path);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new DataError(`cannot read ${name}: ${fsReason(error)} (${path})`, { cause: error });
  }
  try {
    const size = fstatSync(fd).size;
    const prefix = new Uint8Array(Math.min(size, NPY_PREFIX_BYTES));
    readFully(fd, prefix, 0);
    const header = parseNpyHeader(prefix, size);
    if (!header.ok) throw new DataError(`cannot read ${name}: ${header.detail}`);
    if (header.value.dataBytes > MAX_FILE_DATA_BYTES) {
      throw new DataError(`cannot read ${name}: ${header.value.dataBytes} data bytes is more than the ${MAX_FILE_DATA_BYTES} that fit in memory at once`);
    }
    // The data alone, into a buffer of its own: float32 data is then used in place.
    const data = new Uint8Array(header.value.dataBytes);
    if (readFully(fd, data, header.value.dataOffset) !== data.length) {
      throw new DataError(`cannot read ${name}: the file changed while it was read`);
    }
    const array = decodeNpyData(data, { ...header.value, dataOffset: 0 }, true);
    if (!array.ok) throw new DataError(`cannot read ${name}: ${array.detail}`);
    return array.value;
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw new DataError(`cannot read ${name}: ${fsReason(error)} (${path})`, { cause: error });
  } finally {
    closeSync(fd);
  }
}

export function writeNpyFile(path: string, data: Float32Array | Float64Array | Int32Array | BigInt64Array, shape: readonly number[]): void {
  writeFileSync(path, encodeNpy(data, shape));
}
