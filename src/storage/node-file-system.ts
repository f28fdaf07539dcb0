/**
 * @module
 * `FileSystem` on the real disk. Writes and fsyncs go through `node:fs/promises` (libuv's thread
 * pool), so the event loop never waits for the disk on the write path.
 */
import { readSync, writeSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { resolve } from 'node:path';
import { StorageLockedError } from './errors.js';
import { type FileHandle, type FileSystem, joinPath } from './file-system.js';

const LOCK_FILE = 'LOCK';

/** Data directories this process holds (a second node on the same directory is refused). */
const lockedHere = new Set<string>();

class NodeFileHandle implements FileHandle {
  readonly #handle: fsp.FileHandle;

  constructor(handle: fsp.FileHandle) {
    this.#handle = handle;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.byteLength) {
      const { bytesWritten } = await this.#handle.write(
        data,
        done,
        data.byteLength - done,
        position + done,
      );
      done += bytesWritten;
    }
  }

  writeNow(data: Uint8Array, position: number): void {
    let done = 0;
    while (done < data.byteLength) {
      done += writeSync(this.#handle.fd, data, done, data.byteLength - done, position + done);
    }
  }

  sync(): Promise<void> {
    return this.#handle.datasync();
  }

  truncate(size: number): Promise<void> {
    return this.#handle.truncate(size);
  }

  readSync(position: number, length: number): Uint8Array {
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.#handle.fd, out, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done === length ? out : out.subarray(0, done);
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.#handle.read(out, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === length ? out : out.subarray(0, done);
  }

  async size(): Promise<number> {
    return (await this.#handle.stat()).size;
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/** True if a process with this pid exists (EPERM: it exists but is not ours). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

export class NodeFileSystem implements FileSystem {
  async mkdir(path: string): Promise<void> {
    await fsp.mkdir(path, { recursive: true });
  }

  async list(path: string): Promise<string[] | undefined> {
    try {
      return await fsp.readdir(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
      throw err;
    }
  }

  async isDirectory(path: string): Promise<boolean> {
    try {
      return (await fsp.stat(path)).isDirectory();
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return false;
      throw err;
    }
  }

  async readFile(path: string): Promise<Uint8Array | undefined> {
    try {
      return await fsp.readFile(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
  }

  async open(path: string, mode: 'read' | 'write' | 'create'): Promise<FileHandle> {
    const flags = mode === 'read' ? 'r' : mode === 'write' ? 'r+' : 'w+';
    return new NodeFileHandle(await fsp.open(path, flags, 0o644));
  }

  rename(from: string, to: string): Promise<void> {
    return fsp.rename(from, to);
  }

  async remove(path: string): Promise<void> {
    await fsp.rm(path, { force: true });
  }

  async syncDirectory(path: string): Promise<void> {
    const dir = await fsp.open(path, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /**
   * A `LOCK` file holding the owner's pid. A lock left by a process that no longer exists
   * (killed with SIGKILL) is taken over; one held by a live process is refused.
   */
  async lock(path: string): Promise<() => Promise<void>> {
    const dir = resolve(path);
    if (lockedHere.has(dir)) throw new StorageLockedError(dir, 'already open in this process');
    const file = joinPath(dir, LOCK_FILE);
    lockedHere.add(dir);
    try {
      const previous = await this.readFile(file);
      const owner = previous === undefined ? Number.NaN : Number(Buffer.from(previous).toString());
      if (Number.isInteger(owner) && owner !== process.pid && processAlive(owner)) {
        throw new StorageLockedError(dir, `process ${owner} holds ${file}`);
      }
      // 'wx' when there was no lock: of two processes racing for it, one gets EEXIST.
      await fsp.writeFile(file, `${process.pid}\n`, { flag: previous === undefined ? 'wx' : 'w' });
    } catch (err) {
      lockedHere.delete(dir);
      if (isErrno(err, 'EEXIST')) throw new StorageLockedError(dir, `another process took ${file}`);
      throw err;
    }
    return async () => {
      await fsp.rm(file, { force: true });
      lockedHere.delete(dir);
    };
  }
}
