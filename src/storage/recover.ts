/**
 * @module
 * Reading a write-ahead log back on start. Every segment header and every record checksum is
 * verified, and the records must make sense together (indices consecutive, terms never
 * falling, truncations above the commit index). The one damage that is expected is a torn
 * tail: the last segment ending inside a record, or in bytes after which no valid record
 * follows, which is what a crash in the middle of an unsynced write leaves. It is reported
 * (and cut off by the caller). Anything else is corruption: recovery refuses with the file,
 * the offset and what was expected there, and hands nothing to the core.
 */
import { CorruptionError } from './errors.js';
import { type FileSystem, joinPath } from './file-system.js';
import { LogIndex } from './log-index.js';
import { decodeRecord, RECORD_HEADER_BYTES, RecordType, viewOf } from './record.js';
import { decodeSegmentHeader, parseSegmentName, SEGMENT_HEADER_BYTES } from './segment.js';

export interface RecoveredSegment {
  readonly sequence: number;
  /** The index its first entry has (or would have): from its header. */
  readonly firstIndex: number;
  /** Path relative to the data directory, as errors and `inspect` show it. */
  readonly file: string;
  /** Bytes of valid data (header and records); the file is cut to this if it was torn. */
  readonly validBytes: number;
}

export interface TornTail {
  readonly file: string;
  readonly offset: number;
  /** Bytes after `offset` that were dropped. */
  readonly droppedBytes: number;
  readonly reason: string;
}

export interface Recovered {
  readonly index: LogIndex;
  /** The highest commit index recorded in the log (0 if none). */
  readonly commit: number;
  readonly segments: readonly RecoveredSegment[];
  readonly tornTail: TornTail | null;
  /**
   * Leftover files the caller may remove: half-created segments, and segments a later one
   * replaced when a snapshot took the log's place.
   */
  readonly leftovers: readonly string[];
}

/**
 * Reads and checks every segment under `dir/log`. With `after` (the snapshot the log
 * follows), a segment that restarts the log just after it, continuing its term, starts it: the
 * segments before it held what the snapshot replaced (a follower that installed a snapshot
 * writes such a segment, then removes the older ones; a crash may come in between).
 */
export async function recoverLog(
  fs: FileSystem,
  dir: string,
  logDir: string,
  after?: { readonly index: number; readonly term: number },
): Promise<Recovered> {
  const names = (await fs.list(joinPath(dir, logDir))) ?? [];
  let sequences: number[] = [];
  const leftovers: string[] = [];
  for (const name of names) {
    const sequence = parseSegmentName(name);
    if (sequence !== undefined) sequences.push(sequence);
    else if (name.endsWith('.tmp')) leftovers.push(joinPath(logDir, name));
  }
  sequences.sort((a, b) => a - b);
  if (after !== undefined) {
    const start = await lastStartAfter(fs, dir, logDir, names, sequences, after);
    for (const sequence of sequences.slice(0, start)) {
      leftovers.push(joinPath(logDir, segmentFileName(names, sequence)));
    }
    sequences = sequences.slice(start);
  }
  const state = new Replay();
  const segments: RecoveredSegment[] = [];
  let tornTail: TornTail | null = null;
  const files = sequences.map((sequence) => joinPath(logDir, segmentFileName(names, sequence)));
  const read = (i: number): Promise<Uint8Array | undefined> => {
    const bytes = fs.readFile(joinPath(dir, files[i] as string));
    bytes.catch(() => {}); // awaited below, unless recovery stops at an earlier segment
    return bytes;
  };
  let next = files.length > 0 ? read(0) : undefined;
  for (const [i, sequence] of sequences.entries()) {
    const file = files[i] as string;
    const previous = sequences[i - 1];
    if (previous !== undefined && sequence !== previous + 1) {
      throw new CorruptionError(file, 0, `segment ${previous + 1} is missing before it`);
    }
    const bytes = (await next) as Uint8Array;
    // The next segment is read from disk while this one is checked.
    next = i + 1 < files.length ? read(i + 1) : undefined;
    const last = i === sequences.length - 1;
    const result = replaySegment(state, file, sequence, bytes, last);
    segments.push({ sequence, file, validBytes: result.validBytes, firstIndex: result.firstIndex });
    tornTail = result.tornTail;
  }
  return { index: state.index(), commit: state.commit, segments, tornTail, leftovers };
}

/** The position in `sequences` of the last segment whose header starts the log after `after`. */
async function lastStartAfter(
  fs: FileSystem,
  dir: string,
  logDir: string,
  names: readonly string[],
  sequences: readonly number[],
  after: { readonly index: number; readonly term: number },
): Promise<number> {
  for (let i = sequences.length - 1; i > 0; i--) {
    const file = joinPath(logDir, segmentFileName(names, sequences[i] as number));
    const handle = await fs.open(joinPath(dir, file), 'read');
    let head: Uint8Array;
    try {
      head = await handle.read(0, SEGMENT_HEADER_BYTES);
    } finally {
      await handle.close();
    }
    const header = decodeSegmentHeader(head);
    if (typeof header === 'string') continue; // judged, and named, by the replay
    const starts = header.firstIndex === after.index + 1 && header.prevTerm === after.term;
    if (header.restart === true && starts) return i;
  }
  return 0;
}

function segmentFileName(names: readonly string[], sequence: number): string {
  return names.find((n) => parseSegmentName(n) === sequence) as string;
}

/** The log being rebuilt, record by record. */
class Replay {
  #index: LogIndex | null = null;
  commit = 0;

  index(): LogIndex {
    return this.#index ?? new LogIndex(1, 0);
  }

  /** Checks that segment `sequence` starts where the log so far ends. */
  startSegment(file: string, header: { firstIndex: number; prevTerm: number }): void {
    if (this.#index === null) {
      this.#index = new LogIndex(header.firstIndex, header.prevTerm);
      return;
    }
    const index = this.#index;
    const expectedTerm = index.term(index.last);
    if (header.firstIndex !== index.last + 1 || header.prevTerm !== expectedTerm) {
      throw new CorruptionError(
        file,
        0,
        `the header should continue the log at index ${index.last + 1} after term ${expectedTerm}, but says index ${header.firstIndex} after term ${header.prevTerm} (a segment is missing or misplaced)`,
      );
    }
  }

  /** Applies one record; returns why it does not fit the log, or undefined. */
  apply(
    record: ReturnType<typeof decodeRecord> & { ok: true },
    sequence: number,
    offset: number,
  ): string | undefined {
    const index = this.index();
    const r = record.record;
    if (r.type === 'entry') {
      const { entry } = r;
      if (entry.index !== index.last + 1) {
        return `entry index ${index.last + 1}, found ${entry.index}`;
      }
      const prevTerm = index.term(index.last) as number;
      if (entry.term < prevTerm) {
        return `a term of at least ${prevTerm} for entry ${entry.index}, found ${entry.term}`;
      }
      index.append(
        entry.index,
        entry.term,
        { sequence, offset, length: record.end - offset },
        entry.kind === 'config',
      );
    } else if (r.type === 'truncate') {
      if (r.from <= this.commit || r.from < index.first || r.from > index.last + 1) {
        return `a truncation in (${Math.max(this.commit, index.first - 1)}, ${index.last + 1}], found one from ${r.from}`;
      }
      index.truncateFrom(r.from);
    } else {
      if (r.index > index.last) {
        return `a commit index within the log (last ${index.last}), found ${r.index}`;
      }
      this.commit = Math.max(this.commit, r.index);
    }
    return undefined;
  }
}

function replaySegment(
  state: Replay,
  file: string,
  sequence: number,
  bytes: Uint8Array,
  last: boolean,
): { validBytes: number; tornTail: TornTail | null; firstIndex: number } {
  const header = decodeSegmentHeader(bytes);
  if (typeof header === 'string') throw new CorruptionError(file, 0, `expected ${header}`);
  if (header.sequence !== sequence) {
    throw new CorruptionError(file, 16, `expected sequence ${sequence}, found ${header.sequence}`);
  }
  state.startSegment(file, header);
  let offset = SEGMENT_HEADER_BYTES;
  const view = viewOf(bytes);
  while (offset < bytes.byteLength) {
    const decoded = decodeRecord(bytes, offset, false, view);
    if (!decoded.ok) {
      if (last && validRecordAfter(bytes, offset) === undefined) {
        const droppedBytes = bytes.byteLength - offset;
        return {
          validBytes: offset,
          tornTail: { file, offset, droppedBytes, reason: decoded.reason },
          firstIndex: header.firstIndex,
        };
      }
      const where = last ? ', and valid records follow it' : ' of a segment that is not the last';
      throw new CorruptionError(file, offset, `bad record${where}: ${decoded.reason}`);
    }
    const misfit = state.apply(decoded, sequence, offset);
    if (misfit !== undefined) throw new CorruptionError(file, offset, `expected ${misfit}`);
    offset = decoded.end;
  }
  return { validBytes: offset, tornTail: null, firstIndex: header.firstIndex };
}

/**
 * The offset of a valid record after the damaged one at `damaged`, if any. A torn write leaves
 * nothing valid behind it; a valid record after damage means the damage is not a torn tail.
 * Cheap tests come first (a plausible length, type and index) so that scanning garbage costs
 * about one comparison per byte, and only plausible candidates pay for a checksum.
 */
export function validRecordAfter(bytes: Uint8Array, damaged: number): number | undefined {
  const view = viewOf(bytes);
  for (let at = damaged + 1; at + RECORD_HEADER_BYTES + 9 <= bytes.byteLength; at++) {
    const length = view.getUint32(at + 4, true);
    if (length < 9 || at + RECORD_HEADER_BYTES + length > bytes.byteLength) continue;
    const type = bytes[at + RECORD_HEADER_BYTES];
    const body = at + RECORD_HEADER_BYTES;
    const plausible =
      type === RecordType.entry
        ? length >= 18 && safeHigh(view, body + 6) && safeHigh(view, body + 14)
        : (type === RecordType.truncate || type === RecordType.commit) &&
          length === 9 &&
          safeHigh(view, body + 5);
    if (plausible && decodeRecord(bytes, at, false, view).ok) return at;
  }
  return undefined;
}

/** True if the high word of the u64 at `at - 4` keeps it a safe integer. */
function safeHigh(view: DataView, at: number): boolean {
  return view.getUint32(at, true) < 0x20_0000;
}
