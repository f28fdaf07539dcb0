/**
 * @module
 * The storage layer's errors. Corruption names the file, the byte offset and what was expected
 * there, so that a person can look at the very bytes; it is never repaired silently.
 */
import { RaftError } from '../core/index.js';

/**
 * Stored data is damaged in a way that is not the normal result of a crash: the node must not
 * start from it (it could hand wrong entries to the core). Restore the node from a backup or
 * remove its data directory and let it rejoin as a new, empty member.
 */
export class CorruptionError extends RaftError {
  readonly file: string;
  /** Byte offset in `file` where the damage was found. */
  readonly offset: number;

  constructor(file: string, offset: number, detail: string) {
    super('RAFT_STORAGE_CORRUPT', `corrupt data in ${file} at offset ${offset}: ${detail}`);
    this.file = file;
    this.offset = offset;
  }
}

/**
 * A write or an fsync failed. Whatever was not yet synced may or may not be on the disk, and a
 * retried fsync can lie (the kernel may have dropped the dirty pages), so the storage accepts
 * no more writes: stop the node, fix the disk, restart (recovery reads what really is there).
 */
export class StorageFailedError extends RaftError {
  override readonly cause: unknown;

  constructor(detail: string, cause?: unknown) {
    super('RAFT_STORAGE_FAILED', `storage failed: ${detail}`);
    this.cause = cause;
  }
}

/** Another node (in this process or another) has the data directory open for writing. */
export class StorageLockedError extends RaftError {
  readonly dir: string;

  constructor(dir: string, detail: string) {
    super('RAFT_STORAGE_LOCKED', `${dir} is in use: ${detail}`);
    this.dir = dir;
  }
}

/** The path given is not a raftkit data directory (missing, a file, or something else's). */
export class NotADataDirError extends RaftError {
  readonly dir: string;

  constructor(dir: string, detail: string) {
    super('RAFT_NOT_A_DATA_DIR', `${dir} is not a raftkit data directory: ${detail}`);
    this.dir = dir;
  }
}
