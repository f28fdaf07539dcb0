/**
 * @module
 * The write-ahead log: segment files of bounded size, appended to and never rewritten.
 *
 * Writing is split in two so that many callers share one disk write and one fsync (group
 * commit): `stage()` encodes records and updates the in-memory view at once (so the log reads
 * back what was staged), and `flush()` writes everything staged in one write per segment,
 * then fdatasyncs if asked. A conflicting suffix is overwritten by staging a `truncate`
 * record before the new entries: no byte is rewritten, and the truncation becomes durable
 * with the same fsync as the entries that replace the suffix, atomically at record grain.
 *
 * Reads are synchronous (the core reads its log synchronously). Recent entries come from a
 * bounded cache that always holds what is not yet written; older ones are read back from
 * their segment with a positional read and checked against their checksum, index and term.
 */
import { assert } from '../core/assert.js';
import { ENTRY_OVERHEAD_BYTES, type Entry } from '../core/index.js';
import { CorruptionError } from './errors.js';
import { type FileHandle, type FileSystem, joinPath } from './file-system.js';
import type { LogIndex } from './log-index.js';
import {
  decodeRecord,
  encodeRecord,
  entryRecordBytes,
  recordBytes,
  viewOf,
  type WalRecord,
} from './record.js';
import { type Recovered, recoverLog } from './recover.js';
import { encodeSegmentHeader, SEGMENT_HEADER_BYTES, segmentName } from './segment.js';

export interface WalOptions {
  /** A segment that reached this size is closed and the next write starts a new one. */
  readonly maxSegmentBytes: number;
  /** Bytes of recent entries kept in memory for reads (beyond those not yet written). */
  readonly cacheBytes: number;
  /** Open to look, not to write: a torn tail is reported but not cut, nothing is created. */
  readonly readOnly: boolean;
}

interface Segment {
  readonly sequence: number;
  /** The index its first entry has (or would have). */
  readonly firstIndex: number;
  readonly file: string;
  /** Null until `flush()` has created the file. */
  handle: FileHandle | null;
  /** The header to write when creating it. */
  readonly header: Uint8Array | null;
  /** End of the data staged so far (the next record's offset). */
  size: number;
}

interface StagedWrite {
  readonly segment: Segment;
  readonly position: number;
  readonly bytes: Uint8Array;
  /** The log's last index once this write is in. */
  readonly lastIndex: number;
}

/** What an entry record's length exceeds its `entrySizeBytes` by. */
const RECORD_LENGTH_OVER_ENTRY_SIZE = entryRecordBytes(0) - ENTRY_OVERHEAD_BYTES;

/** Appends up to this size are written on the calling thread (`FileHandle.writeNow`). */
const WRITE_NOW_MAX_BYTES = 1024 * 1024;
export class WriteAheadLog {
  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly #logDir: string;
  readonly #options: WalOptions;
  readonly #index: LogIndex;
  readonly #segments = new Map<number, Segment>();
  #current: Segment | undefined;
  /** The segment with written but unsynced records, synced before any other is written. */
  #dirty: Segment | undefined;
  #staged: StagedWrite[] = [];
  // The cache holds entries [#cacheFirst, last] from #cache[#cacheHead] on; every entry above
  // #writtenIndex is in it (it cannot be read from its file yet).
  #cache: Entry[] = [];
  #cacheHead = 0;
  #cacheFirst: number;
  #cacheBytes = 0;
  #writtenIndex: number;
  #durableIndex: number;
  /** Lowest truncation staged since the flush under way began (Infinity if none). */
  #truncatedSinceFlush = Number.POSITIVE_INFINITY;
  /** Highest commit index staged: nothing at or below it may be overwritten. */
  #commit: number;
  /** What recovery found; `inspect` and the storage's start-up log report it. */
  readonly recovered: Recovered;
  /** The highest segment number used so far: the next segment gets the one after it. */
  #lastSequence = 0;
  /**
   * Segments of a log a snapshot replaced (`reset`): removed once the segment that starts the
   * new log is durable, at the next flush.
   */
  #replaced: Segment[] = [];
  #resetPending = false;
  /** The next segment created restarts the log (the first after a reset). */
  #restartNext = false;
  /** Raised by every reset: a flush that began before one must not account its writes. */
  #generation = 0;

  private constructor(
    fs: FileSystem,
    dir: string,
    logDir: string,
    options: WalOptions,
    recovered: Recovered,
  ) {
    this.#fs = fs;
    this.#dir = dir;
    this.#logDir = logDir;
    this.#options = options;
    this.#index = recovered.index;
    this.recovered = recovered;
    this.#cacheFirst = this.#index.last + 1;
    this.#writtenIndex = this.#index.last;
    this.#durableIndex = this.#index.last;
    this.#commit = recovered.commit;
  }

  /** Recovers the log under `dir/logDir` (see recover.ts) and opens it. */
  static async open(
    fs: FileSystem,
    dir: string,
    logDir: string,
    options: WalOptions,
    after?: { readonly index: number; readonly term: number },
  ): Promise<WriteAheadLog> {
    const recovered = await recoverLog(fs, dir, logDir, after);
    const wal = new WriteAheadLog(fs, dir, logDir, options, recovered);
    try {
      await wal.#openSegments();
    } catch (err) {
      await wal.close();
      throw err;
    }
    return wal;
  }

  async #openSegments(): Promise<void> {
    const { segments, tornTail, leftovers } = this.recovered;
    const mode = this.#options.readOnly ? 'read' : 'write';
    for (const s of segments) {
      const handle = await this.#fs.open(joinPath(this.#dir, s.file), mode);
      const segment = { ...s, handle, header: null, size: s.validBytes };
      this.#segments.set(s.sequence, segment);
      this.#current = segment;
      this.#lastSequence = s.sequence;
    }
    if (this.#options.readOnly) return;
    if (tornTail !== null && this.#current?.handle != null) {
      await this.#current.handle.truncate(this.#current.size);
      await this.#current.handle.sync();
    }
    for (const leftover of leftovers) await this.#fs.remove(joinPath(this.#dir, leftover));
    if (leftovers.length > 0) await this.#fs.syncDirectory(joinPath(this.#dir, this.#logDir));
  }

  firstIndex(): number {
    return this.#index.first;
  }

  lastIndex(): number {
    return this.#index.last;
  }

  term(index: number): number | undefined {
    return this.#index.term(index);
  }

  configIndexes(): readonly number[] {
    return this.#index.configIndexes();
  }

  /** The last index whose record, and every one before it, is fsynced. */
  durableIndex(): number {
    return this.#durableIndex;
  }

  /** Number of segment files, for inspection and the benchmark. */
  segmentCount(): number {
    return this.#segments.size;
  }

  /** Bytes of memory the index and the cache hold. */
  memoryBytes(): { index: number; cache: number } {
    return { index: this.#index.memoryBytes(), cache: this.#cacheBytes };
  }

  /**
   * Stages `entries` (overwriting the log from `entries[0].index` if it already holds that
   * index) and, if given, a commit index. The log reads them back at once; they reach the
   * disk with the next `flush()`.
   */
  stage(entries: readonly Entry[], commit?: number): void {
    assert(!this.#options.readOnly, 'write to a log opened read-only');
    const records: WalRecord[] = [];
    const first = entries[0];
    if (first !== undefined) {
      this.#checkAppend(entries);
      if (first.index <= this.#index.last) {
        assert(
          first.index > this.#commit,
          () => `overwrite from ${first.index} of committed ${this.#commit}`,
        );
        records.push({ type: 'truncate', from: first.index });
      }
      for (const entry of entries) records.push({ type: 'entry', entry });
    }
    if (commit !== undefined) {
      const last = first === undefined ? this.#index.last : (entries.at(-1) as Entry).index;
      assert(commit <= last, () => `commit ${commit} beyond the last index ${last}`);
      records.push({ type: 'commit', index: commit });
      this.#commit = Math.max(this.#commit, commit);
    }
    if (records.length === 0) return;
    this.#stageRecords(records);
  }

  #checkAppend(entries: readonly Entry[]): void {
    const first = entries[0] as Entry;
    const index = this.#index;
    assert(
      first.index >= index.first && first.index <= index.last + 1,
      () => `append at ${first.index} to a log of [${index.first}, ${index.last}]`,
    );
    let prevTerm = index.term(first.index - 1) as number;
    for (const [i, e] of entries.entries()) {
      assert(e.index === first.index + i, () => `entries not consecutive at ${e.index}`);
      assert(e.term >= prevTerm, () => `entry ${e.index} of term ${e.term} after ${prevTerm}`);
      prevTerm = e.term;
    }
  }

  #stageRecords(records: readonly WalRecord[]): void {
    let size = 0;
    for (const r of records) size += recordBytes(r);
    const segment = this.#segmentForWrite(size);
    // Offsets are 32-bit: a segment never reaches 4 GiB (one staged batch is far smaller).
    assert(segment.size + size < 2 ** 32, () => `a batch of ${size} bytes overflows a segment`);
    const bytes = new Uint8Array(size);
    const view = viewOf(bytes);
    let at = 0;
    for (const r of records) {
      const end = encodeRecord(bytes, at, r, view);
      if (r.type === 'truncate') this.#truncate(r.from);
      else if (r.type === 'entry') {
        const location = {
          sequence: segment.sequence,
          offset: segment.size + at,
          length: end - at,
        };
        this.#index.append(r.entry.index, r.entry.term, location, r.entry.kind === 'config');
        this.#cachePush(r.entry);
      }
      at = end;
    }
    this.#staged.push({ segment, position: segment.size, bytes, lastIndex: this.#index.last });
    segment.size += size;
  }

  #truncate(from: number): void {
    this.#index.truncateFrom(from);
    this.#writtenIndex = Math.min(this.#writtenIndex, from - 1);
    this.#durableIndex = Math.min(this.#durableIndex, from - 1);
    this.#truncatedSinceFlush = Math.min(this.#truncatedSinceFlush, from);
    if (from <= this.#cacheFirst) {
      this.#cache = [];
      this.#cacheHead = 0;
      this.#cacheBytes = 0;
      this.#cacheFirst = from;
      return;
    }
    const keep = this.#cacheHead + (from - this.#cacheFirst);
    for (const e of this.#cache.splice(keep)) this.#cacheBytes -= e.data.byteLength;
  }

  /**
   * The segment `size` more bytes go to: the current one, unless they would take it past
   * `maxSegmentBytes` and it already holds records (a batch larger than a segment gets one).
   */
  #segmentForWrite(size: number): Segment {
    const current = this.#current;
    if (
      current !== undefined &&
      (current.size + size <= this.#options.maxSegmentBytes ||
        current.size === SEGMENT_HEADER_BYTES)
    ) {
      return current;
    }
    const sequence = ++this.#lastSequence;
    const last = this.#index.last;
    const header = encodeSegmentHeader({
      sequence,
      firstIndex: last + 1,
      prevTerm: this.#index.term(last) as number,
      // The first segment after a reset says so: recovery then ignores the ones before it.
      restart: this.#restartNext,
    });
    this.#restartNext = false;
    const file = joinPath(this.#logDir, segmentName(sequence));
    const segment: Segment = {
      sequence,
      firstIndex: last + 1,
      file,
      handle: null,
      header,
      size: SEGMENT_HEADER_BYTES,
    };
    this.#segments.set(sequence, segment);
    this.#current = segment;
    return segment;
  }

  /**
   * A snapshot replaced the log: from now on the log is empty after (`last`, `term`). What was
   * staged and not yet written belonged to the old log and is dropped. The next flush creates
   * the segment that starts the new log, then removes the old segments (recovery takes a
   * segment that starts just after the snapshot as the log's start, so a crash in between
   * leaves the new log, never a mix). Opened read-only, only the view changes.
   */
  reset(last: number, term: number): void {
    this.#generation++;
    this.#staged = [];
    this.#truncatedSinceFlush = Number.POSITIVE_INFINITY;
    this.#index.reset(last, term);
    this.#cache = [];
    this.#cacheHead = 0;
    this.#cacheBytes = 0;
    this.#cacheFirst = last + 1;
    this.#writtenIndex = last;
    this.#durableIndex = last;
    this.#commit = last;
    for (const segment of this.#segments.values()) this.#replaced.push(segment);
    this.#segments.clear();
    this.#current = undefined;
    this.#dirty = undefined;
    this.#resetPending = true;
    this.#restartNext = true;
  }

  /**
   * Drops the entries at or below `upTo`, which a durable snapshot covers: the log's first index
   * moves to `upTo + 1` (or stays, if it is already beyond), and the segments all of whose
   * entries are dropped are deleted (the last segment always stays). After a restart the first
   * index is that of the oldest segment left: a segment's older entries come back, harmless,
   * since they are committed. Callers must not run it during a flush.
   */
  async compact(upTo: number): Promise<void> {
    assert(!this.#options.readOnly, 'compaction of a log opened read-only');
    assert(
      upTo <= this.#durableIndex,
      () => `compact to ${upTo}, beyond durable ${this.#durableIndex}`,
    );
    const sequences = [...this.#segments.keys()].sort((a, b) => a - b);
    const removed: Segment[] = [];
    for (let i = 0; i + 1 < sequences.length; i++) {
      const next = this.#segments.get(sequences[i + 1] as number) as Segment;
      if (next.firstIndex - 1 > upTo || next.handle === null) break;
      removed.push(this.#segments.get(sequences[i] as number) as Segment);
    }
    if (upTo + 1 > this.#index.first) this.#index.dropBefore(upTo + 1);
    if (this.#cacheFirst < this.#index.first) {
      const drop = Math.min(
        this.#index.first - this.#cacheFirst,
        this.#cache.length - this.#cacheHead,
      );
      for (let i = 0; i < drop; i++) {
        this.#cacheBytes -= (this.#cache[this.#cacheHead + i] as Entry).data.byteLength;
      }
      this.#cacheHead += drop;
      this.#cacheFirst = this.#index.first;
    }
    if (removed.length > 0) await this.#remove(removed);
  }

  /** Closes and deletes `segments`, then makes their removal durable. */
  async #remove(segments: readonly Segment[]): Promise<void> {
    for (const segment of segments) {
      this.#segments.delete(segment.sequence);
      if (this.#dirty === segment) this.#dirty = undefined;
      await segment.handle?.close();
      if (segment.handle !== null) await this.#fs.remove(joinPath(this.#dir, segment.file));
    }
    await this.#fs.syncDirectory(joinPath(this.#dir, this.#logDir));
  }

  /**
   * Writes everything staged, one write per segment, then fdatasyncs if `sync` (a segment
   * left for a new one is always synced first, so only the last segment can be torn).
   * Callers must not run two flushes at once. A failure leaves the log unusable.
   */
  async flush(sync: boolean): Promise<void> {
    if (this.#resetPending) await this.#finishReset();
    const generation = this.#generation;
    const staged = this.#staged;
    this.#staged = [];
    this.#truncatedSinceFlush = Number.POSITIVE_INFINITY;
    for (let i = 0; i < staged.length; ) {
      const segment = (staged[i] as StagedWrite).segment;
      let j = i;
      while (j < staged.length && (staged[j] as StagedWrite).segment === segment) j++;
      if (this.#dirty !== undefined && this.#dirty !== segment) await this.#syncDirty();
      const handle = segment.handle ?? (await this.#createSegment(segment));
      const group = staged.slice(i, j);
      const bytes = concat(group.map((s) => s.bytes));
      const position = (group[0] as StagedWrite).position;
      // Appends of one flush are small (a group commit's records): written at once where the
      // file system offers it, saving a worker-thread trip before the fdatasync's.
      if (handle.writeNow !== undefined && bytes.byteLength <= WRITE_NOW_MAX_BYTES) {
        handle.writeNow(bytes, position);
      } else {
        await handle.write(bytes, position);
      }
      this.#dirty = segment;
      i = j;
    }
    // A reset while this flush wrote: what it wrote belongs to the replaced log.
    if (generation !== this.#generation) return;
    const last = staged.at(-1)?.lastIndex;
    const cap = this.#truncatedSinceFlush - 1;
    if (last !== undefined) this.#writtenIndex = Math.min(Math.max(this.#writtenIndex, last), cap);
    if (sync) {
      await this.#syncDirty();
      this.#durableIndex = Math.min(this.#writtenIndex, this.#truncatedSinceFlush - 1);
    }
    this.#evictCache();
  }

  /** The segment that starts the new log, durable; then the old log's segments go. */
  async #finishReset(): Promise<void> {
    this.#resetPending = false;
    const start = this.#segmentForWrite(0);
    if (start.handle === null) await this.#createSegment(start);
    const replaced = this.#replaced;
    this.#replaced = [];
    await this.#remove(replaced);
  }

  async #syncDirty(): Promise<void> {
    const dirty = this.#dirty;
    this.#dirty = undefined;
    await dirty?.handle?.sync();
  }

  /** Creates a segment file whole: header written and synced under a temporary name first. */
  async #createSegment(segment: Segment): Promise<FileHandle> {
    const path = joinPath(this.#dir, segment.file);
    const handle = await this.#fs.open(`${path}.tmp`, 'create');
    await handle.write(segment.header as Uint8Array, 0);
    await handle.sync();
    await this.#fs.rename(`${path}.tmp`, path);
    await this.#fs.syncDirectory(joinPath(this.#dir, this.#logDir));
    segment.handle = handle;
    return handle;
  }

  #cachePush(entry: Entry): void {
    this.#cache.push(entry);
    this.#cacheBytes += entry.data.byteLength;
  }

  /** Drops the oldest cached entries past the budget, never one that is not yet written. */
  #evictCache(): void {
    while (
      this.#cacheBytes > this.#options.cacheBytes &&
      this.#cacheFirst <= this.#writtenIndex &&
      this.#cacheHead < this.#cache.length
    ) {
      const e = this.#cache[this.#cacheHead] as Entry;
      this.#cacheBytes -= e.data.byteLength;
      this.#cacheHead++;
      this.#cacheFirst++;
    }
    if (this.#cacheHead > 1024 && this.#cacheHead * 2 > this.#cache.length) {
      this.#cache = this.#cache.slice(this.#cacheHead);
      this.#cacheHead = 0;
    }
  }

  /**
   * Entries [low, high), stopping before their `entrySizeBytes` pass `maxBytes` (at least one).
   * Throws `CorruptionError` if an entry read back from disk is not the one the index expects.
   */
  entries(low: number, high: number, maxBytes: number): Entry[] {
    const index = this.#index;
    assert(
      low >= index.first && low <= high && high <= index.last + 1,
      () => `entries [${low}, ${high}) outside [${index.first}, ${index.last + 1})`,
    );
    let end = low;
    let bytes = 0;
    for (; end < high; end++) {
      bytes += index.length(end) - RECORD_LENGTH_OVER_ENTRY_SIZE;
      if (bytes > maxBytes && end > low) break;
    }
    const out: Entry[] = [];
    const fromDisk = Math.min(end, this.#cacheFirst);
    for (let i = low; i < fromDisk; ) i = this.#readRun(i, fromDisk, out);
    for (let i = Math.max(low, this.#cacheFirst); i < end; i++) {
      out.push(this.#cache[this.#cacheHead + i - this.#cacheFirst] as Entry);
    }
    return out;
  }

  /** Reads entries from `from` on, up to `to` or the end of their segment, in one read. */
  #readRun(from: number, to: number, out: Entry[]): number {
    const first = this.#index.location(from);
    let next = from + 1;
    let lastLocation = first;
    while (next < to) {
      const location = this.#index.location(next);
      if (location.sequence !== first.sequence) break;
      lastLocation = location;
      next++;
    }
    const segment = this.#segments.get(first.sequence) as Segment;
    const chunkEnd = lastLocation.offset + lastLocation.length;
    const chunk = (segment.handle as FileHandle).readSync(first.offset, chunkEnd - first.offset);
    for (let i = from; i < next; i++) {
      const { offset } = this.#index.location(i);
      out.push(this.#decodeAt(chunk, offset - first.offset, segment.file, offset, i));
    }
    return next;
  }

  #decodeAt(chunk: Uint8Array, at: number, file: string, offset: number, index: number): Entry {
    const decoded = decodeRecord(chunk, at);
    const term = this.#index.term(index);
    if (
      decoded.ok &&
      decoded.record.type === 'entry' &&
      decoded.record.entry.index === index &&
      decoded.record.entry.term === term
    ) {
      return decoded.record.entry;
    }
    const found = decoded.ok
      ? `a ${decoded.record.type} record that does not match`
      : decoded.reason;
    throw new CorruptionError(
      file,
      offset,
      `expected entry ${index} of term ${term}, found ${found}`,
    );
  }

  async close(): Promise<void> {
    for (const segment of [...this.#segments.values(), ...this.#replaced]) {
      await segment.handle?.close();
    }
    this.#segments.clear();
    this.#replaced = [];
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  let size = 0;
  for (const p of parts) size += p.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
