/**
 * @module
 * A `FileSystem` in memory that can crash. It keeps, for every file, what the disk surely holds
 * (the contents at its last `sync()`) and the writes made since; for the namespace, what the
 * last `syncDirectory()` made durable and the creations, renames and removals since.
 * `crash(random)` then builds the disk a machine would find after power loss: every unsynced
 * operation is lost, except that a random prefix of them may have reached the disk, the last
 * of which may be torn at any byte. Handles opened before the crash stop working.
 *
 * The simulator runs real nodes on it; the crash tests use it to check that what was synced
 * survives and nothing unsynced comes back half-valid. Directories themselves are created
 * durably at once (raftkit creates them only when a data directory is first made).
 */
import type { Random } from '../core/index.js';
import { StorageLockedError } from './errors.js';
import type { FileHandle, FileSystem } from './file-system.js';

type FileOperation =
  | { readonly kind: 'write'; readonly data: Uint8Array; readonly position: number }
  | { readonly kind: 'truncate'; readonly size: number };

type NameOperation =
  | { readonly kind: 'link'; readonly path: string; readonly file: MemoryFile }
  | { readonly kind: 'unlink'; readonly path: string };

interface UnsyncedName {
  readonly dir: string;
  readonly op: NameOperation;
}

/** An operation not yet synced, with what undoes it. */
interface Unsynced {
  readonly op: FileOperation;
  readonly sizeBefore: number;
  /** The bytes the operation overwrote or cut off, from `undoPosition`. */
  readonly undo: Uint8Array;
  readonly undoPosition: number;
}

/**
 * A file as a growable buffer (bytes past `size` are always zero) and its unsynced operations
 * with their undo records, so that writes cost their own length, not the file's.
 */
class MemoryFile {
  #buffer = new Uint8Array(256);
  size = 0;
  unsynced: Unsynced[] = [];

  contents(): Uint8Array {
    return this.#buffer.subarray(0, this.size);
  }

  #reserve(end: number): void {
    if (end <= this.#buffer.byteLength) return;
    const grown = new Uint8Array(Math.max(end, this.#buffer.byteLength * 2));
    grown.set(this.#buffer.subarray(0, this.size));
    this.#buffer = grown;
  }

  /** Performs `op`, remembering how to undo it until the next sync. */
  apply(op: FileOperation): void {
    const sizeBefore = this.size;
    if (op.kind === 'write') {
      const end = op.position + op.data.byteLength;
      this.#reserve(end);
      const undo = this.#buffer.slice(op.position, Math.min(end, sizeBefore));
      this.#buffer.set(op.data, op.position);
      this.size = Math.max(sizeBefore, end);
      this.unsynced.push({ op, sizeBefore, undo, undoPosition: op.position });
    } else {
      this.#reserve(op.size);
      const undo = this.#buffer.slice(Math.min(op.size, sizeBefore), sizeBefore);
      this.#buffer.fill(0, Math.min(op.size, sizeBefore), sizeBefore);
      this.size = op.size;
      this.unsynced.push({ op, sizeBefore, undo, undoPosition: Math.min(op.size, sizeBefore) });
    }
  }

  /** Reverts every unsynced operation: the contents become the durable ones. */
  rollback(): void {
    for (let i = this.unsynced.length - 1; i >= 0; i--) {
      const { sizeBefore, undo, undoPosition } = this.unsynced[i] as Unsynced;
      this.#buffer.fill(0, sizeBefore, this.size);
      this.#buffer.set(undo, undoPosition);
      this.size = sizeBefore;
    }
    this.unsynced = [];
  }
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

/** Operation kinds the latency hook and fault injection distinguish. */
export type DiskOperation = 'write' | 'sync' | 'directory';

export interface MemoryFileSystemOptions {
  /**
   * Awaited before every write, fsync and directory change: the simulator makes disks slow
   * (fsync latency spikes) through it. Default: no delay.
   */
  readonly latency?: (op: DiskOperation) => Promise<void>;
}

export class MemoryFileSystem implements FileSystem {
  readonly #latency: ((op: DiskOperation) => Promise<void>) | undefined;
  #names = new Map<string, MemoryFile>();
  #durableNames = new Map<string, MemoryFile>();
  #unsyncedNames: UnsyncedName[] = [];
  #directories = new Set<string>(['/']);
  #locks = new Set<string>();
  #faults: { op: DiskOperation; error: Error; under: string }[] = [];
  /** Raised by every crash; handles of an older generation are dead. */
  #generation = 0;
  /** Counts of operations performed, for tests and the storage benchmark. */
  readonly counts = { write: 0, sync: 0, directory: 0 };

  constructor(options: MemoryFileSystemOptions = {}) {
    this.#latency = options.latency;
  }

  /**
   * Makes the next operation of kind `op` fail with `error` (an EIO, a full disk); with
   * `under`, the next one on a path that starts with it (one node's directory of several).
   */
  injectFault(op: DiskOperation, error: Error, under = ''): void {
    this.#faults.push({ op, error, under });
  }

  /**
   * Power loss. Every unsynced file write and namespace change is dropped, except a random
   * prefix of each file's writes (the last one possibly torn at a random byte) and a random
   * prefix of the namespace changes. Locks are released; open handles die.
   */
  crash(random: Random): void {
    this.#generation++;
    this.#locks.clear();
    this.#faults = [];
    const files = new Set([...this.#names.values(), ...this.#durableNames.values()]);
    for (const file of files) {
      const ops = file.unsynced.map((u) => u.op);
      file.rollback();
      const kept = random.int(ops.length + 1);
      for (let i = 0; i < kept; i++) {
        let op = ops[i] as FileOperation;
        if (i === kept - 1 && op.kind === 'write' && random.int(2) === 0) {
          op = { ...op, data: op.data.subarray(0, random.int(op.data.byteLength + 1)) };
        }
        file.apply(op);
      }
      file.unsynced = [];
    }
    const names = new Map(this.#durableNames);
    const kept = random.int(this.#unsyncedNames.length + 1);
    for (const { op } of this.#unsyncedNames.slice(0, kept)) {
      if (op.kind === 'link') names.set(op.path, op.file);
      else names.delete(op.path);
    }
    this.#names = names;
    this.#durableNames = new Map(names);
    this.#unsyncedNames = [];
  }

  async #perform(op: DiskOperation, generation: number, path: string): Promise<void> {
    this.counts[op]++;
    if (this.#latency !== undefined) await this.#latency(op);
    if (generation !== this.#generation) throw new Error('EIO: the disk crashed under this handle');
    const fault = this.#faults.findIndex((f) => f.op === op && path.startsWith(f.under));
    if (fault >= 0) {
      const [{ error }] = this.#faults.splice(fault, 1) as [{ error: Error }, ...unknown[]];
      throw error;
    }
  }

  #file(path: string, generation: number): MemoryFile {
    if (generation !== this.#generation) throw new Error('EIO: the disk crashed under this handle');
    const file = this.#names.get(path);
    if (file === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return file;
  }

  #changeName(path: string, op: NameOperation): void {
    if (op.kind === 'link') this.#names.set(path, op.file);
    else this.#names.delete(path);
    this.#unsyncedNames.push({ dir: parentOf(path), op });
  }

  async mkdir(path: string): Promise<void> {
    for (let p = path; p !== '/' && p !== '' && p !== '.'; p = parentOf(p)) {
      this.#directories.add(p);
    }
  }

  async list(path: string): Promise<string[] | undefined> {
    if (!this.#directories.has(path)) return undefined;
    const prefix = path.endsWith('/') ? path : `${path}/`;
    const names = new Set<string>();
    for (const p of [...this.#names.keys(), ...this.#directories]) {
      if (p.startsWith(prefix) && p.length > prefix.length) {
        names.add(p.slice(prefix.length).split('/')[0] as string);
      }
    }
    return [...names].sort();
  }

  async isDirectory(path: string): Promise<boolean> {
    return this.#directories.has(path);
  }

  async readFile(path: string): Promise<Uint8Array | undefined> {
    return this.#names.get(path)?.contents().slice();
  }

  async open(path: string, mode: 'read' | 'write' | 'create'): Promise<FileHandle> {
    const generation = this.#generation;
    if (mode === 'create') {
      await this.#perform('directory', generation, path);
      if (!this.#directories.has(parentOf(path))) throw new Error(`ENOENT: ${parentOf(path)}`);
      const file = this.#names.get(path) ?? new MemoryFile();
      if (!this.#names.has(path)) this.#changeName(path, { kind: 'link', path, file });
      file.apply({ kind: 'truncate', size: 0 });
    }
    this.#file(path, generation);
    return this.#handle(path, generation);
  }

  #handle(path: string, generation: number): FileHandle {
    // A handle follows its file, not its name (as a file descriptor does across a rename).
    const file = this.#file(path, generation);
    const alive = (): void => {
      if (generation !== this.#generation) throw new Error('EIO: the disk crashed');
    };
    return {
      write: async (data, position) => {
        const copy = data.slice();
        await this.#perform('write', generation, path);
        file.apply({ kind: 'write', data: copy, position });
      },
      sync: async () => {
        await this.#perform('sync', generation, path);
        file.unsynced = [];
      },
      truncate: async (size) => {
        await this.#perform('write', generation, path);
        file.apply({ kind: 'truncate', size });
      },
      readSync: (position, length) => {
        alive();
        return file.contents().slice(position, position + length);
      },
      read: async (position, length) => {
        alive();
        return file.contents().slice(position, position + length);
      },
      size: async () => {
        alive();
        return file.size;
      },
      close: async () => {},
    };
  }

  async rename(from: string, to: string): Promise<void> {
    const generation = this.#generation;
    await this.#perform('directory', generation, from);
    const file = this.#file(from, generation);
    this.#changeName(from, { kind: 'unlink', path: from });
    this.#changeName(to, { kind: 'link', path: to, file });
  }

  async remove(path: string): Promise<void> {
    const generation = this.#generation;
    await this.#perform('directory', generation, path);
    if (this.#names.has(path)) this.#changeName(path, { kind: 'unlink', path });
  }

  async syncDirectory(path: string): Promise<void> {
    await this.#perform('sync', this.#generation, path);
    const rest: UnsyncedName[] = [];
    for (const change of this.#unsyncedNames) {
      if (change.dir !== path) {
        rest.push(change);
        continue;
      }
      if (change.op.kind === 'link') this.#durableNames.set(change.op.path, change.op.file);
      else this.#durableNames.delete(change.op.path);
    }
    this.#unsyncedNames = rest;
  }

  /**
   * Drops every lock: the processes that held them are gone (the OS releases a dead process's
   * locks). For a simulator starting a new process on this disk.
   */
  forgetLocks(): void {
    this.#locks.clear();
  }

  async lock(path: string): Promise<() => Promise<void>> {
    if (this.#locks.has(path)) throw new StorageLockedError(path, 'already open on this disk');
    this.#locks.add(path);
    const generation = this.#generation;
    return async () => {
      if (generation === this.#generation) this.#locks.delete(path);
    };
  }
}
