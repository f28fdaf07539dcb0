/**
 * @module
 * Snapshot files in `state_machine/`: a state machine's state at one log index, written as a
 * stream of chunks (never the whole state in one buffer) and made durable atomically.
 *
 *     "RAFTKIT SNAPSHOT\n" | u32 header length | header JSON | u32 crc32(header JSON)
 *     chunk*:  u32 length (> 0) | u32 crc32(bytes) | bytes
 *     end:     u32 0 | f64 total bytes | u32 crc32 of all the bytes
 *
 * The header JSON is `{"version":1,"index","term","membership"}`. A file is written under a
 * temporary name, fsynced, renamed into place and the directory fsynced, so a snapshot file
 * that has its name is whole; damage found later (a flipped byte, a cut file) is reported
 * with the file, the offset and what was expected there, as for the log.
 */
import { crc32 } from 'node:zlib';
import { checkSnapshotMeta, type SnapshotMeta } from '../core/index.js';
import { STATE_MACHINE_DIR } from './data-dir.js';
import { CorruptionError } from './errors.js';
import { type FileHandle, type FileSystem, joinPath } from './file-system.js';

const SNAPSHOT_DIR = STATE_MACHINE_DIR;
const MAGIC = new TextEncoder().encode('RAFTKIT SNAPSHOT\n');
const VERSION = 1;
/** A chunk larger than this is refused on read: no single read holds more. */
export const MAX_SNAPSHOT_CHUNK_BYTES = 16 * 1024 * 1024;
const SUFFIX = '.snap';

/** A snapshot file that has its name: where it is and what it holds. */
export interface SnapshotFile {
  readonly meta: SnapshotMeta;
  /** Path relative to the data directory, as errors and `inspect` show it. */
  readonly file: string;
  /** Bytes of state (chunks' contents, not counting framing). */
  readonly bytes: number;
}

/** `state_machine/<index>-<term>.snap`, both zero-padded so that names sort by index. */
export function snapshotFileName(meta: Pick<SnapshotMeta, 'index' | 'term'>): string {
  const pad = (n: number) => String(n).padStart(16, '0');
  return joinPath(SNAPSHOT_DIR, `${pad(meta.index)}-${pad(meta.term)}${SUFFIX}`);
}

/** The index a snapshot file's name claims, or undefined for another name. */
export function parseSnapshotFileName(name: string): number | undefined {
  const m = /^(\d{16})-(\d{16})\.snap$/.exec(name);
  return m === null ? undefined : Number(m[1]);
}

const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
};

/** The magic, the header of `meta` and its checksum: how every snapshot file begins. */
function headerRecord(meta: SnapshotMeta): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({
      version: VERSION,
      index: meta.index,
      term: meta.term,
      membership: meta.membership,
    }),
  );
  return concat([MAGIC, u32(header.length), header, u32(crc32(header))]);
}

function chunkRecord(chunk: Uint8Array): Uint8Array {
  return concat([u32(chunk.byteLength), u32(crc32(chunk)), chunk]);
}

function endRecord(bytes: number, crc: number): Uint8Array {
  const end = new Uint8Array(16);
  const view = new DataView(end.buffer);
  view.setUint32(0, 0);
  view.setFloat64(4, bytes);
  view.setUint32(12, crc >>> 0);
  return end;
}

/**
 * The bytes of a snapshot file of `meta` holding `chunks`, as a stream: what `SnapshotWriter`
 * writes, byte for byte. A backup (`raftkit snapshot save`) is this stream, so that it is read
 * back, checked and reported on by `SnapshotReader` like any snapshot file.
 */
export async function* snapshotFileBytes(
  meta: SnapshotMeta,
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const problem = checkSnapshotMeta(meta);
  if (problem !== undefined) throw new TypeError(problem);
  yield headerRecord(meta);
  let bytes = 0;
  let crc = 0;
  for await (const chunk of chunks) {
    for (let i = 0; i < chunk.byteLength; i += MAX_SNAPSHOT_CHUNK_BYTES) {
      const piece = chunk.subarray(i, i + MAX_SNAPSHOT_CHUNK_BYTES);
      bytes += piece.byteLength;
      crc = crc32(piece, crc);
      yield chunkRecord(piece);
    }
  }
  yield endRecord(bytes, crc);
}

/** Writes one snapshot; `commit()` makes it durable under its name, `abort()` removes it. */
export class SnapshotWriter {
  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly meta: SnapshotMeta;
  readonly #handle: FileHandle;
  readonly #temporary: string;
  #at: number;
  #bytes = 0;
  #crc = 0;
  #done = false;

  private constructor(
    fs: FileSystem,
    dir: string,
    meta: SnapshotMeta,
    handle: FileHandle,
    temporary: string,
    at: number,
  ) {
    this.#fs = fs;
    this.#dir = dir;
    this.meta = meta;
    this.#handle = handle;
    this.#temporary = temporary;
    this.#at = at;
  }

  /**
   * Starts `dir/state_machine/<name>.<writer>.tmp` with the header of `meta`; `writer` tells
   * apart two writes of one snapshot at once.
   */
  static async create(
    fs: FileSystem,
    dir: string,
    meta: SnapshotMeta,
    writer = 0,
  ): Promise<SnapshotWriter> {
    const problem = checkSnapshotMeta(meta);
    if (problem !== undefined) throw new TypeError(problem);
    await fs.mkdir(joinPath(dir, SNAPSHOT_DIR));
    const temporary = `${joinPath(dir, snapshotFileName(meta))}.${writer}.tmp`;
    const handle = await fs.open(temporary, 'create');
    const head = headerRecord(meta);
    try {
      await handle.write(head, 0);
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
    return new SnapshotWriter(fs, dir, meta, handle, temporary, head.length);
  }

  /** Bytes of state written so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Appends one chunk of state (empty chunks are skipped). */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#done) throw new Error('the snapshot is already committed or aborted');
    if (chunk.byteLength === 0) return;
    if (chunk.byteLength > MAX_SNAPSHOT_CHUNK_BYTES) {
      for (let i = 0; i < chunk.byteLength; i += MAX_SNAPSHOT_CHUNK_BYTES) {
        await this.write(chunk.subarray(i, i + MAX_SNAPSHOT_CHUNK_BYTES));
      }
      return;
    }
    const framed = chunkRecord(chunk);
    await this.#handle.write(framed, this.#at);
    this.#at += framed.byteLength;
    this.#bytes += chunk.byteLength;
    this.#crc = crc32(chunk, this.#crc);
  }

  /** Ends the file, fsyncs it, renames it into place and fsyncs the directory. */
  async commit(): Promise<SnapshotFile> {
    if (this.#done) throw new Error('the snapshot is already committed or aborted');
    this.#done = true;
    try {
      await this.#handle.write(endRecord(this.#bytes, this.#crc), this.#at);
      await this.#handle.sync();
    } finally {
      await this.#handle.close();
    }
    const file = snapshotFileName(this.meta);
    await this.#fs.rename(this.#temporary, joinPath(this.#dir, file));
    await this.#fs.syncDirectory(joinPath(this.#dir, SNAPSHOT_DIR));
    return { meta: this.meta, file, bytes: this.#bytes };
  }

  /** Gives up: the temporary file is removed. Harmless after `commit()`. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    await this.#handle.close().catch(() => {});
    await this.#fs.remove(this.#temporary).catch(() => {});
  }
}

/** Reads snapshot files back, checking every byte against its checksum as it goes. */
export class SnapshotReader {
  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly file: string;

  constructor(fs: FileSystem, dir: string, file: string) {
    this.#fs = fs;
    this.#dir = dir;
    this.file = file;
  }

  #fail(offset: number, detail: string): never {
    throw new CorruptionError(this.file, offset, detail);
  }

  /** The header: the snapshot's metadata, and where its chunks begin. */
  async header(handle: FileHandle): Promise<{ meta: SnapshotMeta; dataAt: number }> {
    const magic = await handle.read(0, MAGIC.length + 4);
    if (magic.length < MAGIC.length + 4 || !equal(magic.subarray(0, MAGIC.length), MAGIC)) {
      this.#fail(0, 'expected a raftkit snapshot header');
    }
    const length = new DataView(magic.buffer, magic.byteOffset).getUint32(MAGIC.length);
    if (length > 1024 * 1024) this.#fail(MAGIC.length, `a header of ${length} bytes`);
    const at = MAGIC.length + 4;
    const rest = await handle.read(at, length + 4);
    if (rest.length < length + 4) this.#fail(at, 'expected the whole header, the file ends');
    const json = rest.subarray(0, length);
    const stored = new DataView(rest.buffer, rest.byteOffset).getUint32(length);
    if (stored !== crc32(json)) this.#fail(at, 'header checksum mismatch');
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
    } catch {
      this.#fail(at, 'expected a JSON header');
    }
    const h = parsed as Record<string, unknown>;
    if (h.version !== VERSION)
      this.#fail(at, `snapshot format ${String(h.version)}, expected ${VERSION}`);
    const meta = { index: h.index, term: h.term, membership: h.membership } as SnapshotMeta;
    const problem = checkSnapshotMeta(meta);
    if (problem !== undefined) this.#fail(at, `expected valid metadata: ${problem}`);
    return { meta, dataAt: at + length + 4 };
  }

  /**
   * The state's chunks, in order, each checked; the end record is checked after the last. A
   * damaged file throws `CorruptionError` at the first bad byte, before handing it out.
   */
  async *chunks(): AsyncGenerator<Uint8Array, SnapshotFile> {
    const handle = await this.#fs.open(joinPath(this.#dir, this.file), 'read');
    try {
      const { meta, dataAt } = await this.header(handle);
      let at = dataAt;
      let bytes = 0;
      let crc = 0;
      for (;;) {
        const head = await handle.read(at, 8);
        if (head.length < 8) this.#fail(at, 'expected a chunk or the end record, the file ends');
        const view = new DataView(head.buffer, head.byteOffset);
        const length = view.getUint32(0);
        if (length === 0) {
          const end = await handle.read(at, 16);
          if (end.length < 16) this.#fail(at, 'expected the end record, the file ends');
          const endView = new DataView(end.buffer, end.byteOffset);
          const total = endView.getFloat64(4);
          if (total !== bytes)
            this.#fail(at, `expected ${bytes} bytes in all, the end says ${total}`);
          if (endView.getUint32(12) !== crc >>> 0)
            this.#fail(at, 'checksum of the whole state mismatch');
          const size = await handle.size();
          if (size !== at + 16)
            this.#fail(at + 16, `expected the file to end, ${size - at - 16} bytes follow`);
          return { meta, file: this.file, bytes };
        }
        if (length > MAX_SNAPSHOT_CHUNK_BYTES) this.#fail(at, `a chunk of ${length} bytes`);
        const chunk = await handle.read(at + 8, length);
        if (chunk.length < length) this.#fail(at, 'expected a whole chunk, the file ends');
        if (crc32(chunk) !== view.getUint32(4)) this.#fail(at, 'chunk checksum mismatch');
        bytes += length;
        crc = crc32(chunk, crc);
        at += 8 + length;
        yield chunk;
      }
    } finally {
      await handle.close();
    }
  }

  /** Reads the whole file, checking it; returns what it holds. */
  async verify(): Promise<SnapshotFile> {
    const chunks = this.chunks();
    for (;;) {
      const next = await chunks.next();
      if (next.done === true) return next.value;
    }
  }

  /** The metadata alone (the header is checked, the chunks are not read). */
  async meta(): Promise<SnapshotMeta> {
    const handle = await this.#fs.open(joinPath(this.#dir, this.file), 'read');
    try {
      return (await this.header(handle)).meta;
    } finally {
      await handle.close();
    }
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
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

/** What recovery found in `state_machine/`. */
export interface FoundSnapshot {
  /** The newest snapshot that reads back whole, or null when there is none. */
  readonly chosen: SnapshotFile | null;
  /** The damage found in a newer snapshot (then `chosen` is an older one, or null). */
  readonly damaged: CorruptionError | null;
  /** Says that recovery went back to `chosen` because of `damaged` (once it is used). */
  warn(chosen: SnapshotFile, damaged: CorruptionError): void;
}

/** Names of the snapshot files in `dir`, newest first. */
async function snapshotNames(fs: FileSystem, dir: string): Promise<string[]> {
  const names = (await fs.list(joinPath(dir, SNAPSHOT_DIR))) ?? [];
  return names
    .filter((n) => parseSnapshotFileName(n) !== undefined)
    .sort((a, b) => (parseSnapshotFileName(b) as number) - (parseSnapshotFileName(a) as number));
}

/**
 * The newest snapshot that reads back whole (every chunk checked). A damaged newer one is
 * passed over, and reported with what was wrong, so that the caller can go back to an older
 * one if the log bridges the gap, or refuse. Leftover temporary files are removed.
 */
export async function findSnapshot(
  fs: FileSystem,
  dir: string,
  readOnly: boolean,
  logger: { warn(fields: Record<string, unknown>, message: string): void },
): Promise<FoundSnapshot> {
  if (!readOnly) {
    const names = (await fs.list(joinPath(dir, SNAPSHOT_DIR))) ?? [];
    for (const name of names.filter((n) => n.endsWith('.tmp'))) {
      await fs.remove(joinPath(dir, SNAPSHOT_DIR, name));
    }
  }
  let damaged: CorruptionError | null = null;
  for (const name of await snapshotNames(fs, dir)) {
    try {
      const chosen = await new SnapshotReader(fs, dir, joinPath(SNAPSHOT_DIR, name)).verify();
      return { chosen, damaged, warn };
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
      damaged ??= err;
    }
  }
  return { chosen: null, damaged, warn };

  function warn(chosen: SnapshotFile, why: CorruptionError): void {
    logger.warn(
      { dir, snapshot: chosen.file, damaged: why.file, offset: why.offset },
      `the newest snapshot is damaged (${why.message}); recovered from the older ${chosen.file} and the log after it`,
    );
  }
}

/** Removes the snapshot files older than the one before `newest` (the latter is kept). */
export async function pruneSnapshots(fs: FileSystem, dir: string, newest: number): Promise<void> {
  const names = await snapshotNames(fs, dir);
  const older = names.filter((n) => (parseSnapshotFileName(n) as number) < newest);
  for (const name of older.slice(1)) await fs.remove(joinPath(dir, SNAPSHOT_DIR, name));
  if (older.length > 1) await fs.syncDirectory(joinPath(dir, SNAPSHOT_DIR));
}
