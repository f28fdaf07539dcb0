/**
 * @module
 * The few file operations the storage needs, as an interface with two implementations: the
 * real disk (`NodeFileSystem`) and a memory disk that models a crash (`MemoryFileSystem`). The
 * write-ahead log is written once, against this interface, so the simulator and the crash
 * tests run the very code that production runs.
 *
 * Durability contract, the one POSIX gives: a write is durable once `sync()` of its file
 * has resolved; a file's creation, rename or removal is durable once `syncDirectory()` of its
 * directory has resolved. Nothing else is promised.
 */

export interface FileHandle {
  /** Writes all of `data` at byte `position`. Not durable until `sync()`. */
  write(data: Uint8Array, position: number): Promise<void>;
  /**
   * The same write, done before returning, where that is cheap: a small write goes to the
   * page cache in microseconds, less than a trip to a worker thread and back costs. For the
   * log's appends (its fdatasync stays asynchronous); absent: use `write`.
   */
  writeNow?(data: Uint8Array, position: number): void;
  /** Makes every completed write of this file durable (fdatasync). */
  sync(): Promise<void>;
  /** Cuts the file to `size` bytes. Not durable until `sync()`. */
  truncate(size: number): Promise<void>;
  /**
   * Reads up to `length` bytes at `position`, synchronously: the Raft core reads its log
   * synchronously. Only ever called for bytes whose write has completed (older entries that
   * fell out of the log's memory cache), which the page cache usually holds.
   */
  readSync(position: number, length: number): Uint8Array;
  /** Reads up to `length` bytes at `position` (fewer at the end of the file). */
  read(position: number, length: number): Promise<Uint8Array>;
  /** The file's size in bytes. */
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface FileSystem {
  /** Creates a directory and its parents if missing. */
  mkdir(path: string): Promise<void>;
  /** Names in a directory; `undefined` when the directory does not exist. */
  list(path: string): Promise<string[] | undefined>;
  /** True if `path` is a directory. */
  isDirectory(path: string): Promise<boolean>;
  /** A whole file; `undefined` when it does not exist. */
  readFile(path: string): Promise<Uint8Array | undefined>;
  /** Opens a file for reading and writing; `create` makes a new empty one (truncating). */
  open(path: string, mode: 'read' | 'write' | 'create'): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** Makes the creations, renames and removals in a directory durable. */
  syncDirectory(path: string): Promise<void>;
  /**
   * Takes the exclusive right to write a data directory, for this process and against other
   * processes. Resolves to the function that gives it back.
   */
  lock(path: string): Promise<() => Promise<void>>;
}

/** Joins path parts with `/` (both file systems use POSIX paths). */
export function joinPath(...parts: string[]): string {
  return parts.join('/').replace(/\/+/g, '/');
}
