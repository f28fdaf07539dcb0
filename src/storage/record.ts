/**
 * @module
 * The write-ahead log's record framing. Every record is
 *
 *     u32 crc32(bodyLength bytes, body) | u32 bodyLength | body
 *
 * (little-endian), and its body starts with a type byte:
 *
 *     entry     1 | u8 kind (core's entryKindCodes: 0 command, 1 noop, 2 config) | u64 index | u64 term | data
 *     truncate  2 | u64 from    (entries from `from` on are void: a leader overwrote them)
 *     commit    3 | u64 index   (the commit index reached; lets a restart apply at once)
 *
 * The checksum covers the length too (it follows the checksum, so one pass covers both), and a
 * damaged length is caught like damaged data.
 * Decoding never trusts a byte it has not checked: it returns a reason, never throws.
 */
import { crc32 } from 'node:zlib';
import { type Entry, entryKindCodes, entryKindOf } from '../core/index.js';

export const RECORD_HEADER_BYTES = 8;
/** A record body is never larger: bounds what a damaged length field can make us read. */
export const MAX_RECORD_BODY_BYTES = 512 * 1024 * 1024;

export const RecordType = { entry: 1, truncate: 2, commit: 3 } as const;
const ENTRY_BODY_FIXED_BYTES = 18;
const INDEX_BODY_BYTES = 9;

export type WalRecord =
  | { readonly type: 'entry'; readonly entry: Entry }
  | { readonly type: 'truncate'; readonly from: number }
  | { readonly type: 'commit'; readonly index: number };

const TWO_TO_32 = 0x1_0000_0000;

export function writeU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value >>> 0, true);
  view.setUint32(at + 4, Math.floor(value / TWO_TO_32), true);
}

/** A u64 as a number, or NaN when it does not fit a safe integer (damage, by definition). */
export function readU64(view: DataView, at: number): number {
  const high = view.getUint32(at + 4, true);
  if (high >= 0x20_0000) return Number.NaN;
  return high * TWO_TO_32 + view.getUint32(at, true);
}

/** Total bytes (header included) a record takes in a segment. */
export function recordBytes(record: WalRecord): number {
  const body =
    record.type === 'entry'
      ? ENTRY_BODY_FIXED_BYTES + record.entry.data.byteLength
      : INDEX_BODY_BYTES;
  return RECORD_HEADER_BYTES + body;
}

/** Size of an entry record whose data is `dataBytes` long. */
export function entryRecordBytes(dataBytes: number): number {
  return RECORD_HEADER_BYTES + ENTRY_BODY_FIXED_BYTES + dataBytes;
}

/** A DataView over all of `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Writes `record` into `out` (seen through `view`) at `at`; returns the offset after it. */
export function encodeRecord(
  out: Uint8Array,
  at: number,
  record: WalRecord,
  view: DataView = viewOf(out),
): number {
  const bodyAt = at + RECORD_HEADER_BYTES;
  if (record.type === 'entry') {
    const { entry } = record;
    out[bodyAt] = RecordType.entry;
    out[bodyAt + 1] = entryKindCodes[entry.kind];
    writeU64(view, bodyAt + 2, entry.index);
    writeU64(view, bodyAt + 10, entry.term);
    out.set(entry.data, bodyAt + ENTRY_BODY_FIXED_BYTES);
  } else {
    out[bodyAt] = RecordType[record.type];
    writeU64(view, bodyAt + 1, record.type === 'truncate' ? record.from : record.index);
  }
  const end = at + recordBytes(record);
  view.setUint32(at + 4, end - bodyAt, true);
  view.setUint32(at, checksum(out, at, end), true);
  return end;
}

/** crc32 of the length field and the body of the record spanning [at, end). */
function checksum(bytes: Uint8Array, at: number, end: number): number {
  return crc32(bytes.subarray(at + 4, end));
}

export type Decoded =
  | { readonly ok: true; readonly record: WalRecord; readonly end: number }
  /** `incomplete`: the bytes end inside the record (what a torn write leaves). */
  | { readonly ok: false; readonly reason: string; readonly incomplete: boolean };

/**
 * Decodes the record at `at` in `bytes`, checking its length, checksum and fields. An entry's
 * data is a copy unless `copyData` is false (recovery, which keeps no entry, saves the copy).
 * `view` over `bytes` may be passed in when decoding many records of one buffer.
 */
export function decodeRecord(
  bytes: Uint8Array,
  at: number,
  copyData = true,
  view: DataView = viewOf(bytes),
): Decoded {
  if (bytes.byteLength - at < RECORD_HEADER_BYTES) {
    return { ok: false, reason: 'the file ends inside a record header', incomplete: true };
  }
  const length = view.getUint32(at + 4, true);
  if (length < INDEX_BODY_BYTES || length > MAX_RECORD_BODY_BYTES) {
    return { ok: false, reason: `impossible record length ${length}`, incomplete: false };
  }
  const end = at + RECORD_HEADER_BYTES + length;
  if (end > bytes.byteLength) {
    return {
      ok: false,
      reason: `a record of ${length} bytes runs past the end of the data (${bytes.byteLength - at - RECORD_HEADER_BYTES} left)`,
      incomplete: true,
    };
  }
  const stored = view.getUint32(at, true);
  const computed = checksum(bytes, at, end);
  if (stored !== computed) {
    return {
      ok: false,
      reason: `checksum mismatch (stored 0x${hex(stored)}, computed 0x${hex(computed)})`,
      incomplete: false,
    };
  }
  return decodeBody(bytes, view, at + RECORD_HEADER_BYTES, end, copyData);
}

function decodeBody(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  end: number,
  copyData: boolean,
): Decoded {
  const type = bytes[at];
  const bad = (reason: string): Decoded => ({ ok: false, reason, incomplete: false });
  if (type === RecordType.entry) {
    if (end - at < ENTRY_BODY_FIXED_BYTES) return bad('an entry record too short for its fields');
    const kindByte = bytes[at + 1];
    const index = readU64(view, at + 2);
    const term = readU64(view, at + 10);
    const kind = entryKindOf(kindByte as number);
    if (kind === undefined) return bad(`unknown entry kind ${kindByte}`);
    if (!(index >= 1) || !(term >= 1)) return bad(`impossible entry index ${index} term ${term}`);
    // A copy, so that a kept entry does not pin the (possibly large) buffer it was read from.
    const start = at + ENTRY_BODY_FIXED_BYTES;
    const data = copyData ? bytes.slice(start, end) : bytes.subarray(start, end);
    const entry: Entry = { index, term, kind, data };
    return { ok: true, record: { type: 'entry', entry }, end };
  }
  if (type === RecordType.truncate || type === RecordType.commit) {
    if (end - at !== INDEX_BODY_BYTES) return bad(`a type ${type} record of ${end - at} bytes`);
    const index = readU64(view, at + 1);
    if (!(index >= 0)) return bad(`impossible index in a type ${type} record`);
    const record: WalRecord =
      type === RecordType.truncate ? { type: 'truncate', from: index } : { type: 'commit', index };
    return { ok: true, record, end };
  }
  return bad(`unknown record type ${type}`);
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
