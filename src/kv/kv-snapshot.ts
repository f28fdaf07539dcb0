/**
 * @module
 * The key-value store's snapshot as bytes: newline-delimited JSON, a header line and then one
 * line per key, produced in slices of about 64 KiB so that a store of a million keys is never
 * one string, and parsed back the same way (a line may be cut anywhere between two chunks).
 *
 *     {"format":"raftkit kv snapshot","version":2,"appliedIndex":N,"keys":K,"sessions":{...},"urls":{...}}
 *     ["key","value",index]
 *     ...
 */
import type { KvEntry } from './kv-store.js';
import type { SessionSnapshot } from './sessions.js';

const FORMAT = 'raftkit kv snapshot';
const VERSION = 2;
const SLICE_BYTES = 64 * 1024;

export interface KvSnapshotHeader {
  readonly appliedIndex: number;
  readonly keys: number;
  readonly sessions: SessionSnapshot;
  /**
   * Members' advertised HTTP URLs by id. Optional: a snapshot written before members
   * advertised has none, and one without is read the same as before (the version stays 2).
   */
  readonly urls?: Readonly<Record<string, string>>;
}

export interface ParsedKvSnapshot extends KvSnapshotHeader {
  readonly data: Map<string, KvEntry>;
}

/** A damaged or foreign snapshot: what was wrong, and on which line. */
export class KvSnapshotError extends Error {}

const encoder = new TextEncoder();

/** The snapshot's chunks; `done` runs once they are all out (or the reader stops early). */
export async function* serialiseKv(
  header: KvSnapshotHeader,
  entries: Iterable<[string, KvEntry]>,
  done: () => void,
): AsyncGenerator<Uint8Array> {
  try {
    let text = `${JSON.stringify({ format: FORMAT, version: VERSION, ...header })}\n`;
    for (const [key, entry] of entries) {
      text += `${JSON.stringify([key, entry.value, entry.index])}\n`;
      // UTF-16 length bounds the UTF-8 length by 3x: a slice stays within a few times 64 KiB.
      if (text.length >= SLICE_BYTES) {
        yield encoder.encode(text);
        text = '';
      }
    }
    if (text.length > 0) yield encoder.encode(text);
  } finally {
    done();
  }
}

/** Parses a snapshot's chunks; throws `KvSnapshotError` on anything that is not one. */
export async function parseKv(chunks: AsyncIterable<Uint8Array>): Promise<ParsedKvSnapshot> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let header: KvSnapshotHeader | null = null;
  const data = new Map<string, KvEntry>();
  let pending = '';
  let line = 0;
  const take = (text: string) => {
    line++;
    if (header === null) header = parseHeader(text);
    else addEntry(data, text, line);
  };
  try {
    for await (const chunk of chunks) {
      pending += decoder.decode(chunk, { stream: true });
      let newline = pending.indexOf('\n');
      let start = 0;
      while (newline >= 0) {
        take(pending.slice(start, newline));
        start = newline + 1;
        newline = pending.indexOf('\n', start);
      }
      pending = pending.slice(start);
    }
    pending += decoder.decode();
  } catch (e) {
    if (e instanceof KvSnapshotError) throw e;
    if (e instanceof TypeError) throw new KvSnapshotError(`line ${line + 1}: not UTF-8`);
    throw e;
  }
  if (pending !== '') throw new KvSnapshotError(`line ${line + 1}: the snapshot ends mid-line`);
  const h = header as KvSnapshotHeader | null;
  if (h === null) throw new KvSnapshotError('an empty snapshot');
  if (data.size !== h.keys) {
    throw new KvSnapshotError(`the header announces ${h.keys} keys, ${data.size} follow`);
  }
  return { ...h, data };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new KvSnapshotError(`${what}: not JSON`);
  }
}

function parseHeader(text: string): KvSnapshotHeader {
  const h = parseJson(text, 'line 1') as Record<string, unknown> | null;
  if (typeof h !== 'object' || h === null || h.format !== FORMAT || h.version !== VERSION) {
    throw new KvSnapshotError(`line 1: not a ${FORMAT} of version ${VERSION}`);
  }
  const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!isCount(h.appliedIndex) || !isCount(h.keys) || typeof h.sessions !== 'object') {
    throw new KvSnapshotError('line 1: appliedIndex, keys and sessions expected');
  }
  const urls = h.urls;
  if (
    urls !== undefined &&
    (typeof urls !== 'object' ||
      urls === null ||
      Array.isArray(urls) ||
      Object.values(urls).some((u) => typeof u !== 'string'))
  ) {
    throw new KvSnapshotError('line 1: urls must map member ids to URLs');
  }
  return {
    appliedIndex: h.appliedIndex as number,
    keys: h.keys as number,
    sessions: h.sessions as SessionSnapshot,
    ...(urls === undefined ? {} : { urls: urls as Record<string, string> }),
  };
}

function addEntry(data: Map<string, KvEntry>, text: string, line: number): void {
  const row = parseJson(text, `line ${line}`);
  if (
    !Array.isArray(row) ||
    row.length !== 3 ||
    typeof row[0] !== 'string' ||
    typeof row[1] !== 'string' ||
    !Number.isSafeInteger(row[2]) ||
    (row[2] as number) < 1
  ) {
    throw new KvSnapshotError(`line ${line}: expected ["key","value",index]`);
  }
  if (data.has(row[0])) throw new KvSnapshotError(`line ${line}: key ${row[0]} given twice`);
  data.set(row[0], { value: row[1], index: row[2] as number });
}
