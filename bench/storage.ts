/**
 * The storage on this machine's disk. In one run:
 * 1. the raw rate of `write(4 KiB) + fdatasync` on a plain file: the disk's fsync ceiling;
 * 2. raftkit's log with 256-byte entries, one save after another, at several batch sizes
 *    (one save = one write and one fdatasync);
 * 3. the same with many concurrent single-entry saves: group commit gathers them;
 * 4. memory: the index bytes per entry of a long log, and the time to recover it.
 * Prints a table and writes bench/results/storage.json.
 *
 *   npm run bench:storage [-- --seconds 2] [-- --dir PATH]   (PATH on the disk to measure)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Entry } from '../src/core/index.js';
import {
  type FileHandle,
  FileStorage,
  type FileSystem,
  NodeFileSystem,
} from '../src/storage/index.js';
import { flag } from './args.js';

const ENTRY_BYTES = 256;
const BATCHES = [1, 16, 64, 256, 1024, 4096];
const CONCURRENCY = [16, 256];
const LONG_LOG_ENTRIES = 2_000_000;
const SECONDS = Number(flag('--seconds') ?? 2);
const MAX_ITERATIONS = 1_000_000; // bounds every loop even if the clock misbehaves
const parent = resolve(flag('--dir') ?? 'bench/results');
mkdirSync(parent, { recursive: true });
const base = mkdtempSync(join(parent, 'storage-bench-'));

/** A FileSystem that counts fdatasyncs. */
class CountingFileSystem extends NodeFileSystem implements FileSystem {
  syncs = 0;

  override async open(path: string, mode: 'read' | 'write' | 'create'): Promise<FileHandle> {
    const handle = await super.open(path, mode);
    return {
      write: (data, position) => handle.write(data, position),
      sync: () => {
        this.syncs++;
        return handle.sync();
      },
      truncate: (size) => handle.truncate(size),
      readSync: (position, length) => handle.readSync(position, length),
      read: (position, length) => handle.read(position, length),
      size: () => handle.size(),
      close: () => handle.close(),
    };
  }
}

interface Row {
  test: string;
  entriesPerSecond: number;
  megabytesPerSecond: number;
  fsyncsPerSecond: number;
  entriesPerFsync: number;
  /** fsyncs/s of this run over the raw write+fdatasync rate of the disk. */
  fsyncRatio: number;
}

async function rawFsyncRate(): Promise<number> {
  const file = await open(join(base, 'raw'), 'w');
  const block = Buffer.alloc(4096, 7);
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000 && n < MAX_ITERATIONS) {
    await file.write(block, 0, block.length, n * block.length);
    await file.datasync();
    n++;
  }
  const seconds = (performance.now() - start) / 1000;
  await file.close();
  return n / seconds;
}

function makeEntries(from: number, count: number, payload: Uint8Array): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < count; i++)
    out.push({ index: from + i, term: 1, kind: 'command', data: payload });
  return out;
}

/** `writers` loops, each saving `batch` entries at a time and waiting for its fsync. */
async function logRate(name: string, batch: number, writers: number, raw: number): Promise<Row> {
  const fs = new CountingFileSystem();
  const storage = await FileStorage.open(join(base, name), { fs });
  const payload = new Uint8Array(ENTRY_BYTES).fill(42);
  let next = 1;
  let saves = 0;
  const syncsBefore = fs.syncs;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  const writer = async (): Promise<void> => {
    while (performance.now() < deadline && saves < MAX_ITERATIONS) {
      const entries = makeEntries(next, batch, payload);
      next += batch;
      saves++;
      await storage.save({ entries, hardState: null, sync: true });
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  const seconds = (performance.now() - start) / 1000;
  const entries = next - 1;
  const syncs = fs.syncs - syncsBefore;
  await storage.close();
  rmSync(join(base, name), { recursive: true });
  return {
    test: name,
    entriesPerSecond: Math.round(entries / seconds),
    megabytesPerSecond: round((entries * ENTRY_BYTES) / seconds / 1e6),
    fsyncsPerSecond: Math.round(syncs / seconds),
    entriesPerFsync: round(entries / syncs),
    fsyncRatio: round(syncs / seconds / raw),
  };
}

/** Writes a long log, then reports memory per entry and the time to reopen (recover) it. */
async function longLog(): Promise<Record<string, number>> {
  const dir = join(base, 'long');
  const storage = await FileStorage.open(dir, { cacheBytes: 4 * 1024 * 1024 });
  const payload = new Uint8Array(ENTRY_BYTES).fill(1);
  const heapBefore = heapBytes();
  const start = performance.now();
  for (let next = 1; next <= LONG_LOG_ENTRIES; next += 4096) {
    await storage.save({ entries: makeEntries(next, 4096, payload), hardState: null, sync: false });
  }
  await storage.save({ entries: [], hardState: null, sync: true });
  const writeSeconds = (performance.now() - start) / 1000;
  const memory = storage.log.memoryBytes();
  const heapAfter = heapBytes();
  const last = storage.lastIndex();
  await storage.close();
  const reopenStart = performance.now();
  const reopened = await FileStorage.open(dir);
  const recoverSeconds = (performance.now() - reopenStart) / 1000;
  const readStart = performance.now();
  let read = 0;
  for (let i = 1; i <= last; ) {
    const chunk = reopened.entries(i, last + 1, 4 * 1024 * 1024);
    read += chunk.length;
    i += chunk.length;
  }
  const readSeconds = (performance.now() - readStart) / 1000;
  await reopened.close();
  rmSync(dir, { recursive: true });
  return {
    entries: last,
    writeEntriesPerSecond: Math.round(last / writeSeconds),
    indexBytesPerEntry: round(memory.index / last),
    heapGrowthBytesPerEntry: round((heapAfter - heapBefore) / last),
    cacheBytes: memory.cache,
    recoverSeconds: round(recoverSeconds),
    readFromDiskEntriesPerSecond: Math.round(read / readSeconds),
  };
}

function heapBytes(): number {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

try {
  const raw = await rawFsyncRate();
  console.log(
    `raw write(4 KiB) + fdatasync: ${Math.round(raw)} fsyncs/s (${round((raw * 4096) / 1e6)} MB/s)`,
  );
  const rows: Row[] = [];
  for (const batch of BATCHES) rows.push(await logRate(`batch ${batch}`, batch, 1, raw));
  for (const writers of CONCURRENCY) {
    rows.push(await logRate(`${writers} concurrent savers, 1 entry each`, 1, writers, raw));
  }
  console.table(rows);
  const long = await longLog();
  console.log(`long log (${ENTRY_BYTES}-byte entries):`, long);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/storage.json',
    `${JSON.stringify({ date: new Date().toISOString(), entryBytes: ENTRY_BYTES, rawFsyncsPerSecond: Math.round(raw), rows, long }, null, 2)}\n`,
  );
} finally {
  rmSync(base, { recursive: true, force: true });
}
