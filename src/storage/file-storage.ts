/**
 * @module
 * `FileStorage`: a node's durable storage in its data directory. It is the `LogStorage` the
 * core reads (synchronously, from the write-ahead log's index and cache) and it carries out
 * what a Ready asks to persist with `save()`, whose promise resolves only once that is durable.
 *
 * Group commit: `save()` stages its records at once and joins a queue; one flush at a time
 * writes everything staged, in one write, with one fdatasync for all the saves that waited,
 * so the more callers, the more entries per fsync.
 *
 * The hard state is split by how often it changes. Term and vote (elections) are written to
 * `hard-state.json` atomically before the flush's log records; the commit index, which moves
 * with every batch, is a small record in the log, written with the entries and never alone
 * forcing an fsync. On start the two are joined: commit is the highest either recorded.
 */
import { assert } from '../core/assert.js';
import {
  type Entry,
  emptyHardState,
  type HardState,
  hardStateEqual,
  InvalidConfigError,
  type LogStorage,
  type SnapshotMeta,
} from '../core/index.js';
import {
  checkDataDir,
  createDataDir,
  type Identity,
  LOG_DIR,
  readIdentity,
  writeIdentity,
} from './data-dir.js';
import { CorruptionError, StorageFailedError } from './errors.js';
import type { FileSystem } from './file-system.js';
import { HARD_STATE_FILE, readHardState, writeHardState } from './hard-state-file.js';
import { NodeFileSystem } from './node-file-system.js';
import type { TornTail } from './recover.js';
import {
  type FoundSnapshot,
  findSnapshot,
  pruneSnapshots,
  type SnapshotFile,
  SnapshotReader,
  SnapshotWriter,
} from './snapshot-file.js';
import { WriteAheadLog } from './wal.js';

/** What one Ready asks to persist. */
export interface StorageUpdate {
  /**
   * A snapshot that replaces the log (a Ready's `snapshot`, whose file `writeSnapshot` already
   * made durable): the log restarts after it, before `entries` are written.
   */
  readonly snapshot?: SnapshotFile;
  /** Entries to append; any stored entry at or after `entries[0].index` is replaced. */
  readonly entries: readonly Entry[];
  /** The new hard state, or null if unchanged. */
  readonly hardState: HardState | null;
  /** False when nothing here must survive a crash (the core's `mustSync`): no fsync waited. */
  readonly sync: boolean;
}

/** The storage a node runs on: the core's read view plus durable writes. */
export interface DurableStorage extends LogStorage {
  /** Persists `update`; resolves once it is durable (written, if `sync` is false). */
  save(update: StorageUpdate): Promise<void>;
  /** The last log index known durable. */
  durableIndex(): number;
  close(): Promise<void>;
  /** The newest snapshot's file, or null (see `FileStorage`). */
  snapshotFile?(): SnapshotFile | null;
  /** Writes a snapshot of `chunks` durably; it becomes the newest. */
  writeSnapshot?(meta: SnapshotMeta, chunks: AsyncIterable<Uint8Array>): Promise<SnapshotFile>;
  /** Drops the log's entries at or below `upTo`, which the newest snapshot must cover. */
  compact?(upTo: number): Promise<void>;
  /** The state in a snapshot file, chunk by chunk, each checked as it is read. */
  readSnapshot?(file: SnapshotFile): AsyncIterable<Uint8Array>;
  /** The cluster identity recorded with the data, or null (see `Identity.cluster`). */
  clusterIdentity?(): string | null;
  /** Records the cluster identity with the data, durably. */
  bindCluster?(identity: string): Promise<void>;
}

/** A logger with pino's argument order, so a pino logger can be passed as is. */
export interface StorageLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface FileStorageOptions {
  /** Where files live; default the real disk. `MemoryFileSystem` gives an in-memory storage. */
  readonly fs?: FileSystem;
  /** The node's id, recorded in a new directory and checked against an existing one. */
  readonly id?: string;
  /** Default 64 MiB. */
  readonly maxSegmentBytes?: number;
  /** Bytes of recent entries kept in memory for reads; default 16 MiB. */
  readonly cacheBytes?: number;
  /** Open only to look: nothing is created, cut, locked or written. */
  readonly readOnly?: boolean;
  /** Where the cut of a torn tail is reported; default `process.emitWarning`. */
  readonly logger?: StorageLogger;
  /** Told of every flush once it is done: for metrics (fsync latency, group-commit size). */
  readonly onFlush?: (flush: FlushReport) => void;
}

/** One group commit: the saves it served, whether it fdatasynced, and how long it took. */
export interface FlushReport {
  readonly saves: number;
  readonly synced: boolean;
  /** From the first write to the end of the fdatasync, in milliseconds. */
  readonly durationMs: number;
}

export const DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_CACHE_BYTES = 16 * 1024 * 1024;

const warningLogger: StorageLogger = {
  warn(fields, message) {
    process.emitWarning(`${message} ${JSON.stringify(fields)}`, { code: 'RAFTKIT_STORAGE' });
  },
};

interface Waiter {
  readonly termAndVote: HardState | null;
  readonly sync: boolean;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export class FileStorage implements DurableStorage {
  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly #wal: WriteAheadLog;
  readonly #release: (() => Promise<void>) | null;
  /** The hard state as staged: what `hardState()` returns. */
  #hardState: HardState;
  /** Term and vote as last staged for the hard state file. */
  #fileState: HardState;
  #queue: Waiter[] = [];
  #flushing: Promise<void> | null = null;
  #onFlush: ((flush: FlushReport) => void) | null = null;
  #failure: StorageFailedError | null = null;
  #closed = false;
  /** The commit index the file holds, and the segment count when it was written. */
  #fileCommit: number;
  #segmentsAtFileWrite: number;
  /** The torn tail recovery cut off (or, read-only, found), if any. */
  readonly tornTail: TornTail | null;
  /** What the identity file says: whose the directory is, and of which cluster. */
  #identity: Identity;
  /** The newest snapshot: what `snapshot()` answers, what a follower is sent. */
  #snapshot: SnapshotFile | null;
  /** Compactions waiting for the flush under way: run between flushes, never during one. */
  #compactions: { upTo: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Snapshot writes under way, each settled (`close()` waits for them all). */
  readonly #snapshotWrites = new Set<Promise<unknown>>();
  /**
   * Snapshot commits, one at a time: two writers of one snapshot (the node's own and the
   * leader's, at one index) each stream to a temporary file of their own, and only the first
   * to finish renames; the other learns of it.
   */
  #snapshotCommits: Promise<unknown> = Promise.resolve();
  /** Numbers the temporary files of this storage's snapshot writes. */
  #snapshotWriters = 0;
  #identityWrite: Promise<void> = Promise.resolve();

  private constructor(
    fs: FileSystem,
    dir: string,
    wal: WriteAheadLog,
    hardState: HardState,
    release: (() => Promise<void>) | null,
    identity: Identity,
    snapshot: SnapshotFile | null,
  ) {
    this.#identity = identity;
    this.#snapshot = snapshot;
    this.#fs = fs;
    this.#dir = dir;
    this.#wal = wal;
    this.#hardState = hardState;
    this.#fileState = hardState;
    this.#fileCommit = hardState.commit;
    this.#segmentsAtFileWrite = wal.segmentCount();
    this.#release = release;
    this.tornTail = wal.recovered.tornTail;
  }

  /**
   * Opens (creating if needed) the data directory `dir`, recovers its log and hard state, and
   * returns the storage. Throws `CorruptionError`, `NotADataDirError` or `StorageLockedError`.
   */
  static async open(dir: string, options: FileStorageOptions = {}): Promise<FileStorage> {
    const fs = options.fs ?? new NodeFileSystem();
    const readOnly = options.readOnly ?? false;
    const maxSegmentBytes = options.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
    const cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (
      !Number.isSafeInteger(maxSegmentBytes) ||
      maxSegmentBytes < 256 ||
      maxSegmentBytes > 2 ** 31
    ) {
      throw new InvalidConfigError(`maxSegmentBytes ${maxSegmentBytes}: expected 256 to 2^31`);
    }
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) {
      throw new InvalidConfigError(`cacheBytes ${cacheBytes}: expected an integer >= 0`);
    }
    let release: (() => Promise<void>) | null = null;
    if (readOnly) await readIdentity(fs, dir);
    else {
      const fresh = await checkDataDir(fs, dir, options.id);
      await fs.mkdir(dir);
      release = await fs.lock(dir);
      try {
        if (fresh) {
          // The hard state file exists from the start, so that its absence later is damage (a
          // deleted term and vote let the node vote twice), never mistaken for a new directory.
          await writeHardState(fs, dir, emptyHardState);
          await createDataDir(fs, dir, options.id ?? null);
        }
      } catch (err) {
        await release();
        throw err;
      }
    }
    let wal: WriteAheadLog | undefined;
    const logger = options.logger ?? warningLogger;
    try {
      const found = await findSnapshot(fs, dir, readOnly, logger);
      const after = found.chosen?.meta;
      wal = await WriteAheadLog.open(
        fs,
        dir,
        LOG_DIR,
        { maxSegmentBytes, cacheBytes, readOnly },
        after,
      );
      checkBridge(wal, found);
      if (after !== undefined && wal.term(after.index) !== after.term) {
        // The log does not continue the snapshot (a follower crashed while installing one it
        // received): it restarts after the snapshot, as the install would have left it.
        wal.reset(after.index, after.term);
        if (!readOnly) await wal.flush(true);
      }
      const hardState = await joinHardState(fs, dir, wal, readOnly, after?.index ?? 0);
      const identity = await readIdentity(fs, dir);
      const storage = new FileStorage(fs, dir, wal, hardState, release, identity, found.chosen);
      storage.#onFlush = options.onFlush ?? null;
      if (storage.tornTail !== null) {
        const { file, offset, droppedBytes, reason } = storage.tornTail;
        const action = readOnly ? 'found (left as is: read-only)' : 'cut off';
        (options.logger ?? warningLogger).warn(
          { dir, file, offset, droppedBytes, reason },
          `torn write at the end of the log ${action}: the normal trace of a crash mid-write`,
        );
      }
      return storage;
    } catch (err) {
      await wal?.close();
      await release?.();
      throw err;
    }
  }

  hardState(): HardState {
    return this.#hardState;
  }

  firstIndex(): number {
    return this.#wal.firstIndex();
  }

  lastIndex(): number {
    return this.#wal.lastIndex();
  }

  term(index: number): number | undefined {
    return this.#wal.term(index);
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    return this.#wal.entries(low, high, maxBytes);
  }

  configIndexes(): readonly number[] {
    return this.#wal.configIndexes();
  }

  durableIndex(): number {
    return this.#wal.durableIndex();
  }

  snapshot(): SnapshotMeta | null {
    return this.#snapshot?.meta ?? null;
  }

  snapshotFile(): SnapshotFile | null {
    return this.#snapshot;
  }

  readSnapshot(file: SnapshotFile): AsyncIterable<Uint8Array> {
    return new SnapshotReader(this.#fs, this.#dir, file.file).chunks();
  }

  /**
   * Writes a snapshot of the state in `chunks` (streamed: never held whole) under
   * `state_machine/`, durably and atomically; it becomes the newest. The one before it is kept
   * (recovery falls back to it if the newest is damaged), older ones are removed. The log is
   * not touched: `compact` drops it behind the snapshot, `save` installs a received one.
   */
  async writeSnapshot(
    meta: SnapshotMeta,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<SnapshotFile> {
    if (this.#failure !== null) throw this.#failure;
    if (this.#closed || this.#release === null) {
      throw new StorageFailedError('the storage is read-only or closed');
    }
    const write = (async () => {
      const writer = await SnapshotWriter.create(
        this.#fs,
        this.#dir,
        meta,
        ++this.#snapshotWriters,
      );
      try {
        for await (const chunk of chunks) await writer.write(chunk);
      } catch (err) {
        await writer.abort();
        throw err;
      }
      const commit = this.#snapshotCommits.then(() => this.#commitSnapshot(writer));
      this.#snapshotCommits = commit.catch(() => {});
      return commit;
    })();
    const settled = write.then(
      () => {},
      () => {},
    );
    this.#snapshotWrites.add(settled);
    void settled.then(() => this.#snapshotWrites.delete(settled));
    return write;
  }

  /**
   * Makes `writer`'s snapshot the newest, unless one as new is already durable: then that one
   * is the answer (it holds the same state, or a later one) and this one is dropped.
   */
  async #commitSnapshot(writer: SnapshotWriter): Promise<SnapshotFile> {
    const newest = this.#snapshot;
    if (newest !== null && newest.meta.index >= writer.meta.index) {
      await writer.abort();
      return newest;
    }
    const file = await writer.commit();
    this.#snapshot = file;
    await pruneSnapshots(this.#fs, this.#dir, file.meta.index);
    return file;
  }

  /**
   * Drops the log's segments whose entries are all at or below `upTo` (the last segment stays),
   * once the flush under way is done. The newest snapshot must cover `upTo`: entries leave the
   * log only behind a durable snapshot.
   */
  compact(upTo: number): Promise<void> {
    assert(
      this.#snapshot !== null && upTo <= this.#snapshot.meta.index,
      () => `compact to ${upTo}, not covered by a snapshot (at ${this.#snapshot?.meta.index})`,
    );
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#compactions.push({ upTo, resolve, reject });
      this.#flushing ??= this.#drain();
    });
  }

  clusterIdentity(): string | null {
    return this.#identity.cluster;
  }

  /** The node the directory belongs to, if it was named when created. */
  nodeId(): string | null {
    return this.#identity.id;
  }

  bindCluster(cluster: string): Promise<void> {
    if (this.#release === null || this.#closed) {
      return Promise.reject(new StorageFailedError('the storage is read-only or closed'));
    }
    if (this.#identity.cluster === cluster) return Promise.resolve();
    this.#identity = { ...this.#identity, cluster };
    const identity = this.#identity;
    // After any write of it already under way; `close()` waits for the last.
    this.#identityWrite = this.#identityWrite.then(() =>
      writeIdentity(this.#fs, this.#dir, identity).catch((err: unknown) => {
        // As a failed log write does: typed, with the cause, and every later save refused.
        const cause = err instanceof Error ? err.message : String(err);
        this.#failure ??= new StorageFailedError(
          `writing the cluster identity to ${this.#dir} failed: ${cause}`,
          err,
        );
        throw this.#failure;
      }),
    );
    return this.#identityWrite;
  }

  /** The write-ahead log, for inspection and the benchmark. */
  get log(): WriteAheadLog {
    return this.#wal;
  }

  save(update: StorageUpdate): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new StorageFailedError('the storage is closed'));
    if (update.snapshot !== undefined) this.#install(update.snapshot);
    const hs = update.hardState;
    let termAndVote: HardState | null = null;
    let commit: number | undefined;
    if (hs !== null && !hardStateEqual(hs, this.#hardState)) {
      if (hs.term !== this.#fileState.term || hs.vote !== this.#fileState.vote) {
        termAndVote = hs;
        this.#fileState = hs;
      }
      if (hs.commit !== this.#hardState.commit) commit = hs.commit;
      this.#hardState = hs;
    }
    this.#wal.stage(update.entries, commit);
    return new Promise((resolve, reject) => {
      this.#queue.push({ termAndVote, sync: update.sync || termAndVote !== null, resolve, reject });
      this.#flushing ??= this.#drain();
    });
  }

  /** A received snapshot replaces the log: it restarts after it (see `WriteAheadLog.reset`). */
  #install(file: SnapshotFile): void {
    const { index, term } = file.meta;
    assert(
      this.#snapshot !== null && this.#snapshot.meta.index >= index,
      () => `install of a snapshot at ${index} that writeSnapshot did not write`,
    );
    this.#wal.reset(index, term);
  }

  /** Flushes until the queue is empty; each round serves every save queued before it. */
  async #drain(): Promise<void> {
    while ((this.#queue.length > 0 || this.#compactions.length > 0) && this.#failure === null) {
      if (this.#compactions.length > 0) {
        await this.#compact();
        continue;
      }
      const batch = this.#queue;
      this.#queue = [];
      try {
        const started = performance.now();
        await this.#flush(batch);
        for (const w of batch) w.resolve();
        this.#report(batch, performance.now() - started);
      } catch (err) {
        // The cause (ENOSPC, EIO, ...) is what the operator must act on: it goes in the message.
        const cause = err instanceof Error ? err.message : String(err);
        this.#failure = new StorageFailedError(`a write to ${this.#dir} failed: ${cause}`, err);
        for (const w of [...batch, ...this.#queue]) w.reject(this.#failure);
        this.#queue = [];
      }
    }
    if (this.#failure !== null) {
      for (const c of this.#compactions) c.reject(this.#failure);
      this.#compactions = [];
    }
    this.#flushing = null;
  }

  async #compact(): Promise<void> {
    const batch = this.#compactions;
    this.#compactions = [];
    const upTo = Math.max(...batch.map((c) => c.upTo));
    try {
      await this.#wal.compact(upTo);
      for (const c of batch) c.resolve();
    } catch (err) {
      const cause = err instanceof Error ? err.message : String(err);
      this.#failure = new StorageFailedError(`compacting ${this.#dir} failed: ${cause}`, err);
      for (const c of batch) c.reject(this.#failure);
    }
  }

  /** An observer's throw must not read as a failed write, so it is kept out of the drain. */
  #report(batch: readonly Waiter[], durationMs: number): void {
    const synced = batch.some((w) => w.sync);
    try {
      this.#onFlush?.({ saves: batch.length, synced, durationMs });
    } catch {
      // A metrics hook's failure is its own; the data is safe either way.
    }
  }

  async #flush(batch: readonly Waiter[]): Promise<void> {
    const termAndVote = batch.findLast((w) => w.termAndVote !== null)?.termAndVote;
    if (termAndVote !== undefined && termAndVote !== null) {
      await this.#writeHardStateFile(termAndVote);
    }
    await this.#wal.flush(batch.some((w) => w.sync));
    // Once per new segment, the file's commit catches up, so that losing the log's last
    // segments shows as a commit beyond the log rather than as a shorter log.
    if (this.#wal.segmentCount() !== this.#segmentsAtFileWrite) {
      await this.#writeHardStateFile(this.#fileState);
    }
  }

  async #writeHardStateFile(state: HardState): Promise<void> {
    // The file's commit never claims entries that are not yet durable: the log's commit
    // records carry the rest.
    const commit = Math.min(this.#hardState.commit, this.#wal.durableIndex());
    await writeHardState(this.#fs, this.#dir, { term: state.term, vote: state.vote, commit });
    this.#fileCommit = commit;
    this.#segmentsAtFileWrite = this.#wal.segmentCount();
  }

  /** Waits for every save to finish, then closes the files and gives the directory back. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flushing;
    await this.#identityWrite.catch(() => {});
    await Promise.all(this.#snapshotWrites);
    // A cleanly stopped node leaves its commit index in the file too.
    const commit = Math.min(this.#hardState.commit, this.#wal.durableIndex());
    if (this.#release !== null && this.#failure === null && commit !== this.#fileCommit) {
      await this.#writeHardStateFile(this.#fileState);
    }
    await this.#wal.close();
    await this.#release?.();
  }
}

/**
 * The hard state to start from: the file's term and vote, and the highest commit index the
 * file or the log recorded. The log may hold entries of a term the file does not have yet
 * (their write raced the file's); the term is then raised to theirs with no vote, which is
 * safe: no vote of that term was sent, since a vote leaves only once it is durable.
 */
async function joinHardState(
  fs: FileSystem,
  dir: string,
  wal: WriteAheadLog,
  readOnly: boolean,
  snapshotIndex: number,
): Promise<HardState> {
  const file = await readHardState(fs, dir);
  if (file === undefined) {
    throw new CorruptionError(
      HARD_STATE_FILE,
      0,
      'the file is missing (every data directory has one from its creation): it held the term and vote, and without them this node could vote twice in one term. Restore the file from a backup, or remove the directory and add the node back as a new member',
    );
  }
  // A snapshot holds only committed entries: what it covers is committed, and not missing.
  const last = Math.max(wal.lastIndex(), snapshotIndex);
  if (file.commit > last) {
    const segment = wal.recovered.segments.at(-1)?.file;
    const where =
      segment === undefined
        ? 'the log has no segment at all'
        : `the log ends at index ${last} in ${segment}: that segment lost its end, or the segments after it are missing`;
    throw new CorruptionError(
      HARD_STATE_FILE,
      0,
      `expected a commit index within the log (last index ${last}), found ${file.commit}: committed entries ${last + 1} to ${file.commit} are missing (${where})`,
    );
  }
  const commit = Math.max(file.commit, wal.recovered.commit, snapshotIndex);
  const lastTerm = wal.term(wal.lastIndex()) ?? 0;
  if (lastTerm <= file.term) return { ...file, commit };
  const raised = { term: lastTerm, vote: null, commit: Math.min(commit, wal.durableIndex()) };
  // Made durable at once: the entries that raised it may later be overwritten, and a term
  // the node has acted in must never come back lower after another crash.
  if (!readOnly) await writeHardState(fs, dir, raised);
  return { ...raised, commit };
}

/**
 * The log must continue the snapshot recovery chose, with no gap between: its first entry
 * at most one past the snapshot (or index 1 without one).
 */
function checkBridge(wal: WriteAheadLog, found: FoundSnapshot): void {
  const covered = found.chosen?.meta.index ?? 0;
  const first = wal.recovered.segments[0];
  if (first === undefined || wal.firstIndex() <= covered + 1) {
    if (found.damaged !== null && found.chosen !== null) found.warn(found.chosen, found.damaged);
    return;
  }
  // The newest snapshot was damaged, and the older one (if any) does not reach the log.
  if (found.damaged !== null) throw found.damaged;
  throw new CorruptionError(
    first.file,
    24,
    covered === 0
      ? `expected the log to start at index 1 (no snapshot covers earlier entries), found ${wal.firstIndex()}: a segment is missing`
      : `expected the log to start at most at index ${covered + 1} (the snapshot covers up to ${covered}), found ${wal.firstIndex()}: a segment is missing`,
  );
}
