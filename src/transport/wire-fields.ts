/**
 * @module
 * The wire's field kinds: how one value is sized, written and read back. A frame's layout
 * (`wire-layout.ts`) is a list of named fields of these kinds, so each kind's checks are
 * written once: integers are float64 and must be exact, non-negative integers; booleans are
 * one byte, 0 or 1; text is UTF-8, refused when it is not; enumerations refuse unknown codes.
 */
import {
  type Entry,
  type EntryKind,
  entryKindCodes,
  entryKindOf,
  type SnapshotMeta,
} from '../core/index.js';

/** The input ended before the field did. */
export class Truncated extends Error {}
/** The bytes are there but make no sense. */
export class Invalid extends Error {}

export class Writer {
  readonly #buf: Buffer;
  #at = 0;

  constructor(size: number) {
    this.#buf = Buffer.allocUnsafe(size);
  }

  u8(v: number): void {
    this.#buf[this.#at++] = v;
  }

  u16(v: number): void {
    this.#at = this.#buf.writeUInt16BE(v, this.#at);
  }

  u32(v: number): void {
    this.#at = this.#buf.writeUInt32BE(v >>> 0, this.#at);
  }

  f64(v: number): void {
    this.#at = this.#buf.writeDoubleBE(v, this.#at);
  }

  bytes(b: Uint8Array): void {
    this.#buf.set(b, this.#at);
    this.#at += b.byteLength;
  }

  done(): Buffer {
    if (this.#at !== this.#buf.length) {
      throw new RangeError(`encoder wrote ${this.#at} of ${this.#buf.length} bytes`);
    }
    return this.#buf;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class Reader {
  readonly #buf: Buffer;
  #at = 0;

  constructor(body: Uint8Array) {
    this.#buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }

  remaining(): number {
    return this.#buf.length - this.#at;
  }

  atEnd(): boolean {
    return this.#at === this.#buf.length;
  }

  #need(n: number): void {
    if (this.#at + n > this.#buf.length) {
      throw new Truncated(`needed ${n} bytes at offset ${this.#at} of ${this.#buf.length}`);
    }
  }

  u8(): number {
    this.#need(1);
    return this.#buf[this.#at++] as number;
  }

  u16(): number {
    this.#need(2);
    const v = this.#buf.readUInt16BE(this.#at);
    this.#at += 2;
    return v;
  }

  u32(): number {
    this.#need(4);
    const v = this.#buf.readUInt32BE(this.#at);
    this.#at += 4;
    return v;
  }

  f64(): number {
    this.#need(8);
    const v = this.#buf.readDoubleBE(this.#at);
    this.#at += 8;
    return v;
  }

  /** A copy: a decoded entry must not pin the whole receive buffer in memory. */
  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = new Uint8Array(n);
    out.set(this.#buf.subarray(this.#at, this.#at + n));
    this.#at += n;
    return out;
  }

  text(n: number): string {
    this.#need(n);
    const raw = this.#buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    // Invalid UTF-8 would decode with replacement characters: refuse rather than alter an id.
    try {
      return strictUtf8.decode(raw);
    } catch {
      throw new Invalid('text is not UTF-8');
    }
  }
}

/** One field's wire form. `read` sees the fields read before it (an append's `prevIndex`). */
export interface Field<T> {
  size(value: T): number;
  write(w: Writer, value: T): void;
  read(r: Reader, before: Readonly<Record<string, unknown>>): T;
}

/** A non-negative integer as float64: NaN, fractions and beyond 2^53 are invalid. */
export const int: Field<number> = {
  size: () => 8,
  write: (w, v) => w.f64(v),
  read: (r) => {
    const v = r.f64();
    if (!Number.isSafeInteger(v) || v < 0) throw new Invalid(`${v} is not a valid integer`);
    return v;
  },
};

export const bool: Field<boolean> = {
  size: () => 1,
  write: (w, v) => w.u8(v ? 1 : 0),
  read: (r) => {
    const v = r.u8();
    if (v > 1) throw new Invalid(`boolean ${v}`);
    return v === 1;
  },
};

/** UTF-8 text of at most 255 bytes (ids). */
export const text8: Field<string> = {
  size: (v) => 1 + checkedLength(v, 0xff),
  write: (w, v) => {
    const b = Buffer.from(v, 'utf8');
    w.u8(checkedLength(v, 0xff));
    w.bytes(b);
  },
  read: (r) => r.text(r.u8()),
};

/** UTF-8 text of at most 65,535 bytes. */
export const text16: Field<string> = {
  size: (v) => 2 + checkedLength(v, 0xffff),
  write: (w, v) => {
    w.u16(checkedLength(v, 0xffff));
    w.bytes(Buffer.from(v, 'utf8'));
  },
  read: (r) => r.text(r.u16()),
};

function checkedLength(text: string, max: number): number {
  const n = Buffer.byteLength(text, 'utf8');
  if (n > max) throw new RangeError(`text of ${n} bytes where ${max} fit`);
  return n;
}

/** Text cut to `maxBytes` of UTF-8 on the way out, never inside a character. */
export function cutText16(maxBytes: number): Field<string> {
  return {
    size: (v) => text16.size(cutText(v, maxBytes)),
    write: (w, v) => text16.write(w, cutText(v, maxBytes)),
    read: (r, before) => text16.read(r, before),
  };
}

function cutText(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** Text or null (carried as the empty text, so the empty text itself is not a value). */
export const nullableText8: Field<string | null> = {
  size: (v) => text8.size(v ?? ''),
  write: (w, v) => text8.write(w, v ?? ''),
  read: (r, before) => {
    const v = text8.read(r, before);
    return v === '' ? null : v;
  },
};

/** One of `values`, as its position + 1. */
export function oneOf<T extends string>(values: readonly T[]): Field<T> {
  return {
    size: () => 1,
    write: (w, v) => w.u8(values.indexOf(v) + 1),
    read: (r) => {
      const code = r.u8();
      const v = values[code - 1];
      if (v === undefined) throw new Invalid(`unknown code ${code}`);
      return v;
    },
  };
}

/** One of `values` or null: null is 0, the others as in `oneOf`. */
export function oneOfOrNull<T extends string>(values: readonly T[]): Field<T | null> {
  const some = oneOf(values);
  return {
    size: () => 1,
    write: (w, v) => (v === null ? w.u8(0) : some.write(w, v)),
    read: (r) => {
      const code = r.u8();
      if (code === 0) return null;
      const v = values[code - 1];
      if (v === undefined) throw new Invalid(`unknown code ${code}`);
      return v;
    },
  };
}

/** An entry takes at least this many bytes: a count beyond what remains is refused first. */
const MIN_ENTRY_BYTES = 8 + 1 + 4;

/**
 * An append's entries, `u32 count | (term | kind | u32 length | data)*`; their indices follow
 * from `prevIndex` (read before), so they cannot be out of order on the wire.
 */
export const entries: Field<readonly Entry[]> = {
  size: (list) => {
    let size = 4;
    for (const e of list) size += MIN_ENTRY_BYTES + e.data.byteLength;
    return size;
  },
  write: (w, list) => {
    w.u32(list.length);
    for (const e of list) {
      w.f64(e.term);
      w.u8(entryKindCodes[e.kind]);
      w.u32(e.data.byteLength);
      w.bytes(e.data);
    }
  },
  read: (r, before) => {
    const count = r.u32();
    if (count * MIN_ENTRY_BYTES > r.remaining()) throw new Truncated(`${count} entries announced`);
    const prevIndex = before.prevIndex as number;
    const out: Entry[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const term = int.read(r, before);
      const code = r.u8();
      const kind: EntryKind | undefined = entryKindOf(code);
      if (kind === undefined) throw new Invalid(`entry kind ${code}`);
      out[i] = { index: prevIndex + 1 + i, term, kind, data: r.bytes(r.u32()) };
    }
    return out;
  },
};

/** Forwarded commands, `u32 count | (u32 length | bytes)*`. */
export const commands: Field<readonly Uint8Array[]> = {
  size: (list) => {
    let size = 4;
    for (const c of list) size += 4 + c.byteLength;
    return size;
  },
  write: (w, list) => {
    w.u32(list.length);
    for (const c of list) {
      w.u32(c.byteLength);
      w.bytes(c);
    }
  },
  read: (r) => {
    const count = r.u32();
    if (count * 4 > r.remaining()) throw new Truncated(`${count} commands announced`);
    const out: Uint8Array[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = r.bytes(r.u32());
    return out;
  },
};

/** Node ids, `u16 count | text8*` (at most `MAX_LIST` of them). */
const MAX_LIST = 4096;
export const idList: Field<readonly string[]> = {
  size: (list) => {
    let size = 2;
    for (const id of list) size += text8.size(id);
    return size;
  },
  write: (w, list) => {
    if (list.length > MAX_LIST) throw new RangeError(`${list.length} ids where ${MAX_LIST} fit`);
    w.u16(list.length);
    for (const id of list) text8.write(w, id);
  },
  read: (r, before) => {
    const count = r.u16();
    if (count > MAX_LIST) throw new Invalid(`${count} ids`);
    if (count > r.remaining()) throw new Truncated(`${count} ids announced`);
    const out: string[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = text8.read(r, before);
    return out;
  },
};

/** `(id, address)` pairs, `u16 count | (text8 id | text8 address)*`. */
const addressList: Field<Readonly<Record<string, string>>> = {
  size: (map) => {
    let size = 2;
    for (const [id, a] of Object.entries(map)) size += text8.size(id) + text8.size(a);
    return size;
  },
  write: (w, map) => {
    const pairs = Object.entries(map);
    if (pairs.length > MAX_LIST) throw new RangeError(`${pairs.length} addresses`);
    w.u16(pairs.length);
    for (const [id, a] of pairs) {
      text8.write(w, id);
      text8.write(w, a);
    }
  },
  read: (r, before) => {
    const count = r.u16();
    if (count > MAX_LIST) throw new Invalid(`${count} addresses`);
    if (count * 2 > r.remaining()) throw new Truncated(`${count} addresses announced`);
    const pairs: [string, string][] = new Array(count);
    for (let i = 0; i < count; i++) pairs[i] = [text8.read(r, before), text8.read(r, before)];
    // Own properties whatever the ids are (an id of `__proto__` included).
    return Object.fromEntries(pairs);
  },
};

/**
 * A snapshot's metadata: index, term, and the membership in force there (voters, learners,
 * the outgoing voters of a joint configuration, members' addresses).
 */
export const snapshotMeta: Field<SnapshotMeta> = {
  size: (m) =>
    16 +
    idList.size(m.membership.voters) +
    idList.size(m.membership.learners ?? []) +
    idList.size(m.membership.outgoing ?? []) +
    addressList.size(m.membership.addresses ?? {}),
  write: (w, m) => {
    int.write(w, m.index);
    int.write(w, m.term);
    idList.write(w, m.membership.voters);
    idList.write(w, m.membership.learners ?? []);
    idList.write(w, m.membership.outgoing ?? []);
    addressList.write(w, m.membership.addresses ?? {});
  },
  read: (r, before) => {
    const index = int.read(r, before);
    const term = int.read(r, before);
    const voters = idList.read(r, before);
    const learners = idList.read(r, before);
    const outgoing = idList.read(r, before);
    const addresses = addressList.read(r, before);
    const membership = {
      voters,
      learners,
      ...(outgoing.length > 0 ? { outgoing } : {}),
      ...(Object.keys(addresses).length > 0 ? { addresses } : {}),
    };
    return { index, term, membership };
  },
};

/** Bytes, `u32 length | bytes` (copied out of the receive buffer). */
export const bytes: Field<Uint8Array> = {
  size: (b) => 4 + b.byteLength,
  write: (w, b) => {
    w.u32(b.byteLength);
    w.bytes(b);
  },
  read: (r) => r.bytes(r.u32()),
};
