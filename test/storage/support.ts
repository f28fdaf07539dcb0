/**
 * Helpers shared by the storage tests: entries, and the two disks a storage can run on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../../src/core/index.js';
import {
  FileStorage,
  type FileStorageOptions,
  type FileSystem,
  MemoryFileSystem,
  NodeFileSystem,
  type StorageLogger,
} from '../../src/storage/index.js';

const encoder = new TextEncoder();

/** Entry `index` of `term` whose data names both (so a wrong entry read back is visible). */
export function entry(index: number, term: number, extraBytes = 0): Entry {
  const text = `entry ${index} term ${term}${'.'.repeat(extraBytes)}`;
  return { index, term, kind: 'command', data: encoder.encode(text) };
}

export function entries(from: number, to: number, term: number, extraBytes = 0): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term, extraBytes));
  return out;
}

/** Index, term, kind and data as plain values, for deepEqual. */
export function plain(list: readonly Entry[]): [number, number, string, string][] {
  return list.map((e) => [e.index, e.term, e.kind, Buffer.from(e.data).toString('hex')]);
}

/** A logger that keeps what it is told. */
export function recordingLogger(): StorageLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    warn(fields, message) {
      lines.push(`${message} ${JSON.stringify(fields)}`);
    },
  };
}

/** A disk with a directory to use: the real one (a temporary directory) or a memory one. */
export interface Disk {
  readonly name: string;
  readonly fs: FileSystem;
  readonly dir: string;
  open(options?: FileStorageOptions): Promise<FileStorage>;
  cleanup(): void;
}

export function realDisk(): Disk {
  const base = mkdtempSync(join(tmpdir(), 'raftkit-storage-'));
  const fs = new NodeFileSystem();
  const dir = join(base, 'node');
  return {
    name: 'real disk',
    fs,
    dir,
    open: (options = {}) => FileStorage.open(dir, { fs, ...options }),
    cleanup: () => rmSync(base, { recursive: true, force: true }),
  };
}

export function memoryDisk(): Disk & { fs: MemoryFileSystem } {
  const fs = new MemoryFileSystem();
  const dir = '/data/node';
  return {
    name: 'memory disk',
    fs,
    dir,
    open: (options = {}) => FileStorage.open(dir, { fs, ...options }),
    cleanup: () => {},
  };
}

/** Reads the whole log. */
export function allEntries(storage: FileStorage): Entry[] {
  return storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
}
