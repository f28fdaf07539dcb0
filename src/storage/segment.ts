/**
 * @module
 * Segment files of the write-ahead log: `log/00000001.log`, `log/00000002.log`, ... numbered
 * without gaps. Each starts with a 44-byte header, written and synced before the segment is
 * renamed into place, so a segment either exists with a valid header or not at all:
 *
 *     "RAFTKWAL" | u32 version | u32 flags | u64 sequence | u64 firstIndex | u64 prevTerm | u32 crc32
 *
 * `firstIndex` is the index the segment's first entry record was to have when it was created,
 * and `prevTerm` the term of the entry before it: the segment is self-describing. Flag bit 0
 * marks a segment that restarts the log after a snapshot that replaced it (the segments
 * before it belong to the replaced log).
 */
import { crc32 } from 'node:zlib';
import { readU64, writeU64 } from './record.js';

export const SEGMENT_HEADER_BYTES = 44;
export const SEGMENT_VERSION = 1;
const MAGIC = new TextEncoder().encode('RAFTKWAL');
const SEGMENT_NAME = /^(\d{8,16})\.log$/;

export interface SegmentHeader {
  readonly sequence: number;
  readonly firstIndex: number;
  readonly prevTerm: number;
  /** The segment restarts the log after a snapshot (flag bit 0). */
  readonly restart?: boolean;
}

const RESTART_FLAG = 1;

export function segmentName(sequence: number): string {
  return `${String(sequence).padStart(8, '0')}.log`;
}

/** The sequence number a segment file name carries, or undefined if it is not one. */
export function parseSegmentName(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  return match === null ? undefined : Number(match[1]);
}

export function encodeSegmentHeader(header: SegmentHeader): Uint8Array {
  const out = new Uint8Array(SEGMENT_HEADER_BYTES);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, SEGMENT_VERSION, true);
  view.setUint32(12, header.restart === true ? RESTART_FLAG : 0, true);
  writeU64(view, 16, header.sequence);
  writeU64(view, 24, header.firstIndex);
  writeU64(view, 32, header.prevTerm);
  view.setUint32(40, crc32(out.subarray(0, 40)), true);
  return out;
}

/** The header at the start of `bytes`, or why it is not a valid one. */
export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeader | string {
  if (bytes.byteLength < SEGMENT_HEADER_BYTES) {
    return `a ${SEGMENT_HEADER_BYTES}-byte segment header, found only ${bytes.byteLength} bytes`;
  }
  if (!MAGIC.every((b, i) => bytes[i] === b)) return 'the segment magic "RAFTKWAL"';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stored = view.getUint32(40, true);
  const computed = crc32(bytes.subarray(0, 40));
  if (stored !== computed) {
    return `a header checksum of 0x${computed.toString(16)}, found 0x${stored.toString(16)}`;
  }
  const version = view.getUint32(8, true);
  if (version !== SEGMENT_VERSION) {
    return `segment format version ${SEGMENT_VERSION}, found ${version} (written by another raftkit?)`;
  }
  const flags = view.getUint32(12, true);
  if ((flags & ~RESTART_FLAG) !== 0) return `known flags, found 0x${flags.toString(16)}`;
  const header = {
    sequence: readU64(view, 16),
    firstIndex: readU64(view, 24),
    prevTerm: readU64(view, 32),
    restart: (flags & RESTART_FLAG) !== 0,
  };
  if (!(header.sequence >= 1 && header.firstIndex >= 1 && header.prevTerm >= 0)) {
    return 'sequence and first index of at least 1';
  }
  return header;
}
